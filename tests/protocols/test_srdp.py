"""SRDP on the simulator: ΔG after each train matches the model replayed on a copy of the
device, and a dead cell gives reasons instead of numbers."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from labsyn.drivers.keithley_2450_program import measure_time
from labsyn.engine import RunState
from tests.engine.conftest import open_station

from .conftest import run_with_data
from .test_ppf import at_rest_in_hrs

R_SERIES = 100.0  # the demo station's TE wiring, simulated
READ_TIME = measure_time(0.01, 50.0, autozero=False)  # the reading ends this after read_delay


def replay(device: Any, params: dict[str, float], pulses: int, gap: float) -> np.ndarray:
    """ΔG after each of `pulses` pulses, as the model itself gives it (from rest)."""
    model = copy.deepcopy(device)
    model.idle(10.0)
    v_read = params["read_level"]

    def g() -> float:
        return float(model.current(v_read)) / v_read

    rest, out = g(), []
    for _ in range(pulses):
        model.apply(params["v_pulse"], params["width"], r_series=R_SERIES)
        model.idle(params["read_delay"] + READ_TIME)
        out.append(g() - rest)
        model.idle(gap - params["read_delay"] - READ_TIME)
    return np.array(out)


PARAMS = {"v_pulse": 0.31, "width": 1e-3, "read_level": 0.1, "read_delay": 0.2e-3}


def test_srdp_matches_the_model_replayed_within_3_percent() -> None:
    with open_station(preset="hfox_slow") as station:
        device = at_rest_in_hrs(station)
        result, data = run_with_data(station, "srdp", pulses=8, points=4, repeats=3, **PARAMS)
    assert result.status == RunState.COMPLETED, result.message
    for row in result.details.itertuples():
        true = replay(device, PARAMS, 8, row.interval)[-1]
        assert abs(row.dg_mean - true) <= 0.03 * true, (row.interval, row.dg_mean, true)
    per_pulse = data[(data["interval"] == data["interval"].min()) & (data["pulse"] > 0)]
    measured = per_pulse.groupby("pulse")["dg"].mean().to_numpy()
    true = replay(device, PARAMS, 8, float(data["interval"].min()))
    np.testing.assert_allclose(measured, true, rtol=0.03)
    figures = result.figures
    gain = figures["rate_gain"]
    assert gain.ok and gain.value > 1.2  # faster trains facilitate more
    assert gain.value == figures["dg_fast"].value / figures["dg_slow"].value


def test_srdp_on_an_unformed_cell_reports_no_response() -> None:
    with open_station(preset="hfox_slow") as station:
        result, _ = run_with_data(station, "srdp", pulses=3, points=2, repeats=1,
                                  interval_max=0.01)
    assert all(not f.ok and "no response" in f.reason for f in result.figures.values())
