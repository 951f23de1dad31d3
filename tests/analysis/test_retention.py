"""Retention analysis on synthetic data with known parameters, and on degenerate data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labsyn.analysis.result import Estimate
from labsyn.analysis.retention import (
    K_B_EV,
    arrhenius_from_results,
    extrapolate_lifetime,
    failure_time,
    fit_arrhenius,
    fit_drift,
    fit_stretched_exponential,
    read_times,
)

T = np.repeat(read_times(1e-2, 1e4, 30), 3)


def drifting(nu: float = 0.02, tau: float = 1.0, floor: float = 16e-6, window: float = 3e-4,
             noise: float = 0.007, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = floor + window * (1 + T / tau) ** -nu
    return g * (1 + noise * rng.standard_normal(T.size))


def test_drift_fit_recovers_nu_and_onset_above_the_floor() -> None:
    fit = fit_drift(T, drifting(), floor=16e-6)
    assert fit.form == "onset"
    assert fit.nu.value == pytest.approx(0.02, rel=0.05)
    assert abs(fit.nu.value - 0.02) < 3 * fit.nu.uncertainty
    assert fit.tau.value == pytest.approx(1.0, rel=0.6)


def test_drift_onset_before_the_first_read_falls_back_to_a_power_law() -> None:
    fit = fit_drift(T, drifting(tau=1e-6, noise=0.002), floor=16e-6)
    assert fit.form == "power law" and not fit.tau.ok
    assert fit.nu.value == pytest.approx(0.02, rel=0.05)


def test_stretched_exponential_recovers_tau_and_beta() -> None:
    t = read_times(1e-2, 1e4, 60)
    g = 1e-5 + 2e-5 * np.exp(-(t / 30.0) ** 0.6)
    fit = fit_stretched_exponential(t, g * (1 + 1e-3 * np.random.default_rng(1).standard_normal(
        t.size)))
    assert fit.tau.value == pytest.approx(30.0, rel=0.05)
    assert fit.beta.value == pytest.approx(0.6, rel=0.05)


def test_failure_time_is_interpolated_in_log_time() -> None:
    t = np.array([1.0, 10.0, 100.0, 1000.0])
    g = np.array([1.0, 0.95, 0.85, 0.8])
    # 10 % change between 10 s (5 %) and 100 s (15 %): halfway in log t
    assert failure_time(t, g, reference=1.0).value == pytest.approx(math.sqrt(1000.0))
    ratio = failure_time(t, g * 20, floor=1.0, min_ratio=18.0)
    assert ratio.value == pytest.approx(math.sqrt(1000.0))
    assert "did not fail" in failure_time(t, g, max_change=0.5).reason


def test_arrhenius_recovers_ea_and_tau0_and_extrapolates() -> None:
    temps = np.repeat([360.0, 380.0, 400.0, 420.0], 5)
    rng = np.random.default_rng(2)
    t_fail = 1e-12 * np.exp(1.2 / (K_B_EV * temps)) * np.exp(0.1 * rng.standard_normal(20))
    fit = fit_arrhenius(temps, t_fail)
    assert fit.ea.value == pytest.approx(1.2, abs=0.05)
    assert abs(fit.ea.value - 1.2) < 3 * fit.ea.uncertainty
    life = extrapolate_lifetime(fit, 358.15)
    assert life.t_fail.value == pytest.approx(1e-12 * math.exp(1.2 / (K_B_EV * 358.15)),
                                              rel=0.5)
    assert life.passes is False  # ~1e5 s is not 10 years
    results = [{"temperature": Estimate(a, None, "K"), "t_fail": Estimate(b, None, "s")}
               for a, b in zip(temps, t_fail, strict=True)]
    results.append({"temperature": 400.0, "t_fail": Estimate.missing("s", "did not fail")})
    assert arrhenius_from_results(results).ea.value == pytest.approx(fit.ea.value)


@pytest.mark.parametrize(("g", "reason"), [
    (np.zeros(T.size), "dead or open"),
    (np.full(T.size, 1e-4), "identical"),
    (np.where(np.arange(T.size) < 3, 1e-4, np.nan), "only 3 finite reads"),
])
def test_degenerate_data_give_missing_figures_with_reasons(g: np.ndarray, reason: str) -> None:
    drift = fit_drift(T, g)
    assert not drift.nu.ok and reason in drift.nu.reason
    assert reason in failure_time(T, g).reason
    assert not fit_stretched_exponential(T, g).tau.ok


def test_arrhenius_needs_two_temperatures() -> None:
    fit = fit_arrhenius([300.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert not fit.ea.ok and "one temperature" in fit.ea.reason
    assert extrapolate_lifetime(fit, 358.0).passes is None


def test_failure_time_from_a_local_fit_beats_the_bracketing_reads() -> None:
    """ν = 0.02 with 0.7 % read noise: the bracketing reads alone scatter ln t_fail by ~0.2;
    the local line in ln t lands within 10 % of the true crossing, inside its stated error."""
    t = np.repeat(read_times(1e-2, 1e6, 36), 5)
    floor, window, nu, tau = 16e-6, 3e-4, 0.02, 1e-3
    ref = floor + window
    true = tau * (((0.7 * ref - floor) / window) ** (-1 / nu) - 1)
    errors = []
    for seed in range(5):
        g = (floor + window * (1 + t / tau) ** -nu) * (
            1 + 0.007 * np.random.default_rng(seed).standard_normal(t.size))
        fit = failure_time(t, g, reference=ref, max_change=0.3)
        assert "local fit" in fit.reason
        errors.append(math.log(fit.value / true))
        assert abs(fit.value - true) < 3 * fit.uncertainty
    assert np.max(np.abs(errors)) < 0.1
    wider = failure_time(t, g, reference=ref, max_change=0.3, reference_uncertainty=0.003 * ref)
    assert wider.value == pytest.approx(fit.value) and wider.uncertainty > 2 * fit.uncertainty


def test_arrhenius_with_device_groups_ignores_device_offsets() -> None:
    temps = np.tile([360.0, 380.0, 400.0, 420.0], 5)
    devices = np.repeat(np.arange(5), 4)
    offsets = np.log([0.5, 1.0, 3.0, 1.5, 0.8])[devices]  # each device its own window
    rng = np.random.default_rng(3)
    t_fail = 1e-12 * np.exp(1.2 / (K_B_EV * temps) + offsets + 0.05 * rng.standard_normal(20))
    pooled, grouped = fit_arrhenius(temps, t_fail), fit_arrhenius(temps, t_fail, devices)
    assert grouped.ea.value == pytest.approx(1.2, abs=0.03)
    assert grouped.ea.uncertainty < pooled.ea.uncertainty / 3
    assert grouped.tau0.value == pytest.approx(1e-12 * math.exp(offsets.mean()), rel=0.3)
    few = fit_arrhenius(temps[[0, 1, 4]], t_fail[[0, 1, 4]], devices[[0, 1, 4]])
    assert not few.ea.ok and "need 4" in few.ea.reason  # 3 points, 2 devices: 3 unknowns
