"""The analysis panel on a real iv-sweep result from the simulated demo station."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from labsyn.analysis import Estimate
from labsyn.engine.runner import Runner
from labsyn.gui.analysis_panel import AnalysisPanel, figure_text
from labsyn.gui.station_holder import demo_station_path
from labsyn.protocols import get_protocol
from labsyn.station import Station


@pytest.fixture(scope="module")
def iv_result():
    protocol = get_protocol("iv-sweep")
    with Station.open(demo_station_path()) as station:
        result = Runner(station, protocol, {"cycles": 2}).run()
    assert result.status == "completed", result.message
    return protocol, result


def test_every_figure_with_value_uncertainty_and_unit(qtbot, iv_result) -> None:
    protocol, result = iv_result
    panel = AnalysisPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.fits_ready, timeout=1000) as blocker:
        panel.show_result(protocol, result)
    assert blocker.args == [dict(result.fits)]
    rows = panel.rows()
    assert list(rows)[:len(protocol.figures)] == list(protocol.figures)  # protocol's order
    for name, figure in result.figures.items():
        text, ok = figure_text(figure)
        assert rows[name] == text
        if ok and figure.uncertainty is not None:
            assert "±" in rows[name]
    name, fom = next((n, f) for n, f in result.figures.items()
                     if f.ok and f.uncertainty is not None and f.unit)
    assert rows[name] == f"{fom.value:.4g} ± {fom.uncertainty:.2g} {fom.unit}"
    assert "completed" in panel.header.text() and protocol.title in panel.header.text()


def test_missing_figures_show_their_reason(qtbot, iv_result) -> None:
    protocol, result = iv_result
    figures = dict(result.figures)
    figures["v_set"] = Estimate.missing("V", "no SET transition in any cycle")
    del figures["on_off"]
    fit = pd.DataFrame({"voltage": [0.1, 0.2, -0.1], "current": [1e-5, 2e-5, -1e-5],
                        "label": ["lrs", "lrs", "hrs"]})
    panel = AnalysisPanel()
    qtbot.addWidget(panel)
    received: list[dict] = []
    panel.fits_ready.connect(received.append)
    panel.show_result(protocol, replace(result, figures=figures, fits={"iv": fit}))
    rows = panel.rows()
    assert rows["v_set"] == "— no SET transition in any cycle"
    assert rows["on_off"] == "— not computed"
    assert set(rows) == set(protocol.figures)
    assert received and received[-1]["iv"] is fit
    assert "iv (2 curves)" in panel.fits_label.text()
    panel.resize(520, 560)
    panel.grab().save("/tmp/analysis_panel.png")


def test_catalog_figure_dicts_format_like_estimates() -> None:
    assert figure_text({"value": 2985.0, "uncertainty": 30.0, "unit": "Ω", "reason": ""}) == \
        ("2985 ± 30 Ω", True)
    assert figure_text({"value": None, "uncertainty": None, "unit": "V",
                        "reason": "run aborted"}) == ("— run aborted", False)
    assert figure_text(Estimate(4.0, None, "")) == ("4", True)
