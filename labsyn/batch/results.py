"""The per-device result table of a wafer: one row per (die, subsite, device), the latest
attempt only, with its status and every figure of merit of every step as `<step>.<figure>`
(value) and `<step>.<figure>.err` (uncertainty) columns; written to Parquet and CSV.

Runs come from the store's catalog. The batch ledger (labsyn.batch.ledger), where it exists,
is the source of truth for a device's status, `remeasured` flag, reason and the runs of its
latest attempt; without it the latest attempt is the device's runs from its last run of the
recipe's first step on, and the status follows from the run statuses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labsyn.batch.ledger import Ledger
from labsyn.report.wafer_report import WaferReport, wafer_report
from labsyn.report.wafer_table import (
    ERR,
    FAILED,
    ID_COLUMNS,
    PASSED,
    SKIPPED,
    STATUSES,
    slug,
)


@dataclass
class DeviceRecord:
    """What the ledger says about one device (any field it does not know stays empty)."""

    die: str
    subsite: str
    device: str
    status: str = ""
    remeasured: bool = False
    reason: str = ""
    runs: list[str] = field(default_factory=list)
    steps: dict[str, str] = field(default_factory=dict)  # step name -> run id


def parse_die(die: str) -> tuple[int | None, int | None]:
    """("3,-2") -> (3, -2); anything else -> (None, None)."""
    match = re.fullmatch(r"\s*\(?\s*(-?\d+)\s*[,;:/ ]\s*(-?\d+)\s*\)?\s*", str(die))
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def die_key(column: int, row: int) -> str:
    """The die id the store holds: "col,row"."""
    return f"{int(column)},{int(row)}"


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text)))


def ledger_records(store: Any, wafer: str) -> dict[tuple[str, str, str], DeviceRecord] | None:
    """The ledger's latest word per device, or None when the store has no ledger for `wafer`.

    A device whose last attempt began and never finished is failed ("interrupted").
    """
    ledger = Ledger.for_wafer(store.root, wafer)
    if not ledger.exists:
        return None
    records: dict[tuple[str, str, str], DeviceRecord] = {}
    for key, standing in ledger.devices().items():
        done = standing.finished
        if done is None:
            records[key] = DeviceRecord(*key, status=FAILED, remeasured=standing.started > 1,
                                        reason="interrupted: started, never finished (resume "
                                        "the wafer to measure it again)", runs=[])
            continue
        steps = {str(k): str(v) for k, v in (done.get("steps") or {}).items()}
        records[key] = DeviceRecord(*key, status=str(done.get("status") or ""),
                                    remeasured=bool(done.get("remeasured", False)),
                                    reason=str(done.get("reason") or ""),
                                    runs=[str(r) for r in done.get("runs") or ()], steps=steps)
    return records


def device_table(store: Any, wafer: str, *, steps: Sequence[tuple[str, str]] | None = None,
                 skipped: Iterable[tuple[str, str, str, str]] = (),
                 ledger: Mapping[tuple[str, str, str], DeviceRecord] | None = None
                 ) -> pd.DataFrame:
    """One row per device of `wafer`, sorted by (column, row, subsite, device).

    `steps` — the recipe's (step name, protocol) in order — names each run's step (default:
    the protocol name). `skipped` adds (die, subsite, device, reason) rows for devices never
    measured (a skip list, a wafer stopped early). `ledger` defaults to the store's ledger.
    """
    runs = store.runs(wafer=wafer)
    records = ledger_records(store, wafer) if ledger is None else dict(ledger)
    figures = _figures(store, list(runs["run_id"]))
    rows: list[dict[str, Any]] = []
    order: dict[str, list[str]] = {}
    keys = set(zip(runs["die"], runs["subsite"], runs["device"], strict=True))
    keys |= set(records or {})
    by_device = {k: part for k, part in runs.groupby(["die", "subsite", "device"], sort=False)}
    for key in sorted(keys):
        part = by_device.get(key, runs.iloc[0:0])
        record = (records or {}).get(key)
        row = _device_row(wafer, key, part, record, steps, figures, order)
        rows.append(row)
    for die, subsite, device, reason in skipped:
        if (die, subsite, device) not in keys:
            rows.append(_identity(wafer, (die, subsite, device), SKIPPED, False, reason, []))
    columns = list(ID_COLUMNS)
    ranked = {name: i for i, (name, _) in enumerate(steps or ())}
    for step in sorted(order, key=lambda s: ranked.get(s, len(ranked))):
        names = order[step]
        for name in names:
            columns += [f"{step}.{name}", f"{step}.{name}{ERR}"]
    table = pd.DataFrame(rows, columns=columns)
    for name in ("column", "row"):
        table[name] = table[name].astype("Int64")
    table["remeasured"] = table["remeasured"].astype(bool)
    for name in columns[len(ID_COLUMNS):]:
        table[name] = table[name].astype(float)
    table["_device"] = [_natural(d) for d in table["device"]]
    table = table.sort_values(["column", "row", "subsite", "_device"], kind="stable",
                              na_position="last").drop(columns="_device")
    table = table.reset_index(drop=True)
    table.attrs["units"] = {f"{step}.{name}": unit for (step, name), unit in
                            _units(figures, rows).items()}
    return table


def _figures(store: Any, run_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for figure in store.catalog.all_figures(run_ids):
        found.setdefault(figure["run_id"], {})[figure["name"]] = figure
    return found


def _units(figures: Mapping[str, Mapping[str, Mapping[str, Any]]],
           rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    units: dict[tuple[str, str], str] = {}
    for row in rows:
        for (step, name), run_id in row.get("_sources", {}).items():
            units.setdefault((step, name), str(figures[run_id][name].get("unit") or ""))
    for row in rows:
        row.pop("_sources", None)
    return units


def _identity(wafer: str, key: tuple[str, str, str], status: str, remeasured: bool,
              reason: str, runs: list[str]) -> dict[str, Any]:
    die, subsite, device = key
    column, row = parse_die(die)
    return {"wafer": wafer, "column": column, "row": row, "subsite": subsite, "device": device,
            "status": status, "remeasured": remeasured, "reason": reason,
            "runs": ";".join(runs)}


def _device_row(wafer: str, key: tuple[str, str, str], part: pd.DataFrame,
                record: DeviceRecord | None, steps: Sequence[tuple[str, str]] | None,
                figures: Mapping[str, Mapping[str, Mapping[str, Any]]],
                order: dict[str, list[str]]) -> dict[str, Any]:
    part = part.sort_values(["started", "run_id"], kind="stable")
    first = part["protocol"].iloc[0] if len(part) else ""
    if record is not None and record.runs:
        attempt = part[part["run_id"].isin(record.runs)]
    elif steps:
        attempt = part.iloc[_attempt_start(list(part["protocol"]), [p for _, p in steps]):]
    else:
        starts = np.flatnonzero((part["protocol"] == first).to_numpy())
        attempt = part.iloc[int(starts[-1]) if len(starts) else 0:]
    earlier = part[~part["run_id"].isin(attempt["run_id"])]
    status, reason = _status_from_runs(attempt)
    remeasured = bool((earlier["status"] == "interrupted").any()) or (
        len(earlier) > 0 and bool((earlier["status"] == "completed").all()))
    if record is not None:
        status = record.status or status
        reason = record.reason if record.status else reason
        remeasured = record.remeasured
    if status not in STATUSES:
        status = PASSED if status == "completed" else FAILED
    row = _identity(wafer, key, status, remeasured, reason, list(attempt["run_id"]))
    sources: dict[tuple[str, str], str] = {}
    named = {v: k for k, v in record.steps.items()} if record is not None else {}
    pairs = ([(r, named[r]) for r in attempt["run_id"] if r in named]
             if named else _step_names(attempt, steps))
    for run_id, step in pairs:
        known = order.setdefault(step, [])
        for name in _figure_order(attempt, run_id, figures.get(run_id, {})):
            figure = figures[run_id][name]
            if name not in known:
                known.append(name)
            row[f"{step}.{name}"] = _number(figure.get("value"))
            row[f"{step}.{name}{ERR}"] = _number(figure.get("uncertainty"))
            sources[(step, name)] = run_id
    row["_sources"] = sources
    return row


def _attempt_start(protocols: Sequence[str], recipe: Sequence[str]) -> int:
    """Index of the first run of the latest attempt: a run that fits no later recipe step
    begins a new attempt."""
    start, position = 0, 0
    for index, protocol in enumerate(protocols):
        later = [i for i in range(position, len(recipe)) if recipe[i] == protocol]
        if later:
            position = later[0] + 1
        else:
            start, position = index, (recipe.index(protocol) + 1 if protocol in recipe else 0)
    return start


def _status_from_runs(attempt: pd.DataFrame) -> tuple[str, str]:
    if not len(attempt):
        return SKIPPED, "no runs"
    bad = attempt[attempt["status"] != "completed"]
    if not len(bad):
        return PASSED, ""
    first = bad.iloc[0]
    message = f": {first['message']}" if first["message"] else ""
    return FAILED, f"{first['protocol']} {first['status']}{message}"


def _step_names(attempt: pd.DataFrame, steps: Sequence[tuple[str, str]] | None
                ) -> list[tuple[str, str]]:
    """(run_id, step name) for each run of the attempt, matched to the recipe's steps in order."""
    named, used = [], []
    for run_id, protocol in zip(attempt["run_id"], attempt["protocol"], strict=True):
        candidates = [s for s, p in (steps or ()) if p == protocol and s not in used]
        if candidates:
            step = candidates[0]
        else:
            count = sum(1 for s in used if s == protocol or s.startswith(f"{protocol}#"))
            step = protocol if not count else f"{protocol}#{count + 1}"
        used.append(step)
        named.append((run_id, step))
    return named


