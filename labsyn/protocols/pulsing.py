"""Write pulses and read after each, whatever the station wires to TE: one SMU playing the
whole train instrument-side, or a pulse generator writing with an SMU on BE reading (linked by a
trigger cable). Protocols state amplitudes as the voltage the device sees (open circuit); the
path converts them to programmed levels and checks every limit before anything is sent.

Pulse-top sampling (`WriteRead.sample_pulse`, for the energy per pulse E ≈ V·I_pulse·t_pw): the
SMU also measures once inside each pulse, the reading ending with the pulse. Only an SMU writing
the pulse itself can (`PulsePath.can_sample_pulse`); on a pulser+SMU path the pulse generator
measures nothing, so the train runs unsampled and `PulseReads.pulse_current` is None (a protocol
asking for energy degrades to "not measured" rather than failing on such a station). An SMU whose
driver cannot sample refuses the train in `check`, naming the SMU."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

import numpy as np

from labsyn.drivers.capabilities import AbortCheck, PulseGenerator, SourceMeter
from labsyn.drivers.linked import check_write_read, write_with_pulser_read_with_smu
from labsyn.drivers.sequence import PulseTrain, Sequence, SequenceData
from labsyn.errors import ConfigError, LimitError

from .common import check_sequence


@dataclass(frozen=True)
class WriteRead:
    """Pulses at the device (V, open circuit) of `width`, one every `period`, each followed
    `read_delay` after its end by one read at `read_level` (device frame) under `compliance`."""

    amplitudes: tuple[float, ...]
    width: float
    period: float
    read_level: float
    read_delay: float
    compliance: float
    nplc: float = 0.01
    label: str = "write-read"
    sample_pulse: bool = False

    @property
    def pulses(self) -> int:
        return len(self.amplitudes)


@dataclass
class PulseReads:
    """What a write/read train measured, one row per pulse, in the device's frame."""

    amplitude: np.ndarray  # V at the device, the pulse before each read
    time: np.ndarray  # s, instrument time of the read
    voltage: np.ndarray  # V, measured read voltage
    current: np.ndarray  # A, read current TE → BE
    limited: np.ndarray  # the read was in compliance
    aborted: bool = False
    pulse_current: np.ndarray | None = None  # A at the pulse voltage, end of each pulse
    pulse_voltage: np.ndarray | None = None  # V the SMU measured at its output then

    def __len__(self) -> int:
        return len(self.current)


