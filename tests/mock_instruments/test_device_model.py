"""Behaviour of the RRAM rate model: forming, SET/RESET, pulse trains, PPF, drift, endurance."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import optimize, stats

from labsyn.mock_instruments.device_model import (
    HFOX,
    RRAMDevice,
    RRAMPreset,
    SegmentResult,
    device_rng,
)

STEP, DWELL = 0.02, 0.01
I_FORM = 100e-6


def sweep(device: RRAMDevice, v_end: float, i_limit: float | None = None,
          stop_when_formed: bool = False) -> tuple[np.ndarray, list[SegmentResult]]:
    """DC staircase 0 -> v_end in 20 mV / 10 ms steps (excluding 0 V)."""
    n = round(abs(v_end) / STEP)
    voltages = math.copysign(STEP, v_end) * np.arange(1, n + 1)
    results = []
    for v in voltages:
        results.append(device.apply(float(v), DWELL, i_limit))
        if stop_when_formed and results[-1].formed_now:
            break
    return voltages[:len(results)], results


def loop(device: RRAMDevice, v_peak: float, i_limit: float | None = None) -> None:
    """0 -> v_peak -> 0 staircase."""
    voltages, _ = sweep(device, v_peak, i_limit)
    for v in voltages[::-1]:
        device.apply(float(v), DWELL, i_limit)


def formed_hrs(preset: RRAMPreset | None = None, device: int = 0) -> RRAMDevice:
    """A device (noiseless by default) formed at 100 µA, RESET to HRS and rested for 1000 s."""
    d = RRAMDevice.from_key(preset or HFOX.noiseless(), 2024, (3, 4), device)
    sweep(d, 5.0, I_FORM, stop_when_formed=True)
    assert d.formed
    loop(d, -1.5)
    d.idle(1000.0)
    return d


def resistance(device: RRAMDevice, v: float = 0.1) -> float:
    return v / float(device.current(v))


# --- forming ---------------------------------------------------------------------------------

def test_dc_ramp_forms_once_and_respects_the_compliance() -> None:
    d = RRAMDevice.from_key(HFOX.noiseless(), 7, (0, 0), 1)
    voltages, results = sweep(d, 5.0, I_FORM)
    formed = [i for i, r in enumerate(results) if r.formed_now]
    assert len(formed) == 1
    step = formed[0]
    assert d.truth.forming_voltage == pytest.approx(voltages[step])
    assert abs(d.truth.forming_voltage - d.truth.v_form) < 0.05
    assert step * DWELL < d.truth.forming_time <= (step + 1) * DWELL
    currents = np.array([r.current for r in results])
    peaks = np.array([r.peak_current for r in results])
    assert np.all(np.abs(currents) <= I_FORM) and np.all(np.abs(peaks) <= I_FORM)
    assert np.all(currents[:step] < 1e-6)
    limited = [r for r in results if r.limited]
    assert limited and all(r.current == I_FORM for r in limited)
    assert all(r.limited for r in results[step:])
    assert d.truth.peak_current <= I_FORM
    d.apply(0.0, 0.01)
    assert resistance(d) == pytest.approx(HFOX.v_min / I_FORM, rel=0.05)
    assert not d.truth.overformed and d.truth.stuck is None


@pytest.mark.parametrize("i_cc", [30e-6, 60e-6])
def test_lower_compliance_gives_higher_post_forming_resistance(i_cc: float) -> None:
    low = RRAMDevice.from_key(HFOX.noiseless(), 7, (0, 0), 2)
    high = RRAMDevice.from_key(HFOX.noiseless(), 7, (0, 0), 2)
    for device, limit in ((low, i_cc), (high, I_FORM)):
        sweep(device, 5.0, limit, stop_when_formed=True)
        device.apply(0.0, 0.01)
    assert resistance(low) == pytest.approx(HFOX.v_min / i_cc, rel=0.05)
    assert resistance(low) > 0.9 * resistance(high) * I_FORM / i_cc


def test_forming_without_compliance_overforms_and_blocks_reset() -> None:
    d = RRAMDevice.from_key(HFOX.noiseless(), 7, (0, 0), 3)
    result = d.apply(4.5, 1.0)
    assert result.formed_now and d.truth.overformed and d.truth.stuck == "LRS"
    loop(d, -2.0)
    assert d.truth.reset_crossings == []
    assert d.conductance() > 0.95 * d.truth.params.g_on


def test_series_resistor_alone_limits_forming_current() -> None:
    d = RRAMDevice.from_key(HFOX.noiseless(), 7, (0, 0), 4)
    r_series = 40e3
    result = d.apply(4.0, 1.0, r_series=r_series)
    assert result.formed_now and not result.limited and not d.truth.overformed
    assert result.v_device + result.current * r_series == pytest.approx(4.0, rel=1e-9)
    d.apply(0.0, 0.01)
    expected = min(4.0 / r_series / HFOX.v_min, d.truth.params.g_on)
    assert 1.0 / resistance(d) == pytest.approx(expected, rel=0.05)


def test_forming_voltages_follow_the_preset_weibull() -> None:
    measured = []
    for index in range(200):
        d = RRAMDevice.from_key(HFOX.noiseless(), 99, (index % 10, index // 10), index)
        sweep(d, 6.0, I_FORM, stop_when_formed=True)
        assert d.formed
        assert abs(d.truth.forming_voltage - d.truth.v_form) < 0.05
        measured.append(d.truth.forming_voltage)
    shape, _, scale = stats.weibull_min.fit(measured, floc=0.0)
    assert shape == pytest.approx(HFOX.v_form_shape, rel=0.2)
    assert scale == pytest.approx(HFOX.v_form_scale, rel=0.03)


# --- DC SET / RESET -------------------------------------------------------------------------

def expected_dc_crossing(device: RRAMDevice, voltages: np.ndarray, w0: float) -> float:
    """First staircase voltage at which the soft-bounded w crosses 0.5 (noiseless model)."""
    target = 1.0 if voltages[-1] > 0 else 0.0
    need = math.log((target - w0) / (target - 0.5))
    total = np.cumsum([device.switching_rate(float(v)) * DWELL for v in voltages])
    return float(voltages[np.argmax(total >= need)])


def test_dc_sweep_resets_and_sets_at_the_documented_voltages() -> None:
    d = formed_hrs(HFOX.nominal())
    assert -1.2 <= d.truth.reset_crossings[-1] <= -0.8
    voltages = STEP * np.arange(1, 76)
    expected = expected_dc_crossing(d, voltages, d.state)
    loop(d, 1.5)
    assert d.truth.set_crossings[-1] == pytest.approx(expected)
    assert 0.8 <= expected <= 1.0
    w_lrs = d.state
    negative = -STEP * np.arange(1, 76)
    expected = expected_dc_crossing(d, negative, w_lrs)
    loop(d, -1.5)
    assert d.truth.reset_crossings[-1] == pytest.approx(expected)
    assert -1.2 <= expected <= -0.8
    assert d.truth.cycles == 1


def test_dc_set_under_compliance_is_abrupt_and_self_limited() -> None:
    d = formed_hrs()
    i_cc = 200e-6
    voltages = STEP * np.arange(1, 76)
    results, states = [], []
    for v in voltages:
        results.append(d.apply(float(v), DWELL, i_cc))
        states.append(d.state)
    limited = [i for i, r in enumerate(results) if r.limited]
    first = limited[0]
    assert 0.8 <= voltages[first] <= 1.0
    assert all(results[i].current == i_cc for i in limited)
    assert max(abs(r.peak_current) for r in results) <= i_cc
    assert results[first].current > 1.5 * results[first - 3].current
    switching = np.flatnonzero((np.array(states) > 0.05) & (np.array(states) < 0.5))
    assert 0 < switching.size <= 5
    assert len(d.truth.set_crossings) == 1
    v_cross = d.truth.set_crossings[0]
    assert d.truth.params.v_set_th < v_cross < voltages[first] + 1e-9
    for v in voltages[::-1]:
        d.apply(float(v), DWELL, i_cc)
    d.idle(0.1)
    g_lrs = d.conductance()
    assert g_lrs == pytest.approx(i_cc / d.truth.params.v_set_th, rel=0.25)
    higher = formed_hrs()
    loop(higher, 1.5, 1.5 * i_cc)
    higher.idle(0.1)
    assert higher.conductance() > 1.2 * g_lrs


def test_compliance_and_series_resistance_solve_consistently() -> None:
    d = formed_hrs()
    r_series, v_emf = 5e3, 0.6
    result = d.apply(v_emf, 1e-3, r_series=r_series)
    assert result.v_device + result.current * r_series == pytest.approx(v_emf, rel=1e-9)
    assert result.current == pytest.approx(float(d.current(result.v_device)), rel=1e-9)
    limited = d.apply(0.6, 1e-3, i_limit=5e-6, r_series=r_series)
    assert limited.limited and limited.current == 5e-6
    assert float(d.current(limited.v_device)) == pytest.approx(5e-6, rel=1e-9)


def test_splitting_a_segment_does_not_change_the_outcome() -> None:
    whole, split = formed_hrs(), formed_hrs()
    for v, duration in ((1.0, 2e-3), (0.5, 1e-4), (-1.2, 5e-3), (0.0, 0.3)):
        end = whole.apply(v, duration)
        for _ in range(4):
            last = split.apply(v, duration / 4)
        assert last.current == pytest.approx(end.current, rel=1e-9)
        assert split.state == pytest.approx(whole.state, rel=1e-9, abs=1e-15)
        assert split.conductance() == pytest.approx(whole.conductance(), rel=1e-9)
    assert split.truth.set_crossings == whole.truth.set_crossings == [1.0]
    assert split.truth.reset_crossings[-1] == whole.truth.reset_crossings[-1] == -1.2


def test_series_solve_converges_for_a_large_emf() -> None:
    d = RRAMDevice.from_key(HFOX.noiseless(), 7, (0, 0), 3)
    d.apply(4.5, 1.0)
    assert d.truth.stuck == "LRS"
    for v_emf, r_series in ((1000.0, 50.0), (-300.0, 1e3), (0.05, 1e6)):
        result = d.apply(v_emf, 1e-6, r_series=r_series)
        assert result.v_device + result.current * r_series == pytest.approx(v_emf, rel=1e-9)
        assert result.current == pytest.approx(float(d.current(result.v_device)), rel=1e-9)


def test_switching_rates_follow_arrhenius() -> None:
    d = formed_hrs(HFOX.nominal())
    cold = d.switching_rate(HFOX.ltp_pulse_v)
    d.temperature_k = 350.0
    factor = math.exp(HFOX.ea_switch_ev / 8.617333262e-5 * (1 / 300.0 - 1 / 350.0))
    assert d.switching_rate(HFOX.ltp_pulse_v) == pytest.approx(cold * factor)
    assert d.switching_rate(0.5) == 0.0 and d.switching_rate(-0.5) == 0.0


def test_current_source_follows_asinh_and_reports_voltage_compliance() -> None:
    d = formed_hrs()
    result = d.apply_current(2e-6, 1e-4, v_limit=2.0)
    assert not result.limited and result.current == pytest.approx(2e-6)
    assert float(d.current(result.v_device)) == pytest.approx(2e-6, rel=1e-9)
    pristine = RRAMDevice.from_key(HFOX.noiseless(), 1, (0, 0), 0)
    clipped = pristine.apply_current(1e-4, 1e-3, v_limit=1.0)
    assert clipped.limited and clipped.v_device == pytest.approx(1.0)
    assert clipped.current < 1e-6 and not pristine.formed


# --- pulses ---------------------------------------------------------------------------------

def neurosim(p: np.ndarray, g_min: float, b: float, a: float) -> np.ndarray:
    return g_min + b * (1.0 - np.exp(-p / a))


@pytest.mark.parametrize("branch", ["ltp", "ltd"])
def test_identical_pulses_give_the_neurosim_exponential(branch: str) -> None:
    d = formed_hrs(HFOX.nominal())
    if branch == "ltd":
        d.apply(1.5, 1e-3)
        d.idle(1.0)
    v, width = (HFOX.ltp_pulse_v, HFOX.ltp_pulse_s) if branch == "ltp" else \
        (HFOX.ltd_pulse_v, HFOX.ltd_pulse_s)
    k = d.switching_rate(v)
    prm = d.truth.params
    if branch == "ltp":
        assert k == pytest.approx(prm.k0_set * math.expm1((v - prm.v_set_th) / HFOX.v_set_slope))
    g0 = d.conductance()
    train = d.apply_pulse_train(v, width, 10e-3, 150, v_read=0.1)
    g = train.conductance
    pulses = np.arange(1, 151)
    sign = 1.0 if branch == "ltp" else -1.0
    (_, _, a), _ = optimize.curve_fit(neurosim, pulses, g, p0=(g0, sign * 3e-4, 20.0))
    assert a == pytest.approx(1.0 / (k * width), rel=0.03)
    assert a == pytest.approx(25.0, rel=0.05)
    progress = (g[99] - g0) / (g[-1] - g0)
    assert progress > 0.97
    assert np.all(sign * np.diff(g) > 0)
    assert np.allclose(train.read_current, 0.1 * g, rtol=0.025)


def test_noisy_pulse_train_scatters_around_the_mean_response() -> None:
    preset = replace(HFOX, c2c_sigma_v_th=0.0, c2c_sigma_ln_level=0.0)
    noisy, clean = formed_hrs(preset), formed_hrs(preset.noiseless())
    args = (HFOX.ltp_pulse_v, HFOX.ltp_pulse_s, 1e-3, 100, 0.1)
    g_noisy, g_clean = noisy.apply_pulse_train(*args), clean.apply_pulse_train(*args)
    _, g_looped, _ = looped_train(formed_hrs(preset), *args)
    for g in (g_noisy.conductance, g_looped):
        assert np.allclose(g, g_clean.conductance, rtol=0.06)
        steps = np.diff(g)[:40] / np.diff(g_clean.conductance)[:40] - 1.0
        robust_sigma = 1.4826 * float(np.median(np.abs(steps - np.median(steps))))
        assert robust_sigma == pytest.approx(HFOX.c2c_sigma_dw, rel=0.5)
    ratio = g_noisy.read_current / (0.1 * g_noisy.conductance)
    read_sigma = float(np.std(np.diff(ratio))) / math.sqrt(2.0)
    assert read_sigma == pytest.approx(HFOX.read_noise, rel=0.25)
    reads = np.array([noisy.read_current(0.1) for _ in range(2000)])
    assert np.std(reads) / np.mean(reads) == pytest.approx(HFOX.read_noise, rel=0.1)
    assert np.mean(reads) == pytest.approx(float(noisy.current(0.1)), rel=1e-3)


# --- PPF ------------------------------------------------------------------------------------

def double_exp(dt: np.ndarray, c1: float, tau1: float, c2: float, tau2: float) -> np.ndarray:
    return c1 * np.exp(-dt / tau1) + c2 * np.exp(-dt / tau2)


def test_paired_pulse_facilitation_recovers_both_time_constants() -> None:
    d = formed_hrs()
    d.idle(1e5)
    v_pulse, width, delay = 0.5, 10e-6, 1e-6
    intervals = np.logspace(-5.5, -1.7, 24)
    ppf, epsc = [], []
    for interval in intervals:
        first = d.apply(v_pulse, width)
        d.idle(delay)
        a1 = d.conductance()
        d.idle(interval - delay)
        second = d.apply(v_pulse, width)
        d.idle(delay)
        a2 = d.conductance()
        ppf.append((a2 - a1) / a1)
        epsc.append(second.peak_current / first.peak_current - 1.0)
        d.idle(0.05)
    assert d.truth.set_crossings == []
    for index in (ppf, epsc):
        values = np.array(index)
        assert values[0] > 0.05 and np.all(np.diff(values) < 0)
        popt, _ = optimize.curve_fit(double_exp, intervals, values,
                                     p0=(values[0] / 2, 5e-5, values[0] / 2, 2e-3))
        taus = sorted((popt[1], popt[3]))
        assert taus[0] == pytest.approx(HFOX.tau1_s, rel=0.1)
        assert taus[1] == pytest.approx(HFOX.tau2_s, rel=0.1)


def test_reads_do_not_disturb_the_volatile_state() -> None:
    d = formed_hrs()
    g0 = d.conductance()
    d.apply(0.2, 1.0)
    assert d.conductance() == pytest.approx(g0, rel=1e-3)
    d.apply(0.5, 1e-4)
    assert d.conductance() > 1.05 * g0
    d.idle(50 * HFOX.tau2_s)
    assert d.conductance() == pytest.approx(g0, rel=1e-3)


# --- retention ------------------------------------------------------------------------------

def programmed_lrs(temperature_k: float = 300.0) -> RRAMDevice:
    d = formed_hrs(HFOX.nominal())
    d.apply(1.5, 1e-3)
    d.temperature_k = temperature_k
    return d


def test_retention_follows_the_power_law_drift() -> None:
    d = programmed_lrs()
    prm = d.truth.params
    times = np.logspace(0, 5, 11)
    g = []
    elapsed = 0.0
    for t in times:
        d.idle(t - elapsed)
        elapsed = t
        g.append(d.conductance())
    slope, _ = np.polyfit(np.log(times + HFOX.drift_t0_s), np.log(np.array(g) - prm.g_off), 1)
    assert -slope == pytest.approx(HFOX.drift_nu, rel=0.02)
    assert g[-1] < 0.85 * g[0]


def test_higher_temperature_drifts_faster_by_the_arrhenius_factor() -> None:
    cold, hot = programmed_lrs(300.0), programmed_lrs(358.0)
    for d in (cold, hot):
        d.idle(100.0)
    prm = cold.truth.params
    assert hot.conductance() < cold.conductance()
    accel = math.exp(HFOX.ea_retention_ev / 8.617333262e-5 * (1 / 300.0 - 1 / 358.0))
    cold.idle(100.0 * accel - 100.0)
    assert hot.conductance() - prm.g_off == pytest.approx(cold.conductance() - prm.g_off,
                                                          rel=1e-6)


# --- endurance ------------------------------------------------------------------------------

@pytest.mark.parametrize("p_lrs", [0.0, 1.0])
def test_cycling_closes_the_window_and_ends_stuck(p_lrs: float) -> None:
    preset = replace(HFOX.nominal(), n_onset=20.0, closure_per_decade=0.3, stuck_decades=1.0,
                     stuck_decades_sigma=0.0, stuck_lrs_probability=p_lrs)
    d = formed_hrs(preset)
    windows = []
    for _ in range(260):
        d.apply(1.5, 1e-4)
        d.idle(1e-2)
        g_lrs = d.conductance()
        d.apply(-1.5, 1e-4)
        d.idle(1e-2)
        windows.append(g_lrs / d.conductance())
    window = np.array(windows)
    assert window[0] == pytest.approx(preset.g_on / preset.g_off, rel=0.02)
    assert window[10] == pytest.approx(window[0], rel=1e-3)
    closure = preset.closure_per_decade * math.log10(150 / preset.n_onset)
    assert math.log(window[149]) == pytest.approx((1 - closure) * math.log(window[0]), rel=0.01)
    assert np.all(np.diff(window[20:199]) < 0)
    assert d.truth.stuck == ("LRS" if p_lrs else "HRS")
    assert d.truth.cycles == 200
    assert np.allclose(window[200:], 1.0, rtol=1e-3)
    half_closure = preset.closure_per_decade * math.log10(200 / preset.n_onset) / 2
    g_on, g_off = d.truth.params.g_on, d.truth.params.g_off
    expected = g_on * (g_off / g_on) ** half_closure if p_lrs else \
        g_off * (g_on / g_off) ** half_closure
    assert d.conductance() == pytest.approx(expected, rel=0.02)


def test_cycle_to_cycle_variation_of_set_voltage_and_levels() -> None:
    d = formed_hrs(HFOX)
    g_lrs, g_hrs = [], []
    for _ in range(25):
        loop(d, 1.3)
        d.idle(0.1)
        g_lrs.append(d.conductance())
        loop(d, -1.5)
        d.idle(0.1)
        g_hrs.append(d.conductance())
    v_set = np.array(d.truth.set_crossings)
    assert v_set.size == 25 and d.truth.cycles == 25
    assert 0.005 < float(np.std(v_set)) < 0.05
    for levels in (g_lrs, g_hrs):
        spread = float(np.std(np.log(levels)))
        assert 0.5 * HFOX.c2c_sigma_ln_level < spread < 3 * HFOX.c2c_sigma_ln_level


def test_device_to_device_parameters_spread_as_documented() -> None:
    devices = [RRAMDevice.from_key(HFOX, 11, (i % 20, i // 20), i) for i in range(600)]
    params = [d.truth.params for d in devices]
    assert np.std(np.log([q.g_on for q in params])) == pytest.approx(HFOX.sigma_ln_g_on, rel=0.15)
    assert np.std(np.log([q.k0_set for q in params])) == pytest.approx(HFOX.sigma_ln_k0, rel=0.15)
    assert np.std([q.v_set_th for q in params]) == pytest.approx(HFOX.sigma_v_th, rel=0.15)
    assert np.mean([q.v_set_th for q in params]) == pytest.approx(HFOX.v_set_th, abs=0.005)
    assert 0.4 < np.mean([q.stuck_mode == "LRS" for q in params]) < 0.6
    nominal = RRAMDevice.from_key(HFOX.nominal(), 11, (0, 0), 0).truth.params
    assert nominal.v_form == HFOX.v_form_scale and nominal.g_on == HFOX.g_on


# --- reproducibility, vectorisation, input checking -----------------------------------------

def run_protocol(device: RRAMDevice) -> list[float]:
    sweep(device, 5.0, I_FORM, stop_when_formed=True)
    loop(device, -1.5)
    train = device.apply_pulse_train(HFOX.ltp_pulse_v, HFOX.ltp_pulse_s, 1e-4, 50, 0.1)
    return [*train.read_current, device.read_current(0.1), *device.truth.set_crossings]


def test_same_key_reproduces_and_different_keys_differ() -> None:
    a = RRAMDevice.from_key(HFOX, 5, (1, 2), 3)
    b = RRAMDevice.from_key(HFOX, 5, (1, 2), 3)
    assert a.truth.params == b.truth.params
    assert run_protocol(a) == run_protocol(b)
    others = [RRAMDevice.from_key(HFOX, *key) for key in
              ((6, (1, 2), 3), (5, (2, 1), 3), (5, (1, 2), 4), (5, (-1, 2), 3))]
    params = {device.truth.params for device in others} | {a.truth.params}
    assert len(params) == 5
    assert run_protocol(others[0]) != run_protocol(RRAMDevice.from_key(HFOX, 5, (1, 2), 3))
    assert device_rng(5, (1, 2), 3).random() == device_rng(5, (1, 2), 3).random()


def looped_train(device: RRAMDevice, v: float, tp: float, tg: float, n: int,
                 v_read: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reads, conductance, peaks = [], [], []
    for _ in range(n):
        peaks.append(device.apply(v, tp).peak_current)
        device.idle(tg)
        conductance.append(device.conductance())
        reads.append(device.read_current(v_read))
    return np.array(reads), np.array(conductance), np.array(peaks)


@pytest.mark.parametrize(("v", "tp", "tg", "n"), [
    (HFOX.ltp_pulse_v, 1e-6, 1e-3, 200),
    (HFOX.ltd_pulse_v, 1e-6, 1e-2, 120),
    (0.5, 1e-5, 2e-5, 300),
    (1.0, 1e-4, 0.5, 40),
])
def test_vectorised_train_equals_looped_apply(v: float, tp: float, tg: float, n: int) -> None:
    a, b = formed_hrs(), formed_hrs()
    if v < 0:
        for d in (a, b):
            d.apply(1.5, 1e-3)
    train = a.apply_pulse_train(v, tp, tg, n, v_read=0.1)
    reads, conductance, peaks = looped_train(b, v, tp, tg, n, 0.1)
    assert np.allclose(train.read_current, reads, rtol=1e-9, atol=0)
    assert np.allclose(train.conductance, conductance, rtol=1e-9, atol=0)
    assert np.allclose(train.peak_current, peaks, rtol=1e-9, atol=0)
    assert train.state == pytest.approx(b.state, rel=1e-9)
    assert a.time_s == pytest.approx(b.time_s, rel=1e-12)
    assert a.truth.set_crossings == b.truth.set_crossings
    assert a.truth.reset_crossings == b.truth.reset_crossings
    assert a.truth.cycles == b.truth.cycles


def test_vectorised_train_forms_a_pristine_device_like_the_loop() -> None:
    a = RRAMDevice.from_key(HFOX.noiseless(), 3, (0, 0), 0)
    b = RRAMDevice.from_key(HFOX.noiseless(), 3, (0, 0), 0)
    v = a.truth.v_form + 0.3
    train = a.apply_pulse_train(v, 1e-4, 1e-4, 400, v_read=0.1)
    reads, _, peaks = looped_train(b, v, 1e-4, 1e-4, 400, 0.1)
    assert a.formed and b.formed and a.truth.overformed
    assert a.truth.forming_time == pytest.approx(b.truth.forming_time, rel=1e-9)
    assert np.allclose(train.read_current, reads, rtol=1e-9)
    assert np.allclose(train.peak_current, peaks, rtol=1e-9)


@pytest.mark.parametrize(("call", "name"), [
    (lambda d: d.apply(1.0, -1e-3), "duration"),
    (lambda d: d.apply(float("nan"), 1e-3), "v"),
    (lambda d: d.apply(1.0, 1e-3, i_limit=0.0), "i_limit"),
    (lambda d: d.apply(1.0, 1e-3, r_series=-1.0), "r_series"),
    (lambda d: d.apply_current(1e-6, 1e-3, v_limit=-1.0), "v_limit"),
    (lambda d: d.apply_current(float("inf"), 1e-3, v_limit=1.0), "i"),
    (lambda d: d.idle(float("nan")), "duration"),
    (lambda d: d.apply_pulse_train(1.0, 1e-6, 1e-6, 0), "n"),
    (lambda d: d.apply_pulse_train(1.0, -1e-6, 1e-6, 5), "t_pulse"),
    (lambda d: d.apply_pulse_train(1.0, 1e-6, 1e-6, 5, v_read=float("nan")), "v_read"),
    (lambda d: setattr(d, "temperature_k", 0.0), "temperature_k"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, name: str) -> None:
    d = RRAMDevice.from_key(HFOX, 0, (0, 0), 0)
    with pytest.raises(ValueError, match=rf"^{name} "):
        call(d)
    assert d.time_s == 0.0


def test_bad_preset_and_key_are_rejected() -> None:
    with pytest.raises(ValueError, match="g_off"):
        RRAMPreset(g_off=1e-3)
    with pytest.raises(ValueError, match="tau1_s"):
        RRAMPreset(tau1_s=0.0)
    with pytest.raises(ValueError, match="die"):
        device_rng(1, (1, 2, 3), 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="device"):
        device_rng(1, (1, 2), 1.5)  # type: ignore[arg-type]
