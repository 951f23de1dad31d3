"""Volatility on the simulator: the relaxation's τ1, τ2 recovered, the stop test ends early,
a dead cell gives reasons."""

from __future__ import annotations

from labsyn.engine import RunState
from tests.engine.conftest import open_station

from .conftest import run_with_data
from .test_ppf import TAU1, TAU2, at_rest_in_hrs


def test_volatility_recovers_the_volatile_time_constants_within_15_percent() -> None:
    with open_station(preset="hfox_slow") as station:
        at_rest_in_hrs(station, read_noise=0.002)
        result, data = run_with_data(station, "volatility", v_pulse=0.31, stop_change=None,
                                     t_max=1.5)
    assert result.status == RunState.COMPLETED, result.message
    f = result.figures
    assert abs(f["tau1"].value - TAU1) <= 0.15 * TAU1, f["tau1"]
    assert abs(f["tau2"].value - TAU2) <= 0.15 * TAU2, f["tau2"]
    assert abs(f["g_inf"].value - f["g_rest"].value) <= 0.02 * f["g_rest"].value
    assert f["beta"].ok and 0.1 < f["beta"].value < 1.0  # two exponentials look stretched
    assert data["delay"].max() > 1.0
    assert set(result.fits["relaxation"]["label"]) == {"double exponential", "stretched"}


def test_the_stop_test_ends_the_relaxation_before_t_max() -> None:
    with open_station(preset="hfox_slow") as station:
        at_rest_in_hrs(station)
        _, data = run_with_data(station, "volatility", stop_change=0.02, t_max=100.0)
    assert data["delay"].max() < 10.0


def test_an_unformed_cell_has_no_volatile_response() -> None:
    with open_station(preset="hfox_slow") as station:
        result, _ = run_with_data(station, "volatility", t_max=0.2)
    assert result.figures["g_rest"].ok  # it reads ~1 nS
    others = [f for name, f in result.figures.items() if name != "g_rest"]
    assert all(not f.ok and "no volatile response" in f.reason for f in others)
