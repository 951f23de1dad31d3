"""Report plots and the one-page device report: fits drawn over the data, a panel per run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from labsyn.analysis import Estimate
from labsyn.protocols import PlotSpec
from labsyn.report import Panel, draw_spec, report_page

SPEC = PlotSpec("decay", "Decay", "t", "g", group="cycle", x_log=True)


def data() -> pd.DataFrame:
    t = np.tile(np.logspace(-3, 0, 20), 2)
    return pd.DataFrame({"t": t, "g": np.exp(-t / 0.1), "cycle": np.repeat([1, 2], 20)})


def test_a_fit_is_drawn_dashed_over_each_group() -> None:
    axes = Figure().add_subplot()
    fit = pd.DataFrame({"t": [1e-3, 1.0], "g": [1.0, 0.0], "label": "fit τ = 0.1 s"})
    draw_spec(axes, data(), SPEC, {"t": "s", "g": "S"}, fit)
    styles = [(line.get_linestyle(), line.get_label()) for line in axes.get_lines()]
    assert styles == [("-", "cycle 1"), ("-", "cycle 2"), ("--", "fit τ = 0.1 s")]
    assert axes.get_xscale() == "log" and axes.get_xlabel() == "t (s)"


def test_where_selects_rows_and_log_y_hides_non_positive_values() -> None:
    axes = Figure().add_subplot()
    frame = data().assign(g=lambda d: d["g"] - 0.5)
    spec = PlotSpec("d", "D", "t", "g", y_log=True, where={"cycle": 2})
    draw_spec(axes, frame, spec, {})
    (line,) = axes.get_lines()
    y = np.asarray(line.get_ydata(), dtype=float)
    assert len(y) == 20 and np.isnan(y[frame["g"].to_numpy()[20:] <= 0]).all()


def test_the_page_has_a_panel_per_run_and_every_figure_in_its_table(tmp_path: Path) -> None:
    figures = {"tau": Estimate(0.1, 0.01, "s"), "gain": Estimate.missing("", "no pairs")}
    panels = [Panel(f"run {i}", data(), SPEC, {"t": "s"}, figures=figures) for i in range(3)]
    png, page = report_page(panels, tmp_path, "device-0", "Device 0")
    width, height = Image.open(png).size
    assert width == 1240 and height == 1040  # 2 columns x 2 rows of 6.2 x 5.2 in, 100 dpi
    text = page.read_text()
    assert text.count("<tr><td>run ") == 6 and "no pairs" in text and "device-0.png" in text
