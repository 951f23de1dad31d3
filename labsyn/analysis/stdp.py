"""STDP window: ΔG/G0 from reads before and after each spike pair, and the exponential fit
ΔG/G0 = A+·exp(−Δt/τ+) for Δt > 0, −A−·exp(Δt/τ−) for Δt < 0 (A± signed: a depressing
Δt > 0 branch gives A+ < 0). Uncertainties come from the fit covariance."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from .result import Estimate

__all__ = ["StdpWindow", "fit_stdp_window", "read_noise", "relative_change", "stdp_window"]

MIN_POINTS = 3  # per side: two parameters and one degree of freedom
NOISE_FACTOR = 3.0  # a change counts once it exceeds this many read-noise standard deviations


@dataclass(frozen=True)
class StdpWindow:
    a_plus: Estimate
    tau_plus: Estimate
    a_minus: Estimate
    tau_minus: Estimate

    @property
    def figures(self) -> dict[str, Estimate]:
        return {"a_plus": self.a_plus, "tau_plus": self.tau_plus, "a_minus": self.a_minus,
                "tau_minus": self.tau_minus}

    def curve(self, delta_t: np.ndarray) -> np.ndarray:
        """The fitted window at `delta_t` (NaN on a side that has no fit)."""
        def side(a: Estimate, tau: Estimate) -> tuple[float, float]:
            if a.value is None or tau.value is None or not (a.ok and tau.ok):
                return np.nan, np.nan
            return a.value, tau.value
        return stdp_window(np.asarray(delta_t, float), *side(self.a_plus, self.tau_plus),
                           *side(self.a_minus, self.tau_minus))


def stdp_window(delta_t: np.ndarray, a_plus: float, tau_plus: float, a_minus: float,
                tau_minus: float) -> np.ndarray:
    """A+·exp(−Δt/τ+) for Δt > 0, −A−·exp(Δt/τ−) for Δt < 0, NaN at Δt = 0."""
    dt = np.asarray(delta_t, float)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(dt > 0, a_plus * np.exp(-np.abs(dt) / tau_plus),
                        np.where(dt < 0, -a_minus * np.exp(-np.abs(dt) / tau_minus), np.nan))


def relative_change(before: np.ndarray, after: np.ndarray) -> tuple[float, float, float]:
    """(G0, G, ΔG/G0) from repeated conductance reads before and after one pair, and the
    standard deviation of that ΔG/G0 from the reads' own scatter (NaN when G0 is not > 0)."""
    g0_reads = np.asarray(before, float)
    g_reads = np.asarray(after, float)
    g0_reads, g_reads = g0_reads[np.isfinite(g0_reads)], g_reads[np.isfinite(g_reads)]
    if not len(g0_reads) or not len(g_reads):
        return np.nan, np.nan, np.nan
    g0, g = float(np.mean(g0_reads)), float(np.mean(g_reads))
    if not g0 > 0:
        return g0, g, np.nan
    return g0, g, (g - g0) / g0


def read_noise(before: np.ndarray, after: np.ndarray) -> float:
    """Standard deviation of one ΔG/G0 from the scatter of the reads either side (0 for one
    read each, NaN when G0 is not > 0)."""
    b, a = (np.asarray(x, float) for x in (before, after))
    b, a = b[np.isfinite(b)], a[np.isfinite(a)]
    if not len(b) or not len(a) or not np.mean(b) > 0:
        return np.nan
    spread = [np.var(x, ddof=1) / len(x) if len(x) > 1 else 0.0 for x in (b, a)]
    return float(np.sqrt(sum(spread)) / np.mean(b))


def fit_stdp_window(delta_t: np.ndarray, dg_rel: np.ndarray,
                    noise: np.ndarray | float | None = None) -> StdpWindow:
    """Fit each side of the window. `noise` (σ of each ΔG/G0) weights the fit and sets the
    floor below which no point counts as a change; a side with fewer than `MIN_POINTS` finite
    points, or no change beyond the noise, gets missing figures with the reason."""
    dt = np.asarray(delta_t, float)
    y = np.asarray(dg_rel, float)
    sigma = np.broadcast_to(np.asarray(np.nan if noise is None else noise, float), y.shape)
    plus = _fit_side(dt, y, sigma, positive=True)
    minus = _fit_side(dt, y, sigma, positive=False)
    return StdpWindow(*plus, *minus)


def _fit_side(dt: np.ndarray, y: np.ndarray, sigma: np.ndarray, positive: bool
              ) -> tuple[Estimate, Estimate]:
    side = "Δt > 0" if positive else "Δt < 0"
    keep = (dt > 0 if positive else dt < 0) & np.isfinite(dt) & np.isfinite(y)
    count = int(np.count_nonzero(keep))
    if count < MIN_POINTS:
        return _missing(f"only {count} finite ΔG/G0 point{'s' if count != 1 else ''} at {side} "
                        f"(a fit needs {MIN_POINTS})")
    x, v, s = np.abs(dt[keep]), y[keep], sigma[keep]
    floor = NOISE_FACTOR * np.where(np.isfinite(s), s, 0.0)
    moved = np.abs(v) > np.maximum(floor, 1e-9)
    if not moved.any():
        return _missing(f"no plasticity at {side}: ΔG/G0 never moved beyond the read noise")
    sign = 1.0 if np.sum(v[moved]) >= 0 else -1.0
    amplitude0, tau0 = _start(x[moved], sign * v[moved])
    weights = s if np.all(np.isfinite(s) & (s > 0)) else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, pcov = curve_fit(_decay, x, sign * v, p0=(amplitude0, tau0), sigma=weights,
                                   absolute_sigma=weights is not None,
                                   bounds=((0.0, 1e-3 * x.min()), (np.inf, 1e3 * x.max())),
                                   max_nfev=5000)
    except (RuntimeError, ValueError) as exc:
        return _missing(f"the exponential fit at {side} did not converge ({exc})")
    errors = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else (None, None)
    amplitude = sign * float(popt[0]) * (1.0 if positive else -1.0)  # A− is minus the branch
    tau = float(popt[1])
    if not 1e-3 * x.min() * 1.01 < tau < 1e3 * x.max() * 0.99:
        return _missing(f"the window at {side} has no decay within the measured Δt (τ ran to "
                        f"the fit bound {tau:.3g} s)")
    return (Estimate(amplitude, _finite(errors[0]), ""), Estimate(tau, _finite(errors[1]), "s"))


def _decay(x: np.ndarray, amplitude: float, tau: float) -> np.ndarray:
    return amplitude * np.exp(-x / tau)


def _start(x: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """Log-linear start values from the points that moved the branch's way."""
    good = v > 0
    if np.count_nonzero(good) >= 2 and np.ptp(x[good]) > 0:
        slope, intercept = np.polyfit(x[good], np.log(v[good]), 1)
        if slope < 0:
            return float(np.exp(intercept)), float(-1.0 / slope)
    return float(np.max(np.abs(v))), float(np.median(x))


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _missing(reason: str) -> tuple[Estimate, Estimate]:
    return Estimate.missing("", reason), Estimate.missing("s", reason)
