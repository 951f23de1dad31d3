"""A linear resistor DUT: the known load for checking sources, limits and wiring."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ResistorSegment:
    current: float
    v_device: float
    peak_current: float
    limited: bool
    formed_now: bool = False


class Resistor:
    """An ohmic device of `resistance` Ω (optionally with relative read noise)."""

    def __init__(self, resistance: float, read_noise: float = 0.0) -> None:
        if not resistance > 0:
            raise ValueError(f"resistance {resistance!r} must be > 0 Ω")
        self.resistance = resistance
        self.read_noise = read_noise
        self.temperature_k = 300.0
        self.time_s = 0.0
        self.energy_j = 0.0

    def current(self, v: float) -> float:
        return v / self.resistance

    def read_current(self, v: float) -> float:
        return self.current(v)

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> ResistorSegment:
        current = v / (self.resistance + r_series)
        limited = i_limit is not None and abs(current) > i_limit
        if limited:
            current = math.copysign(i_limit, v)  # type: ignore[arg-type]
        return self._book(current, duration, limited)

    def apply_current(self, i: float, duration: float, v_limit: float,
                      r_series: float = 0.0) -> ResistorSegment:
        limited = abs(i) * (self.resistance + r_series) > v_limit
        current = math.copysign(v_limit / (self.resistance + r_series), i) if limited else i
        return self._book(current, duration, limited)

    def idle(self, duration: float) -> None:
        self.time_s += duration

    def _book(self, current: float, duration: float, limited: bool) -> ResistorSegment:
        self.time_s += duration
        v_device = current * self.resistance
        self.energy_j += v_device * current * duration
        return ResistorSegment(current, v_device, abs(current), limited)
