"""Instrument-side sequences: voltage segments on one DUT terminal, with measure events.

A `Sequence` is what a protocol asks a source to do; each driver compiles it into its own
instrument-side program (sweep lists, trigger models, TSP scripts), one configure, one trigger
and one buffer read per segment, chunked to the instrument's list limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labsyn.errors import LimitError


@dataclass(frozen=True)
class Staircase:
    """Levels held `dwell` s each, measured at the end of every step, under `current_limit`.

    With `stop_on_limit` the instrument ends the staircase at the first reading in compliance
    (a forming ramp stops at the trip), so fewer rows than levels come back.
    """

    levels: tuple[float, ...]
    dwell: float
    current_limit: float
    label: str = ""
    stop_on_limit: bool = False

    def __post_init__(self) -> None:
        if len(self.levels) < 1:
            raise LimitError(f"{self.label or 'staircase'} levels", len(self.levels), ">= 1 level")
        if not np.all(np.isfinite(self.levels)):
            raise LimitError(f"{self.label or 'staircase'} levels", "non-finite", "finite volts")
        if not self.dwell >= 0:
            raise LimitError(f"{self.label or 'staircase'} dwell", self.dwell, ">= 0 s")
        if not self.current_limit > 0:
            raise LimitError(f"{self.label or 'staircase'} current limit", self.current_limit,
                             "> 0 A")

    @classmethod
    def ramp(cls, start: float, stop: float, step: float, dwell: float, current_limit: float,
             label: str = "", stop_on_limit: bool = False) -> Staircase:
        """start → stop in steps of |step| (both ends included)."""
        if not step > 0:
            raise LimitError("ramp step", step, "> 0 V")
        n = int(round(abs(stop - start) / step)) + 1
        return cls(tuple(np.linspace(start, stop, n)), dwell, current_limit, label, stop_on_limit)

    @property
    def points(self) -> int:
        return len(self.levels)

    def is_linear(self, tolerance: float = 1e-9) -> bool:
        if len(self.levels) < 2:
            return False
        steps = np.diff(self.levels)
        return bool(np.all(np.abs(steps - steps[0]) <= tolerance * max(1.0, abs(steps[0])))
                    and steps[0] != 0)


@dataclass(frozen=True)
class PulseTrain:
    """Pulses of `width` s every `period` s from `base`; optionally a read after each pulse.

    The read sits at `read_level` from `read_delay` s after the pulse ends, measured once.
    With `measure_pulse` the instrument also measures once inside each pulse, the reading
    ending with the pulse (pulse-top sampling, for the current at the pulse voltage): each pulse
    then yields its pulse-top row, then its read row (see `SequenceData.pulse_top`). An SMU that
    cannot do it refuses the train in `check_sequence` (`refuse_pulse_sampling`).
    """

    amplitudes: tuple[float, ...]
    width: float
    period: float
    current_limit: float
    base: float = 0.0
    read_level: float | None = None
    read_delay: float = 0.0
    label: str = ""
    measure_pulse: bool = False

    def __post_init__(self) -> None:
        name = self.label or "pulse train"
        if len(self.amplitudes) < 1:
            raise LimitError(f"{name} pulses", 0, ">= 1 pulse")
        if not np.all(np.isfinite(self.amplitudes)):
            raise LimitError(f"{name} amplitudes", "non-finite", "finite volts")
        for quantity, value in (("width", self.width), ("period", self.period),
                                ("current limit", self.current_limit)):
            if not value > 0:
                raise LimitError(f"{name} {quantity}", value, "> 0")
        if self.read_delay < 0:
            raise LimitError(f"{name} read delay", self.read_delay, ">= 0 s")

    @classmethod
    def identical(cls, amplitude: float, count: int, width: float, period: float,
                  current_limit: float, **kwargs: object) -> PulseTrain:
        if count < 1:
            raise LimitError("pulse count", count, ">= 1")
        return cls((float(amplitude),) * count, width, period, current_limit, **kwargs)  # type: ignore[arg-type]

    @property
    def points(self) -> int:
        return len(self.amplitudes)

    @property
    def rows_per_pulse(self) -> int:
        """Readings each pulse stores: its pulse-top sample and its read, as asked."""
        return int(self.measure_pulse) + int(self.read_level is not None)

    @property
    def readings(self) -> int:
        return self.points * self.rows_per_pulse

    def pulse_top_rows(self, count: int) -> np.ndarray:
        """Which of the first `count` rows the train stores are pulse-top samples."""
        pattern = [True] * self.measure_pulse + [False] * (self.read_level is not None)
        if not pattern:
            return np.zeros(count, bool)
        return np.resize(np.asarray(pattern, bool), count)

    @property
    def levels(self) -> tuple[float, ...]:
        """Every level the train sources: pulses, base and read."""
        read = () if self.read_level is None else (self.read_level,)
        return (*self.amplitudes, self.base, *read)


Segment = Staircase | PulseTrain


@dataclass(frozen=True)
class Sequence:
    """Segments run one after another on the source wired to `terminal`."""

    terminal: str
    segments: tuple[Segment, ...]
    nplc: float = 1.0

    @property
    def points(self) -> int:
        return sum(s.points for s in self.segments)


def bipolar_loop(v_set: float, v_reset: float, step: float, dwell: float, set_limit: float,
                 reset_limit: float, terminal: str = "TE", nplc: float = 1.0) -> Sequence:
    """0 → +V_set → 0 (SET, own limit) then 0 → −|V_reset| → 0 (RESET, own limit)."""
    up = Staircase.ramp(0.0, v_set, step, dwell, set_limit)
    down = Staircase.ramp(0.0, -abs(v_reset), step, dwell, reset_limit)
    set_levels = up.levels + up.levels[-2::-1]
    reset_levels = down.levels + down.levels[-2::-1]
    return Sequence(terminal, (Staircase(set_levels, dwell, set_limit, "SET"),
                               Staircase(reset_levels, dwell, reset_limit, "RESET")), nplc)


@dataclass
class SequenceData:
    """What a sequence measured: one row per measure event, in the order they were taken.

    `pulse_top[i]` is True when row i was measured inside a pulse (a `PulseTrain` with
    `measure_pulse`), False for every read and staircase reading; such a train's rows alternate
    pulse-top, read (pulse-top only without `read_level`). Built without it, no row is one.
    """

    segment: np.ndarray
    time: np.ndarray
    source: np.ndarray
    current: np.ndarray
    limited: np.ndarray
    aborted: bool = False
    labels: list[str] = field(default_factory=list)
    pulse_top: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.pulse_top is None:
            self.pulse_top = np.zeros(len(self.time), bool)
        self.pulse_top = np.asarray(self.pulse_top, bool)

    @classmethod
    def empty(cls) -> SequenceData:
        return cls(*(np.empty(0, dtype=t) for t in (int, float, float, float, bool)))

    @classmethod
    def concatenate(cls, parts: list[SequenceData], aborted: bool = False) -> SequenceData:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, name) for p in parts])
                     for name in ("segment", "time", "source", "current", "limited")),
                   aborted=aborted or any(p.aborted for p in parts),
                   labels=[label for p in parts for label in p.labels],
                   pulse_top=np.concatenate([p.pulse_top for p in parts]))

    def rows(self, mask: np.ndarray) -> SequenceData:
        """The rows where `mask` holds (e.g. ``~data.pulse_top``: the reads alone)."""
        return SequenceData(self.segment[mask], self.time[mask], self.source[mask],
                            self.current[mask], self.limited[mask], self.aborted,
                            list(self.labels), self.pulse_top[mask])

    def __len__(self) -> int:
        return len(self.time)


def refuse_pulse_sampling(sequence: Sequence, model: str) -> None:
    """For SMUs that cannot measure inside a pulse: refuse a train asking for it, naming it."""
    for segment in sequence.segments:
        if isinstance(segment, PulseTrain) and segment.measure_pulse:
            raise LimitError(f"{segment.label or 'pulse train'} pulse-top sampling", "requested",
                             f"off — pulse-top sampling is not supported on {model} (a Keithley "
                             "2450 can sample)")
