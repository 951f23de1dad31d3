"""I-V switching on the simulator: V_set / V_reset within two sweep steps of the crossings the
device recorded in the same loop; R_LRS, R_HRS and on/off per cycle and as statistics."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import formed_station, run
from .truth_checks import assert_iv_sweep_recovers_truth


@pytest.mark.parametrize("device", [0, 3, 7])
def test_switching_voltages_match_the_crossings_of_the_same_loop(device: int) -> None:
    with formed_station(device) as station:
        result = assert_iv_sweep_recovers_truth(station, cycles=6, at_least=10)
    assert result.figures["cycles_switched"].value >= 5


def test_resistances_match_the_device_read_at_v_read() -> None:
    with formed_station(4) as station:
        result = run(station, "iv-sweep", cycles=3)
        device = station.bench.timeline.duts[0].device
        r_hrs_now = 0.2 / device.read_current(0.2)  # the loop ends in HRS
    last = result.details.iloc[-1]
    assert last["r_hrs"] == pytest.approx(r_hrs_now, rel=0.1)
    assert 2e3 < result.figures["r_lrs"].value < 5e3  # HfOx preset: ~3 kΩ LRS
    assert 3e4 < result.figures["r_hrs"].value < 1.5e5  # ~60 kΩ HRS


def test_statistics_are_over_the_cycles() -> None:
    with formed_station(5) as station:
        result = run(station, "iv-sweep", cycles=5)
    values = result.details["v_reset"].dropna().to_numpy()
    assert result.figures["v_reset"].value == pytest.approx(values.mean())
    assert result.figures["v_reset"].uncertainty > 0


def _c2c_expected() -> float:
    """CV of a read resistance from the preset's C2C level redraw and its read noise."""
    from labsyn.mock_instruments.presets import HFOX

    return float(np.hypot(HFOX.c2c_sigma_ln_level, HFOX.read_noise))


@pytest.mark.parametrize("device", [3, 4])
def test_cycle_to_cycle_cv_of_r_lrs_and_r_hrs_matches_the_preset_noise(device: int) -> None:
    """30 cycles: CV and σ(ln R) within 0.6x-1.5x of √(σ_level² + σ_read²) ≈ 3.1 % (the
    sampling error of a CV over 30 values is ~13 %, so this holds at > 3σ)."""
    expected = _c2c_expected()
    with formed_station(device) as station:
        result = run(station, "iv-sweep", cycles=30)
    figures = result.figures
    for name in ("cv_r_lrs", "cv_r_hrs", "r_lrs_sigma_ln", "r_hrs_sigma_ln"):
        assert 0.6 * expected < figures[name].value < 1.5 * expected, (name, figures[name])
        assert figures[name].uncertainty > 0
    assert figures["r_hrs_median"].value == pytest.approx(
        np.median(result.details["r_hrs"].dropna()), rel=0.05)
    assert figures["v_set_weibull_scale"].value == pytest.approx(figures["v_set"].value,
                                                                 rel=0.1)
    assert figures["v_set_weibull_shape"].value > 10  # tight V_set: C2C threshold 10 mV


def test_a_noiseless_device_has_a_cycle_to_cycle_cv_near_zero() -> None:
    with formed_station(3) as station:
        device = station.bench.timeline.duts[0].device
        device.preset = device.preset.noiseless()
        result = run(station, "iv-sweep", cycles=8)
    for name in ("cv_v_set", "cv_v_reset", "cv_r_lrs", "cv_r_hrs"):
        assert result.figures[name].value < 1e-3, (name, result.figures[name])


def test_one_cycle_gives_no_variability_figures_but_says_why() -> None:
    with formed_station(3) as station:
        result = run(station, "iv-sweep", cycles=2)
    for name in ("cv_r_hrs", "r_hrs_sigma_ln", "v_set_weibull_shape"):
        assert not result.figures[name].ok and "at least 3" in result.figures[name].reason
