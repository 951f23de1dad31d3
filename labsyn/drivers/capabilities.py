"""Capabilities: what protocols may ask of instruments, independent of the model (SI units)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .sequence import Sequence, SequenceData, Staircase

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


@dataclass(frozen=True)
class PulseGeneratorLimits:
    """What one pulse-generator channel can do (levels as programmed into its load setting)."""

    max_level: float  # V, |high| and |low| level
    min_width: float  # s
    min_period: float  # s
    min_edge: float  # s, fastest transition
    max_pulses: int  # pulses in one burst / sequence
    output_impedance: float  # Ω, source impedance (50 Ω)


@runtime_checkable
class PulseGenerator(Protocol):
    """A pulse-generator channel driving one DUT terminal. It has no current limit, so a
    station wires it through a declared series resistor or transistor.

    `load` is the output-load setting the levels refer to (50.0, or math.inf for high-Z): into
    an open circuit a 50 Ω-set output delivers twice its programmed level.
    """

    name: str
    limits: PulseGeneratorLimits

    @property
    def load(self) -> float:
        """The output-load setting, Ω (math.inf = high impedance)."""
        ...

    def check_sequence(self, sequence: Sequence) -> None:
        """Raise `LimitError` if the generator cannot run `sequence`; nothing is sent."""
        ...

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Run the sequence's pulse trains (no reads: a generator measures nothing) as
        instrument-side bursts; returns no rows, `aborted` set if stopped early."""
        ...

    def safe_off(self) -> None:
        """Stop any burst, output off."""
        ...

    def errors(self) -> list[tuple[int, str]]:
        """Empty the instrument's error queue."""
        ...


Crosspoint = tuple[int, int]  # (matrix input row, matrix output column), both from 1


@runtime_checkable
class SwitchMatrix(Protocol):
    """A relay matrix routing instrument channels (inputs) to DUT pads (outputs).

    Relays are switched cold: the caller turns sources off first (the station does).
    """

    name: str

    def closed(self) -> set[Crosspoint]:
        """The crosspoints closed now, read back from the matrix."""
        ...

    def route(self, crosspoints: set[Crosspoint]) -> set[Crosspoint]:
        """Open every other crosspoint, close these, read back; returns what is closed. Refuses
        (before switching anything) a set that ties two inputs to one output."""
        ...

    def open_all(self) -> None:
        ...

    def safe_off(self) -> None:
        """Open every relay."""
        ...

    def errors(self) -> list[tuple[int, str]]:
        ...


@dataclass(frozen=True)
class Pose:
    """A 6-D pose: X Y Z in mm, U V W in degrees (rotations about the pivot point)."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    u: float = 0.0
    v: float = 0.0
    w: float = 0.0

    AXES = ("x", "y", "z", "u", "v", "w")

    def as_dict(self) -> dict[str, float]:
        return {axis: getattr(self, axis) for axis in self.AXES}


@runtime_checkable
class Positioner6D(Protocol):
    """A hexapod or other 6-D stage. Targets outside its travel or the station's envelope are
    refused before anything is sent."""

    name: str

    def position(self) -> Pose:
        ...

    def move_to(self, target: Pose, should_abort: AbortCheck | None = None) -> Pose:
        """Move and wait on target (abortable); returns the pose reached."""
        ...

    def referenced(self) -> bool:
        ...

    def set_pivot(self, x: float, y: float, z: float) -> None:
        """The pivot point of U V W, mm (e.g. the fibre tip)."""
        ...

    def safe_off(self) -> None:
        """Halt every axis where it is."""
        ...

    def errors(self) -> list[tuple[int, str]]:
        ...


Die = tuple[int, int]  # (column, row) in the prober's wafer map


@runtime_checkable
class Prober(Protocol):
    """A wafer prober's chuck: separated before it steps, in contact only to measure."""

    name: str

    def contact_state(self) -> str:
        """"contact", "separation" or "hover"."""
        ...

    def separate(self) -> None:
        ...

    def contact(self) -> None:
        ...

    def step_die(self, die: Die, subsite: int = 0) -> Die:
        """Move to `die` (refused while in contact); returns the die reached."""
        ...

    def die(self) -> Die:
        ...

    def safe_off(self) -> None:
        """Separate the chuck."""
        ...

    def errors(self) -> list[tuple[int, str]]:
        ...


@runtime_checkable
class Thermal(Protocol):
    """A temperature forcing system on the DUT (thermal chuck, ThermoStream head), in kelvin.
    Setpoints beyond the instrument's or the station's limits are refused before sending."""

    name: str

    def set_temperature(self, kelvin: float) -> None:
        """Force `kelvin` (checked against every limit first)."""
        ...

    def temperature(self) -> float:
        """The measured temperature, K."""
        ...

    def wait_settled(self, kelvin: float, tolerance: float, soak: float, timeout: float,
                     should_abort: AbortCheck | None = None) -> float:
        """Poll (on the station clock) until within `tolerance` K of `kelvin` for `soak` s;
        returns the measured temperature (the last one read on abort); raises after
        `timeout` s."""
        ...

    def safe_off(self) -> None:
        """Stop forcing: back to ambient, air flow as the instrument requires."""
        ...

    def errors(self) -> list[tuple[int, str]]:
        ...


@runtime_checkable
class PairedSourceMeter(Protocol):
    """An SMU channel that can step together with another channel of the same instrument."""

    def pairs_with(self, partner: SourceMeter) -> bool: ...

    def check_pair(self, partner: SourceMeter, own: Staircase, theirs: Staircase,
                   nplc: float) -> None: ...

    def run_pair(self, partner: SourceMeter, own: Staircase, theirs: Staircase, nplc: float,
                 should_abort: AbortCheck | None = None) -> tuple[SequenceData, SequenceData]: ...
