"""Compiling `Sequence` segments into Keithley 2400 SCPI programs.

The 2400 runs source-delay-measure (SDM) cycles under an arm layer and a trigger layer: each
trigger-layer pass sources the next sweep point, waits the source delay and takes one reading
into the buffer. The trigger delay comes *before* the source changes, so it lengthens the level
that is already there. A staircase is one linear sweep (``:SOUR:VOLT:MODE SWE``) or one list sweep
(``:SOUR:LIST:VOLT``, at most 100 values per command, 2500 in all); ``:SOUR:SWE:CAB LATE`` ends a
stop-on-limit staircase after the first reading in compliance.

The 2400 has no pulse mode. A pulse train is a list *pattern* per pulse — pulse, read, base (base is
left out when it equals the read level) — run by the trigger layer, while the arm layer's timer
(``:ARM:SOUR TIM``, ``:ARM:TIM`` = period) starts one pattern per period. Every pattern point is an
SDM cycle of the same length, so one cycle is the pulse width: the source delay times the read
(a read delay of a width or more adds read-level cycles before the measured one), the trigger
delay fills the rest of the width. Every point is measured; only the reads are reported. The list
index runs on across arm passes and wraps after the last point (manual §18,
``:SOUR:LIST:VOLT:STAR``), so identical pulses need only the pattern itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from labsyn.errors import LimitError

from .sequence import PulseTrain, Staircase
from .validators import strict_range

LIST_VALUES_PER_COMMAND = 100
MAX_MESSAGE_BYTES = 2048  # program-message size we allow (?: the manual states no input limit)
MAX_POINTS = 2500  # sweep points, list points, buffer size and arm × trigger count
MAX_SOURCE_DELAY, MAX_TRIGGER_DELAY, MAX_ARM_TIMER = 9999.998, 999.9999, 99999.99
MEASURE_OVERHEAD_S = 0.3e-3  # trigger latency + reading processing per SDM cycle (~, spec sheet)
ARM_MARGIN_S = 0.5e-3  # slack between the end of one pattern and the next arm-timer event
STAIRCASE_FUNCTIONS = ("'VOLT:DC'", "'CURR:DC'")  # measured voltage shows the sag in compliance
TRAIN_FUNCTIONS = ("'CURR:DC'",)  # current only: the shortest reading, so the shortest pulse


@dataclass(frozen=True)
class Program:
    """The messages of one instrument-side run and how to read its buffer back.

    The buffer holds `group` readings per reported row; `row` picks the reported one of each
    group (None: nothing is reported). `first_reading` is the time from ``:INIT`` to the first
    buffer reading, whose timestamp is zero (``:TRAC:TST:FORM ABS``).
    """

    messages: list[str]
    duration: float
    first_reading: float
    rows: int
    group: int = 1
    row: int | None = 0


def reading_time(nplc: float, line_frequency: float, functions: int) -> float:
    """One SDM measurement: an A/D conversion per measured function (autozero off) + overhead."""
    return functions * nplc / line_frequency + MEASURE_OVERHEAD_S


def _setup(limit: float, source_delay: float, nplc: float, functions: tuple[str, ...]) -> list[str]:
    concurrent = "ON" if len(functions) > 1 else "OFF"
    return [":TRAC:FEED:CONT NEV", ":SOUR:FUNC VOLT", ":SOUR:DEL:AUTO OFF",
            f":SOUR:DEL {source_delay:.6g}", f":SENS:CURR:PROT {limit:.9g}",
            ":SENS:FUNC:OFF:ALL", f":SENS:FUNC:CONC {concurrent}",
            f":SENS:FUNC {','.join(functions)}", ":SENS:CURR:RANG:AUTO ON",
            f":SENS:CURR:NPLC {nplc:.6g}", ":SYST:AZER ONCE", ":FORM:ELEM VOLT,CURR,TIME,STAT"]


def _buffer(points: int) -> list[str]:
    return [":TRAC:CLE", f":TRAC:POIN {points}", ":TRAC:FEED SENS", ":TRAC:FEED:CONT NEXT"]


def _list_commands(levels: tuple[float, ...]) -> list[str]:
    commands = []
    for i in range(0, len(levels), LIST_VALUES_PER_COMMAND):
        values = ",".join(f"{v:.9g}" for v in levels[i:i + LIST_VALUES_PER_COMMAND])
        commands.append(f"{':SOUR:LIST:VOLT' if i == 0 else ':SOUR:LIST:VOLT:APP'} {values}")
    return commands


def _pack(setup: list[str], lists: list[str], final: list[str]) -> list[str]:
    """Commands joined with ';' into messages of at most MAX_MESSAGE_BYTES, in order: setup (the
    compliance first), source lists, then the sweep mode and output-on."""
    messages: list[str] = []
    for command in [*setup, *lists, *final]:
        if messages and len(messages[-1]) + 1 + len(command) <= MAX_MESSAGE_BYTES:
            messages[-1] += ";" + command
        else:
            messages.append(command)
    return messages


def _final(mode: str, stop_on_limit: bool) -> list[str]:
    return [f":SOUR:VOLT:MODE {mode}", ":SOUR:SWE:RANG BEST", ":SOUR:SWE:DIR UP",
            f":SOUR:SWE:CAB {'LATE' if stop_on_limit else 'NEV'}", ":OUTP ON"]


def staircase_program(step: Staircase, nplc: float, line_frequency: float) -> Program:
    """One sweep of at most 2500 points: linear sweep if the steps are equal, else a list."""
    reading = reading_time(nplc, line_frequency, len(STAIRCASE_FUNCTIONS))
    delay = max(0.0, step.dwell - reading)
    n = step.points
    setup = [*_setup(step.current_limit, delay, nplc, STAIRCASE_FUNCTIONS),
             ":ARM:SOUR IMM", ":ARM:COUN 1", ":TRIG:SOUR IMM", ":TRIG:DEL 0", f":TRIG:COUN {n}",
             *_buffer(n)]
    if step.is_linear():
        setup += [":SOUR:SWE:SPAC LIN", f":SOUR:VOLT:STAR {step.levels[0]:.9g}",
                  f":SOUR:VOLT:STOP {step.levels[-1]:.9g}", f":SOUR:SWE:POIN {n}"]
        messages = _pack(setup, [], _final("SWE", step.stop_on_limit))
    else:
        messages = _pack(setup, _list_commands(step.levels), _final("LIST", step.stop_on_limit))
    return Program(messages, n * (delay + reading), delay + reading - MEASURE_OVERHEAD_S, n)


def settle_cycles(train: PulseTrain) -> int:
    """Read-level SDM cycles before the measured one: the read delay spans whole widths."""
    if train.read_level is None:
        return 0
    return int(math.floor(train.read_delay / train.width + 1e-9))


def train_pattern(train: PulseTrain, amplitude: float) -> tuple[float, ...]:
    """The levels of one pulse: pulse, read (after `settle_cycles` more at the read level), base
    (unless the read level is the base)."""
    if train.read_level is None:
        return (amplitude, train.base)
    reads = (train.read_level,) * (settle_cycles(train) + 1)
    base = () if train.read_level == train.base else (train.base,)
    return (amplitude, *reads, *base)


def train_delays(train: PulseTrain, nplc: float, line_frequency: float) -> tuple[float, float]:
    """(source delay, trigger delay) that make every SDM cycle last one pulse width.

    The read happens `settle_cycles` widths plus the source delay after the pulse; the trigger
    delay is what remains of the width. A negative trigger delay means the timing is impossible.
    """
    reading = reading_time(nplc, line_frequency, len(TRAIN_FUNCTIONS))
    if train.read_level is None:
        return 0.0, train.width - reading
    source_delay = max(0.0, train.read_delay - settle_cycles(train) * train.width)
    return source_delay, train.width - source_delay - reading


def pulses_per_run(train: PulseTrain) -> int:
    """How many pulses one ``:INIT`` holds (buffer and arm × trigger count: 2500 readings)."""
    return MAX_POINTS // len(train_pattern(train, train.amplitudes[0]))


def min_period(train: PulseTrain) -> float:
    """Every pattern point lasts one width; the arm timer needs a little slack after them."""
    return len(train_pattern(train, train.amplitudes[0])) * train.width + ARM_MARGIN_S


def train_program(train: PulseTrain, nplc: float, line_frequency: float) -> Program:
    """A timer-armed list sweep for at most `pulses_per_run(train)` pulses."""
    source_delay, trigger_delay = train_delays(train, nplc, line_frequency)
    trigger_delay = max(trigger_delay, 0.0)  # check_sequence refused the impossible timings
    pulses = train.points
    pattern = train_pattern(train, train.amplitudes[0])
    group = len(pattern)
    if len(set(train.amplitudes)) == 1:
        levels = pattern
    else:
        levels = tuple(v for a in train.amplitudes for v in train_pattern(train, a))
    setup = [*_setup(train.current_limit, source_delay, nplc, TRAIN_FUNCTIONS),
             ":ARM:SOUR TIM", f":ARM:TIM {train.period:.9g}", ":TRIG:COUN 1",
             f":ARM:COUN {pulses}", ":TRIG:SOUR IMM", f":TRIG:DEL {trigger_delay:.6g}",
             f":TRIG:COUN {group}", *_buffer(pulses * group)]
    messages = _pack(setup, _list_commands(levels), _final("LIST", stop_on_limit=False))
    reading = reading_time(nplc, line_frequency, len(TRAIN_FUNCTIONS))
    first = trigger_delay + source_delay + reading - MEASURE_OVERHEAD_S
    duration = (pulses - 1) * train.period + group * train.width
    if train.read_level is None:
        return Program(messages, duration, first, 0, group, None)
    return Program(messages, duration, first, pulses, group, 1 + settle_cycles(train))


def check_train_timing(train: PulseTrain, name: str, nplc: float, line_frequency: float) -> None:
    """Raise `LimitError` unless every pattern point can be one SDM cycle of one width."""
    reading = reading_time(nplc, line_frequency, len(TRAIN_FUNCTIONS))
    if train.width < reading:
        raise LimitError(f"{name} pulse width", f"{train.width:g} s",
                         f"≥ {reading:.3g} s at NPLC {nplc:g} on the 2400: each pattern point is "
                         "one SDM cycle, one reading long at least")
    source_delay, trigger_delay = train_delays(train, nplc, line_frequency)
    if trigger_delay < -1e-12:
        whole = train.read_delay - source_delay
        raise LimitError(f"{name} read delay", f"{train.read_delay:g} s",
                         f"{whole:g} … {whole + train.width - reading:.3g} s or "
                         f"{whole + train.width:g} s on the 2400 at NPLC {nplc:g}: the read starts "
                         f"0 … width − reading ({reading:.3g} s) into a cycle of one width")
    strict_range(f"{name} trigger delay (width − read delay − reading)", "s")(
        max(trigger_delay, 0.0), (0.0, MAX_TRIGGER_DELAY))
    strict_range(f"{name} period", "s")(train.period, (max(min_period(train), 0.001),
                                                       MAX_ARM_TIMER))


def instrument_pieces(segment: Staircase | PulseTrain) -> list[Staircase | PulseTrain]:
    """A segment cut to what one 2400 ``:INIT`` can run (2500 readings)."""
    if isinstance(segment, Staircase):
        return [replace(segment, levels=segment.levels[i:i + MAX_POINTS])
                for i in range(0, segment.points, MAX_POINTS)]
    size = pulses_per_run(segment)
    return [replace(segment, amplitudes=segment.amplitudes[i:i + size])
            for i in range(0, segment.points, size)]
