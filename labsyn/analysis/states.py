"""Read-disturb drift, write-verify convergence and multistate level separation.

- Read disturb: R = |V_read/I| − R_s per read; R0 is the mean of baseline reads taken before
  the disturb, the drift after N reads is the running median of the `window` reads up to N
  over R0, minus 1 (the median keeps one noisy read from failing a device). The device fails
  at the first read count whose running drift leaves ±max_drift.
- Write-verify: the last read's conductance against the target, in the frame of the reads.
- Multistate (ArC MultiStateSeeker III): each programming step gives a level (mean and σ of its
  reads, G = 1/R); a step becomes a new state when its mean ± kσ band is clear of the last
  state's band, |m − m_prev| > k·(σ + σ_prev). A step falling back below the last state (not
  monotonic) is skipped ("ignore") or ends the search ("stop").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .forming import as_columns, checked_resistance, constant_reason
from .result import Estimate

__all__ = ["DEAD_CURRENT", "DisturbResult", "StatesResult", "VerifyResult",
           "distinguishable_states", "read_disturb_drift", "read_resistance", "separated_states",
           "write_verify_summary"]

DEAD_CURRENT = 1e-12  # A: reads below this carry no information about the state


def read_resistance(voltage: np.ndarray | float, current: np.ndarray, series_resistance: float
                    ) -> np.ndarray:
    """|V/I| − R_s per read; NaN where the read is not finite or below `DEAD_CURRENT`."""
    i = np.asarray(current, dtype=float)
    v = np.broadcast_to(np.asarray(voltage, dtype=float), i.shape)
    good = np.isfinite(i) & np.isfinite(v) & (np.abs(i) > DEAD_CURRENT)
    r = np.full(i.shape, np.nan)
    r[good] = np.abs(v[good] / i[good]) - series_resistance
    r[r <= 0] = np.nan
    return r


def _no_reads_reason(current: np.ndarray, resistance: np.ndarray, needed: int) -> str:
    """Why these reads cannot give a figure ('' if they can)."""
    finite = current[np.isfinite(current)]
    if finite.size and np.all(np.abs(finite) <= DEAD_CURRENT):
        return "no read current: the device reads ~0 A (dead device or open circuit)"
    reason = constant_reason(finite)
    if reason:
        return reason
    usable = int(np.isfinite(resistance).sum())
    if usable < needed:
        return f"only {usable} finite reads (need {needed})"
    return ""


# -- read disturb ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DisturbResult:
    """Read-disturb figures: drift ΔR/R after all reads, pass (1) / fail (0), read count at
    which |ΔR/R| first exceeded max_drift, the baseline R0 and the relative read noise."""

    drift: Estimate
    passed: Estimate
    reads_to_fail: Estimate
    r0: Estimate
    read_noise: Estimate
    running: pd.DataFrame  # read, drift (running median), one row per kept read


def read_disturb_drift(read: np.ndarray, voltage: np.ndarray, current: np.ndarray,
                       max_drift: float, baseline_current: np.ndarray, window: int = 9,
                       series_resistance: float = 0.0) -> DisturbResult:
    """Drift of R over `read` (read counts, ascending) against max_drift (fraction); R0 and the
    read noise come from `baseline_current`, reads at the same level taken before the disturb."""
    cols = as_columns(read=read, voltage=voltage, current=current)
    if not (math.isfinite(max_drift) and max_drift > 0):
        raise ValueError(f"max_drift must be a finite fraction > 0, got {max_drift!r}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    rs = checked_resistance(series_resistance)
    base_i = np.asarray(baseline_current, dtype=float)
    v = float(np.median(cols["voltage"])) if cols["voltage"].size else 0.0
    base = read_resistance(v, base_i, rs)
    r = read_resistance(cols["voltage"], cols["current"], rs)
    reason = _no_reads_reason(cols["current"], r, window)
    if not reason and _no_reads_reason(base_i, base, 2):
        reason = f"baseline reads: {_no_reads_reason(base_i, base, 2)}"
    if reason:
        return _disturb_missing(reason)
    base = base[np.isfinite(base)]
    keep = np.isfinite(r)
    n, r = cols["read"][keep], r[keep]
    r0 = float(np.mean(base))
    noise = float(np.std(base, ddof=1) / r0)
    running = _running_median(r, window) / r0 - 1.0
    outside = np.flatnonzero(np.abs(running) > max_drift)
    tail = r[-window:]
    spread = float(np.std(tail, ddof=1)) / r0 if window > 1 else noise
    drift = Estimate(float(np.median(tail)) / r0 - 1.0,
                     math.hypot(1.2533 * spread / math.sqrt(window), noise / math.sqrt(base.size)),
                     "")
    passed = Estimate(0.0 if outside.size else 1.0, None, "")
    if outside.size:
        fail = Estimate(float(n[outside[0]]), float(window // 2 + 1), "reads")
    else:
        fail = Estimate.missing("reads", f"the drift stayed within ±{max_drift:.3g} over "
                                f"{int(n[-1])} reads")
    return DisturbResult(drift, passed, fail, Estimate(r0, r0 * noise / math.sqrt(base.size), "Ω"),
                         Estimate(noise, None, ""), pd.DataFrame({"read": n, "drift": running}))


def _running_median(x: np.ndarray, window: int) -> np.ndarray:
    """Median of the `window` values ending at each point (fewer at the start)."""
    if window <= 1 or x.size < window:
        return x.copy()
    out = np.empty_like(x)
    head = min(window - 1, x.size)
    for k in range(head):
        out[k] = np.median(x[:k + 1])
    out[window - 1:] = np.median(np.lib.stride_tricks.sliding_window_view(x, window), axis=1)
    return out


def _disturb_missing(reason: str) -> DisturbResult:
    return DisturbResult(Estimate.missing("", reason), Estimate.missing("", reason),
                         Estimate.missing("reads", reason), Estimate.missing("Ω", reason),
                         Estimate.missing("", reason), pd.DataFrame({"read": [], "drift": []}))


# -- write-verify ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyResult:
    """Write-verify figures: final G, relative error vs target, pulses, converged (1/0)."""

    g_final: Estimate
    error: Estimate
    pulses: Estimate
    converged: Estimate
    reversals: Estimate


def write_verify_summary(voltage: np.ndarray, current: np.ndarray, target_conductance: float,
                         tolerance: float, reversals: int, pulses: int | None = None,
                         read_noise: float | None = None, series_resistance: float = 0.0
                         ) -> VerifyResult:
    """Figures from the reads (in order; `pulses` defaults to one per read): the last decides."""
    cols = as_columns(voltage=voltage, current=current)
    if not (math.isfinite(target_conductance) and target_conductance > 0):
        raise ValueError(f"target_conductance must be > 0 S, got {target_conductance!r}")
    used = Estimate(float(cols["current"].size if pulses is None else pulses), None, "")
    count = Estimate(float(reversals), None, "")
    r = read_resistance(cols["voltage"], cols["current"], checked_resistance(series_resistance))
    reason = _no_reads_reason(cols["current"], r, 1)
    if not reason and not np.isfinite(r[-1]):
        reason = "the last read is not a finite, non-zero current"
    if reason:
        missing = Estimate.missing("S", reason)
        return VerifyResult(missing, Estimate.missing("", reason), used,
                            Estimate.missing("", reason), count)
    g = 1.0 / float(r[-1])
    error = g / target_conductance - 1.0
    sigma = None if read_noise is None else abs(g) * read_noise
    return VerifyResult(Estimate(g, sigma, "S"),
                        Estimate(error, None if read_noise is None else read_noise, ""), used,
                        Estimate(1.0 if abs(error) <= tolerance else 0.0, None, ""), count)


# -- multistate -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatesResult:
    """Distinguishable states: their count, and per state its step, mean G and σ (details)."""

    n_states: Estimate
    g_lowest: Estimate
    g_highest: Estimate
    relative_sigma: Estimate  # median σ/mean over the registered states
    states: pd.DataFrame  # state, step, g_mean, g_sigma, lower, upper
    levels: pd.DataFrame  # step, g_mean, g_sigma, reads (every step)


def separated_states(means: np.ndarray, sigmas: np.ndarray, k: float = 3.0,
                     monotonic: Literal["ignore", "stop"] = "ignore") -> list[int]:
    """Indices of the levels that register as states (first level first), by the kσ rule."""
    states: list[int] = []
    for index, (m, s) in enumerate(zip(means, sigmas, strict=True)):
        if not (np.isfinite(m) and np.isfinite(s)):
            continue
        if not states:
            states.append(index)
            continue
        last = states[-1]
        if abs(m - means[last]) <= k * (s + sigmas[last]):
            continue
        if m < means[last]:  # fell back below the last state: programming is not monotonic
            if monotonic == "stop":
                break
            continue
        states.append(index)
    return states


def distinguishable_states(step: np.ndarray, voltage: np.ndarray, current: np.ndarray,
                           k: float = 3.0, monotonic: Literal["ignore", "stop"] = "ignore",
                           series_resistance: float = 0.0, min_reads: int = 3) -> StatesResult:
    """States from reads grouped by programming `step` (steps in programming order)."""
    cols = as_columns(step=step, voltage=voltage, current=current)
    if not (math.isfinite(k) and k > 0):
        raise ValueError(f"k must be a finite number > 0, got {k!r}")
    r = read_resistance(cols["voltage"], cols["current"], checked_resistance(series_resistance))
    g = 1.0 / r
    rows = []
    for value in pd.unique(cols["step"]):
        levels = g[(cols["step"] == value) & np.isfinite(g)]
        if levels.size >= min_reads:
            rows.append((value, float(levels.mean()), float(levels.std(ddof=1)), levels.size))
    levels = pd.DataFrame(rows, columns=["step", "g_mean", "g_sigma", "reads"])
    reason = _no_reads_reason(cols["current"], r, min_reads)
    if not reason and levels.empty:
        reason = f"no programming step has {min_reads} finite reads"
    if reason:
        empty = pd.DataFrame(columns=["state", "step", "g_mean", "g_sigma", "lower", "upper"])
        return StatesResult(Estimate.missing("", reason), Estimate.missing("S", reason),
                            Estimate.missing("S", reason), Estimate.missing("", reason),
                            empty, levels)
    index = separated_states(levels["g_mean"].to_numpy(), levels["g_sigma"].to_numpy(), k,
                             monotonic)
    chosen = levels.iloc[index].reset_index(drop=True)
    states = pd.DataFrame({"state": np.arange(1, len(chosen) + 1), "step": chosen["step"],
                           "g_mean": chosen["g_mean"], "g_sigma": chosen["g_sigma"],
                           "lower": chosen["g_mean"] - k * chosen["g_sigma"],
                           "upper": chosen["g_mean"] + k * chosen["g_sigma"]})
    first, last = chosen.iloc[0], chosen.iloc[-1]
    root = math.sqrt(float(first["reads"]))
    return StatesResult(
        Estimate(float(len(chosen)), None, ""),
        Estimate(float(first["g_mean"]), float(first["g_sigma"]) / root, "S"),
        Estimate(float(last["g_mean"]), float(last["g_sigma"]) / math.sqrt(float(last["reads"])),
                 "S"),
        Estimate(float(np.median(chosen["g_sigma"] / chosen["g_mean"])), None, ""),
        states, levels)
