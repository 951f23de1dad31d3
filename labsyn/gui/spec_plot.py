"""One pyqtgraph plot for one protocol `PlotSpec`: log axes and labels as the spec says, one
curve per group, the analysis's fit dashed, another run overlaid, and a crosshair readout.

Peak-preserving downsampling and clip-to-view are set on the plot item (a curve's own settings
are overridden by `PlotItem.addItem`), so a million-point curve still redraws in a few ms."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

LOOP_POINTS = 20_000  # a curve whose x turns back (an I-V loop) keeps at most this many points
MAX_LEGEND = 10  # groups named in the legend; later groups are drawn but not listed
FIT_PEN = pg.mkPen((255, 255, 255), width=1.5, style=Qt.PenStyle.DashLine)
OVERLAY_COLOURS = ((255, 80, 255), (80, 255, 255), (255, 255, 120))


def select_rows(data: pd.DataFrame, spec: Any) -> pd.DataFrame:
    """The rows `spec.where` selects (a column the frame lacks selects nothing)."""
    rows = data
    for column, value in dict(spec.where).items():
        if column not in rows:
            return rows.iloc[0:0]
        rows = rows[rows[column] == value]
    return rows


def split_groups(rows: pd.DataFrame, spec: Any) -> Iterator[tuple[Hashable, pd.DataFrame]]:
    """(group key, rows) per value of `spec.group` in sorted order; one group "" if none."""
    if spec.group and spec.group in rows:
        yield from rows.groupby(spec.group, sort=True)
    else:
        yield "", rows


class SpecPlot(pg.PlotWidget):
    """A live or static plot of one spec; `set_group` is cheap enough for a 25 Hz timer."""

    cursor_moved = Signal(str)

    def __init__(self, spec: Any, units: Mapping[str, str] | None = None,
                 parent: Any = None, grid: bool = False) -> None:
        """`grid` draws grid lines: fine for a stored run, but on a live plot whose range moves
        every frame the axes repaint them each time (8.9 ms against 18.6 ms a frame at 3e5
        points in bench/bench_live_plot.py), so live plots leave them off."""
        super().__init__(parent=parent)
        self.useOpenGL(False)
        self.spec = spec
        self.units = dict(units or {})
        self._curves: dict[Hashable, pg.PlotDataItem] = {}
        self._created = 0  # curves made since the last clear: picks each new group's colour
        self._fit_curves: list[pg.PlotDataItem] = []
        self._overlays: dict[str, list[pg.PlotDataItem]] = {}
        item = self.getPlotItem()
        item.setTitle(spec.title)
        item.setLogMode(x=bool(spec.x_log), y=bool(spec.y_log))
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.showGrid(x=grid, y=grid, alpha=0.25)
        self.legend = item.addLegend(offset=(-10, 10), labelTextSize="8pt",
                                     brush=pg.mkBrush(0, 0, 0, 170))
        self._label_axis("bottom", spec.x, False, bool(spec.x_log))
        self._label_axis("left", spec.y, bool(spec.abs_y), bool(spec.y_log))
        self._build_cursor()

    # -- data -------------------------------------------------------------------------------
    @property
    def curves(self) -> dict[Hashable, pg.PlotDataItem]:
        """The data curves by group key."""
        return dict(self._curves)

    @property
    def fit_curves(self) -> list[pg.PlotDataItem]:
        return list(self._fit_curves)

    @property
    def overlay_curves(self) -> dict[str, list[pg.PlotDataItem]]:
        return {name: list(items) for name, items in self._overlays.items()}

    def set_group(self, key: Hashable, x: np.ndarray, y: np.ndarray) -> None:
        """Create or update the curve of group `key` (|y| if the spec says; points a log axis
        cannot show are hidden)."""
        x, y = self._clean(x, y)
        curve = self._curves.get(key)
        if curve is None:
            index = self._created
            self._created += 1
            name = self._group_name(key) if index < MAX_LEGEND else None
            curve = self.getPlotItem().plot(pen=pg.mkPen(pg.intColor(index, hues=9), width=1),
                                            name=name, antialias=False)
            self._curves[key] = curve
        self._tune_downsampling(curve, x)
        curve.setData(x, y, skipFiniteCheck=True)

    def remove_group(self, key: Hashable) -> bool:
        """Drop one group's curve (and its legend entry); False if there was none."""
        curve = self._curves.pop(key, None)
        if curve is None:
            return False
        self.getPlotItem().removeItem(curve)
        return True

    def clear_data(self) -> None:
        """Remove every data curve, the fit and the overlays."""
        item = self.getPlotItem()
        for curve in [*self._curves.values(), *self._fit_curves,
                      *(c for items in self._overlays.values() for c in items)]:
            item.removeItem(curve)
        self._curves.clear()
        self._created = 0
        self._fit_curves.clear()
        self._overlays.clear()

    def set_fit(self, fit: pd.DataFrame | None) -> None:
        """Draw the analysis's fitted curves dashed, one per `label` (replaces the previous)."""
        item = self.getPlotItem()
        for curve in self._fit_curves:
            item.removeItem(curve)
        self._fit_curves.clear()
        if fit is None or not len(fit) or self.spec.x not in fit or self.spec.y not in fit:
            return
        parts = fit.groupby("label", sort=False) if "label" in fit else [("fit", fit)]
        for label, part in parts:
            x, y = self._clean(part[self.spec.x].to_numpy(float), part[self.spec.y].to_numpy(float))
            curve = item.plot(x, y, pen=FIT_PEN, name=str(label), skipFiniteCheck=True)
            curve.setZValue(10)
            self._fit_curves.append(curve)

    def show_frame(self, data: pd.DataFrame) -> None:
        """Static display of a stored run: the rows the spec selects, a curve per group."""
        self.clear_data()
        rows = select_rows(data, self.spec)
        for key, part in split_groups(rows, self.spec):
            self.set_group(key, part[self.spec.x].to_numpy(float),
                           part[self.spec.y].to_numpy(float))

    def add_overlay(self, data: pd.DataFrame, name: str) -> None:
        """Another run's curves in a dotted, distinct colour, named once in the legend."""
        item = self.getPlotItem()
        for curve in self._overlays.pop(name, []):
            item.removeItem(curve)
        colour = OVERLAY_COLOURS[len(self._overlays) % len(OVERLAY_COLOURS)]
        pen = pg.mkPen(colour, width=2, style=Qt.PenStyle.DotLine)
        rows = select_rows(data, self.spec)
        curves = []
        for key, part in split_groups(rows, self.spec):
            x, y = self._clean(part[self.spec.x].to_numpy(float),
                               part[self.spec.y].to_numpy(float))
            curve = item.plot(x, y, pen=pen, name=name if not curves else None,
                              skipFiniteCheck=True)
            curve.setZValue(-1)  # under this run's curves: both stay visible where they agree
            curve.overlay_group = key
            curves.append(curve)
        self._overlays[name] = curves

    def point_count(self) -> int:
        """Points held by the data curves (after hiding what a log axis cannot show)."""
        return sum(_length(c) for c in self._curves.values())

    # -- cursor ---------------------------------------------------------------------------
    def cursor_text(self, view_x: float, view_y: float) -> str:
        """The readout for a point in view coordinates (log10 of the value on a log axis)."""
        x = 10.0 ** view_x if self.spec.x_log else view_x
        y = 10.0 ** view_y if self.spec.y_log else view_y
        y_name = f"|{self.spec.y}|" if self.spec.abs_y else self.spec.y
        return (f"{self.spec.x} = {_format(x, self.units.get(self.spec.x, ''))}, "
                f"{y_name} = {_format(y, self.units.get(self.spec.y, ''))}")

    def move_cursor(self, scene_pos: QPointF) -> str | None:
        """Move the crosshair to a scene position; the readout, or None outside the plot."""
        box = self.getPlotItem().getViewBox()
        if not box.sceneBoundingRect().contains(scene_pos):
            for part in (self._v_line, self._h_line, self._readout):
                part.hide()
            return None
        point = box.mapSceneToView(scene_pos)
        text = self.cursor_text(point.x(), point.y())
        self._v_line.setPos(point.x())
        self._h_line.setPos(point.y())
        self._readout.setText(text)
        view = box.viewRect()  # keep the label inside: flip it towards the plot's centre
        self._readout.setAnchor((1 if point.x() > view.center().x() else 0,
                                 0 if point.y() > view.center().y() else 1))
        self._readout.setPos(point)
        for part in (self._v_line, self._h_line, self._readout):
            part.show()
        self.cursor_moved.emit(text)
        return text

    @property
    def readout(self) -> str:
        """The text the crosshair label shows."""
        return self._readout.toPlainText()

    # -- internals ---------------------------------------------------------------------------
    def _build_cursor(self) -> None:
        item = self.getPlotItem()
        pen = pg.mkPen((160, 160, 160), width=1, style=Qt.PenStyle.DashLine)
        self._v_line = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self._h_line = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        self._readout = pg.TextItem("", color=(230, 230, 230), anchor=(0, 1),
                                    fill=pg.mkBrush(0, 0, 0, 160))
        for part in (self._v_line, self._h_line, self._readout):
            item.addItem(part, ignoreBounds=True)
            part.setZValue(20)
            part.hide()
        self.scene().sigMouseMoved.connect(self.move_cursor)

    def _tune_downsampling(self, curve: pg.PlotDataItem, x: np.ndarray) -> None:
        """The plot item's auto peak downsampling assumes x evenly spaced and sorted; on an
        x that turns back (a voltage loop) it would draw a staircase, so such curves get a
        fixed factor that keeps `LOOP_POINTS` points."""
        steps = np.diff(x)
        if len(x) < 3 or (steps >= 0).all() or (steps <= 0).all():
            ds, auto, method = self.getPlotItem().downsampleMode()
        else:
            ds, auto, method = max(1, -(-len(x) // LOOP_POINTS)), False, "peak"
        opts = curve.opts
        if (opts["downsample"], opts["autoDownsample"], opts["downsampleMethod"]) != (
                ds, auto, method):
            curve.setDownsampling(ds=ds, auto=auto, method=method)

    def _label_axis(self, side: str, column: str, absolute: bool, log: bool) -> None:
        name = f"|{column}|" if absolute else column
        unit = self.units.get(column, "")
        axis = self.getPlotItem().getAxis(side)
        if log:  # SI-prefix scaling of log10 tick values would mislabel them
            axis.enableAutoSIPrefix(False)
            axis.setLabel(f"{name} ({unit})" if unit else name)
        else:
            axis.setLabel(name, units=unit or None)

    def _group_name(self, key: Hashable) -> str | None:
        if not self.spec.group:
            return None
        value = key.item() if isinstance(key, np.generic) else key
        return f"{self.spec.group} {value}"

    def _clean(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if self.spec.abs_y:
            y = np.abs(y)
        keep = np.isfinite(x) & np.isfinite(y)
        if self.spec.x_log:
            keep &= x > 0
        if self.spec.y_log:
            keep &= y > 0
        if keep.all():
            return x, y
        return x[keep], y[keep]


def _length(curve: pg.PlotDataItem) -> int:
    x, _ = curve.getOriginalDataset()  # getData() is the log-transformed, downsampled view
    return 0 if x is None else len(x)


def _format(value: float, unit: str) -> str:
    if not np.isfinite(value):
        return "—"
    return pg.siFormat(value, precision=4, suffix=unit) if unit else f"{value:.4g}"
