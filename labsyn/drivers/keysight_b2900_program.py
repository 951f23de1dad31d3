"""Keysight B2901A/B2902A limits and the compiling of `Sequence` segments into its SCPI.

Every segment becomes one ``;``-chained configure message for one channel, run by one
``:INIT (@n)`` and read back by one ``:FETC:ARR? (@n)``; segments longer than the instrument's
lists (2500 points) or counts (100 000) are cut into pieces.

How each segment maps onto the B2900's ARM-TRIGger model (User's Guide Ed 5 §6-27):

- Staircase: DC shape, sweep (linear) or list mode; one timer-paced trigger layer whose interval
  is the dwell; the acquire delay puts each reading at the end of its step.
- PulseTrain read at the base level (or not read): pulse shape, base ``:SOUR:VOLT``, peak
  ``:SOUR:VOLT:TRIG`` (identical pulses, no list) or a list of peaks; one trigger every period;
  the acquisition starts `read_delay` after the pulse ends, at the base (a train without a read
  still acquires there, as the acquire layer must run, but nothing is fetched).
- PulseTrain read at another level: the B2900's pulse mode always returns to the base, so the read
  is a second pulse: a list of (peak, read) pairs, the ARM layer paces the period, the transient
  trigger layer fires the pair `width + read_delay` apart, and one acquisition per arm cycle
  sits at the end of the read pulse. The read pulse has the write pulse's width (one
  ``:PULS:WIDT`` per channel), so the reading must fit in `width`.

Boolean parameters are sent as 1/0 (stock pyvisa-sim properties then track them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labsyn.errors import LimitError

from .sequence import PulseTrain, SequenceData, Staircase
from .validators import check_range, strict_integer_range, strict_range

MAX_VOLTAGE = 210.0
MAX_CURRENT = 3.03
MIN_CURRENT_LIMIT = 1e-9
# Per-channel power envelope: up to |V| volts, at most I amperes (the B2961A SCPI Reference Ed 6
# table 2-4 gives these for the same 210 V / 3.03 A class; the B2901A data sheet agrees ~).
ENVELOPE = ((6.0, 3.03), (21.0, 1.515), (210.0, 0.105))
VOLTAGE_RANGES = (0.2, 2.0, 20.0, 200.0)
CURRENT_RANGES = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 1.5, 3.0)
RANGE_OVER = 1.05
MIN_PULSE_WIDTH, MAX_PULSE_WIDTH = 50e-6, 1e5
LIST_MAX_POINTS = 2500
MAX_COUNT = 100_000
MIN_TRIGGER_INTERVAL, MAX_TIME = 20e-6, 1e5
MIN_NPLC, MAX_NPLC = 4.8e-4, 100.0
MEASURE_OVERHEAD_S = 50e-6
MARGIN_S = 10e-6
STATUS_COMPLIANCE = 0b110  # status word bits 1-2: compliance (SCPI Reference Ed 2 table 1-2)
ELEMENTS = "VOLT,CURR,TIME,STAT,SOUR"


def envelope_current(voltage: float) -> float:
    """The largest current limit allowed at `voltage`."""
    for top, current in ENVELOPE:
        if abs(voltage) <= top:
            return current
    return 0.0


def check_envelope(voltage: float, current_limit: float) -> None:
    """3.03 A up to 6 V, 1.515 A up to 21 V, 105 mA up to 210 V."""
    if current_limit > envelope_current(voltage) * (1 + 1e-9):
        raise LimitError("current limit", f"{current_limit:g} A at {voltage:g} V",
                         "≤ 3.03 A up to 6 V, ≤ 1.515 A up to 21 V, ≤ 0.105 A up to 210 V")


def check_two_channel_envelope(a: tuple[float, float], b: tuple[float, float]) -> None:
    """A B2902A's channels share one supply: (|V|, I limit) of each (User's Guide table 2-4)."""
    (va, ia), (vb, ib) = a, b
    if abs(va) > 21.0 or abs(vb) > 21.0:
        return
    low_a, low_b = abs(va) <= 6.0, abs(vb) <= 6.0
    if low_a and low_b:
        total, allowed, rule = ia + ib, 4.0, "I1 + I2 ≤ 4 A with both channels ≤ 6 V"
    elif low_a or low_b:
        low, high = (ia, ib) if low_a else (ib, ia)
        total, allowed = low + 1.6 * high, 4.0
        rule = "I(≤6 V) + 1.6·I(6–21 V) ≤ 4 A"
    else:
        total, allowed, rule = ia + ib, 2.5, "I1 + I2 ≤ 2.5 A with both channels at 6–21 V"
    if total > allowed * (1 + 1e-9):
        raise LimitError("two-channel current limits", f"{ia:g} A at {va:g} V and "
                         f"{ib:g} A at {vb:g} V", rule)


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range holding |value| (5 % over-range)."""
    for rng in ranges:
        if abs(value) <= rng * RANGE_OVER:
            return rng
    return ranges[-1]


