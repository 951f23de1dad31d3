"""Bipolar SET/RESET DC loops: V_set, V_reset, R_LRS, R_HRS and on/off per cycle, and statistics.

Detection (V_set on the positive up-sweep, V_reset on the negative down-sweep, device voltage
V − I·R_s, rows in compliance excluded):

- The branch switched if the resistance at ±v_read after it (the return) differs from before it
  (the outward sweep) by >= `MIN_WINDOW` (lower after a SET, higher after a RESET).
- The switching voltage is the *halfway point* of the largest current change: the largest
  per-row rise of |I| (SET) or fall (RESET), widened to the neighbouring rows changing by
  > 30 % of it, less the median change of the rows around it (the smooth I-V growth). Current at
  fixed V is near-linear in the filament state, so half the excess change is the state halfway
  (the simulator's w = 0.5). That half is done during the dwell of some row k, i.e. at its level
  V_k, while the current has gone a fraction f from I_(k-1) to I_k: V = V_k − I_f·R_s. (Reading
  the row-end device voltages instead puts it up to a step early; with a series resistance the
  device voltage jumps within the row as the current changes.) Per-row changes, not dI/dV_dev,
  because the series-corrected device voltage can step backwards.
- SET into compliance: if the up-sweep hit the current limit while its conductance was still
  below half of the return branch's at that voltage, the SET happened at that row: V_set is its
  level (previous |V| + step) less the previous current through R_s, as for forming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .forming import as_columns, checked_resistance, checked_step, constant_reason
from .result import Estimate

__all__ = ["MIN_WINDOW", "Statistic", "SwitchingCycle", "analyse_cycle", "split_loops",
           "switching_statistics"]

MIN_WINDOW = 1.5  # R ratio across a branch below which it did not switch
_REGION = 0.3  # neighbouring rows changing by more than this fraction of the largest belong to it
_SIDE = 5  # rows either side giving the background change


@dataclass(frozen=True)
class SwitchingCycle:
    """Figures of one bipolar loop (V signed: V_set > 0, V_reset < 0)."""

    cycle: int
    v_set: Estimate
    v_reset: Estimate
    r_lrs: Estimate
    r_hrs: Estimate
    on_off: Estimate


@dataclass(frozen=True)
class _Branch:
    """Outward and return rows of one polarity, as magnitudes (V_dev < 0 if R_s overcorrects)."""

    v: np.ndarray
    v_dev: np.ndarray
    i: np.ndarray
    limited: np.ndarray
    turn: int  # index of the outermost row: outward = [:turn + 1], return = [turn + 1:]


def _branch(v: np.ndarray, v_dev: np.ndarray, i: np.ndarray, lim: np.ndarray,
            sign: float) -> _Branch | None:
    if v.size == 0:
        return None
    return _Branch(np.abs(v), sign * v_dev, np.abs(i), lim, int(np.argmax(np.abs(v))))


def _resistance_at(b: _Branch, rows: np.ndarray, v_read: float) -> Estimate | str:
    """|V_dev/I| interpolated at |V_src| = v_read over unclamped rows (in sweep order)."""
    keep = rows[~b.limited[rows] & (b.i[rows] > 0)]
    v, r = b.v[keep], b.v_dev[keep] / np.where(b.i[keep] > 0, b.i[keep], 1.0)
    for k in range(v.size - 1):
        lo, hi = sorted((v[k], v[k + 1]))
        if lo <= v_read <= hi:
            f = 0.0 if hi == lo else (v_read - v[k]) / (v[k + 1] - v[k])
            value = float(r[k] + f * (r[k + 1] - r[k]))
            near = r[np.argsort(np.abs(v - v_read))[:5]]
            unc = float(np.std(near, ddof=1)) if near.size >= 2 else None
            return Estimate(value, unc, "Ω")
    if v.size == 1 and v[0] == v_read:
        return Estimate(float(r[0]), None, "Ω")
    return "|V| never reached"


def _halfway(q: np.ndarray) -> tuple[int, float] | None:
    """(row k, fraction f): half of the largest rise of q (per row) is done a fraction f through
    the change from row k − 1 to row k; None if q never rises."""
    d = np.diff(q)
    if d.size == 0 or not np.max(d) > 0:
        return None
    j = int(np.argmax(d))
    lo = hi = j
    while lo > 0 and d[lo - 1] > _REGION * d[j]:
        lo -= 1
    while hi < d.size - 1 and d[hi + 1] > _REGION * d[j]:
        hi += 1
    around = np.concatenate([d[max(0, lo - _SIDE):lo], d[hi + 1:hi + 1 + _SIDE]])
    excess = np.clip(d[lo:hi + 1] - (np.median(around) if around.size else 0.0), 0.0, None)
    if not excess.sum() > 0:
        return j + 1, 0.5
    done = np.concatenate([[0.0], np.cumsum(excess)])
    k = max(1, int(np.searchsorted(done, 0.5 * done[-1])))
    return lo + k, float((0.5 * done[-1] - done[k - 1]) / (done[k] - done[k - 1]))


def _switch_voltage(b: _Branch | None, sign: float, step: float, v_read: float,
                    r_series: float, name: str) -> Estimate:
    """V_set (sign +1, |I| rises) or V_reset (sign −1, |I| falls) of one polarity's branch."""
    polarity = "positive" if sign > 0 else "negative"
    if b is None or b.turn < 2:
        return Estimate.missing("V", f"no {name}: too few rows on the {polarity} sweep")
    out_rows, ret_rows = np.arange(b.turn + 1), np.arange(b.turn + 1, b.v.size)
    r_out = _resistance_at(b, out_rows, v_read)
    r_ret = _resistance_at(b, ret_rows, v_read)
    if isinstance(r_out, str) or isinstance(r_ret, str):
        return Estimate.missing("V", f"no {name}: |V| never reached {v_read:g} V on both halves "
                                     f"of the {polarity} sweep to compare R before and after")
    ratio = r_out.value / r_ret.value if sign > 0 else r_ret.value / r_out.value
    if not ratio >= MIN_WINDOW:
        return Estimate.missing("V", f"no {name}: R at {sign * v_read:+g} V went "
                                     f"{r_out.value:.4g} → {r_ret.value:.4g} Ω over the "
                                     f"{polarity} sweep (a {name} changes it >= {MIN_WINDOW:g}x)")
    clamped = np.flatnonzero(b.limited[:b.turn + 2])
    end = int(clamped[0]) if clamped.size else b.turn + 1
    if sign > 0 and clamped.size and end >= 1:
        ret = ret_rows[~b.limited[ret_rows] & (b.v_dev[ret_rows] > 0)]
        if ret.size:
            order = np.argsort(b.v_dev[ret])
            g_ret = np.interp(b.v_dev[end - 1], b.v_dev[ret][order],
                              (b.i[ret] / b.v_dev[ret])[order])
            g_up = b.i[end - 1] / b.v_dev[end - 1] if b.v_dev[end - 1] > 0 else 0.0
            if g_up < 0.5 * g_ret:
                return _device_voltage(b.v[end - 1] + step, b.i[end - 1], r_series, 1.0, step)
    q = b.i[:end]
    where = _halfway(q if sign > 0 else -q)
    if where is None:
        change = "rose" if sign > 0 else "fell"
        return Estimate.missing("V", f"no {name}: |I| never {change} on the {polarity} sweep "
                                     "before compliance")
    k, f = where
    return _device_voltage(b.v[k], q[k - 1] + f * (q[k] - q[k - 1]), r_series, sign, step)


