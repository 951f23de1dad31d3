"""Switch seeker on the simulator: the SET polarity and the SET / RESET threshold amplitudes
agree, within two steps, with what the device model itself does under the same scheme."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from labsyn.analysis.seeker import DOWN, NONE, UP, seek_thresholds
from labsyn.engine import RunState
from labsyn.errors import LimitError
from labsyn.protocols import get_protocol
from tests.engine.conftest import open_station

from .conftest import formed_station, run, run_with_data
from .truth_checks import STATIONS, assert_dry_run_clean, open_sim_station

SERIES = 100.0  # the demo station's declared TE series resistance


def model_thresholds(device: Any, params: dict[str, Any], series: float = SERIES,
                     limited: bool = True) -> dict[tuple[float, int], float]:
    """Replay the seek on a copy of the device: (polarity, move) -> first signed amplitude
    whose train moved the read resistance beyond the tolerance."""
    p = get_protocol("switch-seeker").parameters(params)
    amplitudes = get_protocol("switch-seeker").amplitudes(p)

    def read() -> float:
        return p.read_voltage / float(device.current(p.read_voltage))

    before, first = read(), {}
    for amplitude in amplitudes:
        levels = [amplitude] * p.pulses + [p.read_voltage] * p.reads
        for level in levels:
            device.apply(level, p.pulse_width, i_limit=p.compliance if limited else None,
                         r_series=series)
            device.idle(p.pulse_interval - p.pulse_width)
        after = read()
        change = (after - before) / before
        move = UP if change < -p.tolerance else DOWN if change > p.tolerance else NONE
        if move != NONE:
            first.setdefault((float(np.sign(amplitude)), move), float(amplitude))
        before = after
    return first


@pytest.mark.parametrize("device", [0, 3, 6])
def test_thresholds_match_the_model_replayed_with_the_same_scheme(device: int) -> None:
    params = {"v_start": 0.5, "v_max": 2.0, "v_step": 0.05}
    with formed_station(device) as station:
        twin = copy.deepcopy(station.bench.timeline.duts[0].device)
        result = run(station, "switch-seeker", **params)
    assert result.status == RunState.COMPLETED, result.message
    first = model_thresholds(twin, params)
    figures = result.figures
    assert figures["set_polarity"].value == 1.0  # HfOx preset: positive on TE SETs
    v_set, v_reset = figures["v_set_threshold"], figures["v_reset_threshold"]
    assert abs(v_set.value - first[(1.0, UP)]) <= 2 * 0.05, (v_set, first)
    assert abs(v_reset.value - first[(-1.0, DOWN)]) <= 2 * 0.05, (v_reset, first)
    assert v_set.uncertainty == v_reset.uncertainty == pytest.approx(0.05)
    assert 0.75 < v_set.value < 1.3 and -1.5 < v_reset.value < -0.85


def test_the_seek_stops_once_both_polarities_switched() -> None:
    with formed_station(3) as station:
        result, data = run_with_data(station, "switch-seeker", v_max=3.0)
    last = data["v_pulse"].iloc[-1]
    assert abs(last) < 1.5  # far below v_max: no train after the second switch
    assert set(data["phase"]) == {0, 1, 2}
    assert len(data[(data["train"] == 1) & (data["phase"] == 2)]) == 5  # `reads` per train
    assert len(data[(data["train"] == 1) & (data["phase"] == 1)]) == 10  # `pulses` per train
    assert result.details["move"].abs().sum() >= 2


def test_a_device_that_never_switches_reports_no_switching_up_to_v_max() -> None:
    with formed_station(3) as station:
        result = run(station, "switch-seeker", v_start=0.3, v_max=0.6, v_step=0.1,
                     read_voltage=0.1)
    assert result.status == RunState.COMPLETED
    for name in ("v_set_threshold", "v_reset_threshold", "set_polarity"):
        assert not result.figures[name].ok
        assert "no switching up to ±0.6 V" in result.figures[name].reason


def test_a_pulse_shorter_than_the_smu_allows_is_refused_naming_the_parameter() -> None:
    with open_station() as station:
        with pytest.raises(LimitError, match="pulse_width") as error:
            run(station, "switch-seeker", pulse_width=1e-6)
    assert "pulse generator" in str(error.value)


def test_analysis_finds_the_polarity_from_a_reset_first() -> None:
    """A cell in LRS: positive trains do nothing, −0.9 V RESETs, then +1.0 V SETs."""
    amplitudes = [0.8, -0.8, 0.9, -0.9, 1.0, -1.0]
    r_after = [3e3, 3.05e3, 3e3, 50e3, 3.1e3, 40e3]
    result = seek_thresholds(amplitudes, r_after, 3e3, 0.1, 0.1)
    assert result.set_polarity.value == 1.0
    assert result.v_set_threshold.value == pytest.approx(1.0)
    assert result.v_reset_threshold.value == pytest.approx(-0.9)
    np.testing.assert_array_equal(result.moves, [0, 0, 0, DOWN, UP, DOWN])


def test_analysis_with_negative_set_polarity_and_no_reset() -> None:
    result = seek_thresholds([0.5, -0.5, 0.6, -0.6], [1e5, 1e5, 1e5, 2e4], 1e5, 0.1, 0.1)
    assert result.set_polarity.value == -1.0
    assert result.v_set_threshold.value == pytest.approx(-0.6)
    assert not result.v_reset_threshold.ok and "no RESET" in result.v_reset_threshold.reason


@pytest.mark.parametrize(("r_after", "reference", "needle"), [
    ([np.inf] * 4, 1e5, "no finite read"),  # dead device: every read 0 A
    ([np.nan] * 4, 1e5, "no finite read"),
    ([1e5] * 4, np.inf, "reference read"),
    ([2e-7] * 4, 2e-7, "no switching up to ±0.6 V"),  # constant replies
])
def test_analysis_of_degenerate_reads(r_after: list, reference: float, needle: str) -> None:
    result = seek_thresholds([0.5, -0.5, 0.6, -0.6], r_after, reference, 0.1, 0.1)
    for figure in (result.v_set_threshold, result.v_reset_threshold, result.set_polarity):
        assert not figure.ok and needle in figure.reason


def test_a_dry_run_plays_every_train_of_the_ramp() -> None:
    runner = assert_dry_run_clean(STATIONS / "keithley_2450_pyvisa_sim.yaml", "switch-seeker",
                                  {"v_start": 0.5, "v_max": 1.0, "v_step": 0.25})
    assert sorted(runner.data()["v_pulse"].unique()) == [-1.0, -0.75, -0.5, 0.0, 0.5, 0.75, 1.0]


def test_nanosecond_class_pulses_through_a_pulse_generator_match_the_model() -> None:
    """33500B on TE through 1 kΩ (no current limit on writes), 2450 reading on BE: 1 µs
    pulses need more amplitude than 1 ms ones; still within two steps of the model's."""
    params = {"pulse_width": 1e-6, "v_start": 0.5, "v_max": 3.0, "v_step": 0.1}
    with open_sim_station(STATIONS / "pulser_smu_sim.yaml", device_index=3) as station:
        device = station.bench.timeline.duts[0].device
        device.apply(3.5, 0.5, i_limit=100e-6)  # formed by hand: forming needs an SMU on TE
        twin = copy.deepcopy(device)
        result = run(station, "switch-seeker", **params)
    first = model_thresholds(twin, params, series=1000.0, limited=False)
    assert result.figures["set_polarity"].value == 1.0
    assert abs(result.figures["v_set_threshold"].value - first[(1.0, UP)]) <= 0.2
    assert abs(result.figures["v_reset_threshold"].value - first[(-1.0, DOWN)]) <= 0.2
    assert result.figures["v_set_threshold"].value > 1.2
