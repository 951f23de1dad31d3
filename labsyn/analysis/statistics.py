"""Variability statistics (cycle-to-cycle, device-to-device): coefficient of variation,
log-normal and Weibull fits, empirical CDFs.

Each function takes the finite values of its input (NaN and ±inf are dropped; the log-normal and
Weibull fits also drop values <= 0) and refuses fewer than `MIN_VALUES` with missing Estimates
that say why. Uncertainties are asymptotic standard errors:

- CV = s/|mean| (sample s): se ≈ CV·sqrt(1/(2(n − 1)) + CV²/n) (normal data, McKay).
- Log-normal: μ, σ = mean and sample std of ln x; se(μ) = σ/√n, se(σ) = σ/√(2(n − 1));
  median = e^μ, se = median·se(μ).
- Weibull F(x) = 1 − exp(−(x/η)^β) by maximum likelihood (scipy, location fixed at 0);
  se(β) = β·√(0.608/n), se(η) = (η/β)·√(1.109/n) (the inverse Fisher information).
  The Weibull plot uses Bernard's median ranks F_i = (i − 0.3)/(n + 0.4): the points
  (ln x_i, ln(−ln(1 − F_i))) lie near the line y = β·(ln x − ln η).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .result import Estimate

__all__ = ["MIN_VALUES", "EmpiricalCDF", "LognormalFit", "WeibullFit",
           "coefficient_of_variation", "empirical_cdf", "fit_lognormal", "fit_weibull"]

MIN_VALUES = 3
_WEIBULL_VAR_SHAPE = 0.608  # n·Var(β̂)/β²
_WEIBULL_VAR_SCALE = 1.109  # n·Var(η̂)·β²/η²

Values = Sequence[float] | np.ndarray


def _finite(values: Values, positive: bool = False) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    keep = np.isfinite(a) & (a > 0 if positive else True)
    return a[keep]


def _too_few(x: np.ndarray, positive: bool = False) -> str:
    """A reason if x has fewer than MIN_VALUES values, else ''."""
    if x.size >= MIN_VALUES:
        return ""
    what = "finite positive" if positive else "finite"
    return f"only {x.size} {what} value(s); at least {MIN_VALUES} are needed"


def coefficient_of_variation(values: Values) -> Estimate:
    """σ/|μ| of the finite values (unitless), with its asymptotic standard error."""
    x = _finite(values)
    reason = _too_few(x)
    if reason:
        return Estimate.missing("", reason)
    mean = float(x.mean())
    if mean == 0.0:
        return Estimate.missing("", "the mean is 0: the CV is undefined")
    n = x.size
    cv = float(x.std(ddof=1)) / abs(mean)
    return Estimate(cv, cv * math.sqrt(1.0 / (2 * (n - 1)) + cv**2 / n), "")


@dataclass(frozen=True)
class LognormalFit:
    """ln x ~ N(μ, σ²): `mu` and `sigma` of ln x (unitless), `median` = e^μ in the data's unit."""

    mu: Estimate
    sigma: Estimate
    median: Estimate
    n: int

    @property
    def ok(self) -> bool:
        return self.mu.ok and self.sigma.ok

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted CDF at x (NaN if there is no fit)."""
        x = np.asarray(x, dtype=float)
        if not self.ok:
            return np.full(x.shape, np.nan)
        with np.errstate(divide="ignore"):
            return stats.norm.cdf((np.log(x) - self.mu.value) / self.sigma.value)


def fit_lognormal(values: Values, unit: str = "") -> LognormalFit:
    """Log-normal fit of the finite positive values (e.g. R_HRS over cycles)."""
    x = _finite(values, positive=True)
    reason = _too_few(x, positive=True)
    if not reason and np.ptp(x) == 0.0:
        reason = f"every value is {x[0]:g}: no spread to fit"
    if reason:
        return LognormalFit(Estimate.missing("", reason), Estimate.missing("", reason),
                            Estimate.missing(unit, reason), int(x.size))
    ln = np.log(x)
    n = ln.size
    mu, sigma = float(ln.mean()), float(ln.std(ddof=1))
    median = math.exp(mu)
    se_mu = sigma / math.sqrt(n)
    return LognormalFit(Estimate(mu, se_mu, ""),
                        Estimate(sigma, sigma / math.sqrt(2 * (n - 1)), ""),
                        Estimate(median, median * se_mu, unit), n)


@dataclass(frozen=True)
class WeibullFit:
    """F(x) = 1 − exp(−(x/η)^β): `scale` η (the data's unit), `shape` β, and the Weibull-plot
    points (`plot_x` = ln x sorted, `plot_y` = ln(−ln(1 − F)) at Bernard's median ranks)."""

    scale: Estimate
    shape: Estimate
    n: int
    plot_x: np.ndarray
    plot_y: np.ndarray

    @property
    def ok(self) -> bool:
        return self.scale.ok and self.shape.ok

    def line(self, ln_x: np.ndarray) -> np.ndarray:
        """The fitted straight line of the Weibull plot, y = β·(ln x − ln η)."""
        ln_x = np.asarray(ln_x, dtype=float)
        if not self.ok:
            return np.full(ln_x.shape, np.nan)
        return self.shape.value * (ln_x - math.log(self.scale.value))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted CDF at x (NaN if there is no fit)."""
        x = np.asarray(x, dtype=float)
        if not self.ok:
            return np.full(x.shape, np.nan)
        return -np.expm1(-(np.clip(x, 0.0, None) / self.scale.value) ** self.shape.value)


def weibull_plot_points(values: Values) -> tuple[np.ndarray, np.ndarray]:
    """(ln x sorted, ln(−ln(1 − F_i))) with F_i = (i − 0.3)/(n + 0.4), finite positive x."""
    x = np.sort(_finite(values, positive=True))
    n = x.size
    f = (np.arange(1, n + 1) - 0.3) / (n + 0.4)
    return np.log(x), np.log(-np.log1p(-f))


def fit_weibull(values: Values, unit: str = "") -> WeibullFit:
    """Two-parameter Weibull maximum-likelihood fit of the finite positive values (e.g. V_set
    over cycles, V_form over devices)."""
    x = _finite(values, positive=True)
    px, py = weibull_plot_points(x)
    reason = _too_few(x, positive=True)
    if not reason and np.ptp(x) == 0.0:
        reason = f"every value is {x[0]:g}: no spread to fit"
    if reason:
        return WeibullFit(Estimate.missing(unit, reason), Estimate.missing("", reason),
                          int(x.size), px, py)
    with np.errstate(all="ignore"):  # near-constant data overflow on the way to the maximum
        shape, _, scale = stats.weibull_min.fit(x, floc=0.0)
    n = x.size
    if not (math.isfinite(shape) and math.isfinite(scale) and shape > 0 and scale > 0):
        reason = "the Weibull likelihood has no finite maximum for these values"
        return WeibullFit(Estimate.missing(unit, reason), Estimate.missing("", reason), n, px, py)
    return WeibullFit(
        Estimate(float(scale), float(scale / shape * math.sqrt(_WEIBULL_VAR_SCALE / n)), unit),
        Estimate(float(shape), float(shape * math.sqrt(_WEIBULL_VAR_SHAPE / n)), ""), n, px, py)


@dataclass(frozen=True)
class EmpiricalCDF:
    """Sorted finite values and F = i/n at each; empty with a `reason` when too few."""

    x: np.ndarray
    f: np.ndarray
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def empirical_cdf(values: Values) -> EmpiricalCDF:
    """The empirical CDF of the finite values (a step at each, F from 1/n to 1)."""
    x = np.sort(_finite(values))
    reason = _too_few(x)
    if reason:
        return EmpiricalCDF(np.empty(0), np.empty(0), reason)
    return EmpiricalCDF(x, np.arange(1, x.size + 1) / x.size)