def reading_time(nplc: float, line_frequency: float) -> float:
    """One reading: the aperture plus the instrument's processing."""
    return nplc / line_frequency + MEASURE_OVERHEAD_S


def reads_at_base(train: PulseTrain) -> bool:
    return train.read_level is None or train.read_level == train.base


def identical(train: PulseTrain) -> bool:
    return len(set(train.amplitudes)) == 1


@dataclass(frozen=True)
class Program:
    """One instrument-side run: its configure message and what to expect of it."""

    configure: str
    duration: float  # :INIT to the end of the last action, s
    readings: int  # readings the driver returns
    first_reading: float  # :INIT to the end of the first reading, s


# -- checks (raise LimitError before anything is sent) -----------------------------------------
def check_nplc(nplc: float) -> None:
    strict_range("NPLC")(nplc, (MIN_NPLC, MAX_NPLC))


def check_segment_levels(segment: Staircase | PulseTrain, name: str) -> float:
    strict_range(f"{name} current limit", "A")(segment.current_limit,
                                               (MIN_CURRENT_LIMIT, MAX_CURRENT))
    peak = float(np.max(np.abs(segment.levels)))
    check_range(f"{name} level", peak, 0.0, MAX_VOLTAGE, "V")
    check_envelope(peak, segment.current_limit)
    return peak


def check_staircase(step: Staircase, name: str) -> None:
    check_range(f"{name} dwell", step.dwell, 0.0, MAX_TIME, "s")


def check_train(train: PulseTrain, name: str, nplc: float, line_frequency: float) -> None:
    """Width, read placement and period against the B2900's pulse and trigger limits."""
    width, read_delay = train.width, train.read_delay
    check_range(f"{name} pulse width", width, MIN_PULSE_WIDTH, MAX_PULSE_WIDTH, "s")
    check_range(f"{name} read delay", read_delay, 0.0, MAX_TIME, "s")
    reading = reading_time(nplc, line_frequency)
    if reads_at_base(train):
        busy = width + read_delay + reading + MARGIN_S
    else:
        if reading + MARGIN_S > width:
            raise LimitError(f"{name} read aperture", f"{reading:g} s (NPLC {nplc:g})",
                             f"≤ {width - MARGIN_S:g} s: a read away from the base is a pulse "
                             "of the write pulse's width on the B2900; lower NPLC or widen "
                             "the pulse")
        busy = 2 * width + read_delay + MARGIN_S
    check_range(f"{name} period", train.period, max(busy, MIN_TRIGGER_INTERVAL), MAX_TIME, "s")
    strict_integer_range(f"{name} pulse count")(train.points, (1, 10**9))


