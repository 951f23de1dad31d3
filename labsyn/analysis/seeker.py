"""Switch seeking (ArC SwitchSeeker stage I): which polarity SETs, which RESETs, and at what
pulse amplitude each starts to switch.

Trains of pulses at rising |V| alternate polarity; after each train the mean read resistance is
compared with the mean read before it (the previous train's, or the reference reads before the
first train). A train *moved* the device when that mean left the ±tolerance band around the one
before: conductance up (R fell) or down (R rose). The SET polarity is the one whose first move
raised the conductance; the RESET polarity is the other, its threshold the first amplitude whose
train lowered it. Thresholds are signed (the SET polarity's sign) and carry ± one amplitude step:
the device switched somewhere between the previous amplitude and this one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .forming import as_columns, checked_step
from .result import Estimate

__all__ = ["SeekerResult", "moved", "seek_thresholds"]

UP, DOWN, NONE = 1, -1, 0


def moved(r_before: float, r_after: float, tolerance: float) -> int:
    """UP (conductance rose: R fell beyond the band), DOWN (R rose beyond it) or NONE
    (within ±tolerance·r_before, or either read not a finite positive number)."""
    if not (math.isfinite(r_before) and math.isfinite(r_after) and r_before > 0):
        return NONE
    change = (r_after - r_before) / r_before
    if change < -tolerance:
        return UP
    return DOWN if change > tolerance else NONE


@dataclass(frozen=True)
class SeekerResult:
    """Figures of a seek, plus per train the relative change of R and the move it counts as."""

    v_set_threshold: Estimate  # V, signed
    v_reset_threshold: Estimate  # V, signed
    set_polarity: Estimate  # +1 or −1
    change: np.ndarray  # (R_after − R_before)/R_before per train (NaN: no finite read)
    moves: np.ndarray  # UP, DOWN or NONE per train


def seek_thresholds(amplitudes: Sequence[float] | np.ndarray,
                    r_after: Sequence[float] | np.ndarray, r_reference: float,
                    tolerance: float, step: float) -> SeekerResult:
    """Thresholds from trains at signed `amplitudes` (device V, in the order played) and the mean
    read resistance after each (`r_after`, Ω), starting from `r_reference` (the reads before
    the first train). Trains whose reads are not finite and positive are skipped (the band stays
    where it was)."""
    step = checked_step(step)
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be between 0 and 1, got {tolerance!r}")
    cols = as_columns(amplitudes=amplitudes, r_after=r_after)
    amp, r = cols["amplitudes"], cols["r_after"]
    change = np.full(amp.size, np.nan)
    moves = np.zeros(amp.size, dtype=int)

    def missing(reason: str) -> SeekerResult:
        return SeekerResult(Estimate.missing("V", reason), Estimate.missing("V", reason),
                            Estimate.missing("", reason), change, moves)

    usable = np.isfinite(r) & (r > 0)
    if not usable.any():
        return missing(f"no finite read over {amp.size} train(s) (read current 0 A: open "
                       "circuit?)")
    reference = float(r_reference)
    if not (math.isfinite(reference) and reference > 0):
        return missing("the reference read is not a finite positive resistance (read current "
                       "0 A: open circuit?)")
    first: dict[tuple[float, int], float] = {}  # (polarity, move) -> |amplitude| of first
    for k in np.flatnonzero(usable):
        change[k] = (r[k] - reference) / reference
        moves[k] = moved(reference, float(r[k]), tolerance)
        sign = 1.0 if amp[k] > 0 else -1.0
        if moves[k] != NONE:
            first.setdefault((sign, int(moves[k])), abs(float(amp[k])))
        reference = float(r[k])
    v_max = float(np.max(np.abs(amp))) if amp.size else 0.0
    if not first:
        return missing(f"no switching up to ±{v_max:.3g} V: the mean read never left the "
                       f"±{tolerance:.0%} band")
    set_sign = _set_polarity(first)
    if set_sign is None:
        return missing("both polarities raised the conductance first: no SET/RESET pair")
    v_set = first.get((set_sign, UP))
    v_reset = first.get((-set_sign, DOWN))
    return SeekerResult(
        Estimate(set_sign * v_set, step, "V") if v_set is not None else
        Estimate.missing("V", f"no SET: {_name(set_sign)} pulses never raised the conductance "
                              f"beyond ±{tolerance:.0%} up to ±{v_max:.3g} V"),
        Estimate(-set_sign * v_reset, step, "V") if v_reset is not None else
        Estimate.missing("V", f"no RESET: {_name(-set_sign)} pulses never lowered the "
                              f"conductance beyond ±{tolerance:.0%} up to ±{v_max:.3g} V"),
        Estimate(set_sign, None, ""), change, moves)


def _set_polarity(first: dict[tuple[float, int], float]) -> float | None:
    """The polarity that SETs: the one whose first move raised the conductance, else the one
    opposite a polarity whose first move lowered it."""
    first_move = {}
    for sign in (1.0, -1.0):
        hits = [(amp, move) for (s, move), amp in first.items() if s == sign]
        if hits:
            first_move[sign] = min(hits)[1]
    ups = [s for s, m in first_move.items() if m == UP]
    if len(ups) == 1:
        return ups[0]
    if ups:
        return None
    (sign, _), *_ = first_move.items()
    return -sign


def _name(sign: float) -> str:
    return "positive" if sign > 0 else "negative"
