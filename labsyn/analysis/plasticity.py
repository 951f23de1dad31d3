"""LTP/LTD analysis: NeuroSim nonlinearity (A, label), saturation (states), window, asymmetry,
cycle-to-cycle noise and energy per pulse.

NeuroSim's branch model (reference §3): G(P) = G0 + B·(1 - exp(-P/A)); potentiation with B > 0,
depression (mirrored, pulses counted from G_max) with B < 0. NeuroSim states the LTD label and A
with a negative sign; so do `fit_branch` results for depression.

Label <-> A/P_max: NeuroSim's `getParamA` table is reproduced by label = D/0.099, where D is the
largest deviation of the normalised curve (1 - e^(-x/a))/(1 - e^(-1/a)) above the line x on
0 <= x <= 1 (a = A/P_max). It matches the published anchors (2.4 -> 0.499, 4.88 -> 0.200, ...)
within 0.3 %; `a_norm_from_label` inverts it numerically (monotone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize

from .result import Estimate

_SCALE = 0.099
SOFT_NOTE = ("no hard bound in view: states counted until G is within one read σ of its "
             "asymptote")


def label_from_a_norm(a_norm: float) -> float:
    """NeuroSim nonlinearity label of normalised A (sign carried through)."""
    a = abs(float(a_norm))
    if not a > 0 or not math.isfinite(a):
        raise ValueError(f"normalised A must be finite and nonzero, got {a_norm!r}")
    e = -math.expm1(-1.0 / a)
    x = min(max(-a * math.log(a * e), 0.0), 1.0)
    deviation = -math.expm1(-x / a) / e - x
    return math.copysign(deviation / _SCALE, a_norm)


def a_norm_from_label(label: float) -> float:
    """Normalised A = A/P_max for a NeuroSim label in [0.01, 9] (negative for LTD)."""
    size = abs(float(label))
    if not 0.001 <= size <= 9.5:
        raise ValueError(f"NeuroSim labels run 0.01..9 in magnitude, got {label!r}")
    root = brentq(lambda u: label_from_a_norm(math.exp(u)) - size, math.log(0.01),
                  math.log(2000.0), xtol=1e-12)
    return math.copysign(math.exp(root), label)


def neurosim_curve(pulses: np.ndarray, g0: float, b: float, a: float) -> np.ndarray:
    """G0 + B·(1 - exp(-P/A))."""
    return g0 + b * -np.expm1(-np.asarray(pulses, dtype=float) / a)


@dataclass
class BranchFit:
    """One branch (LTP or LTD) over all cycles."""

    direction: int  # +1 potentiation, -1 depression
    a: Estimate  # pulses (negative for LTD, NeuroSim's sign)
    p_max: Estimate  # pulses from start to saturation: the number of states
    a_norm: Estimate  # A/P_max
    label: Estimate  # NeuroSim NL label
    g_start: Estimate  # S, fitted G at pulse 0
    g_end: Estimate  # S, fitted G at saturation (plateau)
    saturated: bool = False
    reason: str = ""
    params: tuple[float, float, float] | None = None  # g0, b, |A| of the fit
    break_pulse: int = 0  # last pulse on the curved part
    p_break: float = 0.0  # fitted P_max (continuous)
    residual_sigma: float = math.nan  # S, per-pulse residual of the step model
    read_sigma: float = math.nan  # S, read noise estimated on the plateau
    c2c: Estimate = field(default_factory=lambda: Estimate.missing("", "not computed"))
    bound: str = "hard"  # "soft": no kink; states counted until G is within one read σ of
    #                      the asymptote (further pulses give no distinguishable state)

    @property
    def ok(self) -> bool:
        return self.params is not None

    def curve(self, pulses: np.ndarray) -> np.ndarray:
        """The fitted curve, constant beyond the saturation pulse."""
        if self.params is None:
            return np.full(np.shape(pulses), np.nan)
        g0, b, a = self.params
        return neurosim_curve(np.minimum(pulses, self.p_break), g0, b, a)


def _missing_branch(direction: int, reason: str) -> BranchFit:
    m = Estimate.missing
    return BranchFit(direction, m("pulses", reason), m("pulses", reason), m("", reason),
                     m("", reason), m("S", reason), m("S", reason), reason=reason,
                     c2c=m("", reason))


def _noise_floor(table: np.ndarray) -> float:
    """Robust read-noise scale (S) from pulse-to-pulse differences of each cycle."""
    diffs = np.diff(table, axis=1)
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / math.sqrt(2.0))


def _cycle_sse(n: np.ndarray, y: np.ndarray, weight: np.ndarray, breaks: np.ndarray,
               a_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted SSE, summed over cycles, of "G0_c + B_c·(1 - e^(-min(P, P_max)/A))" with each
    cycle's own (G0_c, B_c) (its levels vary cycle to cycle) for each break P_max and A; also
    G0_c and B_c (break x A x cycle)."""
    y0 = np.where(np.isfinite(y), y, 0.0)
    x = np.minimum(n[None, None, :], breaks[:, None, None])
    f = -np.expm1(-x / a_grid[None, :, None])
    yw = weight * y0
    sw = np.maximum(weight.sum(axis=1), 1e-300)
    fm = (f @ weight.T) / sw
    ym = yw.sum(axis=1) / sw
    cff = (f * f) @ weight.T - sw * fm * fm
    cfy = f @ yw.T - sw * fm * ym
    cyy = (yw * y0).sum(axis=1) - sw * ym * ym
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(cff > 0, cfy / cff, 0.0)
    return (cyy - b * cfy).sum(axis=-1), ym - b * fm, b