# -- cutting segments into instrument-sized pieces --------------------------------------------
def pieces(segment: Staircase | PulseTrain) -> list[Staircase | PulseTrain]:
    """A segment cut to what one ``:INIT`` can run (lists 2500 points, counts 100 000)."""
    if isinstance(segment, Staircase):
        size = LIST_MAX_POINTS
        return [Staircase(segment.levels[i:i + size], segment.dwell, segment.current_limit,
                          segment.label, segment.stop_on_limit)
                for i in range(0, segment.points, size)]
    if reads_at_base(segment):
        size = MAX_COUNT if identical(segment) else LIST_MAX_POINTS
    else:
        size = LIST_MAX_POINTS // 2
    return [PulseTrain(segment.amplitudes[i:i + size], segment.width, segment.period,
                       segment.current_limit, segment.base, segment.read_level,
                       segment.read_delay, segment.label)
            for i in range(0, segment.points, size)]


# -- compiling ---------------------------------------------------------------------------------
def _seconds(value: float) -> float:
    """A computed delay at 1 ns resolution, never below 0 (rounding can give -4e-19)."""
    return max(0.0, round(value, 9))


def _values(levels: tuple[float, ...] | list[float]) -> str:
    return ",".join(f"{v:.9g}" for v in levels)


def _source(n: int, limit: float, shape: str, immediate: float, peak: float) -> list[str]:
    """Compliance first, then the level (autoranged), then the fixed range covering the peak."""
    return [f":SOUR{n}:FUNC:MODE VOLT", f":SENS{n}:CURR:PROT {limit:.9g}",
            f":SOUR{n}:VOLT:RANG:AUTO 1", f":SOUR{n}:VOLT {immediate:.9g}",
            f":SOUR{n}:VOLT:RANG {range_for(peak, VOLTAGE_RANGES):g}",
            f":SOUR{n}:FUNC:SHAP {shape}"]


def _sense(n: int, nplc: float, fixed_range: float | None) -> list[str]:
    ranging = ([f":SENS{n}:CURR:RANG:AUTO 1"] if fixed_range is None
               else [f":SENS{n}:CURR:RANG:AUTO 0", f":SENS{n}:CURR:RANG {fixed_range:g}"])
    return [f':SENS{n}:FUNC:ON "VOLT","CURR"', f":SENS{n}:CURR:NPLC {nplc:.6g}", *ranging,
            f":SENS{n}:WAIT 0", f":SOUR{n}:WAIT 0", f":FORM:ELEM:SENS {ELEMENTS}"]


def _single_layer(n: int, interval: float, count: int, acquire_delay: float) -> list[str]:
    return [f":ARM{n}:SOUR AINT", f":ARM{n}:COUN 1", f":ARM{n}:DEL 0",
            f":TRIG{n}:SOUR TIM", f":TRIG{n}:TIM {interval:.9g}", f":TRIG{n}:COUN {count}",
            f":TRIG{n}:TRAN:DEL 0", f":TRIG{n}:ACQ:DEL {acquire_delay:.9g}"]


def _output(n: int, protect: bool) -> list[str]:
    return [f":OUTP{n}:PROT {1 if protect else 0}", f":OUTP{n} 1"]


def staircase_program(n: int, step: Staircase, nplc: float, line_frequency: float) -> Program:
    """A timer-paced DC sweep; with `stop_on_limit` the output protection switches the output
    off at the first reading in compliance (``:OUTP:PROT ON``)."""
    reading = reading_time(nplc, line_frequency)
    interval = max(step.dwell, reading + MARGIN_S, MIN_TRIGGER_INTERVAL)
    acquire_delay = _seconds(interval - reading - MARGIN_S)
    peak = float(np.max(np.abs(step.levels)))
    commands = _source(n, step.current_limit, "DC", step.levels[0], peak)
    if step.is_linear():
        commands += [f":SOUR{n}:VOLT:MODE SWE", f":SOUR{n}:SWE:SPAC LIN",
                     f":SOUR{n}:SWE:DIR UP", f":SOUR{n}:VOLT:STAR {step.levels[0]:.9g}",
                     f":SOUR{n}:VOLT:STOP {step.levels[-1]:.9g}",
                     f":SOUR{n}:VOLT:POIN {step.points}"]
    else:
        commands += [f":SOUR{n}:VOLT:MODE LIST", f":SOUR{n}:LIST:VOLT {_values(step.levels)}"]
    commands += _sense(n, nplc, None)
    commands += _single_layer(n, interval, step.points, acquire_delay)
    commands += _output(n, step.stop_on_limit)
    return Program(";".join(commands), step.points * interval, step.points,
                   acquire_delay + reading)