def _figure_order(attempt: pd.DataFrame, run_id: str,
                  found: Mapping[str, Any]) -> list[str]:
    """The protocol's declared figure order, then any others alphabetically."""
    protocol = attempt.loc[attempt["run_id"] == run_id, "protocol"].iloc[0]
    try:
        from labsyn.protocols import get_protocol

        declared = list(getattr(get_protocol(protocol), "figures", {}) or {})
    except Exception:  # an unknown or retired protocol: alphabetical order
        declared = []
    return [n for n in declared if n in found] + sorted(n for n in found if n not in declared)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def map_skips(wafer_map: Any) -> list[tuple[str, str, str, str]]:
    """(die, subsite, device, reason) of every device on a die of the map's skip list, for
    `device_table(skipped=...)` (the runner never visits those dies, so no record has them)."""
    return [(die_key(*die), device.subsite, device.name, "die on the wafer map's skip list")
            for die in wafer_map.dies if die in wafer_map.skip for device in wafer_map.devices]


def report_wafer(store: Any, wafer: str, dest: str | Path | None = None, *,
                 steps: Sequence[tuple[str, str]] | None = None) -> WaferReport:
    """The device table of `wafer` from the store, and its report in `dest` (default
    `<store>/reports/<wafer>/`)."""
    table = device_table(store, wafer, steps=steps)
    dest = Path(dest) if dest is not None else Path(store.root) / "reports" / slug(wafer)
    return wafer_report(table, wafer, dest)
