"""The station dock: the open station's instruments (role, driver, address, IDN, connection,
a "simulated" badge), its DUT terminals and wiring, its limits, and open / connect / reconnect
through the `StationHolder`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

INSTRUMENT_COLUMNS = ("Role", "Driver", "Address", "State", "", "IDN")
STATE, BADGE = 3, 4
TERMINAL_COLUMNS = ("Terminal", "Wired to", "Series R", "Load", "1T1R")
OK_COLOUR = QColor(40, 140, 60)
BAD_COLOUR = QColor(190, 40, 40)
SIM_COLOUR = QColor(40, 90, 180)


def _si(value: float, unit: str) -> str:
    import pyqtgraph as pg

    return pg.siFormat(float(value), precision=4, suffix=unit)


def limit_rows(limits: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The station limits as (what, value) lines, units included."""
    rows = [(f"max |V| at {terminal}", _si(volts, "V"))
            for terminal, volts in dict(limits.get("max_voltage") or {}).items()]
    if limits.get("max_device_voltage") is not None:
        rows.append(("max |V_TE − V_BE|", _si(limits["max_device_voltage"], "V")))
    if limits.get("max_current_limit") is not None:
        rows.append(("max compliance", _si(limits["max_current_limit"], "A")))
    for axis, (low, high) in dict(limits.get("stage_envelope") or {}).items():
        unit = "mm" if axis in "xyz" else "°"
        rows.append((f"stage {axis}", f"{low:g} … {high:g} {unit}"))
    if limits.get("temperature_k"):
        low, high = limits["temperature_k"]
        rows.append(("temperature", f"{low:g} … {high:g} K"))
    return rows


def terminal_rows(terminals: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Each DUT terminal's wiring: instrument.channel (or ground), series R, load, transistor."""
    rows = []
    for name, wire in terminals.items():
        if isinstance(wire, str):
            rows.append((name, wire, "", "", ""))
            continue
        load = wire.get("load")
        rows.append((name, f"{wire['instrument']}.{wire.get('channel', 1)}",
                     _si(wire.get("series_resistance", 0.0), "Ω"),
                     "" if load is None else ("high-Z" if load == "high-z" else f"{load} Ω"),
                     "yes" if wire.get("transistor") else ""))
    return rows


def _table(columns: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(22)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(str(text))
            item.setToolTip(str(text))
            table.setItem(r, c, item)


class StationDock(QWidget):
    """Shows the holder's station and re-reads it whenever the holder announces a change."""

    def __init__(self, holder: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.holder = holder
        self.header = QLabel("no station")
        self.header.setWordWrap(True)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {BAD_COLOUR.name()}")
        self.message.hide()
        self.open_button = QPushButton("Open station file…")
        self.connect_button = QPushButton("Connect")
        self.reconnect_button = QPushButton("Reconnect")
        self.open_button.setToolTip("Open a station YAML file (closes the current station)")
        self.connect_button.setToolTip("Open the station (the simulated demo bench if no file)")
        self.reconnect_button.setToolTip("Safe state, close and open the same station again")
        self.instruments = _table(INSTRUMENT_COLUMNS)
        self.terminals = _table(TERMINAL_COLUMNS)
        self.limits = _table(("Limit", "Value"))
        self._build_layout()
        self.open_button.clicked.connect(lambda: self.open_file())
        self.connect_button.clicked.connect(self.connect_station)
        self.reconnect_button.clicked.connect(self.reconnect_station)
        holder.changed.connect(self.refresh)
        holder.error.connect(self._show_error)
        self.refresh()

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.open_button, self.connect_button, self.reconnect_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        for title, table in (("Instruments", self.instruments),
                             ("DUT terminals and wiring", self.terminals),
                             ("Limits", self.limits)):
            box = QGroupBox(title)
            inner = QVBoxLayout(box)
            inner.setContentsMargins(4, 4, 4, 4)
            inner.addWidget(table)
            layout.addWidget(box, 1)

    # -- actions ------------------------------------------------------------------------------
    def choose_file(self) -> str:
        """Ask for a station file ('' if cancelled); tests replace this."""
        path, _ = QFileDialog.getOpenFileName(self, "Open station file", "",
                                              "Station files (*.yaml *.yml);;All files (*)")
        return path

    def open_file(self, path: str | None = None) -> bool:
        """Open `path`, or the file the user picks; False if cancelled or it failed."""
        path = path or self.choose_file()
        if not path:
            return False
        self._show_error("")
        return bool(self.holder.open(path))

    def connect_station(self) -> bool:
        """Open the holder's station file (the demo bench when it has none)."""
        self._show_error("")
        return bool(self.holder.open(self.holder.path))

    def reconnect_station(self) -> bool:
        self._show_error("")
        return bool(self.holder.reconnect())

    def _show_error(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- display ------------------------------------------------------------------------------
    def refresh(self, *_: Any) -> None:
        """Re-read the holder's station (IDNs are queried once per refresh)."""
        station = self.holder.station
        self.connect_button.setEnabled(station is None)
        self.reconnect_button.setEnabled(station is not None or bool(self.holder.path))
        if station is None:
            self.header.setText("<b>No station open</b>"
                                + (f" — {self.holder.path}" if self.holder.path else ""))
            for table in (self.instruments, self.terminals, self.limits):
                table.setRowCount(0)
            return
        snap = station.snapshot()
        backend = snap.get("backend", "")
        badge = f" <span style='color:{SIM_COLOUR.name()}'>[simulated: {backend}]</span>" \
            if station.simulated else ""
        self.header.setText(f"<b>{snap.get('station', '')}</b>{badge}<br>"
                            f"<small>{snap.get('source', '')}</small>")
        self._fill_instruments(station, snap)
        _fill(self.terminals, terminal_rows(snap.get("terminals", {})))
        _fill(self.limits, limit_rows(snap.get("limits", {})))

    def _fill_instruments(self, station: Any, snap: Mapping[str, Any]) -> None:
        entries = dict(snap.get("instruments", {}))
        self.instruments.setRowCount(len(entries))
        for row, (name, info) in enumerate(entries.items()):
            idn = str(info.get("idn", ""))
            connected = name in station.instruments and not idn.startswith("unavailable")
            state = "connected" if connected else "not connected"
            badge = "simulated" if info.get("simulated") else ""
            cells = (name, info.get("driver", ""), info.get("address", ""), state, badge, idn)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                item.setToolTip(str(text))
                if col == STATE:
                    item.setForeground(QBrush(OK_COLOUR if connected else BAD_COLOUR))
                if col == BADGE and badge:
                    item.setForeground(QBrush(QColor("white")))
                    item.setBackground(QBrush(SIM_COLOUR))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.instruments.setItem(row, col, item)

    def instrument_rows(self) -> list[dict[str, str]]:
        """The instrument table as dicts by column title (for tests and the status bar)."""
        titles = [t or "Badge" for t in INSTRUMENT_COLUMNS]
        return [{titles[c]: self.instruments.item(r, c).text() for c in range(len(titles))}
                for r in range(self.instruments.rowCount())]