def pulse_train_program(n: int, train: PulseTrain, nplc: float,
                        line_frequency: float) -> Program:
    """Pulse shape from `base`; the read at the base or as a second pulse (module docstring)."""
    reading = reading_time(nplc, line_frequency)
    width, period, count = train.width, train.period, train.points
    peak = float(np.max(np.abs(train.levels)))
    commands = _source(n, train.current_limit, "PULS", train.base, peak)
    commands += [f":SOUR{n}:PULS:DEL 0", f":SOUR{n}:PULS:WIDT {width:.9g}"]
    fixed_range = range_for(train.current_limit, CURRENT_RANGES)
    if reads_at_base(train):
        if identical(train):
            commands += [f":SOUR{n}:VOLT:MODE FIX",
                         f":SOUR{n}:VOLT:TRIG {train.amplitudes[0]:.9g}"]
        else:
            commands += [f":SOUR{n}:VOLT:MODE LIST",
                         f":SOUR{n}:LIST:VOLT {_values(train.amplitudes)}"]
        commands += _sense(n, nplc, fixed_range)
        acquire_delay = _seconds(width + train.read_delay)
        commands += _single_layer(n, period, count, acquire_delay)
        end_of_period = max(width, acquire_delay + reading)
    else:
        pairs = [v for a in train.amplitudes for v in (a, train.read_level)]
        commands += [f":SOUR{n}:VOLT:MODE LIST", f":SOUR{n}:LIST:VOLT {_values(pairs)}"]
        commands += _sense(n, nplc, fixed_range)
        gap = width + train.read_delay
        acquire_delay = _seconds(gap + width - reading - MARGIN_S)
        commands += [f":ARM{n}:SOUR TIM", f":ARM{n}:TIM {period:.9g}", f":ARM{n}:COUN {count}",
                     f":ARM{n}:DEL 0", f":TRIG{n}:TRAN:SOUR TIM", f":TRIG{n}:TRAN:TIM {gap:.9g}",
                     f":TRIG{n}:TRAN:COUN 2", f":TRIG{n}:TRAN:DEL 0", f":TRIG{n}:ACQ:SOUR TIM",
                     f":TRIG{n}:ACQ:TIM {gap:.9g}", f":TRIG{n}:ACQ:COUN 1",
                     f":TRIG{n}:ACQ:DEL {acquire_delay:.9g}"]
        end_of_period = gap + width
    commands += _output(n, protect=False)
    readings = 0 if train.read_level is None else count
    return Program(";".join(commands), (count - 1) * period + end_of_period, readings,
                   acquire_delay + reading)


def ramp_steps(level: float, above: float, step: float = 5.0) -> list[float]:
    """Intermediate levels from `level` down to 0 V when |level| > `above` (safe_off)."""
    if abs(level) <= above:
        return []
    return [float(v) for v in np.linspace(level, 0.0, int(math.ceil(abs(level) / step)) + 1)[1:-1]]


def stopped_on_limit(piece: Staircase | PulseTrain, data: SequenceData) -> bool:
    """A stop-on-limit staircase that ended at a reading in compliance."""
    return (isinstance(piece, Staircase) and piece.stop_on_limit and len(data) > 0
            and bool(data.limited[-1]))


def up_to(data: SequenceData, count: int) -> SequenceData:
    """The first `count` rows (a stop-on-limit staircase ends at its first trip)."""
    return SequenceData(data.segment[:count], data.time[:count], data.source[:count],
                        data.current[:count], data.limited[:count], data.aborted, data.labels)