def _device_voltage(level: float, current: float, r_series: float, sign: float,
                    step: float) -> Estimate:
    """sign·(|level| − |I|·R_s) ± step, or missing if the series resistance eats it all."""
    v = float(level - current * r_series)
    if not v > 0:
        return Estimate.missing("V", f"|I|·R_s ({current * r_series:.3g} V) exceeds the source "
                                     f"level ({level:.3g} V): series resistance too large?")
    return Estimate(sign * v, step, "V")


def analyse_cycle(voltage: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray,
                  limited: Sequence[bool] | np.ndarray, step: float, v_read: float, *,
                  cycle: int = 0, series_resistance: float = 0.0) -> SwitchingCycle:
    """One bipolar loop 0 → +V → 0 → −V → 0 (sweep order, SET branch first).

    V_set / V_reset ± step by the rules in the module docstring; R_LRS = |V_dev/I| at +v_read on
    the +V → 0 return, R_HRS at −v_read on the −V → 0 return (interpolated in |V_src|, clamped
    rows skipped, ± the scatter of the 5 nearest rows); on/off = R_HRS/R_LRS. The positive sweep
    is the rows before the first clearly negative one (V < −step/2), the negative sweep the
    negative rows after it; non-finite rows are skipped.
    """
    step = checked_step(step)
    v_read = checked_step(v_read, "v_read")
    r_s = checked_resistance(series_resistance)
    cols = as_columns(voltage=voltage, current=current, limited=limited)
    ok = np.isfinite(cols["voltage"]) & np.isfinite(cols["current"])
    v, i, lim = cols["voltage"][ok], cols["current"][ok], cols["limited"][ok] != 0
    reason = constant_reason(i)
    if not reason and v.size < 3:
        reason = f"too short: {v.size} finite row(s)"
    if not reason and np.ptp(v) == 0.0:
        reason = f"constant voltage ({v[0]:g} V): not a sweep"
    if reason:
        return SwitchingCycle(cycle, *(Estimate.missing(u, reason) for u in ("V", "V", "Ω", "Ω")),
                              Estimate.missing("", reason))
    v_dev = v - i * r_s
    tol = 0.5 * step
    negative = np.flatnonzero(v < -tol)
    split = int(negative[0]) if negative.size else v.size
    pos = np.flatnonzero(v[:split] > tol)
    neg = split + np.flatnonzero(v[split:] < -tol)
    up = _branch(v[pos], v_dev[pos], i[pos], lim[pos], 1.0)
    down = _branch(v[neg], v_dev[neg], i[neg], lim[neg], -1.0)
    v_set = _switch_voltage(up, 1.0, step, v_read, r_s, "SET")
    v_reset = _switch_voltage(down, -1.0, step, v_read, r_s, "RESET")
    r_lrs = _read(up, v_read, "+")
    r_hrs = _read(down, v_read, "−")
    return SwitchingCycle(cycle, v_set, v_reset, r_lrs, r_hrs, _ratio(r_hrs, r_lrs))


