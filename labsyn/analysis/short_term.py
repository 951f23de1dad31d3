"""Short-term plasticity: PPF index and its double-exponential fit, rate (SRDP) and number
(SNDP) dependence of the volatile gain, and relaxation fits (double / stretched exponential).

Definitions (documented once, used by every protocol of labsyn.protocols.ppf/srdp/sndp/
volatility): a response A is the conductance increase above the device at rest,
A = G_read − G_rest, with G_rest read just before the pair or train. On a filamentary cell the
volatile part rides on a long-term conductance many times larger; subtracting it makes
PPF = (A2 − A1)/A1 × 100 % the facilitation of the volatile response itself. In the simulator's
rate model this gives exactly PPF(Δt) = C1·e^(−Δt/τ1) + C2·e^(−Δt/τ2), Δt the gap between pulses.
The ratio convention is A2/A1 × 100 % = 100 % + PPF.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
from scipy.optimize import curve_fit

from .result import Estimate

__all__ = [
    "ExponentialFit", "StretchedFit", "conductance", "fit_double_exponential",
    "fit_stretched_exponential", "mean_response", "noise_floor", "number_dependence",
    "ppf_index", "rate_dependence",
]

MIN_POINTS = 5  # finite points a double exponential needs (4 parameters, and one more)
SIGNIFICANCE = 3.0  # a response counts above this many noise sigmas


def conductance(current: np.ndarray, voltage: np.ndarray, series_resistance: float = 0.0
                ) -> np.ndarray:
    """I / (V − I·R_s) per read; NaN where the device voltage is not positive-definite."""
    i, v = np.asarray(current, float), np.asarray(voltage, float)
    v_dev = v - i * series_resistance
    with np.errstate(divide="ignore", invalid="ignore"):
        g = i / v_dev
    return np.where(np.isfinite(g) & (v_dev * v > 0), g, np.nan)


def ppf_index(a1: np.ndarray, a2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A2 − A1)/A1 × 100 % and A2/A1 × 100 %; NaN where A1 is not a positive response."""
    a1, a2 = np.asarray(a1, float), np.asarray(a2, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a1 > 0, a2 / a1 * 100.0, np.nan)
    return ratio - 100.0, ratio


def noise_floor(g_rest: np.ndarray) -> float:
    """Read noise (S) from the scatter of the rest reads about their mean; 0 if constant."""
    g = np.asarray(g_rest, float)
    g = g[np.isfinite(g)]
    return float(np.std(g, ddof=1)) if g.size > 1 else 0.0