def _half_width(grid: np.ndarray, profile: np.ndarray, limit: float) -> float:
    inside = grid[profile <= limit]
    return float(inside.max() - inside.min()) / 2.0 if inside.size else 0.0


def _profile(n: np.ndarray, y: np.ndarray, weight: np.ndarray, n_pulses: int
             ) -> tuple[float, float, float, float, np.ndarray, np.ndarray]:
    """Least squares over integer break pulses x a wide grid of A, then a fine scan (0.02
    pulses, 1 % in A) around the best. Returns P_max, A, their half-widths where the SSE rises
    by one residual variance, and each cycle's G0_c and B_c."""
    dof = max(int(np.isfinite(y).sum()) - 2 * y.shape[0] - 2, 1)
    breaks = np.arange(2, n_pulses + 1, max(1, n_pulses // 60), dtype=float)  # the fine scan
    # below re-centres by up to 3 pulses a time, so a coarse first grid of <= 6 pulses is enough
    a_grid = np.geomspace(0.005, 500.0, 120) * n_pulses
    sse = _cycle_sse(n, y, weight, breaks, a_grid)[0]
    ib, ia = np.unravel_index(int(np.nanargmin(sse)), sse.shape)
    p_best, a_best = float(breaks[ib]), float(a_grid[ia])
    for _ in range(6):  # re-centre the fine scan until its best lies inside it
        fine_b = np.clip(p_best + np.arange(-3.0, 3.0001, 0.05), 1.0, float(n_pulses))
        fine_a = a_best * np.geomspace(1 / 1.12, 1.12, 23)
        fine, g0, b = _cycle_sse(n, y, weight, fine_b, fine_a)
        jb, ja = np.unravel_index(int(np.nanargmin(fine)), fine.shape)
        edge = jb in (0, len(fine_b) - 1) or ja in (0, len(fine_a) - 1)
        p_best, a_best = float(fine_b[jb]), float(fine_a[ja])
        if not edge:
            break
    best = float(fine[jb, ja])

    def sse_at(u: np.ndarray) -> float:
        pb = float(np.clip(u[0], 1.0, n_pulses))
        return float(_cycle_sse(n, y, weight, np.array([pb]), np.array([math.exp(u[1])]))[0][0, 0])

    polish = minimize(sse_at, np.array([p_best, math.log(a_best)]), method="Nelder-Mead",
                      options={"xatol": 1e-2, "fatol": 1e-9 * best, "maxiter": 120})
    if polish.fun < best:
        p_best, a_best = float(np.clip(polish.x[0], 1.0, n_pulses)), math.exp(polish.x[1])
        best, g0_c, b_c = _cycle_sse(n, y, weight, np.array([p_best]), np.array([a_best]))
        best, g0_best, b_best = float(best[0, 0]), g0_c[0, 0], b_c[0, 0]
    else:
        g0_best, b_best = g0[jb, ja], b[jb, ja]
    limit = best + max(best / dof, 1e-300)
    p_half = max(_half_width(breaks, np.nanmin(sse, axis=1), limit),
                 _half_width(fine_b, np.nanmin(fine, axis=1), limit))
    a_half = max(_half_width(a_grid, np.nanmin(sse, axis=0), limit),
                 _half_width(fine_a, np.nanmin(fine, axis=0), limit))
    return p_best, a_best, p_half, a_half, g0_best, b_best


def _kink_visibility(a: float, p_max: float, b: float, sigma_mean: float,
                     fraction: float) -> float:
    """How many σ of the cycle-mean read noise separate the curve from its plateau over the
    last `fraction` of the pulses before P_max (root of the summed squared distances)."""
    if not sigma_mean > 0:
        return math.inf
    p = np.arange(max(math.floor((1.0 - fraction) * p_max), 0), math.floor(p_max) + 1.0)
    distance = b * (np.exp(-p / a) - math.exp(-p_max / a))
    return float(math.sqrt(np.sum((distance / sigma_mean) ** 2)))


def _soft_bound(a: float, a_err: float, b: float, read_sigma: float, n_pulses: int
                ) -> tuple[float, float, float] | None:
    """A soft-bounded branch (G → asymptote, no hard bound in view): the pulses until the
    remaining change |B|·e^(-P/A) falls below one read σ, its uncertainty, and the fraction of
    B reached there; None if the train ended before that or nothing can be said."""
    if not (read_sigma > 0 and b > read_sigma and a > 0):
        return None
    p_sat = a * math.log(b / read_sigma)
    if p_sat > n_pulses:
        return None
    return p_sat, max(p_sat * a_err / a, 0.5), -math.expm1(-p_sat / a)


def fit_branch(table: np.ndarray, direction: int, tolerance: float = 0.1) -> BranchFit:
    """Fit one branch: `table[cycle, i]` is G (S) read after pulse i + 1 of that cycle.

    One joint least-squares fit over all cycles of NeuroSim's curve up to a break pulse P_max
    (continuous), then flat at G(P_max) (the device's hard bound): A and P_max shared, G0 and
    B per cycle (levels vary cycle to cycle), reads weighted by their relative noise. The
    plateau level constrains P_max through B = W/(1 - e^(-P_max/A)). Grid scan, then a
    Nelder-Mead polish; uncertainties of A and P_max from the SSE profile (rise of one
    residual variance), of the levels from their cycle-to-cycle spread. P_max (and A/P_max,
    the label) is flagged not identifiable when its profile width exceeds `tolerance`/2 or
    when the curve over the last `tolerance` of the pulses before P_max stands less than 3 σ
    of the cycle-mean read noise above the plateau (|label| ≳ 6: e^(-P_max/A) ≲ 1e-4).
    A soft-bounded device (no kink: the best break sits at the end of a train over which G has
    converged) gets `bound = "soft"` and P_max = the pulses until G is within one read σ of
    its asymptote, A·ln(|B|/σ).
    """
    table = np.atleast_2d(np.asarray(table, dtype=float))
    finite = np.isfinite(table)
    if finite.sum() < 6:
        return _missing_branch(direction, f"only {int(finite.sum())} finite reads")
    n_pulses = table.shape[1]
    n = np.arange(1, n_pulses + 1, dtype=float)
    count = finite.sum(axis=0).astype(float)
    mean = np.divide(np.where(finite, table, 0.0).sum(axis=0), count,
                     out=np.full(n_pulses, np.nan), where=count > 0)
    noise = _noise_floor(table)
    ends = mean[np.isfinite(mean)]
    k = max(3, len(ends) // 10)
    move = float(np.mean(ends[-k:]) - np.mean(ends[:k]))
    if not abs(move) > 6.0 * noise * math.sqrt(2.0 / (k * table.shape[0])) or move == 0.0:
        return _missing_branch(direction, "no switching: the conductance never moved by more "
                                          "than the read noise")
    if move * direction <= 0:
        word = "potentiation" if direction > 0 else "depression"
        return _missing_branch(direction, f"the conductance moved the wrong way during {word}")
    sign = float(direction)
    scale = np.maximum(np.abs(np.nan_to_num(mean)), 0.01 * float(np.nanmax(np.abs(mean))))
    weight = np.where(finite, 1.0 / scale[None, :] ** 2, 0.0)  # read noise is relative
    y = sign * table
    p_max, a, p_half, a_half, g0_c, b_c = _profile(n, y, weight, n_pulses)
    cycles = np.isfinite(y).any(axis=1)
    g0_c, b_c = g0_c[cycles], b_c[cycles]
    reach = -math.expm1(-p_max / a)
    root_c = math.sqrt(max(int(cycles.sum()), 1))
    y0, b = float(np.mean(g0_c)), float(np.mean(b_c))
    y_end = g0_c + b_c * reach
    g0_err = float(np.std(g0_c) / root_c) if cycles.sum() > 1 else None
    g_end_err = float(np.std(y_end) / root_c) if cycles.sum() > 1 else None
    g0, b_signed = sign * y0, sign * b
    p_err = max(p_half, 0.5)
    a_err = max(a_half, 0.005 * a)
    a_norm = a / p_max
    a_norm_err = a_norm * math.hypot(a_err / a, p_err / p_max)
    plateau = table[:, n > p_max]
    read_sigma = float(np.nanstd(plateau)) if np.isfinite(plateau).sum() > 2 else noise
    margin = max(3, n_pulses // 10)
    saturated = p_max + 2.0 * p_err <= n_pulses - margin
    kink = _kink_visibility(a, p_max, abs(b), read_sigma / root_c, tolerance)
    identifiable = p_err <= 0.5 * tolerance * p_max and kink >= 3.0
    bound = "hard"
    if p_max > n_pulses - margin:  # the best break is at the end of the train: no kink
        soft = _soft_bound(a, a_err, abs(b), noise, n_pulses)
        if soft is not None:  # ... but the curve has converged within the train
            p_max, p_err, reach = soft
            y_end = g0_c + b_c * reach
            g_end_err = float(np.std(y_end) / root_c) if cycles.sum() > 1 else None
            a_norm = a / p_max
            a_norm_err = a_norm * math.hypot(a_err / a, p_err / p_max)
            saturated, identifiable, bound = True, True, "soft"
    reason = ""
    if not identifiable:
        reason = (f"P_max is not identifiable from these reads: G approaches its bound as "
                  f"e^(-P/A) with A = {a:.3g} pulses, so the last {tolerance:.0%} of the "
                  f"pulses before saturation move G by less than the read noise (kink at "
                  f"{kink:.2g} σ of the cycle mean; fit: {p_max:.0f} ± {p_err:.2g} pulses); "
                  f"more cycles or a quieter read would narrow it")
    elif not saturated:
        reason = f"the branch never saturated within {n_pulses} pulses: give more pulses"
    try:
        label = label_from_a_norm(a_norm)
        step = max(a_norm_err, 1e-6 * a_norm) if math.isfinite(a_norm_err) else 0.5 * a_norm
        slope = (label_from_a_norm(a_norm + step) - label_from_a_norm(max(a_norm - step,
                                                                          1e-9))) / (2 * step)
        label_est = Estimate(sign * label, abs(slope) * a_norm_err, "")
    except ValueError as exc:
        label_est = Estimate.missing("", str(exc))
    fit = BranchFit(direction, Estimate(sign * a, a_err, "pulses"),
                    Estimate(p_max, p_err, "pulses", SOFT_NOTE if bound == "soft" else ""),
                    Estimate(sign * a_norm, a_norm_err, ""), label_est,
                    Estimate(g0, g0_err, "S"),
                    Estimate(sign * float(np.mean(y_end)), g_end_err, "S"),
                    saturated=saturated and identifiable, reason=reason,
                    params=(g0, b_signed, a), break_pulse=max(int(p_max), 1),
                    p_break=p_max, read_sigma=read_sigma, bound=bound)
    fit.c2c = _c2c(table, fit)
    return fit


def _c2c(table: np.ndarray, fit: BranchFit) -> Estimate:
    """σ(ΔG)/(G_max - G_min) per pulse: residuals of each step against the soft-bound step
    expected from the previous read. Read noise is included (an upper bound): on a clipped
    plateau it cannot be told apart from the C2C kicks."""
    g0, b, a = fit.params  # type: ignore[misc]
    g_inf = g0 + b
    decay = math.exp(-1.0 / a)
    curved = table[:, : fit.break_pulse]
    prev, now = curved[:, :-1], curved[:, 1:]
    resid = now - (g_inf - decay * (g_inf - prev))
    resid = resid[np.isfinite(resid)]
    window = abs(float(neurosim_curve(fit.p_break, g0, b, a)) - g0)
    if resid.size < 5 or window <= 0:
        return Estimate.missing("", f"only {resid.size} pulse-to-pulse steps to judge C2C")
    sigma = float(np.std(resid)) / window
    return Estimate(sigma, sigma / math.sqrt(2.0 * (resid.size - 1)) + 1e-12, "")


def asymmetry(ltp: BranchFit, ltd: BranchFit, points: int = 201) -> Estimate:
    """AR = max |g_LTP(x) - g_LTD,mirrored(x)| on the normalised axis (window fraction)."""
    if not (ltp.ok and ltd.ok):
        return Estimate.missing("", ltp.reason or ltd.reason or "a branch has no fit")
    x = np.linspace(0.0, 1.0, points)

    def shape(fit: BranchFit, a: float) -> np.ndarray:
        pulses = fit.p_break
        return -np.expm1(-x * pulses / a) / -math.expm1(-pulses / a)

    a_p, a_d = ltp.params[2], ltd.params[2]  # type: ignore[index]
    value = float(np.max(np.abs(shape(ltp, a_p) - (1.0 - shape(ltd, a_d)[::-1]))))
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(100):
        ap = a_p + (ltp.a.uncertainty or 0.0) * rng.standard_normal()
        ad = a_d + (ltd.a.uncertainty or 0.0) * rng.standard_normal()
        if ap > 0 and ad > 0:
            draws.append(float(np.max(np.abs(shape(ltp, ap) - (1 - shape(ltd, ad)[::-1])))))
    return Estimate(value, float(np.std(draws)) if draws else None, "")


def ratio(top: Estimate, bottom: Estimate, unit: str = "") -> Estimate:
    """top/bottom with relative errors in quadrature."""
    if not (top.ok and bottom.ok) or not bottom.value or bottom.value <= 0 or top.value <= 0:
        return Estimate.missing(unit, top.reason or bottom.reason or "G_min is not above zero")
    value = top.value / bottom.value
    rel = math.hypot((top.uncertainty or 0.0) / top.value,
                     (bottom.uncertainty or 0.0) / bottom.value)
    return Estimate(value, value * rel, unit)


def energy_per_pulse(voltage: np.ndarray, pulse_current: np.ndarray | None,
                     width: float) -> Estimate:
    """E ≈ V·I_pulse·t_pw from the current sampled at the pulse top (median over pulses)."""
    if pulse_current is None:
        return Estimate.missing("J", "this station did not sample the current at the pulse "
                                     "top (the read conductance cannot give the pulse energy)")
    e = np.abs(np.asarray(voltage, dtype=float) * np.asarray(pulse_current, dtype=float)) * width
    e = e[np.isfinite(e)]
    if e.size == 0:
        return Estimate.missing("J", "no finite pulse-top current")
    return Estimate(float(np.median(e)), float(np.std(e) / math.sqrt(e.size)), "J")
