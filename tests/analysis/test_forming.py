"""Forming detection on synthetic ramps and pulse trains with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from labsyn.analysis import DRY_RUN_REASON, forming_from_pulses, forming_from_ramp

STEP = 0.02
LEVELS = np.round(np.arange(0.0, 4.0 + STEP / 2, STEP), 6)


def threshold_ramp(v_th: float = 2.5, r_pristine: float = 1e9, i_cc: float = 100e-6,
                   r_formed: float = 4e3, comply: bool = True
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ideal forming: ohmic pristine oxide until the level reaches v_th, then formed.

    With `comply` the source reads back the collapsed voltage I_cc·R_formed in compliance.
    """
    v, i = LEVELS.copy(), LEVELS / r_pristine
    formed = LEVELS >= v_th - 1e-9
    lim = formed & comply
    if comply:
        v[formed], i[formed] = i_cc * r_formed, i_cc
    else:
        i[formed] = LEVELS[formed] / r_formed
    return v, i, lim


def test_ideal_threshold_forms_at_its_level_under_compliance() -> None:
    r = forming_from_ramp(*threshold_ramp(), STEP)
    k = int(np.argmax(LEVELS >= 2.5 - 1e-9))
    assert r.criterion == "compliance" and r.index == k
    assert r.v_form.value == pytest.approx(2.5, abs=1e-9) and r.v_form.uncertainty == STEP
    assert r.i_form.value == pytest.approx(100e-6)
    assert r.r_before.value == pytest.approx(1e9, rel=1e-6)
    assert not r.r_after.ok and "no read" in r.r_after.reason


def test_current_jump_without_compliance_and_read_after() -> None:
    v, i, lim = threshold_ramp(comply=False)
    r = forming_from_ramp(v, i, lim, STEP, read_voltage=0.2, read_current=0.2 / 4e3)
    assert r.criterion == "current jump"
    assert r.v_form.value == pytest.approx(2.5, abs=1e-9)
    assert r.r_after.value == pytest.approx(4e3)


def test_first_step_off_zero_volts_is_not_a_jump() -> None:
    v, i, lim = threshold_ramp()
    i[0] = 1e-14  # offset at 0 V; 0.02 V then reads 2e-11 A, a 2000x rise in |I|
    assert forming_from_ramp(v, i, lim, STEP).v_form.value == pytest.approx(2.5, abs=1e-9)


def test_series_resistance_shifts_v_form_by_the_pre_forming_drop() -> None:
    r_p, r_s = 1e6, 1e5
    v, i, lim = threshold_ramp(r_pristine=r_p + r_s)
    plain = forming_from_ramp(v, i, lim, STEP)
    corrected = forming_from_ramp(v, i, lim, STEP, series_resistance=r_s)
    k = plain.index
    assert k is not None
    shift = i[k - 1] * r_s
    assert shift > 5 * STEP
    assert plain.v_form.value - corrected.v_form.value == pytest.approx(shift)
    assert corrected.r_before.value == pytest.approx(r_p, rel=1e-6)
    assert plain.r_before.value == pytest.approx(r_p + r_s, rel=1e-6)


def test_negative_ramp_gives_negative_v_form() -> None:
    v, i, lim = threshold_ramp()
    r = forming_from_ramp(-v, -i, lim, STEP)
    assert r.v_form.value == pytest.approx(-2.5, abs=1e-9)


def test_nan_rows_are_skipped_and_index_is_the_original_row() -> None:
    v, i, lim = threshold_ramp()
    v[[3, 50]] = np.nan
    i[70] = np.nan
    r = forming_from_ramp(v, i, lim, STEP)
    assert r.index == int(np.argmax(LEVELS >= 2.5 - 1e-9))
    assert r.v_form.value == pytest.approx(2.5, abs=1e-9)


def test_resistor_that_never_forms_is_missing_with_reason() -> None:
    r = forming_from_ramp(LEVELS, LEVELS / 1e6, np.zeros(LEVELS.size, bool), STEP)
    assert r.index is None and r.criterion == "none"
    assert not r.v_form.ok and "did not form" in r.v_form.reason
    assert not r.i_form.ok
    assert r.r_before.value == pytest.approx(1e6, rel=1e-6)


@pytest.mark.parametrize(("v", "i", "needle"), [
    (LEVELS, np.zeros(LEVELS.size), "0 A"),
    (LEVELS, np.full(LEVELS.size, 1e-6), DRY_RUN_REASON),
    (np.full(LEVELS.size, 1.0), LEVELS * 1e-9 + 1e-9, "constant voltage"),
    (np.full(LEVELS.size, np.nan), np.full(LEVELS.size, np.nan), "too short"),
    (LEVELS[:1], LEVELS[:1], "too short"),
    (np.array([]), np.array([]), "too short"),
])
def test_data_that_cannot_support_a_number(v: np.ndarray, i: np.ndarray, needle: str) -> None:
    r = forming_from_ramp(v, i, np.zeros(v.size, bool), STEP)
    assert not r.v_form.ok and needle in r.v_form.reason
    assert r.index is None and r.criterion == "none"


def test_programming_errors_raise_naming_the_argument() -> None:
    v, i, lim = threshold_ramp()
    with pytest.raises(ValueError, match="step"):
        forming_from_ramp(v, i, lim, 0.0)
    with pytest.raises(ValueError, match="current"):
        forming_from_ramp(v, i[:-1], lim, STEP)
    with pytest.raises(ValueError, match="jump_factor"):
        forming_from_ramp(v, i, lim, STEP, jump_factor=1.0)
    with pytest.raises(ValueError, match="series_resistance"):
        forming_from_ramp(v, i, lim, STEP, series_resistance=float("nan"))


