"""Retention: conductance drift fits, failure time, Arrhenius fit and lifetime extrapolation.

Drift form (`fit_drift`): the window above the HRS floor decays as a power law with an onset,

    G(t) − G_floor = A·(1 + t/τ)^(−ν),

which is the simulator's own law (w_eff = w·((t + t0)/t0)^(−ν) with the drift clock sped up by
Arrhenius, so τ = t0 / acceleration and G = G_off + (G_on − G_off)·w_eff). It is fitted to
ln(G − G_floor) by least squares (uncertainties from the covariance). Fitting G itself, or a
pure power law G0·(t/t0)^(−ν), biases ν low: the floor is a constant the power law must bend
around, and the onset flattens early reads. Where τ cannot be resolved (the onset lies before
the first read, or the data are too flat) the pure power law (τ → 0) is reported instead.

Failure (`failure_time`): the first time the conductance has moved by more than `max_change`
of a reference (the as-programmed read), or the ratio to the floor has fallen below
`min_ratio` (reads at one time are averaged first). With a small drift exponent the score
creeps slowly in log time (ν = 0.02: 0.3 % of read noise moves ln t_fail by ~0.2), so the
crossing is not taken from the two bracketing reads alone: the score is fitted by a straight
line in ln t over the reads within ±1 decade of the bracketing crossing, and the crossing of
that line is reported (the bracketing interpolation where that fit is not possible). The
uncertainty combines the fit's covariance with that of the reference.

Arrhenius: t_fail = τ0·exp(E_a / k_B T), fitted as ln t_fail against 1/k_B T; with `groups`
(one label per device) each device has its own τ0 and the fit takes E_a from the spread within
devices only (device-to-device windows shift ln t_fail, not its slope).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from .result import Estimate

K_B_EV = 8.617333262e-5
SECONDS_PER_YEAR = 365.25 * 86400.0
MIN_POINTS = 4
DEAD_S = 1e-10  # S: below this (10 GΩ) a state reads as no device at all

__all__ = ["ArrheniusFit", "DriftFit", "Lifetime", "StretchedFit", "arrhenius_from_results",
           "extrapolate_lifetime", "failure_time", "fit_arrhenius", "fit_drift",
           "fit_stretched_exponential", "read_times"]


def read_times(t_min: float, t_max: float, points: int, spacing: str = "log") -> np.ndarray:
    """Times since programming at which to read: log- or linearly spaced, both ends included."""
    if spacing == "log":
        return np.geomspace(t_min, t_max, points)
    return np.linspace(t_min, t_max, points)


def _finite(t: Any, g: Any) -> tuple[np.ndarray, np.ndarray]:
    t, g = np.asarray(t, dtype=float), np.asarray(g, dtype=float)
    keep = np.isfinite(t) & np.isfinite(g) & (t > 0)
    return t[keep], g[keep]


def _degenerate(t: np.ndarray, g: np.ndarray, unit: str) -> Estimate | None:
    """Why there is nothing to fit, or None."""
    if t.size < MIN_POINTS:
        return Estimate.missing(unit, f"only {t.size} finite reads")
    if np.all(np.abs(g) < DEAD_S):
        return Estimate.missing(unit, f"the conductance reads below {DEAD_S:g} S: dead or open "
                                "device")
    if np.ptp(g) == 0:
        return Estimate.missing(unit, f"all {g.size} reads are identical: constant replies "
                                "carry no drift")
    if np.unique(t).size < 3:
        return Estimate.missing(unit, "fewer than 3 distinct read times")
    return None


@dataclass(frozen=True)
class DriftFit:
    """G(t) = floor + A·(1 + t/τ)^(−ν); `form` is "onset" or "power law" (τ → 0, A at 1 s)."""

    nu: Estimate
    amplitude: Estimate  # S, the window above the floor at t = 0 (at t = 1 s for a power law)
    tau: Estimate  # s, drift onset
    floor: float
    form: str

    def curve(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if not (self.nu.ok and self.amplitude.ok):
            return np.full(t.shape, np.nan)
        base = 1.0 + t / self.tau.value if self.form == "onset" and self.tau.ok else t
        return self.floor + self.amplitude.value * base ** (-self.nu.value)


def fit_drift(t: Any, g: Any, floor: float | None = None) -> DriftFit:
    """Fit the drift of one state's reads (t since programming, G in S) above `floor`."""
    t, g = _finite(t, g)
    floor = 0.0 if floor is None or not math.isfinite(floor) else float(floor)
    why = _degenerate(t, g, "")
    if why is None:
        above = g - floor > 0
        if above.sum() < MIN_POINTS:
            why = Estimate.missing("", f"only {int(above.sum())} reads lie above the floor "
                                   f"{floor:.3g} S")
        t, g = t[above], g[above]
    if why is not None:
        missing = lambda unit: Estimate.missing(unit, why.reason)  # noqa: E731
        return DriftFit(missing(""), missing("S"), missing("s"), floor, "none")
    x, y = np.log(t), np.log(g - floor)
    onset = _onset_fit(x, y)
    if onset is not None:
        (ln_a, nu, ln_tau), cov = onset
        sd = np.sqrt(np.diag(cov))
        return DriftFit(Estimate(nu, sd[1], ""), Estimate(math.exp(ln_a), math.exp(ln_a) * sd[0],
                                                          "S"),
                        Estimate(math.exp(ln_tau), math.exp(ln_tau) * sd[2], "s"), floor,
                        "onset")
    (slope, intercept), cov = np.polyfit(x, y, 1, cov=True)
    sd = np.sqrt(np.diag(cov))
    return DriftFit(Estimate(-slope, sd[0], ""), Estimate(math.exp(intercept),
                                                          math.exp(intercept) * sd[1], "S"),
                    Estimate.missing("s", "drift onset before the first read: pure power law"),
                    floor, "power law")


