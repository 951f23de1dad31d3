"""Electroforming: forming voltage, current and resistance before/after, from a DC or pulsed ramp.

DC ramp (`forming_from_ramp`): forming is the first row that hit the current limit or whose chord
conductance |I/V_dev| jumped by >= `jump_factor` over the previous row (conductance, not |I|, so
the first steps off 0 V, where |I| doubles with V, never count). The device formed while the source
held that row's level, so V_form is that level — the previous row's |V| + `step`, because a source
in compliance reads back the collapsed voltage, not the level — minus the pre-forming current
through the series resistance (the post-forming current did not flow when it formed). Pulsed ramp
(`forming_from_pulses`): forming is the first pulse after which the read resistance fell below a
threshold, by more than a relative drop, or below a fraction of its value at ramp start (the
ArC2 AutoFormer sudden-drop trip); V_form is that pulse's amplitude.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .result import DRY_RUN_REASON, Estimate

__all__ = ["FormingResult", "forming_from_pulses", "forming_from_ramp"]


@dataclass(frozen=True)
class FormingResult:
    """What a forming ramp shows; every figure is an `Estimate` (missing with a reason if none)."""

    v_form: Estimate  # V across the device at forming (series-R corrected), ± one ramp step
    index: int | None  # row (or pulse number) where forming was detected; None if it did not form
    criterion: str  # "compliance", "current jump", "threshold", "trip", "relative drop", "none"
    r_before: Estimate  # Ω pristine (low-field fit of the ramp rows, or the read before forming)
    r_after: Estimate  # Ω after forming (from a read after, when given)
    i_form: Estimate  # A at the detection row (the read after the forming pulse for pulses)


def checked_step(step: float, name: str = "step") -> float:
    """step as a finite float > 0, else a ValueError naming it."""
    x = float(step)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {step!r}")
    return x


def checked_resistance(value: float, name: str = "series_resistance") -> float:
    """value as a finite float >= 0, else a ValueError naming it."""
    x = float(value)
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 Ω, got {value!r}")
    return x


def as_columns(**columns: object) -> dict[str, np.ndarray]:
    """1-D float arrays of equal length (a ValueError names the odd one out)."""
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        a = np.asarray(values, dtype=float)
        if a.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
        out[name] = a
    lengths = {name: len(a) for name, a in out.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ValueError(f"arrays must have equal lengths, got {listed}")
    return out


def constant_reason(current: np.ndarray) -> str:
    """A reason if every reading is the same value (a dry-run replay or no contact), else ''."""
    if current.size < 2 or np.ptp(current) != 0.0:
        return ""
    if current[0] == 0.0:
        return "every current reading is 0 A (open circuit or no data)"
    return f"{DRY_RUN_REASON}: every current reading is {current[0]:g} A"


def resistance(v: float, i: float, series_resistance: float, unit: str = "Ω") -> Estimate:
    """|v/i| − R_s of a single read (no uncertainty known), or missing with the reason."""
    if not (math.isfinite(v) and math.isfinite(i)):
        return Estimate.missing(unit, "the read is not a finite number")
    if i == 0.0:
        return Estimate.missing(unit, "the read current is 0 A (open circuit)")
    return Estimate(abs(v / i) - series_resistance, None, unit)


def _low_field_resistance(v_dev: np.ndarray, current: np.ndarray, v_limit: float) -> Estimate:
    """1/G of I = G·V + C·V³ over rows with 0 < |V| <= v_limit (the cubic absorbs tunnelling)."""
    rows = (np.abs(v_dev) > 0) & (np.abs(v_dev) <= v_limit)
    v, i = v_dev[rows], current[rows]
    if v.size == 0:
        return Estimate.missing("Ω", f"no ramp rows with 0 < |V| <= {v_limit:.3g} V before forming")
    design = np.column_stack([v, v**3]) if v.size >= 4 else v[:, None]
    coef, *_ = np.linalg.lstsq(design, i, rcond=None)
    g = float(coef[0])
    if not g > 0:
        return Estimate.missing("Ω", "the pristine current is at the noise floor (no positive "
                                     "low-field conductance)")
    unc = None
    dof = v.size - design.shape[1]
    if dof > 0:
        resid = i - design @ coef
        cov = np.linalg.pinv(design.T @ design) * float(resid @ resid) / dof
        unc = math.sqrt(max(cov[0, 0], 0.0)) / g**2
    return Estimate(1.0 / g, unc, "Ω")


def _not_formed(reason: str, r_before: Estimate, r_after: Estimate) -> FormingResult:
    return FormingResult(Estimate.missing("V", reason), None, "none", r_before, r_after,
                         Estimate.missing("A", reason))


MIN_FORMING_CURRENT = 1e-9  # A: a current jump below this is an open circuit's noise


def forming_from_ramp(voltage: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray,
                      limited: Sequence[bool] | np.ndarray, step: float, *,
                      series_resistance: float = 0.0, jump_factor: float = 10.0,
                      read_voltage: float | None = None,
                      read_current: float | None = None,
                      min_current: float = MIN_FORMING_CURRENT) -> FormingResult:
    """DC ramp: forming = first row in compliance or whose |I/V_dev| jumped >= jump_factor to a
    current of at least `min_current` (below it a jump is the noise of an open circuit: a dead
    device or lifted probes).

    V_form (signed like the ramp) = (previous row's |V| + step) − I_previous·R_s, ± step; at
    row 0 that row's own V − I·R_s. r_before = 1/G of a fit I = G·V + C·V³ over the rows with
    |V_dev| <= |V_form|/4 (all rows up to max|V|/4 if it did not form). r_after = |V/I| − R_s of
    the read after the ramp, when given. Rows with non-finite V or I are skipped.
    """
    step = checked_step(step)
    if not jump_factor > 1:
        raise ValueError(f"jump_factor must be > 1, got {jump_factor!r}")
    cols = as_columns(voltage=voltage, current=current, limited=limited)
    r_s = checked_resistance(series_resistance)
    r_after = (Estimate.missing("Ω", "no read after the ramp was given")
               if read_voltage is None or read_current is None
               else resistance(float(read_voltage), float(read_current), r_s))
    rows = np.flatnonzero(np.isfinite(cols["voltage"]) & np.isfinite(cols["current"]))
    v, i = cols["voltage"][rows], cols["current"][rows]
    lim = cols["limited"][rows] != 0
    missing_r = Estimate.missing("Ω", "no usable ramp rows")
    if v.size < 2:
        return _not_formed(f"too short: {v.size} finite row(s), a ramp needs >= 2", missing_r,
                           r_after)
    reason = constant_reason(i)
    if reason:
        return _not_formed(reason, Estimate.missing("Ω", reason), r_after)
    if np.ptp(v) == 0.0:
        return _not_formed(f"constant voltage ({v[0]:g} V): not a ramp", missing_r, r_after)
    v_dev = v - i * r_s
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(v_dev != 0, np.abs(i / v_dev), np.nan)
        jump = np.zeros(v.size, dtype=bool)
        jump[1:] = (g[1:] >= jump_factor * g[:-1]) & (g[:-1] > 0) & (np.abs(i[1:]) >= min_current)
    hits = np.flatnonzero(lim | jump)
    if hits.size == 0:
        r_before = _low_field_resistance(v_dev, i, float(np.max(np.abs(v_dev))) / 4)
        reason = (f"did not form: |I/V| never jumped >= {jump_factor:g}x (to >= {min_current:g} A) "
                  f"nor hit compliance up to {float(np.max(np.abs(v))):.3g} V")
        if float(np.max(np.abs(i))) < min_current:
            reason += f"; the current never exceeded {min_current:g} A: an open circuit?"
        return _not_formed(reason, r_before, r_after)
    k = int(hits[0])
    if k == 0:
        level, i_pre = float(v[0]), float(i[0])
    else:
        sign = np.sign(v[k - 1]) or np.sign(v[k]) or 1.0
        level, i_pre = float(v[k - 1] + sign * step), float(i[k - 1])
    v_form = level - i_pre * r_s
    if not v_form * level > 0:
        reason = (f"I·R_s ({i_pre * r_s:.3g} V) exceeds the forming level ({level:.3g} V): "
                  "series resistance too large?")
        return FormingResult(Estimate.missing("V", reason), int(rows[k]),
                             "compliance" if lim[k] else "current jump",
                             Estimate.missing("Ω", reason), r_after,
                             Estimate(float(i[k]), None, "A"))
    r_before = _low_field_resistance(v_dev[:k], i[:k], abs(v_form) / 4)
    return FormingResult(Estimate(v_form, step, "V"), int(rows[k]),
                         "compliance" if lim[k] else "current jump", r_before, r_after,
                         Estimate(float(i[k]), None, "A"))


def forming_from_pulses(amplitudes: Sequence[float] | np.ndarray, read_voltage: float,
                        read_current: Sequence[float] | np.ndarray, *, r_threshold: float | None,
                        relative_drop: float | None, step: float,
                        initial_read_current: float | None = None,
                        series_resistance: float = 0.0,
                        trip_fraction: float | None = None) -> FormingResult:
    """Pulsed ramp (FormFinder style): R_i = |V_read/I_read,i| − R_s after pulse i.

    Forming = first pulse with R_i < r_threshold ("threshold", checked first),
    R_i < trip_fraction·R_0 ("trip": ArC2's sudden-drop trip, 0.2 for its 80 % setting) or
    (R_0 − R_i)/R_0 > relative_drop ("relative drop"). R_0 is the read before the first pulse
    (`initial_read_current`) when given, else the read after pulse 0 (which then cannot show a
    drop itself). V_form = amplitude of that pulse ± step; r_before = R_0 (missing if pulse 0
    formed and no initial read was given); r_after and i_form = the read after the forming pulse.
    Pulses whose read is not finite are skipped.
    """
    step = checked_step(step)
    if r_threshold is None and relative_drop is None and trip_fraction is None:
        raise ValueError("give r_threshold or relative_drop or trip_fraction; none was given")
    if trip_fraction is not None and not 0 < trip_fraction < 1:
        raise ValueError(f"trip_fraction must be between 0 and 1, got {trip_fraction!r}")
    if r_threshold is not None and not r_threshold > 0:
        raise ValueError(f"r_threshold must be > 0 Ω, got {r_threshold!r}")
    if relative_drop is not None and not 0 < relative_drop < 1:
        raise ValueError(f"relative_drop must be between 0 and 1, got {relative_drop!r}")
    v_read = float(read_voltage)
    if not (math.isfinite(v_read) and v_read != 0):
        raise ValueError(f"read_voltage must be finite and nonzero, got {read_voltage!r}")
    cols = as_columns(amplitudes=amplitudes, read_current=read_current)
    r_s = checked_resistance(series_resistance)
    pulses = np.flatnonzero(np.isfinite(cols["amplitudes"]) & np.isfinite(cols["read_current"]))
    amp, i_read = cols["amplitudes"][pulses], cols["read_current"][pulses]
    if amp.size == 0:
        reason = "no pulse has a finite read"
        return _not_formed(reason, Estimate.missing("Ω", reason), Estimate.missing("Ω", reason))
    reason = constant_reason(i_read)
    if reason:
        return _not_formed(reason, Estimate.missing("Ω", reason), Estimate.missing("Ω", reason))
    with np.errstate(divide="ignore"):
        r = np.abs(v_read / i_read) - r_s
    if initial_read_current is not None:
        r0_est = resistance(v_read, float(initial_read_current), r_s)
        first = 0
    else:
        r0_est = Estimate(float(r[0]), None, "Ω") if math.isfinite(r[0]) else \
            Estimate.missing("Ω", "the first read current is 0 A (open circuit)")
        first = 1
    below = np.zeros(r.size, dtype=bool) if r_threshold is None else r < r_threshold
    dropped = np.zeros(r.size, dtype=bool)
    tripped = np.zeros(r.size, dtype=bool)
    if r0_est.ok and r0_est.value > 0:
        if relative_drop is not None:
            dropped[first:] = (r0_est.value - r[first:]) / r0_est.value > relative_drop
        if trip_fraction is not None:
            tripped[first:] = r[first:] < trip_fraction * r0_est.value
    hits = np.flatnonzero(below | tripped | dropped)
    if hits.size == 0:
        tests = []
        if r_threshold is not None:
            tests.append(f"fell below {r_threshold:.3g} Ω")
        if trip_fraction is not None:
            tests.append(f"fell below {trip_fraction:.0%} of its value at ramp start")
        if relative_drop is not None:
            tests.append(f"dropped by more than {relative_drop:.0%}")
        reason = (f"did not form: R never {' nor '.join(tests)} "
                  f"over {amp.size} pulses up to {float(np.max(np.abs(amp))):.3g} V")
        last = Estimate(float(r[-1]), None, "Ω") if math.isfinite(r[-1]) else \
            Estimate.missing("Ω", "the last read current is 0 A")
        return _not_formed(reason, r0_est, last)
    k = int(hits[0])
    if k == 0 and initial_read_current is None:
        r0_est = Estimate.missing("Ω", "pulse 0 already formed the device and no read before "
                                       "it was given")
    return FormingResult(Estimate(float(amp[k]), step, "V"), int(pulses[k]),
                         "threshold" if below[k] else "trip" if tripped[k] else "relative drop",
                         r0_est,
                         Estimate(float(r[k]), None, "Ω"), Estimate(float(i_read[k]), None, "A"))