class PulsePath:
    """How this station writes and reads: `kind` is "smu" or "pulser+smu"."""

    def __init__(self, station: Any, protocol: str, terminal: str = "TE",
                 return_terminal: str = "BE") -> None:
        self.station, self.protocol = station, protocol
        self.terminal, self.return_terminal = terminal, return_terminal
        self.binding = station.terminal(terminal)
        driver = self.binding.driver
        if isinstance(driver, SourceMeter):
            self.kind = "smu"
        elif isinstance(driver, PulseGenerator):
            back = station.terminal(return_terminal)
            if back.grounded or not isinstance(back.driver, SourceMeter):
                raise ConfigError(f"{protocol}: a pulse generator on {terminal} needs an SMU on "
                                  f"{return_terminal} to read; the station wires "
                                  f"{return_terminal} to "
                                  f"{'ground' if back.grounded else type(back.driver).__name__}")
            self.kind = "pulser+smu"
            self.reader = back.driver
        else:
            what = "ground" if self.binding.grounded else type(driver).__name__
            raise ConfigError(f"{protocol} needs a source-measure unit or a pulse generator on "
                              f"{terminal}; the station wires {terminal} to {what}")

    @property
    def can_sample_pulse(self) -> bool:
        """Whether this path measures the current inside its pulses (an SMU that writes them
        and whose driver runs pulse-top sampling)."""
        return self.kind == "smu" and bool(getattr(self.binding.driver, "samples_pulse_top",
                                                   False))

    @property
    def min_width(self) -> float:
        """Shortest pulse this path can write (s)."""
        return float(self.binding.driver.limits.min_width if self.kind == "pulser+smu"
                     else self.binding.driver.limits.min_pulse_width)

    def programmed(self, amplitude: float) -> float:
        """The level to program for `amplitude` at the device (50 Ω-set generators double)."""
        return amplitude / self.binding.at_device(1.0)

    def check(self, train: WriteRead, parameters: str = "") -> None:
        """Every limit of `train` (station, instrument, timing); a `LimitError` names what set it
        (`parameters`) and says when a shorter pulse needs a pulse generator."""
        hint = f"; set by {parameters}" if parameters else ""
        if self.kind == "smu" and train.width < self.min_width:
            raise LimitError(f"{self.protocol}: pulse width on {self.terminal} "
                             f"({type(self.binding.driver).__name__})", f"{train.width:g} s",
                             f"≥ {self.min_width:g} s on this SMU; a shorter pulse needs a "
                             f"station with a pulse generator on {self.terminal}{hint}")
        if self.kind == "smu":
            check_sequence(self.station, self._sequence(train), self.protocol, parameters)
            return
        try:
            for amplitude in set(train.amplitudes):
                check_write_read(self.binding.driver, self.reader, self.programmed(amplitude),
                                 train.width, train.pulses, train.period, train.read_level,
                                 train.read_delay, train.compliance, train.nplc,
                                 self._check_voltage, self.terminal, self.return_terminal)
            self.station.check_current_limit(train.compliance)
        except LimitError as exc:
            raise LimitError(f"{self.protocol}: {exc.quantity}", exc.value,
                             exc.allowed + hint) from None

    def _check_voltage(self, terminal: str, volts: float) -> None:
        self.station.check_voltage(terminal, volts)

    def _sequence(self, train: WriteRead) -> Sequence:
        pulses = PulseTrain(tuple(float(a) for a in train.amplitudes), train.width, train.period,
                            train.compliance, read_level=train.read_level,
                            read_delay=train.read_delay, label=train.label,
                            measure_pulse=train.sample_pulse)
        return Sequence(self.terminal, (pulses,), train.nplc)

    def run(self, train: WriteRead, should_abort: AbortCheck | None = None) -> PulseReads:
        """Play `train` (checked first); on abort, what was measured, flagged."""
        self.check(train)
        if self.kind == "smu":
            data = self.binding.driver.run(self._sequence(train), should_abort)
            return _reads(np.asarray(train.amplitudes, dtype=float), data, train.sample_pulse)
        parts: list[PulseReads] = []
        for amplitude, run in groupby(train.amplitudes):  # one linked train per identical run
            count = len(list(run))
            data = write_with_pulser_read_with_smu(
                self.binding.driver, self.reader, self.programmed(amplitude), train.width, count,
                train.period, train.read_level, train.read_delay, train.compliance, train.nplc,
                should_abort, check_voltage=self._check_voltage, pulser_terminal=self.terminal,
                smu_terminal=self.return_terminal)
            parts.append(_reads(np.full(len(data), float(amplitude)), data))
            if data.aborted:
                break
        return _joined(parts)


def _reads(amplitude: np.ndarray, data: SequenceData, sampled: bool = False) -> PulseReads:
    """One row per pulse with its read; a pulse-top sample without its read (abort) is dropped."""
    tops, reads = data.rows(data.pulse_top), data.rows(~data.pulse_top)
    n = min(len(amplitude), len(reads))  # a dry run's static buffer may hold more rows
    pulse_current = pulse_voltage = None
    if sampled:
        n = min(n, len(tops))
        pulse_current, pulse_voltage = tops.current[:n], tops.source[:n]
    return PulseReads(amplitude[:n], reads.time[:n], reads.source[:n], reads.current[:n],
                      reads.limited[:n].astype(bool), data.aborted, pulse_current, pulse_voltage)


def _joined(parts: list[PulseReads]) -> PulseReads:
    if not parts:
        empty = np.empty(0)
        return PulseReads(empty, empty, empty, empty, np.empty(0, bool))
    return PulseReads(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("amplitude", "time", "voltage", "current", "limited")),
                      aborted=any(p.aborted for p in parts))
