"""SpecPlot on data: curves per group, log axes, abs_y, fits, overlays, cursor readout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPointF

from labsyn.gui.spec_plot import SpecPlot, select_rows
from labsyn.protocols.base import PlotSpec

IV = PlotSpec("iv", "I-V loops", "voltage", "current", group="cycle", y_log=True, abs_y=True)
PPF = PlotSpec("ppf", "PPF vs gap", "interval", "ppf", x_log=True, where={"read": 2})
UNITS = {"voltage": "V", "current": "A", "interval": "s", "ppf": ""}


@pytest.fixture
def iv_plot(qtbot) -> SpecPlot:
    plot = SpecPlot(IV, UNITS)
    qtbot.addWidget(plot)
    plot.resize(500, 350)
    return plot


def iv_frame(cycles: int = 3, points: int = 50) -> pd.DataFrame:
    v = np.tile(np.linspace(-1.0, 1.0, points), cycles)
    i = 1e-4 * v  # even point count: v = 0 is not in the grid, so no zero current
    return pd.DataFrame({"cycle": np.repeat(np.arange(1, cycles + 1), points),
                         "voltage": v, "current": i})


def test_plot_item_settings_and_axis_labels(iv_plot: SpecPlot) -> None:
    item = iv_plot.getPlotItem()
    assert item.ctrl.logYCheck.isChecked() and not item.ctrl.logXCheck.isChecked()
    _ds, auto, mode = item.downsampleMode()
    assert auto is True and mode == "peak"
    assert item.clipToViewMode() is True
    assert item.getAxis("bottom").labelText == "voltage"
    assert item.getAxis("bottom").labelUnits == "V"
    assert item.getAxis("left").labelText == "|current| (A)"  # log axis: unit in the text


def test_set_group_abs_y_and_log_hides_non_positive(iv_plot: SpecPlot) -> None:
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    y = np.array([-2e-4, -1e-4, 0.0, 1e-4, np.nan])
    iv_plot.set_group(1, x, y)
    gx, gy = iv_plot.curves[1].getOriginalDataset()
    np.testing.assert_allclose(gx, [-1.0, -0.5, 0.5])
    np.testing.assert_allclose(gy, [2e-4, 1e-4, 1e-4])
    iv_plot.set_group(1, x[:2], y[:2])  # update in place, no new curve
    assert len(iv_plot.curves) == 1
    assert len(iv_plot.curves[1].getOriginalDataset()[0]) == 2
    # the curve inherited the plot item's downsampling and clipping
    assert iv_plot.curves[1].opts["autoDownsample"] is True
    assert iv_plot.curves[1].opts["downsampleMethod"] == "peak"
    assert iv_plot.curves[1].opts["clipToView"] is True


def test_show_frame_splits_groups_and_clear(iv_plot: SpecPlot) -> None:
    frame = iv_frame(cycles=3, points=50)
    iv_plot.show_frame(frame)
    assert sorted(iv_plot.curves) == [1, 2, 3]
    assert iv_plot.point_count() == len(frame)  # no zero currents in this frame
    legend_names = [label.text for _, label in iv_plot.legend.items]
    assert legend_names == ["cycle 1", "cycle 2", "cycle 3"]
    iv_plot.clear_data()
    assert iv_plot.curves == {} and iv_plot.point_count() == 0


def test_where_selects_rows(qtbot) -> None:
    plot = SpecPlot(PPF, UNITS)
    qtbot.addWidget(plot)
    frame = pd.DataFrame({"read": [1, 2, 1, 2, 2], "interval": [1e-3, 1e-3, 1e-2, 1e-2, 0.0],
                          "ppf": [1.0, 1.5, 1.0, 1.2, 9.0]})
    assert len(select_rows(frame, PPF)) == 3
    plot.show_frame(frame)
    gx, gy = plot.curves[""].getOriginalDataset()
    np.testing.assert_allclose(gx, [1e-3, 1e-2])  # interval 0 hidden on the log x axis
    np.testing.assert_allclose(gy, [1.5, 1.2])
    assert plot.getPlotItem().ctrl.logXCheck.isChecked()


def test_fit_dashed_one_curve_per_label(iv_plot: SpecPlot) -> None:
    from PySide6.QtCore import Qt

    fit = pd.DataFrame({"voltage": [0.1, 0.2, -0.1, -0.2], "current": [1e-5, 2e-5, -1e-5, -2e-5],
                        "label": ["set", "set", "reset", "reset"]})
    iv_plot.set_fit(fit)
    assert len(iv_plot.fit_curves) == 2
    curve = iv_plot.fit_curves[1]
    np.testing.assert_allclose(curve.getOriginalDataset()[1], [1e-5, 2e-5])  # abs_y applies to fits
    assert curve.opts["pen"].style() == Qt.PenStyle.DashLine
    iv_plot.set_fit(None)
    assert iv_plot.fit_curves == []


def test_overlay_distinct_style_and_named(iv_plot: SpecPlot) -> None:
    from PySide6.QtCore import Qt

    iv_plot.show_frame(iv_frame(cycles=2))
    iv_plot.add_overlay(iv_frame(cycles=2, points=20), "run B")
    overlays = iv_plot.overlay_curves["run B"]
    assert len(overlays) == 2 and len(overlays[0].getOriginalDataset()[0]) == 20
    assert overlays[0].opts["pen"].style() == Qt.PenStyle.DotLine
    assert iv_plot.curves[1].opts["pen"].style() == Qt.PenStyle.SolidLine
    assert "run B" in [label.text for _, label in iv_plot.legend.items]
    iv_plot.add_overlay(iv_frame(cycles=1), "run B")  # same name: replaced
    assert len(iv_plot.overlay_curves["run B"]) == 1


def test_cursor_readout_in_data_units_on_log_axis(iv_plot: SpecPlot, qtbot) -> None:
    iv_plot.show_frame(iv_frame())
    iv_plot.show()
    qtbot.waitExposed(iv_plot)
    box = iv_plot.getPlotItem().getViewBox()
    box.setRange(xRange=(-1, 1), yRange=(-6, -3), padding=0)
    scene_pos = box.mapViewToScene(QPointF(0.5, math.log10(2e-5)))
    with qtbot.waitSignal(iv_plot.cursor_moved, timeout=1000) as blocker:
        iv_plot.scene().sigMouseMoved.emit(scene_pos)
    text = blocker.args[0]
    assert text == iv_plot.readout
    assert text.startswith("voltage = 500")  # 0.5 V in SI form: "500 mV"
    assert "mV" in text and "|current| = 20 µA" in text
    outside = box.sceneBoundingRect().bottomRight() + QPointF(50, 50)
    assert iv_plot.move_cursor(outside) is None


def test_cursor_text_linear_and_dimensionless(qtbot) -> None:
    plot = SpecPlot(PlotSpec("g", "G vs pulse", "pulse", "conductance"), {"conductance": "S"})
    qtbot.addWidget(plot)
    assert plot.cursor_text(12.0, 2.5e-4) == "pulse = 12, conductance = 250 µS"
    assert plot.getPlotItem().getAxis("bottom").labelUnits == ""


def test_loop_curves_get_a_fixed_downsampling_factor(iv_plot: SpecPlot) -> None:
    loop = np.r_[np.linspace(0, 1, 30_000), np.linspace(1, -1, 60_000), np.linspace(-1, 0, 30_000)]
    iv_plot.set_group(1, loop, 1e-5 * np.sinh(3 * loop) + 1e-9)
    opts = iv_plot.curves[1].opts
    assert opts["autoDownsample"] is False and opts["downsample"] == 6  # 120 000 / 20 000
    assert opts["downsampleMethod"] == "peak"
    iv_plot.set_group(1, loop[:30_000], 1e-5 * loop[:30_000] + 1e-9)  # monotonic again: auto
    assert iv_plot.curves[1].opts["autoDownsample"] is True


def test_remove_group_drops_curve_and_legend_entry(iv_plot: SpecPlot) -> None:
    iv_plot.show_frame(iv_frame(cycles=3))
    colour_3 = iv_plot.curves[3].opts["pen"].color().name()
    assert iv_plot.remove_group(1) and not iv_plot.remove_group(1)
    assert sorted(iv_plot.curves) == [2, 3]
    assert [label.text for _, label in iv_plot.legend.items] == ["cycle 2", "cycle 3"]
    assert iv_plot.getPlotItem().items.count(iv_plot.curves[2]) == 1
    iv_plot.set_group(4, np.array([0.1, 0.2]), np.array([1e-6, 2e-6]))  # a fresh colour
    assert iv_plot.curves[4].opts["pen"].color().name() != colour_3
