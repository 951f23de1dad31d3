"""SET/RESET loop analysis and cycle statistics on synthetic loops with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labsyn.analysis import (
    DRY_RUN_REASON,
    Estimate,
    SwitchingCycle,
    analyse_cycle,
    split_loops,
    switching_statistics,
)

STEP, V_READ = 0.02, 0.2
R_LRS, R_HRS = 3e3, 60e3


def ramp(v_max: float) -> np.ndarray:
    """0 → v_max → 0 in STEP steps (v_max signed)."""
    out = np.round(np.arange(0.0, abs(v_max) + STEP / 2, STEP), 6)
    return math.copysign(1.0, v_max) * np.concatenate([out, out[-2::-1]])


def ideal_loop(v_set: float = 0.9, v_reset: float = -1.0, i_cc: float | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ideal bipolar threshold switch: HRS until V_dev >= v_set, LRS until V_dev <= v_reset.

    Returns (source voltage, current, limited); with i_cc the SET branch is current-limited and
    the source reads back the voltage that drives i_cc.
    """
    v_dev = np.concatenate([ramp(1.5), ramp(-1.6)])
    r = np.empty(v_dev.size)
    state = R_HRS
    for k, v in enumerate(v_dev):
        if v >= v_set - 1e-9:
            state = R_LRS
        elif v <= v_reset + 1e-9:
            state = R_HRS
        r[k] = state
    i = v_dev / r
    lim = np.zeros(v_dev.size, dtype=bool)
    if i_cc is not None:
        lim = i > i_cc
        i = np.where(lim, i_cc, i)
        v_dev = np.where(lim, i * r, v_dev)
    return v_dev, i, lim


def test_ideal_switch_gives_known_figures() -> None:
    c = analyse_cycle(*ideal_loop(), STEP, V_READ, cycle=7)
    assert c.cycle == 7
    assert abs(c.v_set.value - 0.9) <= STEP and c.v_set.uncertainty == STEP
    assert abs(c.v_reset.value - (-1.0)) <= STEP and c.v_reset.uncertainty == STEP
    assert c.r_lrs.value == pytest.approx(R_LRS) and c.r_hrs.value == pytest.approx(R_HRS)
    assert c.on_off.value == pytest.approx(R_HRS / R_LRS) and c.on_off.unit == ""


