"""What the simulated RRAM device model returns (segment and pulse-train results, the ground
truth it hides from the measurement), and the closed-form pieces its integration is built from."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from labsyn.mock_instruments.presets import DeviceParams

K_B_EV = 8.617333262e-5
_DW_STEP = 0.02
_DS_STEP = 0.1
_MAX_SUBSTEPS = 20_000
_ARG_MAX = 700.0


@dataclass(frozen=True)
class SegmentResult:
    """Outcome of one constant-drive segment.

    `peak_current` is the signed current of largest magnitude at the sub-step boundaries (start,
    every re-solve, end). From `apply_current`, `limited` means the voltage limit was reached.
    """

    current: float  # A, device current at the end of the segment
    v_device: float  # V across the device at the end
    peak_current: float  # A, signed current of largest |I| during the segment
    limited: bool  # the source limit was active at some point
    formed_now: bool  # the device formed during this segment


@dataclass(frozen=True)
class PulseTrainResult:
    """Per-pulse arrays of `RRAMDevice.apply_pulse_train`."""

    read_current: np.ndarray | None  # A, at v_read after each gap, with read noise
    conductance: np.ndarray  # S, small-signal G after each gap (deterministic)
    peak_current: np.ndarray  # A, signed peak current of each pulse
    state: float  # w_eff after the last gap


@dataclass
class GroundTruth:
    """What the device really did, for tests and protocol validation."""

    params: DeviceParams  # the drawn D2D parameters
    v_form: float  # V, Weibull-drawn forming parameter
    forming_voltage: float | None = None  # |V| across the device when it formed
    forming_time: float | None = None  # s of device time at forming
    set_crossings: list[float] = field(default_factory=list)  # V_dev at upward 0.5 crossings
    reset_crossings: list[float] = field(default_factory=list)  # V_dev at downward crossings
    peak_current: float = 0.0  # A, max |I| seen
    cycles: int = 0
    overformed: bool = False
    stuck: str | None = None  # "LRS", "HRS" or None


def _checked(name: str, value: float, low: float = -math.inf, strict: bool = False) -> float:
    """value as a finite float >= low (> low if strict), else a ValueError naming it."""
    x = float(value)
    if not math.isfinite(x) or x < low or (strict and x == low):
        bound = "" if low == -math.inf else f" and {'>' if strict else '>='} {low:g}"
        raise ValueError(f"{name} must be finite{bound}, got {value!r}")
    return x


def _sinh(x: float) -> float:
    return math.sinh(max(-_ARG_MAX, min(_ARG_MAX, x)))


def _sinh_iv(g: np.ndarray | float, v0: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """I = G·V0·sinh(V/V0) on arrays, the argument clipped against overflow."""
    return g * v0 * np.sinh(np.clip(v / v0, -_ARG_MAX, _ARG_MAX))


def _crossing(before: float, after: float) -> int:
    if before < 0.5 <= after:
        return 1
    if before >= 0.5 > after:
        return -1
    return 0


def _powers(ratio: float, m: int) -> np.ndarray:
    """ratio**[0, 1, ..., m-1] for 0 <= ratio <= 1."""
    if ratio <= 0.0:
        out = np.zeros(m)
        out[0] = 1.0
        return out
    return np.exp(np.arange(m) * math.log(ratio))


def _volatile_train(s0: float, kv: float, tau: float, tp: float, tg: float,
                    m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Volatile state at pulse start, pulse end and gap end for m identical pulses."""
    lam = kv + 1.0 / tau
    s_inf = kv / lam
    ep, eg = math.exp(-lam * tp), math.exp(-tg / tau)
    first = s_inf + (s0 - s_inf) * ep
    ratio = ep * eg
    s_star = s_inf * (1.0 - ep) / (1.0 - ratio) if ratio < 1.0 else first
    s_end = s_star + (first - s_star) * _powers(ratio, m)
    s_start = np.empty(m)
    s_start[0] = s0
    s_start[1:] = s_end[:-1] * eg
    return s_start, s_end, s_end * eg
