"""The run browser's table: the catalog as a Qt model, and the filter over it (substring over
device, wafer, protocol and status, plus one protocol)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

ALL_PROTOCOLS = "all protocols"
RUN_COLUMNS = ("run_id", "protocol", "status", "started", "wafer", "die", "device", "rows")
CATALOG_FIELDS = frozenset({"path", "message", "ended", "subsite", "station", "backend",
                            "parameters", "writer_pid", "writer_host"})
FILTERED = ("device", "wafer", "protocol", "status")
Index = QModelIndex | QPersistentModelIndex


class RunTableModel(QAbstractTableModel):
    """`store.runs()` as a table: the run columns, then one column per figure of merit."""

    def __init__(self) -> None:
        super().__init__()
        self.frame = pd.DataFrame(columns=list(RUN_COLUMNS))
        self.columns: list[str] = list(RUN_COLUMNS)
        self.figure_columns: list[str] = []

    def set_frame(self, frame: pd.DataFrame) -> None:
        self.beginResetModel()
        self.figure_columns = [c for c in frame.columns
                               if c not in RUN_COLUMNS and c not in CATALOG_FIELDS]
        self.columns = [*RUN_COLUMNS, *self.figure_columns]
        self.frame = frame.reset_index(drop=True)
        self.endResetModel()

    def rowCount(self, parent: Index | None = None) -> int:  # noqa: N802 (Qt API)
        return 0 if parent is not None and parent.isValid() else len(self.frame)

    def columnCount(self, parent: Index | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self.frame.at[index.row(), self.columns[index.column()]]
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return None if _blank(value) else (value.isoformat() if
                                               isinstance(value, pd.Timestamp) else value)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return _cell(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= len(RUN_COLUMNS) - 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None


class RunFilter(QSortFilterProxyModel):
    """Substring filter over device / wafer / protocol / status, plus an exact protocol."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.protocol = ""
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = text.strip().lower()
        self.endFilterChange()

    def set_protocol(self, protocol: str) -> None:
        self.beginFilterChange()
        self.protocol = protocol
        self.endFilterChange()

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        frame = model.frame
        if self.protocol and frame.at[row, "protocol"] != self.protocol:
            return False
        if not self.text:
            return True
        return any(self.text in str(frame.at[row, c]).lower() for c in FILTERED if c in frame)

    def lessThan(self, left: Index, right: Index) -> bool:  # noqa: N802
        a, b = left.data(Qt.ItemDataRole.UserRole), right.data(Qt.ItemDataRole.UserRole)
        if a is None or b is None:
            return a is None and b is not None
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


def _cell(value: Any) -> str:
    if _blank(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.tz_convert(None).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo \
            else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return str(value)
