"""Live plots: blocks from the run go into bounded numpy buffers, one QTimer redraws at 25 Hz.

Never one redraw per point and never a re-read of the run file: `LivePlots.add_block` only
appends to memory and marks groups dirty; `LivePlots.redraw` (the timer) hands each dirty group's
array views to its `SpecPlot.set_group`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from .spec_plot import SpecPlot

FRAME_MS = 40  # 25 Hz
CAPACITY = 1_000_000  # points kept per group (the newest)
MAX_GROUPS = 64  # curves kept per plot (the newest groups)


class _Series:
    """x/y kept in a buffer of twice the capacity: appends are amortised O(1) and the view of
    the newest `capacity` points is always one contiguous slice (no copy per frame)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._x = np.empty(min(capacity, 1024) * 2)
        self._y = np.empty_like(self._x)
        self._start = 0
        self._stop = 0

    def __len__(self) -> int:
        return self._stop - self._start

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        n = len(x)
        if n >= self.capacity:  # the block alone fills the buffer
            x, y, n = x[-self.capacity:], y[-self.capacity:], self.capacity
            self._start = self._stop = 0
        if self._stop + n > len(self._x):
            keep = min(len(self), self.capacity - n)
            need = max(2 * (keep + n), len(self._x))
            size = min(need, 2 * self.capacity)
            new_x, new_y = np.empty(size), np.empty(size)
            new_x[:keep] = self._x[self._stop - keep:self._stop]
            new_y[:keep] = self._y[self._stop - keep:self._stop]
            self._x, self._y, self._start, self._stop = new_x, new_y, 0, keep
        self._x[self._stop:self._stop + n] = x
        self._y[self._stop:self._stop + n] = y
        self._stop += n
        if len(self) > self.capacity:
            self._start = self._stop - self.capacity

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self._x[self._start:self._stop], self._y[self._start:self._stop]

    @property
    def nbytes(self) -> int:
        return self._x.nbytes + self._y.nbytes


class LiveBuffers:
    """The rows of each block that `spec.where` selects, split by `spec.group`, appended into
    bounded per-group buffers; `dirty` holds the groups changed since the last `take_dirty`."""

    def __init__(self, spec: Any, capacity: int = CAPACITY, max_groups: int = MAX_GROUPS
                 ) -> None:
        self.spec = spec
        self.capacity = int(capacity)
        self.max_groups = int(max_groups)
        self.series: OrderedDict[Hashable, _Series] = OrderedDict()
        self.dirty: set[Hashable] = set()
        self.dropped: set[Hashable] = set()  # groups evicted since the last take_dirty
        self.total = 0  # rows ever appended

    def append(self, block: Mapping[str, Any]) -> int:
        """Add a block (column name -> array); returns the rows taken."""
        spec = self.spec
        if spec.x not in block or spec.y not in block:
            return 0
        x = np.asarray(block[spec.x], dtype=float)
        y = np.asarray(block[spec.y], dtype=float)
        keep = np.ones(len(x), dtype=bool)
        for column, value in dict(spec.where).items():
            if column not in block:
                return 0
            keep &= np.asarray(block[column]) == value
        if not keep.all():
            x, y = x[keep], y[keep]
        if not len(x):
            return 0
        if spec.group and spec.group in block:
            groups = np.asarray(block[spec.group])[keep]
            keys, first = np.unique(groups, return_index=True)
            for key in keys[np.argsort(first)]:  # in the order they arrived
                part = groups == key
                self._add(key.item() if isinstance(key, np.generic) else key, x[part], y[part])
        else:
            self._add("", x, y)
        self.total += len(x)
        return len(x)

    def _add(self, key: Hashable, x: np.ndarray, y: np.ndarray) -> None:
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = _Series(self.capacity)
            while len(self.series) > self.max_groups:
                old, _ = self.series.popitem(last=False)
                self.dirty.discard(old)
                self.dropped.add(old)
        series.append(x, y)
        self.dirty.add(key)

    def data(self, key: Hashable) -> tuple[np.ndarray, np.ndarray]:
        return self.series[key].view()

    def take_dirty(self) -> tuple[list[Hashable], set[Hashable]]:
        """(groups to redraw, groups evicted), and reset both."""
        dirty = [k for k in self.series if k in self.dirty]
        dropped = self.dropped
        self.dirty, self.dropped = set(), set()
        return dirty, dropped

    def clear(self) -> None:
        self.series.clear()
        self.dirty.clear()
        self.dropped.clear()
        self.total = 0

    def __len__(self) -> int:
        return sum(len(s) for s in self.series.values())

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.series.values())


class LivePlots(QWidget):
    """One SpecPlot per plot spec of the running protocol, in a grid; fed by `add_block`
    (connected to the controller's `data_block`), redrawn by one 25 Hz timer."""

    def __init__(self, parent: QWidget | None = None, capacity: int = CAPACITY,
                 columns: int = 2) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self.columns = columns
        self.protocol: Any = None
        self.plots: dict[str, SpecPlot] = {}
        self.buffers: dict[str, LiveBuffers] = {}
        self.frames = 0  # redraws that changed something
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._placeholder = QLabel("Pick a protocol and press Start (F5): its plots appear here.")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._placeholder, 0, 0)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def set_protocol(self, protocol: Any) -> None:
        """Replace the plots by the protocol's specs (units from its columns)."""
        if protocol is not None and protocol is self.protocol:
            self.clear()
            return
        for plot in self.plots.values():
            self._layout.removeWidget(plot)
            plot.deleteLater()
        self.plots.clear()
        self.buffers.clear()
        self.protocol = protocol
        specs: Iterable[Any] = getattr(protocol, "plots", ()) if protocol is not None else ()
        units = {c.name: c.unit for c in getattr(protocol, "columns", ())}
        specs = list(specs)
        self._placeholder.setVisible(not specs)
        for index, spec in enumerate(specs):
            plot = SpecPlot(spec, units)
            self.plots[spec.name] = plot
            self.buffers[spec.name] = LiveBuffers(spec, self.capacity)
            self._layout.addWidget(plot, index // self.columns, index % self.columns)

    def add_block(self, block: Mapping[str, Any]) -> None:
        """Append a block to every plot's buffers (no drawing here)."""
        for buffers in self.buffers.values():
            buffers.append(block)

    def redraw(self) -> int:
        """Push dirty groups to their curves; returns how many curves were updated."""
        updated = 0
        for name, buffers in self.buffers.items():
            dirty, dropped = buffers.take_dirty()
            plot = self.plots[name]
            if dropped:
                self._drop(plot, dropped)
            for key in dirty:
                x, y = buffers.data(key)
                plot.set_group(key, x, y)
                updated += 1
        if updated:
            self.frames += 1
        return updated

    def _drop(self, plot: SpecPlot, keys: set[Hashable]) -> None:
        item = plot.getPlotItem()
        for key, curve in plot.curves.items():
            if key in keys:
                item.removeItem(curve)
                plot._curves.pop(key, None)  # SpecPlot has no remove_group (yet)

    def clear(self) -> None:
        """Empty the buffers and the curves (keep the plots)."""
        for name, plot in self.plots.items():
            plot.clear_data()
            self.buffers[name].clear()

    def set_fits(self, fits: Mapping[str, Any]) -> None:
        """Draw the analysis's fits (plot name -> frame) on the matching plots."""
        for name, plot in self.plots.items():
            plot.set_fit(fits.get(name))

    def point_count(self) -> int:
        """Points currently drawn (over every plot)."""
        return sum(p.point_count() for p in self.plots.values())
