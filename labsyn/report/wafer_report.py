"""The wafer report: summary counts and yield, wafer heat maps (yield, V_form, on/off, NL,
PPF τ), distributions (histogram + CDF) of the main figures, the worst devices and the failed
ones with their reasons — an HTML page with PNG figures, plus the device table (Parquet, CSV).

Heat maps, distributions and the worst-device lists use passed devices only: a failed or dead
device is reported as such, never as data. A map whose figure no step reported is left out and
the page says so.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .wafer_maps import draw_distribution, draw_status_map, draw_value_map, map_figure
from .wafer_table import (
    DEAD,
    FAILED,
    ID_COLUMNS,
    PASSED,
    SKIPPED,
    figure_columns,
    slug,
    write_table,
)

# (figure name, title, step-name hints in order of preference)
MAIN_FIGURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("v_form", "V_form", ("forming",)),
    ("on_off", "on/off ratio", ("iv", "sweep")),
    ("nl_ltp", "NL label (LTP)", ("ltp",)),
    ("nl_ltd", "NL label (LTD)", ("ltp", "ltd")),
    ("tau1", "PPF τ1", ("ppf",)),
    ("tau2", "PPF τ2", ("ppf",)),
)
WORST = 5


@dataclass
class WaferReport:
    """What `wafer_report` wrote and found."""

    page: Path
    images: list[Path]
    table_files: tuple[Path, Path]
    summary: dict[str, Any]
    missing: list[str] = field(default_factory=list)  # maps not drawn, and why


def find_column(table: pd.DataFrame, figure: str, hints: Sequence[str] = ()) -> str | None:
    """The `<step>.<figure>` column for `figure`, preferring a step whose name has a hint."""
    found = [c for c in figure_columns(table) if c.rsplit(".", 1)[-1] == figure]
    for hint in hints:
        preferred = [c for c in found if hint in c.rsplit(".", 1)[0].lower()]
        if preferred:
            return preferred[0]
    return found[0] if found else None


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """Counts per status, devices measured, yield (passed / measured) and dies probed."""
    counts = {s: int((table["status"] == s).sum()) for s in (PASSED, FAILED, DEAD, SKIPPED)}
    measured = counts[PASSED] + counts[FAILED] + counts[DEAD]
    probed = table[table["status"] != SKIPPED]
    return {**counts, "devices": int(len(table)), "measured": measured,
            "yield": counts[PASSED] / measured if measured else float("nan"),
            "remeasured": int(table["remeasured"].sum()),
            "dies": int(len(probed[["column", "row"]].drop_duplicates()))}


def worst_devices(table: pd.DataFrame, count: int = WORST) -> dict[str, pd.DataFrame]:
    """Lowest on/off, highest V_form (passed devices) and every failed or dead device."""
    ident = ["column", "row", "subsite", "device"]
    passed = table[table["status"] == PASSED]
    lists: dict[str, pd.DataFrame] = {}
    for figure, title, ascending in (("on_off", "lowest on/off ratio", True),
                                     ("v_form", "highest V_form", False)):
        column = find_column(table, figure, dict((f, h) for f, _, h in MAIN_FIGURES)[figure])
        if column is None:
            continue
        ranked = passed.dropna(subset=[column]).sort_values(column, ascending=ascending,
                                                            kind="stable")
        lists[f"{title} ({column})"] = ranked[[*ident, column]].head(count)
    bad = table[table["status"].isin((FAILED, DEAD))]
    lists["failed and dead devices"] = bad[[*ident, "status", "reason"]]
    return lists


def wafer_report(table: pd.DataFrame, wafer: str, dest: str | Path) -> WaferReport:
    """Write the report of `wafer`'s device table (`labsyn.batch.results.device_table`) into
    `dest`: maps, distributions, worst devices, the table as Parquet and CSV, index.html."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    units = dict(table.attrs.get("units", {}))
    files = write_table(table, dest / f"{slug(wafer)}-devices")
    images: list[Path] = []
    missing: list[str] = []
    figure, axes = map_figure()
    draw_status_map(axes, table, f"{wafer}: device status")
    images.append(_save(figure, dest / "map-yield.png"))
    passed = table[table["status"] == PASSED]
    distributions: list[tuple[str, str]] = []
    for name, title, hints in MAIN_FIGURES:
        column = find_column(table, name, hints)
        if column is None:
            missing.append(f"{title}: no step reported the figure {name!r}")
            continue
        if not np.isfinite(passed[column].to_numpy(dtype=float)).any():
            missing.append(f"{title}: {column} has no value on any passed device")
            continue
        figure, axes = map_figure()
        draw_value_map(figure, axes, table, column, f"{wafer}: {title}", units.get(column, ""))
        images.append(_save(figure, dest / f"map-{name}.png"))
        distributions.append((column, title))
    if distributions:
        images.append(_distributions(passed, distributions, units, dest / "distributions.png"))
    info = summary(table)
    page = dest / "index.html"
    page.write_text(_page(wafer, table, info, images, missing, files, dest))
    return WaferReport(page, images, files, info, missing)


