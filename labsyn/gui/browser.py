"""The run browser: the store's catalog as a filterable table; opening a run shows its plots
(with fits from re-analysing completed runs), parameters, station snapshot and figures; a second
run of the same protocol can be overlaid; runs export to CSV / Parquet from the context menu."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from PySide6.QtCore import (
    QModelIndex,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labsyn.protocols import get_protocol
from labsyn.protocols.base import describe_parameters

from .analysis_panel import AnalysisPanel
from .run_table import ALL_PROTOCOLS, RUN_COLUMNS, RunFilter, RunTableModel
from .spec_plot import SpecPlot

log = logging.getLogger("labsyn.gui")


class RunBrowser(QWidget):
    """Browse `store`; `refresh()` re-reads the catalog. Signals: `run_opened(run_id)`,
    `exported(path)`, `message(text)`."""

    run_opened = Signal(str)
    exported = Signal(str)
    message = Signal(str)

    def __init__(self, store: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.loaded: Any = None
        self.protocol: Any = None
        self.plots: list[SpecPlot] = []
        self.overlaid: list[str] = []
        self.model = RunTableModel()
        self.proxy = RunFilter()
        self.proxy.setSourceModel(self.model)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter: device, wafer, protocol, status …")
        self.filter_edit.setClearButtonEnabled(True)
        self.protocol_combo = QComboBox()
        self.protocol_combo.addItem(ALL_PROTOCOLS)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(RUN_COLUMNS.index("started"), Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.open_button = QPushButton("Open")
        self.overlay_button = QPushButton("Overlay")
        self.overlay_button.setToolTip("Select two runs of one protocol: the second is drawn "
                                       "over the first's plots")
        self.refresh_button = QPushButton("Refresh")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.tabs = QTabWidget()
        self.plot_area = QWidget()
        self.plot_grid = QGridLayout(self.plot_area)
        self.parameters = QTableWidget(0, 2)
        self.parameters.setHorizontalHeaderLabels(["Parameter", "Value"])
        self.parameters.horizontalHeader().setStretchLastSection(True)
        self.parameters.verticalHeader().setVisible(False)
        self.snapshot = QTreeWidget()
        self.snapshot.setHeaderLabels(["Key", "Value"])
        self.figures = AnalysisPanel()
        for widget, title in ((self.plot_area, "Plots"), (self.parameters, "Parameters"),
                              (self.snapshot, "Station snapshot"), (self.figures, "Figures")):
            self.tabs.addTab(widget, title)
        self._build_layout()
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.protocol_combo.currentTextChanged.connect(self._protocol_chosen)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.open_button.clicked.connect(self._open_selected)
        self.overlay_button.clicked.connect(self.overlay_selected)
        self.refresh_button.clicked.connect(self.refresh)
        self.message.connect(self.status.setText)
        self.refresh()

    def _build_layout(self) -> None:
        top = QWidget()
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.protocol_combo)
        for button in (self.open_button, self.overlay_button, self.refresh_button):
            bar.addWidget(button)
        upper = QVBoxLayout(top)
        upper.setContentsMargins(0, 0, 0, 0)
        upper.addLayout(bar)
        upper.addWidget(self.table, 1)
        upper.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([280, 420])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    # -- catalog ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the catalog (selection and filters are kept)."""
        try:
            frame = self.store.runs()
        except Exception as exc:
            self.message.emit(f"reading the catalog failed: {exc}")
            return
        self.model.set_frame(frame)
        self.table.resizeColumnsToContents()
        current = self.protocol_combo.currentText()
        self.protocol_combo.blockSignals(True)
        self.protocol_combo.clear()
        self.protocol_combo.addItems([ALL_PROTOCOLS, *sorted(frame["protocol"].unique())])
        self.protocol_combo.setCurrentText(current)
        self.protocol_combo.blockSignals(False)
        self._protocol_chosen(self.protocol_combo.currentText())

    def _protocol_chosen(self, name: str) -> None:
        self.proxy.set_protocol("" if name == ALL_PROTOCOLS else name)
        wanted: set[str] | None = None
        if name and name != ALL_PROTOCOLS:
            try:
                wanted = set(get_protocol(name).figures)
            except Exception:
                wanted = None
        for col, column in enumerate(self.model.columns):
            hide = wanted is not None and column in self.model.figure_columns \
                and column not in wanted
            self.table.setColumnHidden(col, hide)

    def visible_run_ids(self) -> list[str]:
        """The run ids the filters let through, in table order."""
        return [self.proxy.index(r, 0).data() for r in range(self.proxy.rowCount())]

    def selected_run_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data() for r in rows]

    # -- opening a run -----------------------------------------------------------------------
    def _double_clicked(self, index: QModelIndex) -> None:
        self.open_run(self.proxy.index(index.row(), 0).data())

    def _open_selected(self) -> None:
        ids = self.selected_run_ids()
        if ids:
            self.open_run(ids[0])

    def open_run(self, run_id: str) -> bool:
        """Load a run and show its plots, parameters, snapshot and figures."""
        try:
            loaded = self.store.load(run_id)
            protocol = get_protocol(loaded.protocol)
        except Exception as exc:
            self.message.emit(f"opening run {run_id} failed: {exc}")
            return False
        self.loaded, self.protocol, self.overlaid = loaded, protocol, []
        units = dict(loaded.units)
        fits = self._refit(loaded, protocol)
        self._show_plots(loaded.data, protocol, units, fits)
        self._show_parameters(loaded.parameters)
        self._show_snapshot(loaded.snapshot)
        self.figures.header.setText(f"<b>{protocol.title}</b> — run {loaded.run_id} · "
                                    f"{loaded.status}")
        self.figures.show_figures(loaded.figures, dict(protocol.figures))
        self.figures.set_fits(fits)
        self.tabs.setCurrentWidget(self.plot_area)
        self.message.emit(f"opened {loaded.run_id}: {loaded.protocol}, {loaded.status}, "
                          f"{len(loaded.data)} rows")
        self.run_opened.emit(loaded.run_id)
        return True

    def _refit(self, loaded: Any, protocol: Any) -> dict[str, pd.DataFrame]:
        """Fits from re-running the protocol's analysis on the stored data (completed runs)."""
        if loaded.status != "completed" or loaded.data.empty:
            return {}
        try:
            analysis = protocol.analyse(loaded.data, protocol.parameters(loaded.parameters))
        except Exception as exc:
            log.warning("re-analysing run %s failed: %s", loaded.run_id, exc)
            return {}
        return dict(analysis.fits or {})

    def _show_plots(self, data: pd.DataFrame, protocol: Any, units: Mapping[str, str],
                    fits: Mapping[str, pd.DataFrame]) -> None:
        for plot in self.plots:
            self.plot_grid.removeWidget(plot)
            plot.deleteLater()
        self.plots = []
        columns = 1 if len(protocol.plots) == 1 else 2
        for i, spec in enumerate(protocol.plots):
            plot = SpecPlot(spec, units, grid=True)
            plot.setMinimumHeight(180)
            if {spec.x, spec.y} <= set(data.columns):
                plot.show_frame(data)
            plot.set_fit(fits.get(spec.name))
            self.plot_grid.addWidget(plot, i // columns, i % columns)
            self.plots.append(plot)

    def _show_parameters(self, parameters: Mapping[str, Any]) -> None:
        units = {} if self.protocol is None else {
            row["name"]: row["unit"] for row in describe_parameters(self.protocol.Parameters)}
        self.parameters.setRowCount(len(parameters))
        for row, (name, value) in enumerate(parameters.items()):
            unit = units.get(name, "")
            self.parameters.setItem(row, 0, QTableWidgetItem(name))
            self.parameters.setItem(row, 1, QTableWidgetItem(f"{value} {unit}".rstrip()))
        self.parameters.resizeColumnToContents(0)

    def _show_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        self.snapshot.clear()
        _tree(self.snapshot.invisibleRootItem(), snapshot)
        self.snapshot.expandToDepth(1)
        self.snapshot.resizeColumnToContents(0)

    # -- overlay and export -------------------------------------------------------------------
    def overlay_selected(self) -> bool:
        """With two runs selected: open the first (if not open) and draw the second on it."""
        ids = self.selected_run_ids()
        if len(ids) != 2:
            self.message.emit("select two runs of the same protocol to overlay them")
            return False
        return self.overlay(ids[0], ids[1])

    def overlay(self, base_id: str, other_id: str) -> bool:
        """Draw run `other_id` over the plots of run `base_id` (same protocol only)."""
        if self.loaded is None or self.loaded.run_id != base_id:
            if not self.open_run(base_id):
                return False
        try:
            other = self.store.load(other_id)
        except Exception as exc:
            self.message.emit(f"loading run {other_id} failed: {exc}")
            return False
        if other.protocol != self.loaded.protocol:
            self.message.emit(f"cannot overlay {other.protocol} run {other.run_id} on "
                              f"{self.loaded.protocol} run {self.loaded.run_id}: protocols "
                              "differ")
            return False
        for plot in self.plots:
            if {plot.spec.x, plot.spec.y} <= set(other.data.columns):
                plot.add_overlay(other.data, other.run_id)
        self.overlaid.append(other.run_id)
        self.message.emit(f"overlaid {other.run_id} on {self.loaded.run_id}")
        return True

    def export(self, run_id: str, fmt: str) -> str | None:
        """Export a run with `store.export` ("csv" | "parquet"); the path, or None on failure."""
        try:
            path = str(self.store.export(run_id, fmt))
        except Exception as exc:
            self.message.emit(f"export of {run_id} as {fmt} failed: {exc}")
            return None
        self.message.emit(f"exported {run_id} to {path}")
        self.exported.emit(path)
        return path

    def context_menu(self, run_id: str) -> QMenu:
        """The menu for one run: open, export CSV / Parquet."""
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_run(run_id))
        menu.addSeparator()
        menu.addAction("Export CSV", lambda: self.export(run_id, "csv"))
        menu.addAction("Export Parquet", lambda: self.export(run_id, "parquet"))
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        menu = self.context_menu(self.proxy.index(index.row(), 0).data())
        menu.exec(self.table.viewport().mapToGlobal(pos))


def _tree(parent: QTreeWidgetItem, value: Any) -> None:
    """Nested dicts / lists as tree rows."""
    items = value.items() if isinstance(value, Mapping) else enumerate(value)
    for key, child in items:
        if isinstance(child, Mapping | list | tuple) and child:
            node = QTreeWidgetItem(parent, [str(key), ""])
            _tree(node, child)
        else:
            QTreeWidgetItem(parent, [str(key), str(child)])