def circuit_loop(r_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ideal switch behind r_s under a uniform source ramp (device voltage solved per row)."""
    v_src = np.concatenate([ramp(1.5), ramp(-1.6)])
    i = np.empty(v_src.size)
    state = R_HRS
    for k, v in enumerate(v_src):
        v_dev = v * state / (state + r_s)
        if v_dev >= 0.9 - 1e-9:
            state = R_LRS
        elif v_dev <= -1.0 + 1e-9:
            state = R_HRS
        i[k] = v / (state + r_s)
    return v_src, i, np.zeros(v_src.size, dtype=bool)


def test_series_resistance_is_taken_off_voltages_and_resistances() -> None:
    r_s = 500.0
    v, i, lim = circuit_loop(r_s)
    plain = analyse_cycle(v, i, lim, STEP, V_READ)
    c = analyse_cycle(v, i, lim, STEP, V_READ, series_resistance=r_s)
    n = ramp(1.5).size
    k = int(np.argmax(i[:n] * R_LRS > 0.5 * v[:n]))  # first row in LRS
    # an abrupt switch reads between V_dev just before (I_(k-1)) and just after (I_k) it
    assert v[k] - i[k] * r_s < c.v_set.value < v[k] - i[k - 1] * r_s
    assert plain.v_set.value - c.v_set.value == pytest.approx(0.5 * (i[k - 1] + i[k]) * r_s)
    assert c.r_lrs.value == pytest.approx(R_LRS) and c.r_hrs.value == pytest.approx(R_HRS)
    assert plain.r_lrs.value == pytest.approx(R_LRS + r_s)
    k = n + int(np.argmax(np.abs(i[n:]) * R_LRS < 0.5 * np.abs(v[n:])))  # first in HRS
    assert v[k] - i[k] * r_s < c.v_reset.value < v[k] - i[k - 1] * r_s


def test_abrupt_set_into_compliance_is_at_the_level_of_the_first_clamped_row() -> None:
    v, i, lim = ideal_loop(i_cc=100e-6)
    assert lim.any()
    c = analyse_cycle(v, i, lim, STEP, V_READ)
    assert c.v_set.value == pytest.approx(0.9, abs=1e-9)
    assert c.r_lrs.value == pytest.approx(R_LRS)


def test_resistor_never_switches() -> None:
    v = np.concatenate([ramp(1.5), ramp(-1.6)])
    c = analyse_cycle(v, v / 10e3, np.zeros(v.size, bool), STEP, V_READ)
    assert not c.v_set.ok and c.v_set.reason.startswith("no SET")
    assert not c.v_reset.ok and c.v_reset.reason.startswith("no RESET")
    assert c.r_lrs.value == pytest.approx(10e3) and c.r_hrs.value == pytest.approx(10e3)
    assert c.on_off.value == pytest.approx(1.0)


def test_read_voltage_beyond_the_sweep_is_no_read_point() -> None:
    c = analyse_cycle(*ideal_loop(), STEP, 1.55)
    assert not c.r_lrs.ok and c.r_lrs.reason.startswith("no read point")
    assert "1.55" in c.r_lrs.reason
    assert c.r_hrs.ok
    assert not c.on_off.ok and c.on_off.reason == c.r_lrs.reason


def test_only_a_positive_sweep() -> None:
    v, i, lim = ideal_loop()
    n = ramp(1.5).size
    c = analyse_cycle(v[:n], i[:n], lim[:n], STEP, V_READ)
    assert c.v_set.ok and c.r_lrs.ok
    assert not c.v_reset.ok and "RESET" in c.v_reset.reason
    assert not c.r_hrs.ok and "no negative sweep" in c.r_hrs.reason


@pytest.mark.parametrize(("v", "i", "needle"), [
    (ramp(1.5), np.zeros(ramp(1.5).size), "0 A"),
    (ramp(1.5), np.full(ramp(1.5).size, 3e-4), DRY_RUN_REASON),
    (np.full(50, 0.5), np.linspace(1e-6, 2e-6, 50), "constant voltage"),
    (np.full(50, np.nan), np.full(50, np.nan), "too short"),
    (np.array([0.0, 0.02]), np.array([0.0, 1e-6]), "too short"),
])
def test_data_that_cannot_support_a_number(v: np.ndarray, i: np.ndarray, needle: str) -> None:
    c = analyse_cycle(v, i, np.zeros(v.size, bool), STEP, V_READ)
    for e in (c.v_set, c.v_reset, c.r_lrs, c.r_hrs, c.on_off):
        assert not e.ok and needle in e.reason


def test_nan_rows_are_skipped() -> None:
    v, i, lim = ideal_loop()
    v[[5, 100, 200]] = np.nan
    c = analyse_cycle(v, i, lim, STEP, V_READ)
    assert abs(c.v_set.value - 0.9) <= STEP and c.r_hrs.value == pytest.approx(R_HRS)


def test_programming_errors_raise_naming_the_argument() -> None:
    v, i, lim = ideal_loop()
    with pytest.raises(ValueError, match="step"):
        analyse_cycle(v, i, lim, -0.02, V_READ)
    with pytest.raises(ValueError, match="v_read"):
        analyse_cycle(v, i, lim, STEP, 0.0)
    with pytest.raises(ValueError, match="limited"):
        analyse_cycle(v, i, lim[:-1], STEP, V_READ)
    with pytest.raises(ValueError, match="series_resistance"):
        analyse_cycle(v, i, lim, STEP, V_READ, series_resistance=-1.0)


def test_split_loops_by_segment_or_cycle_ids() -> None:
    one = np.concatenate([ramp(1.5), ramp(-1.6)])
    segments = np.concatenate([np.zeros(ramp(1.5).size), np.ones(ramp(-1.6).size)])
    v = np.concatenate([one, one, one])
    by_segment = split_loops(v, np.concatenate([segments] * 3))
    by_cycle = split_loops(v, np.repeat([0, 1, 2], one.size))
    expected = [slice(k * one.size, (k + 1) * one.size) for k in range(3)]
    assert by_segment == expected and by_cycle == expected
    assert split_loops(one, segments) == [slice(0, one.size)]
    assert split_loops(np.array([]), np.array([])) == []
    with pytest.raises(ValueError, match="segment_or_cycle_ids"):
        split_loops(v, segments)


def cycle(k: int, v_set: float | None, r_lrs: float = 3e3) -> SwitchingCycle:
    def est(value: float | None, unit: str) -> Estimate:
        return Estimate.missing(unit, "no SET: test") if value is None else \
            Estimate(value, 0.02, unit)
    return SwitchingCycle(k, est(v_set, "V"), Estimate.missing("V", "no RESET: test"),
                          est(r_lrs, "Ω"), est(60e3, "Ω"), est(20.0, ""))


def test_statistics_on_known_values_exclude_missing() -> None:
    cycles = [cycle(0, 0.8), cycle(1, None), cycle(2, 1.0), cycle(3, 0.9), cycle(4, math.nan)]
    stats = switching_statistics(cycles)
    assert set(stats) == {"v_set", "v_reset", "r_lrs", "r_hrs", "on_off"}
    s = stats["v_set"]
    assert (s.n, s.unit, s.values) == (3, "V", (0.8, 1.0, 0.9))
    assert s.mean == pytest.approx(0.9) and s.median == pytest.approx(0.9)
    assert s.std == pytest.approx(0.1) and s.cv == pytest.approx(0.1 / 0.9)
    e = s.as_estimate()
    assert e.value == pytest.approx(0.9) and e.uncertainty == pytest.approx(0.1 / math.sqrt(3))
    assert stats["r_lrs"].n == 5 and stats["r_lrs"].cv == pytest.approx(0.0)


def test_statistics_with_no_values_carry_the_reason() -> None:
    s = switching_statistics([cycle(0, None), cycle(1, None)])["v_reset"]
    assert s.n == 0 and s.values == () and math.isnan(s.mean)
    assert "no RESET: test" in s.reason
    assert not s.as_estimate().ok and s.as_estimate().reason == s.reason
    empty = switching_statistics([])["v_set"]
    assert empty.n == 0 and empty.reason
    single = switching_statistics([cycle(0, 0.9)])["v_set"]
    assert single.n == 1 and single.as_estimate().uncertainty is None
