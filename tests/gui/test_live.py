"""Live buffers (bounded, where-selected, split by group) and the 25 Hz redraw of dirty groups."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labsyn.gui.live import FRAME_MS, LiveBuffers, LivePlots
from labsyn.protocols import PlotSpec, get_protocol

SPEC = PlotSpec("iv", "I-V", "voltage", "current", group="cycle", where={"phase": 1})


def block(n: int, cycle: int | np.ndarray, phase: int = 1, start: float = 0.0) -> dict:
    v = start + np.arange(n, dtype=float)
    return {"voltage": v, "current": 2 * v, "cycle": np.broadcast_to(cycle, n).copy(),
            "phase": np.full(n, phase)}


def test_rows_are_selected_by_where_and_split_by_group() -> None:
    buffers = LiveBuffers(SPEC, capacity=100)
    mixed = block(6, np.array([1, 1, 2, 2, 1, 2]))
    mixed["phase"] = np.array([1, 0, 1, 1, 1, 1])
    assert buffers.append(mixed) == 5
    assert buffers.append(block(3, 1, phase=0)) == 0  # other phase: nothing
    x1, y1 = buffers.data(1)
    np.testing.assert_array_equal(x1, [0, 4])
    np.testing.assert_array_equal(y1, [0, 8])
    np.testing.assert_array_equal(buffers.data(2)[0], [2, 3, 5])
    dirty, dropped = buffers.take_dirty()
    assert dirty == [1, 2] and not dropped
    assert buffers.take_dirty() == ([], set())


def test_a_block_without_the_columns_is_ignored() -> None:
    buffers = LiveBuffers(SPEC)
    assert buffers.append({"time": np.arange(3.0)}) == 0
    assert buffers.append({"voltage": np.ones(2), "current": np.ones(2)}) == 0  # no phase
    assert len(buffers) == 0


@pytest.mark.parametrize("chunk", [7, 100, 1000, 2500])
def test_buffers_keep_the_newest_points_in_order_and_stay_bounded(chunk: int) -> None:
    spec = PlotSpec("g", "G", "pulse", "g")
    buffers = LiveBuffers(spec, capacity=1000)
    total = 0
    for _ in range(40):
        x = np.arange(total, total + chunk, dtype=float)
        buffers.append({"pulse": x, "g": -x})
        total += chunk
    x, y = buffers.data("")
    assert len(x) == min(1000, total)
    np.testing.assert_array_equal(x, np.arange(total - len(x), total))
    np.testing.assert_array_equal(y, -x)
    assert buffers.nbytes <= 2 * 2 * 1000 * 8  # twice the capacity, x and y
    assert buffers.total == total


def test_old_groups_are_evicted() -> None:
    buffers = LiveBuffers(SPEC, capacity=10, max_groups=3)
    for cycle in range(1, 6):
        buffers.append(block(2, cycle))
    assert list(buffers.series) == [3, 4, 5]
    dirty, dropped = buffers.take_dirty()
    assert dirty == [3, 4, 5] and dropped == {1, 2}


def test_live_plots_redraw_only_dirty_groups_on_the_timer(qtbot: Any) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    protocol = get_protocol("iv-sweep")
    plots.set_protocol(protocol)
    assert list(plots.plots) == [s.name for s in protocol.plots]
    assert plots.timer.isActive() and plots.timer.interval() == FRAME_MS
    spec = protocol.plots[0]
    n = 50
    data = {c.name: np.zeros(n) for c in protocol.columns}
    data.update({spec.x: np.linspace(0.1, 1, n), spec.y: np.linspace(1e-6, 1e-4, n)})
    data.update({k: np.full(n, v) for k, v in spec.where.items()})
    if spec.group:
        data[spec.group] = np.full(n, 1)
    plots.add_block(data)
    plot = plots.plots[spec.name]
    assert plot.curves == {}  # nothing drawn until the timer fires
    qtbot.waitUntil(lambda: plot.point_count() == n, timeout=2000)
    frames = plots.frames
    qtbot.wait(3 * FRAME_MS)
    assert plots.frames == frames  # nothing dirty: no redraw
    assert plots.redraw() == 0
    plots.add_block(data)
    assert plots.redraw() >= 1
    assert plot.point_count() == 2 * n
    plots.clear()
    assert plot.point_count() == 0 and len(plots.buffers[spec.name]) == 0


def test_live_plots_take_fits(qtbot: Any) -> None:
    import pandas as pd

    plots = LivePlots()
    qtbot.addWidget(plots)
    protocol = get_protocol("iv-sweep")
    plots.set_protocol(protocol)
    spec = protocol.plots[0]
    fit = pd.DataFrame({spec.x: [0.1, 0.5, 1.0], spec.y: [1e-6, 1e-5, 1e-4]})
    plots.set_fits({spec.name: fit})
    assert len(plots.plots[spec.name].fit_curves) == 1
    plots.set_protocol(None)
    assert plots.plots == {}