def mean_response(values: np.ndarray, unit: str, noise: float = 0.0, what: str = "response"
                  ) -> Estimate:
    """Mean ± standard error of repeated values; missing when none is finite or the mean is
    not above `SIGNIFICANCE` × the noise (a response lost in the read noise is none)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Estimate.missing(unit, f"no finite {what}")
    mean = float(v.mean())
    sem = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None
    floor = SIGNIFICANCE * max(noise, sem or 0.0)
    if not mean > floor:
        return Estimate.missing(unit, f"no {what}: the conductance rose by {mean:.3g} {unit}, "
                                f"not above the read noise ({floor:.3g} {unit})")
    return Estimate(mean, sem, unit)


@dataclass(frozen=True)
class ExponentialFit:
    """y = offset + C1·e^(−x/τ1) + C2·e^(−x/τ2), τ1 < τ2 (offset 0 unless fitted)."""

    c1: Estimate
    tau1: Estimate
    c2: Estimate
    tau2: Estimate
    offset: Estimate

    @property
    def ok(self) -> bool:
        return all(e.ok for e in (self.c1, self.tau1, self.c2, self.tau2))

    def curve(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        off = self.offset.value if self.offset.ok else 0.0
        return off + self.c1.value * np.exp(-x / self.tau1.value) \
            + self.c2.value * np.exp(-x / self.tau2.value)

    @classmethod
    def missing(cls, unit: str, x_unit: str, reason: str) -> ExponentialFit:
        return cls(Estimate.missing(unit, reason), Estimate.missing(x_unit, reason),
                   Estimate.missing(unit, reason), Estimate.missing(x_unit, reason),
                   Estimate.missing(unit, reason))


def _two_exp(x: np.ndarray, c1: float, l1: float, c2: float, l2: float) -> np.ndarray:
    return c1 * np.exp(-x / np.exp(l1)) + c2 * np.exp(-x / np.exp(l2))


def _two_exp_offset(x: np.ndarray, c1: float, l1: float, c2: float, l2: float, g: float
                    ) -> np.ndarray:
    return g + _two_exp(x, c1, l1, c2, l2)


def _linear_start(x: np.ndarray, y: np.ndarray, offset: bool) -> list[float]:
    """Best (τ1, τ2) on a log grid spanning the data, amplitudes by linear least squares."""
    lo, hi = np.log(x.min() / 3.0), np.log(x.max() * 3.0)
    grid = np.linspace(lo, hi, 12)
    best: tuple[float, list[float]] | None = None
    for l1, l2 in product(grid, grid):
        if l2 - l1 < 0.5:
            continue
        columns = [np.exp(-x / np.exp(l1)), np.exp(-x / np.exp(l2))]
        if offset:
            columns.append(np.ones_like(x))
        design = np.column_stack(columns)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        sse = float(np.sum((design @ coef - y) ** 2))
        if best is None or sse < best[0]:
            start = [coef[0], l1, coef[1], l2] + ([coef[2]] if offset else [])
            best = (sse, start)
    assert best is not None
    return best[1]


def fit_double_exponential(x: np.ndarray, y: np.ndarray, unit: str, x_unit: str = "s",
                           offset: bool = False) -> ExponentialFit:
    """Least-squares C1·e^(−x/τ1) + C2·e^(−x/τ2) (+ offset) with covariance uncertainties.

    Starting values come from the data (a log grid of τ pairs over the x range, amplitudes by
    linear least squares). Missing, with the reason, when there are too few finite points, the
    fit fails, a time constant is not determined (σ_τ > τ), a term is not significant, or a τ
    lies beyond a decade outside the x range.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[keep], y[keep]
    need = MIN_POINTS + int(offset)
    if x.size < need:
        return ExponentialFit.missing(unit, x_unit, f"only {x.size} finite points (a double "
                                      f"exponential needs {need})")
    if np.unique(x).size < 4 + int(offset):
        return ExponentialFit.missing(unit, x_unit, "fewer distinct x values than parameters")
    if np.ptp(y) == 0:
        return ExponentialFit.missing(unit, x_unit, "constant data: nothing decays")
    model = _two_exp_offset if offset else _two_exp
    try:
        popt, pcov = curve_fit(model, x, y, p0=_linear_start(x, y, offset), maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        return ExponentialFit.missing(unit, x_unit, f"the fit did not converge ({exc})")
    sigma = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.full(len(popt), np.inf)
    terms = sorted([(popt[1], sigma[1], popt[0], sigma[0]), (popt[3], sigma[3], popt[2],
                                                              sigma[2])])
    reason = _fit_problem(terms, x)
    if reason:
        return ExponentialFit.missing(unit, x_unit, reason)
    (l1, sl1, c1, sc1), (l2, sl2, c2, sc2) = terms
    off = Estimate(float(popt[4]), float(sigma[4]), unit) if offset else \
        Estimate.missing(unit, "no offset fitted")
    return ExponentialFit(Estimate(float(c1), float(sc1), unit),
                          Estimate(float(np.exp(l1)), float(np.exp(l1) * sl1), x_unit),
                          Estimate(float(c2), float(sc2), unit),
                          Estimate(float(np.exp(l2)), float(np.exp(l2) * sl2), x_unit), off)


def _fit_problem(terms: list[tuple[float, float, float, float]], x: np.ndarray) -> str:
    for name, (log_tau, s_log, c, s_c) in zip(("τ1", "τ2"), terms, strict=True):
        tau = float(np.exp(log_tau))
        if not np.isfinite(s_log) or s_log > 1.0:
            return f"{name} is not determined by the data (the fit's uncertainty exceeds it)"
        if not abs(c) > 2.0 * s_c:
            return f"the {name} term is not significant: the data support one time constant"
        if tau < x.min() / 10.0 or tau > x.max() * 10.0:
            return (f"{name} = {tau:.3g} lies more than a decade outside the measured range "
                    f"{x.min():.3g}–{x.max():.3g}")
    if terms[1][0] - terms[0][0] < np.log(1.5):
        return "τ1 and τ2 coincide: the data support one time constant"
    return ""


@dataclass(frozen=True)
class StretchedFit:
    """G(t) = G∞ + ΔG·exp(−(t/τ)^β)."""

    g_inf: Estimate
    dg: Estimate
    tau: Estimate
    beta: Estimate

    @property
    def ok(self) -> bool:
        return all(e.ok for e in (self.g_inf, self.dg, self.tau, self.beta))

    def curve(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        return self.g_inf.value + self.dg.value * np.exp(-(t / self.tau.value) ** self.beta.value)


def _stretched(t: np.ndarray, g: float, dg: float, log_tau: float, beta: float) -> np.ndarray:
    return g + dg * np.exp(-(t / np.exp(log_tau)) ** beta)


def fit_stretched_exponential(t: np.ndarray, g: np.ndarray, unit: str = "S") -> StretchedFit:
    """Least-squares stretched exponential of a relaxation, β in [0.1, 2]; missing with the
    reason when the data are too few, constant or the fit does not converge."""
    t, g = np.asarray(t, float), np.asarray(g, float)
    keep = np.isfinite(t) & np.isfinite(g) & (t > 0)
    t, g = t[keep], g[keep]

    def missing(reason: str) -> StretchedFit:
        return StretchedFit(*(Estimate.missing(u, reason) for u in (unit, unit, "s", "")))

    if t.size < MIN_POINTS:
        return missing(f"only {t.size} finite points")
    if np.ptp(g) == 0:
        return missing("constant data: nothing decays")
    order = np.argsort(t)
    t, g = t[order], g[order]
    g_inf, dg = float(g[-3:].mean()), float(g[:3].mean() - g[-3:].mean())
    half = t[np.argmin(np.abs(g - (g_inf + dg / 2)))]
    p0 = [g_inf, dg, np.log(half), 0.7]
    bounds = ([-np.inf, -np.inf, np.log(t.min() / 100), 0.1],
              [np.inf, np.inf, np.log(t.max() * 100), 2.0])
    try:
        popt, pcov = curve_fit(_stretched, t, g, p0=p0, bounds=bounds, maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        return missing(f"the fit did not converge ({exc})")
    s = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.full(4, np.inf)
    if not np.all(np.isfinite(s)) or s[2] > 1.0:
        return missing("τ is not determined by the data")
    tau = float(np.exp(popt[2]))
    return StretchedFit(Estimate(float(popt[0]), float(s[0]), unit),
                        Estimate(float(popt[1]), float(s[1]), unit),
                        Estimate(tau, tau * float(s[2]), "s"),
                        Estimate(float(popt[3]), float(s[3]), ""))


def rate_dependence(interval: np.ndarray, dg_last: np.ndarray, noise: float
                    ) -> dict[str, Estimate]:
    """SRDP: ΔG after the train at the fastest and slowest rate (mean ± s.e. over repeats) and
    their ratio, the rate gain."""
    interval, dg_last = np.asarray(interval, float), np.asarray(dg_last, float)
    finite = np.isfinite(interval) & np.isfinite(dg_last)
    if not finite.any():
        return {k: Estimate.missing(u, "no finite train response")
                for k, u in (("dg_fast", "S"), ("dg_slow", "S"), ("rate_gain", ""))}
    fast = mean_response(dg_last[interval == interval[finite].min()], "S", noise,
                         "response at the fastest rate")
    slow = mean_response(dg_last[interval == interval[finite].max()], "S", noise,
                         "response at the slowest rate")
    return {"dg_fast": fast, "dg_slow": slow, "rate_gain": _ratio(fast, slow)}


def number_dependence(count: np.ndarray, dg_last: np.ndarray, noise: float
                      ) -> dict[str, Estimate]:
    """SNDP: ΔG after one pulse and after the longest train, and their ratio."""
    count, dg_last = np.asarray(count, float), np.asarray(dg_last, float)
    finite = np.isfinite(count) & np.isfinite(dg_last)
    if not finite.any():
        return {k: Estimate.missing(u, "no finite train response")
                for k, u in (("dg_single", "S"), ("dg_longest", "S"), ("number_gain", ""))}
    single = mean_response(dg_last[count == count[finite].min()], "S", noise,
                           "response to the shortest train")
    longest = mean_response(dg_last[count == count[finite].max()], "S", noise,
                            "response to the longest train")
    return {"dg_single": single, "dg_longest": longest, "number_gain": _ratio(longest, single)}


def _ratio(top: Estimate, bottom: Estimate) -> Estimate:
    if not (top.ok and bottom.ok):
        return Estimate.missing("", top.reason or bottom.reason)
    value = top.value / bottom.value
    rel = np.hypot((top.uncertainty or 0.0) / top.value, (bottom.uncertainty or 0.0) / bottom.value)
    known = top.uncertainty is not None and bottom.uncertainty is not None
    return Estimate(float(value), float(abs(value) * rel) if known else None, "")