AMPS = np.round(np.arange(1.0, 4.0 + 0.025, 0.05), 6)


def pulse_reads(r: np.ndarray, v_read: float = 0.2) -> np.ndarray:
    return v_read / r


def test_pulses_threshold() -> None:
    r = np.where(AMPS >= 2.6 - 1e-9, 5e3, 1e9)
    res = forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=100e3, relative_drop=None,
                              step=0.05)
    k = int(np.argmax(AMPS >= 2.6 - 1e-9))
    assert (res.index, res.criterion) == (k, "threshold")
    assert res.v_form.value == pytest.approx(2.6) and res.v_form.uncertainty == 0.05
    assert res.r_before.value == pytest.approx(1e9)
    assert res.r_after.value == pytest.approx(5e3)
    assert res.i_form.value == pytest.approx(0.2 / 5e3)


def test_pulses_relative_drop_against_first_read_or_initial_read() -> None:
    r = np.where(AMPS >= 2.0 - 1e-9, 0.7e6, 1e6)
    k = int(np.argmax(AMPS >= 2.0 - 1e-9))
    res = forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=None, relative_drop=0.2,
                              step=0.05)
    assert (res.index, res.criterion) == (k, "relative drop")
    assert res.v_form.value == pytest.approx(2.0)
    # pulse 0 itself formed: seen only against a read before the train
    r0 = 0.7e6 * (1 + 1e-3 * np.arange(AMPS.size))  # formed before the first read
    without = forming_from_pulses(AMPS, 0.2, pulse_reads(r0), r_threshold=None,
                                  relative_drop=0.2, step=0.05)
    assert without.index is None and "did not form" in without.v_form.reason
    with_initial = forming_from_pulses(AMPS, 0.2, pulse_reads(r0), r_threshold=None,
                                       relative_drop=0.2, step=0.05,
                                       initial_read_current=0.2 / 1e6)
    assert with_initial.index == 0 and with_initial.r_before.value == pytest.approx(1e6)


def test_pulse_zero_below_threshold_without_initial_read_has_no_r_before() -> None:
    r = 5e3 * (1 + 1e-3 * np.arange(AMPS.size))
    res = forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=1e5, relative_drop=None,
                              step=0.05)
    assert res.index == 0 and not res.r_before.ok and "pulse 0" in res.r_before.reason


def test_pulses_that_cannot_support_a_number() -> None:
    for reads, needle in ((np.full(AMPS.size, 2e-7), DRY_RUN_REASON),
                          (np.full(AMPS.size, np.nan), "no pulse"),
                          (np.zeros(AMPS.size), "0 A")):
        res = forming_from_pulses(AMPS, 0.2, reads, r_threshold=1e5, relative_drop=0.1,
                                  step=0.05)
        assert not res.v_form.ok and needle in res.v_form.reason and res.index is None


def test_pulse_programming_errors() -> None:
    reads = pulse_reads(np.full(AMPS.size, 1e9))
    with pytest.raises(ValueError, match="r_threshold or relative_drop"):
        forming_from_pulses(AMPS, 0.2, reads, r_threshold=None, relative_drop=None, step=0.05)
    with pytest.raises(ValueError, match="step"):
        forming_from_pulses(AMPS, 0.2, reads, r_threshold=1e5, relative_drop=None, step=-1)
    with pytest.raises(ValueError, match="read_current"):
        forming_from_pulses(AMPS, 0.2, reads[:3], r_threshold=1e5, relative_drop=None, step=0.05)


def test_pulses_trip_fires_below_the_fraction_of_the_ramp_start_read() -> None:
    """ArC2's 80 % trip (fraction 0.2): a 70 % drop does not trip, a 90 % drop does, and the
    R_threshold still wins where both fire."""
    r = np.select([AMPS >= 2.5 - 1e-9, AMPS >= 2.0 - 1e-9], [0.1e6, 0.3e6], 1e6)
    k = int(np.argmax(AMPS >= 2.5 - 1e-9))
    res = forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=None, relative_drop=None,
                              trip_fraction=0.2, step=0.05, initial_read_current=0.2 / 1e6)
    assert (res.index, res.criterion) == (k, "trip")
    assert res.v_form.value == pytest.approx(2.5) and res.r_after.value == pytest.approx(0.1e6)
    both = forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=0.2e6, relative_drop=None,
                               trip_fraction=0.2, step=0.05, initial_read_current=0.2 / 1e6)
    assert both.criterion == "threshold"
    drop = forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=None, relative_drop=0.5,
                               trip_fraction=0.2, step=0.05, initial_read_current=0.2 / 1e6)
    assert drop.criterion == "relative drop" and drop.v_form.value == pytest.approx(2.0)


def test_pulses_that_never_trip_say_so() -> None:
    r = np.where(AMPS >= 2.0 - 1e-9, 0.5e6, 1e6)
    res = forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=None, relative_drop=None,
                              trip_fraction=0.2, step=0.05)
    assert res.index is None and "20% of its value at ramp start" in res.v_form.reason
    with pytest.raises(ValueError, match="trip_fraction"):
        forming_from_pulses(AMPS, 0.2, pulse_reads(r), r_threshold=None, relative_drop=None,
                            trip_fraction=1.5, step=0.05)


def test_an_open_circuit_ramp_does_not_form_on_noise() -> None:
    """A dead device (or lifted probes) reads femtoampere noise whose ratios jump by 10x."""
    rng = np.random.default_rng(3)
    v = np.arange(1, 201) * 0.02
    i = v / 1e15 + rng.normal(0, 2e-15, v.size)
    result = forming_from_ramp(v, i, np.zeros(v.size, bool), 0.02)
    assert not result.v_form.ok
    assert "open circuit" in result.v_form.reason
