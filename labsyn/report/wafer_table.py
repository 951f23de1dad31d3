"""The layout of a wafer's per-device table: identity columns, device statuses, then
`<step>.<figure>` value columns each followed by its `.err`; written as Parquet and CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PASSED, FAILED, DEAD, SKIPPED = "passed", "failed", "dead", "skipped"
STATUSES = (PASSED, FAILED, DEAD, SKIPPED)
ID_COLUMNS = ("wafer", "column", "row", "subsite", "device", "status", "remeasured", "reason",
              "runs")
ERR = ".err"


def figure_columns(table: pd.DataFrame) -> list[str]:
    """The value columns (`<step>.<figure>`, no `.err`) of a device table."""
    return [c for c in table.columns[len(ID_COLUMNS):] if not c.endswith(ERR)]


def write_table(table: pd.DataFrame, dest: str | Path) -> tuple[Path, Path]:
    """`dest` as Parquet and CSV (`dest` names a file stem or a .parquet/.csv path)."""
    dest = Path(dest)
    stem = dest.with_suffix("") if dest.suffix in (".parquet", ".csv") else dest
    stem.parent.mkdir(parents=True, exist_ok=True)
    parquet, csv = stem.with_name(stem.name + ".parquet"), stem.with_name(stem.name + ".csv")
    frame = table.copy()
    frame.attrs = {}
    frame.to_parquet(parquet, index=False)
    frame.to_csv(csv, index=False)
    return parquet, csv


def slug(text: str) -> str:
    """`text` as a file name: letters, digits, '-', '_' and '.' kept, the rest '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text)) or "wafer"
