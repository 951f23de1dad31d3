"""Capabilities: what protocols may ask of instruments, independent of the model (SI units)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .sequence import Sequence, SequenceData

AbortCheck = Callable[[], bool]


@dataclass(frozen=True)
class SourceMeterLimits:
    """What one source-measure channel can do."""

    max_voltage: float
    max_current: float
    min_current_limit: float
    min_pulse_width: float
    max_list_points: int
    min_nplc: float
    max_nplc: float


@dataclass(frozen=True)
class SpotReading:
    voltage: float
    current: float
    limited: bool


@runtime_checkable
class SourceMeter(Protocol):
    """A source-measure unit channel driving one DUT terminal."""

    name: str
    limits: SourceMeterLimits

    def apply_voltage(self, level: float, current_limit: float) -> None:
        """Set the current limit, then the level, then turn the output on."""
        ...

    def check_sequence(self, sequence: Sequence) -> None:
        """Raise `LimitError` if the instrument cannot run `sequence`; nothing is sent."""
        ...

    def measure(self) -> SpotReading:
        """One reading at the present source level."""
        ...

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Run `sequence` instrument-side; on abort return what was measured, flagged."""
        ...

    def safe_off(self) -> None:
        """Stop anything running, bring the source to 0 and the output off."""
        ...

    def errors(self) -> list[tuple[int, str]]:
        """Empty the instrument's error queue."""
        ...
