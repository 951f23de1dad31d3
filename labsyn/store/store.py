"""The data store: a folder of run files plus the catalog that indexes them."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labsyn.errors import ConfigError
from labsyn.store.catalog import RUN_FIELDS, Catalog, now_iso
from labsyn.store.export import check_format, default_export_path, export_run
from labsyn.store.lock import RunLock, lock_path
from labsyn.store.recovery import record_end, recover, status_of
from labsyn.store.run_file import RunFile, RunWriter, read_run_file
from labsyn.store.schema import NO_DEVICE, TERMINAL_STATUSES, Column, DeviceId, check_status

log = logging.getLogger(__name__)


@dataclass
class LoadedRun:
    """One run read back: data, metadata from its file, status and figures from the catalog."""

    run_id: str
    protocol: str
    status: str
    data: pd.DataFrame
    parameters: dict[str, Any]
    snapshot: dict[str, Any]
    device: DeviceId
    columns: list[Column]
    status_log: pd.DataFrame
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path = Path()

    @property
    def units(self) -> dict[str, str]:
        return {c.name: c.unit for c in self.columns}

    @classmethod
    def from_file(cls, run: RunFile, status: str | None = None,
                  figures: dict[str, dict[str, Any]] | None = None) -> LoadedRun:
        return cls(run.run_id, run.protocol, status or run.status, run.data, run.parameters,
                   run.snapshot, run.device, run.columns, run.status_log, figures or {}, run.path)


def _snapshot_name(snapshot: Mapping[str, Any], key: str) -> str:
    value = snapshot.get(key, "")
    if isinstance(value, Mapping):
        value = value.get("name", "")
    return str(value or "")


def _since_iso(since: str | date | datetime) -> str:
    """`since` as a UTC ISO timestamp (naive times and dates are local time)."""
    if isinstance(since, str):
        try:
            since = datetime.fromisoformat(since)
        except ValueError as error:
            raise ConfigError(f"since = {since!r} is not an ISO date or time, e.g. "
                              "'2025-03-01' or '2025-03-01T14:00'") from error
    if not isinstance(since, datetime):
        since = datetime(since.year, since.month, since.day)
    return since.astimezone(UTC).isoformat(timespec="microseconds")


class Store:
    """Run files under ``root/runs/``, indexed by ``root/catalog.sqlite``.

    A live writer holds an exclusive flock on ``runs/<run_id>.lock`` (see labsyn.store.lock).
    Opening a store ends every catalog run still "running" whose writer on this host is dead
    (lock file missing or free): it takes the terminal status its file recorded, else becomes
    "interrupted"; its row count comes from the file. Runs written on other hosts are left alone.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.runs_dir = self.root / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.root / "catalog.sqlite")
        interrupted, adopted = recover(self.catalog, self.root, self.runs_dir)
        if interrupted:
            log.warning("runs interrupted (writer died): %s", ", ".join(interrupted))
        if adopted:
            log.warning("runs whose end the catalog missed, status taken from their files: %s",
                        ", ".join(adopted))

    @staticmethod
    def default_root() -> Path:
        """$LABSYN_DATA, else $XDG_DATA_HOME/labsyn, else ~/.local/share/labsyn."""
        if os.environ.get("LABSYN_DATA"):
            return Path(os.environ["LABSYN_DATA"]).expanduser()
        data_home = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
        return Path(data_home).expanduser() / "labsyn"

    def _new_run_id(self, protocol: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.]+", "_", protocol).strip("_.") or "run"
        while True:
            run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(3)}"
            taken = (self.runs_dir / f"{run_id}.h5").exists() or self.catalog.get(run_id)
            if not taken and not lock_path(self.runs_dir, run_id).exists():
                return run_id

    def create_run(self, protocol: str, columns: Sequence[Column],
                   parameters: Mapping[str, Any] | None = None,
                   snapshot: Mapping[str, Any] | None = None, device: DeviceId = NO_DEVICE,
                   block_rows: int = 65536) -> RunWriter:
        """Start a run: its file (status "running") and its catalog row. Finish it with finish()."""
        if not protocol:
            raise ConfigError("protocol name is empty; name the protocol, e.g. 'iv_sweep'")
        parameters, snapshot = dict(parameters or {}), dict(snapshot or {})
        run_id = self._new_run_id(protocol)
        relative = f"runs/{run_id}.h5"
        lock = RunLock(lock_path(self.runs_dir, run_id))  # held until the writer closes
        try:
            writer = RunWriter(self.root / relative, run_id, protocol, columns, parameters,
                               snapshot, device, block_rows,
                               on_close=partial(self._writer_closed, lock))
        except BaseException:
            lock.release()
            raise
        try:
            self.catalog.add_run(
                run_id, protocol, relative, started=writer.created, device=device,
                station=_snapshot_name(snapshot, "station"),
                backend=_snapshot_name(snapshot, "backend"), parameters=parameters,
                writer_pid=os.getpid(), writer_host=socket.gethostname())
        except BaseException as error:
            writer.close("failed", f"could not index the run in the catalog: {error}")
            raise
        return writer

    def _writer_closed(self, lock: RunLock, writer: RunWriter) -> None:
        """Record the closed run in the catalog (never raises), then drop its lock."""
        try:
            record_end(self.catalog, writer)
        finally:
            lock.release()

    def finish(self, writer: RunWriter, status: str, message: str = "") -> bool:
        """Close a run with a terminal status and record it in the catalog.

        A run gets exactly one terminal status: finishing a closed run changes nothing and
        returns False (the first status stays); otherwise returns True.
        """
        check_status(status, TERMINAL_STATUSES)
        return writer.close(status, message)

    def _resolve(self, run_id: str) -> dict[str, Any]:
        row = self.catalog.get(run_id)
        if row is not None:
            return row
        matches = self.catalog.ids_like(run_id) if run_id else []
        if len(matches) == 1:
            return self.catalog.get(matches[0]) or {}
        if matches:
            raise ConfigError(f"run id prefix {run_id!r} is ambiguous: it matches "
                              f"{', '.join(matches[:10])}; give more characters")
        latest = self.catalog.latest_ids(5)
        known = f"latest runs: {', '.join(latest)}" if latest else "the store has no runs yet"
        raise ConfigError(f"run id {run_id!r} is not in the store at {self.root}; {known}")

    def set_figures(self, run_id: str, figures: Mapping[str, Any]) -> None:
        """Store a run's figures of merit (objects with value, uncertainty, unit, reason)."""
        self.catalog.set_figures(self._resolve(run_id)["run_id"], figures)

    def runs(self, protocol: str | None = None, status: str | None = None,
             wafer: str | None = None, die: str | None = None, device: str | None = None,
             since: str | date | datetime | None = None) -> pd.DataFrame:
        """One row per matching run, newest last; figures of merit as extra value columns."""
        if status is not None:
            check_status(status)
        where = {k: v for k, v in (("protocol", protocol), ("status", status), ("wafer", wafer),
                                   ("die", die), ("device", device)) if v is not None}
        rows = self.catalog.query(where, None if since is None else _since_iso(since))
        frame = pd.DataFrame(rows, columns=list(RUN_FIELDS))
        frame["parameters"] = [json.loads(p) for p in frame["parameters"]]
        for name in ("started", "ended"):
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
        frame["rows"] = frame["rows"].astype("int64")
        index = {run_id: i for i, run_id in enumerate(frame["run_id"])}
        figures: dict[str, np.ndarray] = {}
        for figure in self.catalog.all_figures(list(index)):
            name = figure["name"]
            name = f"figure:{name}" if name in RUN_FIELDS else name
            column = figures.setdefault(name, np.full(len(frame), np.nan))
            if figure["value"] is not None:
                column[index[figure["run_id"]]] = figure["value"]
        for name in sorted(figures):
            frame[name] = figures[name]
        return frame

    def load(self, run_id: str) -> LoadedRun:
        """Read a run (its id or a unique prefix of it) with its data, status and figures."""
        row = self._resolve(run_id)
        path = self.root / row["path"]
        try:
            run = read_run_file(path)
        except FileNotFoundError as error:
            raise ConfigError(f"run {row['run_id']}: its file {path} is missing; restore it or "
                              "rebuild the catalog (Store.rebuild())") from error
        return LoadedRun.from_file(run, row["status"], self.catalog.figures(row["run_id"]))

    def export(self, run_id: str, fmt: str, dest: str | Path | None = None) -> Path:
        """Write a run as "csv", "parquet" or "qcodes" (default ``root/exports/<run_id>.<ext>``).

        For "qcodes" `dest` is a QCoDeS database; an existing one gets the run as a new dataset.
        """
        check_format(fmt)
        run = self.load(run_id)
        return export_run(run, fmt, default_export_path(self.root, run.run_id, fmt, dest))

    def rebuild(self, analyse: Callable[[LoadedRun], Mapping[str, Any]] | None = None) -> int:
        """Recreate the catalog from the run files; return how many runs were indexed.

        A file whose last status is not terminal and whose writer on this host is dead (lock
        file missing or free, as on opening) becomes "interrupted".
        With `analyse`, each run's figures of merit are recomputed and stored. Unreadable files
        and failing analyses are logged and skipped.
        """
        self.catalog.reset()
        count = 0
        for path in sorted(self.runs_dir.glob("*.h5")):
            try:
                run = read_run_file(path, with_data=analyse is not None)
                status, message, ended = status_of(run, self.runs_dir)
                self.catalog.add_run(
                    run.run_id, run.protocol, path.relative_to(self.root).as_posix(),
                    started=run.created or now_iso(), device=run.device,
                    station=_snapshot_name(run.snapshot, "station"),
                    backend=_snapshot_name(run.snapshot, "backend"), parameters=run.parameters,
                    writer_pid=run.writer_pid, writer_host=run.writer_host, status=status,
                    message=message, ended=ended, rows=run.rows)
            except Exception as error:
                log.warning("rebuild: skipping run file %s: %s", path, error)
                continue
            count += 1
            if analyse is not None:
                try:
                    self.catalog.set_figures(run.run_id, analyse(LoadedRun.from_file(run, status)))
                except Exception as error:
                    log.warning("rebuild: analysis of run %s failed: %s", run.run_id, error)
        return count