def _onset_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """ln ΔG = ln A − ν·ln(1 + t/τ) in (ln A, ν, ln τ); None unless τ is resolved."""
    def model(x: np.ndarray, ln_a: float, nu: float, ln_tau: float) -> np.ndarray:
        return ln_a - nu * np.logaddexp(0.0, x - ln_tau)

    slope = -np.polyfit(x, y, 1)[0]
    best: tuple[np.ndarray, np.ndarray] | None = None
    best_cost = math.inf
    for ln_tau in np.linspace(x.min() - 1.0, x.max() - 1.0, 5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                p, cov = curve_fit(model, x, y, p0=(y[np.argmin(x)], max(slope, 1e-4), ln_tau),
                                   bounds=((-np.inf, 0.0, x.min() - 12.0),
                                           (np.inf, 5.0, x.max() + 5.0)), maxfev=4000)
        except (RuntimeError, ValueError):
            continue
        cost = float(np.sum((model(x, *p) - y) ** 2))
        if cost < best_cost and np.all(np.isfinite(cov)):
            best, best_cost = (p, cov), cost
    if best is None:
        return None
    p, cov = best
    tau_sd = math.sqrt(cov[2, 2])
    resolved = x.min() - 3.0 < p[2] < x.max() and tau_sd < 1.5 and cov[1, 1] ** 0.5 < p[1]
    return best if resolved else None


@dataclass(frozen=True)
class StretchedFit:
    """G(t) = G∞ + ΔG·exp(−(t/τ)^β)."""

    g_inf: Estimate
    delta_g: Estimate
    tau: Estimate
    beta: Estimate

    def curve(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if not all(e.ok for e in (self.g_inf, self.delta_g, self.tau, self.beta)):
            return np.full(t.shape, np.nan)
        return self.g_inf.value + self.delta_g.value * np.exp(
            -(t / self.tau.value) ** self.beta.value)


def fit_stretched_exponential(t: Any, g: Any) -> StretchedFit:
    """Fit a stretched exponential (volatile states); missing where G did not relax."""
    t, g = _finite(t, g)
    why = _degenerate(t, g, "")
    if why is None:
        first, last = g[t <= np.quantile(t, 0.2)].mean(), g[t >= np.quantile(t, 0.8)].mean()
        scatter = np.std(np.diff(g)) / math.sqrt(2.0)
        if abs(first - last) < 3.0 * scatter:
            why = Estimate.missing("", "no relaxation: the conductance moved less than 3× the "
                                   "read noise")
    if why is not None:
        m = lambda unit: Estimate.missing(unit, why.reason)  # noqa: E731
        return StretchedFit(m("S"), m("S"), m("s"), m(""))
    scale = max(abs(first), abs(last), 1e-300)

    def model(t: np.ndarray, g_inf: float, dg: float, ln_tau: float, beta: float) -> np.ndarray:
        return g_inf + dg * np.exp(-np.exp(beta * (np.log(t) - ln_tau)))

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            p, cov = curve_fit(model, t, g / scale,
                               p0=(last / scale, (first - last) / scale,
                                   float(np.mean(np.log(t))), 0.5),
                               bounds=((-np.inf, -np.inf, math.log(t.min()) - 10, 0.01),
                                       (np.inf, np.inf, math.log(t.max()) + 10, 3.0)),
                               maxfev=8000)
    except (RuntimeError, ValueError) as exc:
        reason = f"stretched exponential did not converge: {exc}"
        m = lambda unit: Estimate.missing(unit, reason)  # noqa: E731
        return StretchedFit(m("S"), m("S"), m("s"), m(""))
    sd = np.sqrt(np.diag(cov)) if np.all(np.isfinite(cov)) else np.full(4, np.nan)
    return StretchedFit(Estimate(p[0] * scale, sd[0] * scale, "S"),
                        Estimate(p[1] * scale, sd[1] * scale, "S"),
                        Estimate(math.exp(p[2]), math.exp(p[2]) * sd[2], "s"),
                        Estimate(p[3], sd[3], ""))


def _by_time(t: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean G and its standard error per distinct read time (times rounded to 1e-6 relative)."""
    keys = np.round(np.log(t), 6)
    order = np.unique(keys)
    mean = np.array([g[keys == k].mean() for k in order])
    sem = np.array([g[keys == k].std(ddof=1) / math.sqrt((keys == k).sum())
                    if (keys == k).sum() > 1 else np.nan for k in order])
    return np.exp(order), mean, sem


def failure_time(t: Any, g: Any, reference: float | None = None, max_change: float = 0.1,
                 floor: float | None = None, min_ratio: float | None = None,
                 reference_uncertainty: float | None = None) -> Estimate:
    """When the state failed: |G − reference| > max_change·reference (reference: the first
    read if not given), or G/floor < min_ratio if both are given; located by a local fit in
    ln t (see the module docstring). `reference_uncertainty` (S) widens the uncertainty."""
    t, g = _finite(t, g)
    why = _degenerate(t, g, "s")
    if why is not None:
        return why
    times, mean, sem = _by_time(t, g)
    ref_sd = 0.0
    if min_ratio is not None and floor is not None and floor > 0:
        score, limit, what = mean / floor, float(min_ratio), f"G/G_floor below {min_ratio:g}"
        failed = score < limit
    else:
        ref = float(mean[0] if reference is None or not math.isfinite(reference) else reference)
        if ref == 0:
            return Estimate.missing("s", "the reference read is 0 S")
        score, limit = np.abs(mean - ref) / abs(ref), float(max_change)
        what = f"G moved more than {100 * max_change:g} %"
        failed = score > limit
        if reference_uncertainty is not None and math.isfinite(reference_uncertainty):
            ref_sd = abs(reference_uncertainty / ref)
    if not failed.any():
        moved = (f"G/G_floor stayed above {np.min(score):.3g}" if min_ratio is not None and
                 floor else f"G moved at most {100 * np.max(score):.2g} %")
        return Estimate.missing("s", f"did not fail by {times[-1]:.3g} s ({moved})")
    i = int(np.argmax(failed))
    ref_sd *= abs(mean[i] / ref) if ref_sd else 0.0
    if i == 0:
        return Estimate(float(times[0]), None, "s", f"failed ({what}) by the first read")
    s0, s1 = score[i - 1], score[i]
    f = (limit - s0) / (s1 - s0) if s1 != s0 else 1.0
    x0, x1 = math.log(times[i - 1]), math.log(times[i])
    bracket = x0 + f * (x1 - x0)
    local = _local_crossing(np.log(times), score, limit, bracket, ref_sd)
    if local is not None:
        return Estimate(math.exp(local[0]), math.exp(local[0]) * local[1], "s",
                        f"{what} (local fit in ln t)")
    value = math.exp(bracket)
    slope = abs(s1 - s0) / (x1 - x0)
    pair = sem[i - 1:i + 1]
    scale = abs(floor) if min_ratio is not None and floor else abs(ref)
    noise = float(np.mean(pair)) / scale if np.isfinite(pair).all() else math.nan
    noise = math.hypot(noise, ref_sd)
    sd = value * noise / slope if slope > 0 and math.isfinite(noise) else None
    return Estimate(value, sd, "s", what)


def _local_crossing(x: np.ndarray, score: np.ndarray, limit: float, near: float,
                    ref_sd: float, half_width: float = math.log(10.0)
                    ) -> tuple[float, float] | None:
    """ln t where a line fitted to score(ln t) within ±half_width of `near` reaches `limit`,
    and its standard deviation; None with fewer than 5 reads there or a line that does not
    cross monotonically inside them."""
    keep = np.abs(x - near) <= half_width
    if keep.sum() < 5:
        return None
    (slope, intercept), cov = np.polyfit(x[keep] - near, score[keep], 1, cov=True)
    if slope == 0 or not np.all(np.isfinite(cov)):
        return None
    dx = (limit - intercept) / slope
    if not x[keep].min() <= near + dx <= x[keep].max() or (score[-1] - score[0]) * slope < 0:
        return None
    grad = np.array([-dx / slope, -1.0 / slope])
    var = float(grad @ cov @ grad) + (ref_sd / slope) ** 2
    return near + dx, math.sqrt(max(var, 0.0))


@dataclass(frozen=True)
class ArrheniusFit:
    """ln t_fail = ln τ0 + E_a / (k_B T); `cov` is that of (E_a, ln τ0)."""

    ea: Estimate  # eV
    tau0: Estimate  # s
    cov: np.ndarray | None
    points: int

    def ln_lifetime(self, temperature_k: float) -> tuple[float, float | None]:
        x = 1.0 / (K_B_EV * temperature_k)
        value = math.log(self.tau0.value) + self.ea.value * x
        if self.cov is None:
            return value, None
        var = self.cov[0, 0] * x * x + self.cov[1, 1] + 2.0 * x * self.cov[0, 1]
        return value, math.sqrt(max(var, 0.0))


def fit_arrhenius(temperatures_k: Any, t_fail: Any, groups: Any = None) -> ArrheniusFit:
    """E_a (eV) and τ0 (s) from failure times at several temperatures (least squares); with
    `groups` (a label per point, e.g. the device) one τ0 per group, reported as their
    geometric mean."""
    temps, times = np.asarray(temperatures_k, dtype=float), np.asarray(t_fail, dtype=float)
    labels = np.zeros(temps.size, dtype=int) if groups is None else np.unique(
        np.asarray(groups).astype(str), return_inverse=True)[1].ravel()
    keep = np.isfinite(temps) & np.isfinite(times) & (temps > 0) & (times > 0)
    temps, times, labels = temps[keep], times[keep], labels[keep]
    used = np.unique(labels)
    reason = ""
    if temps.size < used.size + 2:
        reason = f"only {temps.size} finite failure times (need {used.size + 2})"
    elif np.unique(np.round(temps, 3)).size < 2:
        reason = "all failure times at one temperature"
    if reason:
        return ArrheniusFit(Estimate.missing("eV", reason), Estimate.missing("s", reason),
                            None, int(temps.size))
    x, y = 1.0 / (K_B_EV * temps), np.log(times)
    design = np.column_stack([x] + [(labels == g).astype(float) for g in used])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    full = np.linalg.pinv(design.T @ design) * float(residual @ residual) / (
        x.size - design.shape[1])
    mix = np.zeros((2, design.shape[1]))
    mix[0, 0], mix[1, 1:] = 1.0, 1.0 / used.size
    cov = mix @ full @ mix.T
    ea, ln_tau0 = float(coef[0]), float(coef[1:].mean())
    sd = np.sqrt(np.diag(cov))
    return ArrheniusFit(Estimate(ea, float(sd[0]), "eV"),
                        Estimate(math.exp(ln_tau0), math.exp(ln_tau0) * float(sd[1]), "s"),
                        np.asarray(cov), int(temps.size))


@dataclass(frozen=True)
class Lifetime:
    t_fail: Estimate  # s at the temperature
    years: float
    passes: bool | None  # None: no fit to say


def extrapolate_lifetime(fit: ArrheniusFit, temperature_k: float, years: float = 10.0
                         ) -> Lifetime:
    """Time to failure at `temperature_k` from an Arrhenius fit, and whether it exceeds
    `years` (judged on the value; the uncertainty is that of the fit at that temperature)."""
    if not (fit.ea.ok and fit.tau0.ok):
        return Lifetime(Estimate.missing("s", fit.ea.reason or fit.tau0.reason), years, None)
    ln_t, ln_sd = fit.ln_lifetime(temperature_k)
    value = math.exp(min(ln_t, 700.0))
    sd = value * ln_sd if ln_sd is not None else None
    return Lifetime(Estimate(value, sd, "s", f"at {temperature_k:g} K"), years,
                    bool(value >= years * SECONDS_PER_YEAR))


def _number(value: Any) -> float:
    if isinstance(value, Estimate):
        return float(value.value) if value.ok else math.nan
    return math.nan if value is None else float(value)


def arrhenius_from_results(results: Iterable[Any], groups: Any = None) -> ArrheniusFit:
    """The Arrhenius fit across retention runs: each result is a mapping or has `.figures`
    with "temperature" (K) and "t_fail" (s), as Estimates or numbers; missing ones are left
    out (a fit on too few says how many were usable). `groups`: see `fit_arrhenius`."""
    temps, times = [], []
    for result in results:
        figures: Mapping[str, Any] = getattr(result, "figures", result)
        temps.append(_number(figures.get("temperature")))
        times.append(_number(figures.get("t_fail")))
    return fit_arrhenius(temps, times, groups)