def _save(figure: Any, path: Path) -> Path:
    figure.savefig(path)
    return path


def _distributions(passed: pd.DataFrame, columns: Sequence[tuple[str, str]],
                   units: dict[str, str], path: Path) -> Path:
    figure, _ = map_figure((9.0, 2.9 * len(columns)))
    figure.clear()
    grid = figure.add_gridspec(len(columns), 2)
    for i, (column, title) in enumerate(columns):
        unit = units.get(column, "")
        label = f"{title} ({unit})" if unit else title
        draw_distribution(figure.add_subplot(grid[i, 0]), figure.add_subplot(grid[i, 1]),
                          passed[column].to_numpy(dtype=float), label)
    return _save(figure, path)


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "" if not np.isfinite(value) else f"{value:.4g}"
    return html.escape("" if value is None or value is pd.NA else str(value))


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(wafer: str, table: pd.DataFrame, info: dict[str, Any], images: Sequence[Path],
          missing: Sequence[str], files: tuple[Path, Path], dest: Path) -> str:
    title = f"Wafer {wafer}"
    yield_text = "—" if not np.isfinite(info["yield"]) else f"{100 * info['yield']:.1f} %"
    counts = (f"<table><tr><th>dies probed</th><th>devices</th><th>passed</th><th>failed</th>"
              f"<th>dead</th><th>skipped</th><th>remeasured</th><th>yield</th></tr><tr>"
              f"<td>{info['dies']}</td><td>{info['devices']}</td><td>{info['passed']}</td>"
              f"<td>{info['failed']}</td><td>{info['dead']}</td><td>{info['skipped']}</td>"
              f"<td>{info['remeasured']}</td><td>{yield_text}</td></tr></table>")
    maps = "".join(f"<img src='{html.escape(p.name)}' style='max-width:48%'>"
                   for p in images if p.name.startswith("map-"))
    distributions = "".join(f"<img src='{html.escape(p.name)}' style='max-width:100%'>"
                            for p in images if p.name == "distributions.png")
    absent = ("<p>Maps not drawn:</p><ul>" + "".join(f"<li>{html.escape(m)}</li>"
                                                     for m in missing) + "</ul>"
              if missing else "")
    worst = "".join(f"<h3>{html.escape(name)}</h3>"
                    + (_html_table(frame) if len(frame) else "<p>none</p>")
                    for name, frame in worst_devices(table).items())
    links = " · ".join(f"<a href='{html.escape(p.relative_to(dest).as_posix())}'>{p.name}</a>"
                       for p in files)
    steps = sorted({c.split(".", 1)[0] for c in figure_columns(table)})
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
            "collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 8px;"
            "font-size:90%}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{counts}"
            f"<p>Steps: {html.escape(', '.join(steps) or 'none')}. Device table: {links} "
            f"({len(table)} rows, {len(table.columns) - len(ID_COLUMNS)} figure columns).</p>"
            "<h2>Wafer maps</h2><p>Values of passed devices; failed devices marked ✕, dead "
            f"black, skipped grey.</p>{maps}{absent}"
            f"<h2>Distributions (passed devices)</h2>{distributions or '<p>none</p>'}"
            f"<h2>Worst devices</h2>{worst}</body></html>\n")
