"""Short-term plasticity analysis on synthetic data with known parameters, and degenerate
data (constant, NaN, a single time constant, no response) giving reasons."""

from __future__ import annotations

import re

import numpy as np
import pytest

from labsyn.analysis.short_term import (
    conductance,
    fit_double_exponential,
    fit_stretched_exponential,
    mean_response,
    number_dependence,
    ppf_index,
    rate_dependence,
)

RNG = np.random.default_rng(7)
X = np.geomspace(1e-3, 2.0, 30)


def test_double_exponential_recovers_amplitudes_and_ordered_taus() -> None:
    y = 30 * np.exp(-X / 0.01) + 15 * np.exp(-X / 0.2) + RNG.normal(0, 0.3, X.size)
    fit = fit_double_exponential(X[::-1], y[::-1], "%")  # order of the data does not matter
    assert fit.tau1.value == pytest.approx(0.01, rel=0.1)
    assert fit.tau2.value == pytest.approx(0.2, rel=0.1)
    assert fit.c1.value == pytest.approx(30, rel=0.1) and fit.c2.value == pytest.approx(15, rel=0.1)
    for e, true in ((fit.tau1, 0.01), (fit.tau2, 0.2)):
        assert 0 < e.uncertainty and abs(e.value - true) < 4 * e.uncertainty
    assert fit.curve(np.array([0.0]))[0] == pytest.approx(fit.c1.value + fit.c2.value)


def test_double_exponential_with_offset() -> None:
    y = 5e-6 + 2e-6 * np.exp(-X / 0.02) + 1e-6 * np.exp(-X / 0.3)
    fit = fit_double_exponential(X, y * (1 + RNG.normal(0, 1e-3, X.size)), "S", offset=True)
    assert fit.offset.value == pytest.approx(5e-6, rel=0.01)
    assert fit.tau1.value == pytest.approx(0.02, rel=0.1)
    assert fit.tau2.value == pytest.approx(0.3, rel=0.1)


@pytest.mark.parametrize(("y", "reason"), [
    (np.full(X.size, 4.0), "constant data"),
    (np.where(np.arange(X.size) < 26, np.nan, 1.0), "only 4 finite points"),
    (20 * np.exp(-X / 0.05) + RNG.normal(0, 0.2, X.size), "not determined|one time constant"),
])
def test_degenerate_data_gives_no_fit_and_says_why(y: np.ndarray, reason: str) -> None:
    fit = fit_double_exponential(X, y, "%")
    assert not fit.ok
    assert re.search(reason, fit.tau1.reason) and fit.tau2.value is None


def test_ppf_index_in_both_conventions() -> None:
    index, ratio = ppf_index(np.array([2.0, 0.0, np.nan]), np.array([3.0, 1.0, 1.0]))
    assert index[0] == pytest.approx(50.0) and ratio[0] == pytest.approx(150.0)
    assert np.isnan(index[1:]).all() and np.isnan(ratio[1:]).all()


def test_conductance_subtracts_the_series_resistance() -> None:
    g = conductance(np.array([1e-5, 0.0, np.nan]), np.array([0.1, 0.1, 0.1]), 1000.0)
    assert g[0] == pytest.approx(1e-5 / (0.1 - 1e-2))
    assert g[1] == 0.0 and np.isnan(g[2])


def test_stretched_exponential_recovers_tau_and_beta() -> None:
    t = np.geomspace(1e-3, 10.0, 40)
    g = 1e-5 + 4e-6 * np.exp(-(t / 0.1) ** 0.6)
    fit = fit_stretched_exponential(t, g * (1 + RNG.normal(0, 1e-3, t.size)))
    assert fit.tau.value == pytest.approx(0.1, rel=0.1)
    assert fit.beta.value == pytest.approx(0.6, rel=0.1)
    assert not fit_stretched_exponential(t, np.full(t.size, 1e-5)).ok


def test_a_response_lost_in_the_noise_is_none() -> None:
    assert mean_response(np.array([1e-6, 1.1e-6, 0.9e-6]), "S", noise=1e-8).ok
    weak = mean_response(np.array([1e-9, -1e-9, 2e-9]), "S", noise=1e-8)
    assert not weak.ok and "not above the read noise" in weak.reason
    assert "no finite" in mean_response(np.array([np.nan]), "S").reason
    assert not mean_response(np.zeros(4), "S").ok  # constant replies


def test_rate_and_number_summaries() -> None:
    gaps = np.repeat([1e-3, 1e-2, 1e-1], 2)
    dg = np.repeat([3e-6, 2e-6, 1e-6], 2) + np.tile([1e-8, -1e-8], 3)
    rate = rate_dependence(gaps, dg, noise=1e-8)
    assert rate["rate_gain"].value == pytest.approx(3.0, rel=0.02)
    assert rate["rate_gain"].uncertainty > 0
    number = number_dependence(np.repeat([1, 5, 10], 2), dg[::-1], noise=1e-8)
    assert number["number_gain"].value == pytest.approx(3.0, rel=0.02)
    dead = rate_dependence(gaps, np.zeros(6), noise=0.0)
    assert all(not e.ok and e.reason for e in dead.values())
    nan = number_dependence(np.repeat([1, 5, 10], 2), np.full(6, np.nan), noise=0.0)
    assert all("no finite" in e.reason for e in nan.values())
