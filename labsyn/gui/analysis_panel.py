"""The analysis panel: figures of merit of the current or opened run (value ± uncertainty unit,
or the reason a figure is missing) and its fits, handed on through `fits_ready` so the plots
can draw them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MISSING_COLOUR = QColor(150, 110, 40)
NOT_COMPUTED = "not computed"


def figure_text(figure: Any, unit: str = "") -> tuple[str, bool]:
    """(text, ok) for an `Estimate`, a catalog figure dict or None: "1.23 ± 0.04 V", or
    "— reason" when the figure is missing."""
    if figure is None:
        return f"— {NOT_COMPUTED}", False
    if isinstance(figure, Mapping):
        value, error = figure.get("value"), figure.get("uncertainty")
        unit = figure.get("unit") or unit
        reason = figure.get("reason") or ""
    else:
        value, error = figure.value, figure.uncertainty
        unit = figure.unit or unit
        reason = figure.reason or ""
    if value is None or not math.isfinite(float(value)):
        return f"— {reason or 'no value'}", False
    text = f"{float(value):.4g}"
    if error is not None and math.isfinite(float(error)):
        text += f" ± {float(error):.2g}"
    return f"{text} {unit}".rstrip(), True


class AnalysisPanel(QWidget):
    """`show_result(protocol, result)` fills the table and emits `fits_ready(fits)`."""

    fits_ready = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel("No run analysed yet")
        self.header.setWordWrap(True)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Figure of merit", "Value"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.fits_label = QLabel("")
        self.fits_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.fits_label)
        self.fits: dict[str, Any] = {}

    def show_result(self, protocol: Any, result: Any) -> None:
        """A finished run (a `RunResult`): its figures in the protocol's order, then its fits."""
        status = str(getattr(result, "status", ""))
        message = getattr(result, "message", "")
        title = getattr(protocol, "title", "") or getattr(protocol, "name", "")
        self.header.setText(f"<b>{title}</b> — run {getattr(result, 'run_id', '') or '(unsaved)'}"
                            f" · {status}{': ' + message if message else ''}")
        self.show_figures(dict(getattr(result, "figures", {}) or {}),
                          dict(getattr(protocol, "figures", {}) or {}))
        self.set_fits(dict(getattr(result, "fits", {}) or {}))

    def show_figures(self, figures: Mapping[str, Any], units: Mapping[str, str]) -> None:
        """One row per figure: those the protocol declares (in its order), then any others."""
        names = list(units) + [name for name in figures if name not in units]
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            text, ok = figure_text(figures.get(name), units.get(name, ""))
            name_item = QTableWidgetItem(name)
            value_item = QTableWidgetItem(text)
            value_item.setToolTip(text)
            if not ok:
                value_item.setForeground(QBrush(MISSING_COLOUR))
            self.table.setItem(row, 0, name_item)
            self.table.setItem(row, 1, value_item)

    def set_fits(self, fits: Mapping[str, Any]) -> None:
        """Keep and announce the fitted curves (plot name -> frame)."""
        self.fits = {name: frame for name, frame in fits.items() if frame is not None}
        if self.fits:
            parts = []
            for name, frame in self.fits.items():
                labels = frame["label"].nunique() if "label" in frame else 1
                parts.append(f"{name} ({labels} curve{'s' if labels != 1 else ''})")
            self.fits_label.setText("Fits drawn on: " + ", ".join(parts))
        else:
            self.fits_label.setText("No fitted curves")
        self.fits_ready.emit(dict(self.fits))

    def clear(self) -> None:
        self.header.setText("No run analysed yet")
        self.table.setRowCount(0)
        self.fits = {}
        self.fits_label.clear()

    def rows(self) -> dict[str, str]:
        """Figure name -> the text shown (for tests and screenshots)."""
        return {self.table.item(r, 0).text(): self.table.item(r, 1).text()
                for r in range(self.table.rowCount())}
