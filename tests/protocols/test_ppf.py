"""PPF on the simulator: τ1, τ2 recovered on an SMU and on a pulser+SMU station; refusals and
degenerate devices give reasons, not numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from labsyn.engine import RunState
from labsyn.errors import ConfigError, LimitError
from labsyn.protocols import get_protocol
from labsyn.station import Station
from tests.engine.conftest import open_station

from .conftest import run_with_data
from .truth_checks import STATIONS, open_sim_station

TAU1, TAU2 = 10e-3, 150e-3  # HFOX_SLOW


def at_rest_in_hrs(station: Station, read_noise: float | None = None) -> Any:
    """Form the simulated cell, RESET it to HRS and let it rest; optionally a quieter read."""
    device = station.bench.timeline.duts[0].device
    device.apply(3.5, 0.5, i_limit=100e-6)
    device.apply(-1.6, 0.01)
    device.idle(1.0)
    if read_noise is not None:
        device.preset = replace(device.preset, read_noise=read_noise)
    return device


def assert_taus(figures: dict, tolerance: float = 0.15) -> None:
    for name, true in (("tau1", TAU1), ("tau2", TAU2)):
        estimate = figures[name]
        assert estimate.ok, estimate.reason
        assert abs(estimate.value - true) <= tolerance * true, (name, estimate)


def test_ppf_on_an_smu_recovers_tau1_and_tau2_within_15_percent() -> None:
    with open_station(preset="hfox_slow") as station:
        at_rest_in_hrs(station, read_noise=0.002)
        result, data = run_with_data(station, "ppf", repeats=3, points=16)
    assert result.status == RunState.COMPLETED, result.message
    assert_taus(result.figures)
    assert result.figures["ppf_ratio"].value == pytest.approx(
        result.figures["ppf_index"].value + 100.0)
    assert 10.0 < result.figures["ppf_index"].value < 60.0
    assert set(data["read"]) == {0, 1, 2} and len(data) == 3 * 16 * 3
    fit = result.fits["ppf"]
    assert list(fit.columns) == ["interval", "ppf"] and fit["ppf"].is_monotonic_decreasing


def test_ppf_with_the_presets_read_noise_has_honest_uncertainties() -> None:
    with open_station(preset="hfox_slow") as station:
        at_rest_in_hrs(station)
        result, _ = run_with_data(station, "ppf", repeats=4, points=16)
    for name, true in (("tau1", TAU1), ("tau2", TAU2)):
        estimate = result.figures[name]
        assert abs(estimate.value - true) <= 3.0 * estimate.uncertainty, (name, estimate)


def test_ppf_on_the_pulser_smu_station_recovers_the_taus() -> None:
    station = open_sim_station(STATIONS / "pulser_smu_sim.yaml", preset="hfox_slow")
    with station:
        at_rest_in_hrs(station, read_noise=0.002)
        result, _ = run_with_data(station, "ppf", width=10e-6, v_pulse=0.5,
                                  interval_min=1.2e-3, repeats=2, points=12)
    assert result.status == RunState.COMPLETED, result.message
    assert_taus(result.figures)


def test_a_gap_too_short_for_the_read_is_refused_naming_interval_min() -> None:
    protocol = get_protocol("ppf")
    with open_station(preset="hfox_slow") as station:
        params = protocol.resolve(protocol.parameters({"interval_min": 1e-4}), station)
        with pytest.raises(LimitError, match=r"interval_min.*≥ 0\.001\d* s on this station"):
            protocol.check(params, station)
        short_rest = protocol.resolve(protocol.parameters({"rest": 1.0}), station)
        with pytest.raises(ConfigError, match="rest = 1 s must be ≥ 5 × the longest gap"):
            protocol.check(short_rest, station)
        with pytest.raises(LimitError, match="pulse generator"):
            protocol.check(protocol.resolve(protocol.parameters({"width": 1e-5}), station),
                           station)


def test_an_unformed_cell_reading_almost_no_current_gives_no_ppf() -> None:
    with open_station(preset="hfox_slow") as station:
        result, _ = run_with_data(station, "ppf", repeats=1, points=4, interval_max=0.1)
    assert result.status == RunState.COMPLETED
    for figure in result.figures.values():
        assert not figure.ok and "PPF undefined: no volatile response" in figure.reason
    assert not result.fits
