"""STDP window fit: recovers a known window, reports missing figures for degenerate data."""

from __future__ import annotations

import numpy as np
import pytest

from labsyn.analysis.stdp import fit_stdp_window, read_noise, relative_change, stdp_window

TRUE = {"a_plus": 0.8, "tau_plus": 12e-3, "a_minus": 0.4, "tau_minus": 25e-3}
DT = np.concatenate([-np.geomspace(2e-3, 80e-3, 10)[::-1], np.geomspace(2e-3, 80e-3, 10)])


def test_fit_recovers_the_window_it_was_given() -> None:
    rng = np.random.default_rng(3)
    noise = 0.01
    y = stdp_window(DT, **TRUE) + noise * rng.standard_normal(DT.size)
    window = fit_stdp_window(DT, y, noise)
    for name, true in TRUE.items():
        estimate = window.figures[name]
        assert estimate.ok, estimate.reason
        assert estimate.uncertainty is not None and estimate.uncertainty > 0
        assert abs(estimate.value - true) <= max(4 * estimate.uncertainty, 0.05 * true), name
    assert abs(window.a_plus.value - 0.8) / 0.8 < 0.05
    assert abs(window.tau_minus.value - 25e-3) / 25e-3 < 0.1
    assert np.allclose(window.curve(DT), stdp_window(DT, *(window.figures[k].value for k in TRUE)))


def test_anti_hebbian_window_gives_signed_amplitudes() -> None:
    y = stdp_window(DT, -0.3, 10e-3, -0.6, 5e-3)
    window = fit_stdp_window(DT, y)
    assert window.a_plus.value == pytest.approx(-0.3, rel=1e-3)
    assert window.a_minus.value == pytest.approx(-0.6, rel=1e-3)
    assert window.tau_minus.value == pytest.approx(5e-3, rel=1e-3)


def test_constant_replies_mean_no_plasticity() -> None:
    window = fit_stdp_window(DT, np.zeros(DT.size), 0.0)
    for estimate in window.figures.values():
        assert not estimate.ok
        assert "no plasticity" in estimate.reason


def test_changes_within_the_read_noise_are_not_fitted() -> None:
    rng = np.random.default_rng(1)
    window = fit_stdp_window(DT, 0.001 * rng.standard_normal(DT.size), 0.01)
    assert not window.a_plus.ok and "read noise" in window.a_plus.reason


def test_nan_reads_leave_too_few_points() -> None:
    y = stdp_window(DT, **TRUE)
    y[np.flatnonzero(DT > 0)[:8]] = np.nan
    window = fit_stdp_window(DT, y)
    assert not window.a_plus.ok and "only 2 finite" in window.a_plus.reason
    assert not window.tau_plus.ok and window.tau_plus.unit == "s"
    assert window.a_minus.ok and window.tau_minus.ok  # the other side is untouched


def test_one_sided_data() -> None:
    window = fit_stdp_window(DT[DT > 0], stdp_window(DT[DT > 0], **TRUE))
    assert window.a_plus.ok
    assert not window.a_minus.ok and "only 0 finite" in window.a_minus.reason
    assert np.isnan(window.curve(np.array([-1e-3]))).all()


def test_relative_change_and_its_noise() -> None:
    g0, g, dg = relative_change(np.array([1.0, 1.02, 0.98]), np.array([1.5, 1.5, np.nan]))
    assert (g0, g) == pytest.approx((1.0, 1.5)) and dg == pytest.approx(0.5)
    assert read_noise(np.array([1.0, 1.02, 0.98]), np.array([1.5, 1.5])) == pytest.approx(
        0.02 / np.sqrt(3), rel=1e-6)


def test_dead_device_reads_give_no_ratio() -> None:
    assert np.isnan(relative_change(np.zeros(3), np.zeros(3))[2])
    assert np.isnan(relative_change(np.full(3, np.nan), np.ones(3))[2])
    assert np.isnan(read_noise(np.zeros(3), np.ones(3)))