def _read(b: _Branch | None, v_read: float, sign: str) -> Estimate:
    polarity = "positive" if sign == "+" else "negative"
    if b is None:
        return Estimate.missing("Ω", f"no read point: no {polarity} sweep")
    r = _resistance_at(b, np.arange(b.turn + 1, b.v.size), v_read)
    if isinstance(r, str):
        return Estimate.missing("Ω", f"no read point: {r} {sign}{v_read:g} V on the "
                                     f"{polarity} return branch outside compliance")
    if not r.value > 0:
        return Estimate.missing("Ω", f"no read point: R at {sign}{v_read:g} V is not positive "
                                     "after the series-resistance correction")
    return r


def _ratio(r_hrs: Estimate, r_lrs: Estimate) -> Estimate:
    if not (r_hrs.ok and r_lrs.ok):
        return Estimate.missing("", r_lrs.reason if not r_lrs.ok else r_hrs.reason)
    value = r_hrs.value / r_lrs.value
    unc = None
    if r_hrs.uncertainty is not None and r_lrs.uncertainty is not None:
        unc = value * math.hypot(r_hrs.uncertainty / r_hrs.value, r_lrs.uncertainty / r_lrs.value)
    return Estimate(value, unc, "")


def split_loops(voltage: Sequence[float] | np.ndarray,
                segment_or_cycle_ids: Sequence[int] | np.ndarray) -> list[slice]:
    """Row slices, one per loop, of concatenated loops.

    A loop starts at row 0 and at every change of id whose run begins with a positive excursion
    (a SET branch), so per-loop segment ids (0, 1, 0, 1, ...) and cycle ids both work.
    """
    cols = as_columns(voltage=voltage, segment_or_cycle_ids=segment_or_cycle_ids)
    v, ids = cols["voltage"], cols["segment_or_cycle_ids"]
    if v.size == 0:
        return []
    changes = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    runs = np.concatenate([[0], changes, [v.size]])
    starts = [0]
    for a, b in pairwise(runs[1:]):
        moving = v[a:b][np.isfinite(v[a:b]) & (v[a:b] != 0)]
        if moving.size and moving[0] > 0:
            starts.append(int(a))
    return [slice(int(a), int(b)) for a, b in pairwise([*starts, v.size])]


@dataclass(frozen=True)
class Statistic:
    """Cycle-to-cycle statistics of one figure over the cycles that gave a number."""

    name: str
    unit: str
    n: int
    mean: float
    std: float  # sample standard deviation (nan for n < 2)
    cv: float  # std/|mean|
    median: float
    values: tuple[float, ...]
    reason: str = ""  # when n == 0

    def as_estimate(self, resolution: float = 0.0) -> Estimate:
        """mean ± standard error, combined with the per-value `resolution` (a sweep step does
        not average away), or missing with the reason."""
        if self.n == 0:
            return Estimate.missing(self.unit, self.reason)
        sem = self.std / math.sqrt(self.n) if self.n >= 2 else None
        if sem is None:
            return Estimate(self.mean, resolution or None, self.unit)
        return Estimate(self.mean, math.hypot(sem, resolution), self.unit)


_UNITS = {"v_set": "V", "v_reset": "V", "r_lrs": "Ω", "r_hrs": "Ω", "on_off": ""}


def switching_statistics(cycles: Sequence[SwitchingCycle]) -> dict[str, Statistic]:
    """Statistic per figure ("v_set", "v_reset", "r_lrs", "r_hrs", "on_off"); ok values only."""
    out: dict[str, Statistic] = {}
    for name, unit in _UNITS.items():
        estimates = [getattr(c, name) for c in cycles]
        values = tuple(float(e.value) for e in estimates if e.ok)
        if not values:
            reasons = [e.reason for e in estimates if e.reason]
            reason = (f"none of {len(estimates)} cycle(s) gave a {name}"
                      + (f" (first: {reasons[0]})" if reasons else ""))
            out[name] = Statistic(name, unit, 0, math.nan, math.nan, math.nan, math.nan, (),
                                  reason)
            continue
        a = np.asarray(values)
        mean = float(a.mean())
        std = float(a.std(ddof=1)) if a.size >= 2 else math.nan
        cv = std / abs(mean) if mean != 0 else math.nan
        out[name] = Statistic(name, unit, a.size, mean, std, cv, float(np.median(a)), values)
    return out
