"""Variability statistics recover the parameters of draws from known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labsyn.analysis.statistics import (
    coefficient_of_variation,
    empirical_cdf,
    fit_lognormal,
    fit_weibull,
)

RNG_SEED = 20240611


def test_cv_of_normal_draws_within_three_standard_errors() -> None:
    x = np.random.default_rng(RNG_SEED).normal(100.0, 5.0, 400)  # CV 0.05
    cv = coefficient_of_variation(x)
    assert cv.uncertainty == pytest.approx(0.05 / math.sqrt(2 * 399), rel=0.1)
    assert abs(cv.value - 0.05) < 3 * cv.uncertainty


def test_cv_uncertainty_covers_the_scatter_over_repeats() -> None:
    rng = np.random.default_rng(RNG_SEED)
    estimates = [coefficient_of_variation(rng.normal(10.0, 1.0, 30)) for _ in range(300)]
    values = np.array([e.value for e in estimates])
    typical = np.median([e.uncertainty for e in estimates])
    assert np.std(values) == pytest.approx(typical, rel=0.2)
    assert abs(values.mean() - 0.1) < 0.01


def test_lognormal_recovers_mu_sigma_and_median() -> None:
    mu, sigma = math.log(60e3), 0.25
    x = np.random.default_rng(RNG_SEED).lognormal(mu, sigma, 500)
    fit = fit_lognormal(x, "Ω")
    assert abs(fit.mu.value - mu) < 3 * fit.mu.uncertainty
    assert abs(fit.sigma.value - sigma) < 3 * fit.sigma.uncertainty
    assert fit.median.value == pytest.approx(60e3, rel=0.05) and fit.median.unit == "Ω"
    assert fit.cdf(np.array([60e3]))[0] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(("scale", "shape"), [(2.8, 8.0), (0.9, 3.0)])
def test_weibull_mle_recovers_scale_and_shape(scale: float, shape: float) -> None:
    x = scale * np.random.default_rng(RNG_SEED).weibull(shape, 300)
    fit = fit_weibull(x, "V")
    assert abs(fit.scale.value - scale) < 3 * fit.scale.uncertainty
    assert abs(fit.shape.value - shape) < 3 * fit.shape.uncertainty
    assert fit.shape.uncertainty == pytest.approx(shape * math.sqrt(0.608 / 300), rel=0.15)


def test_weibull_plot_points_lie_on_the_fitted_line() -> None:
    x = 2.8 * np.random.default_rng(RNG_SEED).weibull(8.0, 200)
    fit = fit_weibull(x)
    assert np.all(np.diff(fit.plot_x) >= 0) and fit.plot_x.size == 200
    slope, _ = np.polyfit(fit.plot_x, fit.plot_y, 1)
    assert slope == pytest.approx(8.0, rel=0.15)
    residual = fit.plot_y - fit.line(fit.plot_x)
    assert np.median(np.abs(residual)) < 0.15
    assert fit.cdf(np.array([2.8]))[0] == pytest.approx(1 - math.exp(-1), abs=0.05)


def test_empirical_cdf_steps_from_one_over_n_to_one() -> None:
    cdf = empirical_cdf([3.0, np.nan, 1.0, 2.0, 4.0])
    assert cdf.ok
    np.testing.assert_array_equal(cdf.x, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(cdf.f, [0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize("values", [[], [1.0, 2.0], [1.0, np.nan, np.inf, 2.0]])
def test_fewer_than_three_finite_values_are_refused_with_a_reason(values: list) -> None:
    results = [coefficient_of_variation(values), fit_lognormal(values).mu,
               fit_lognormal(values).median, fit_weibull(values).scale,
               fit_weibull(values).shape]
    for estimate in results:
        assert not estimate.ok and "at least 3" in estimate.reason
    assert not empirical_cdf(values).ok and "at least 3" in empirical_cdf(values).reason


def test_degenerate_values_give_reasons_not_fits() -> None:
    assert "mean is 0" in coefficient_of_variation([0.0, 0.0, 0.0]).reason
    assert coefficient_of_variation([5.0, 5.0, 5.0]).value == 0.0
    constant = fit_lognormal([1e4] * 10)
    assert not constant.ok and "no spread" in constant.sigma.reason
    assert np.isnan(constant.cdf(np.array([1e4]))).all()
    dead = fit_weibull([0.0, 0.0, 0.0, -1.0])  # a dead device reads 0: no positive values
    assert not dead.ok and "positive" in dead.scale.reason
    assert np.isnan(dead.line(np.array([0.0]))).all()
