"""Compiling `Sequence` segments into one TSP script per segment for a 2600B SMU channel.

Each segment becomes the body of ``loadscript labsynSeq<token>`` … ``endscript``, run once:
- a staircase is a trigger-model sweep (``listv``/``linearv``, measure delay = dwell − aperture);
- a stop-on-limit staircase is a Lua loop on the instrument (the 2600B trigger model has no
  abort-on-compliance): set level, delay, ``measure.iv``, ``break`` at ``source.compliance``;
- a pulse train is a timer-paced trigger model: list {V_write, V_read} per pulse, end-pulse to
  the idle level (= base); timer A paces the source (pass-through, delay list {width,
  period − width}), timer B places each measurement (end of the pulse, `read_delay` into the
  read), timer C ends each pulse. Identical pulses build the list with a Lua loop, so a
  1000-pulse train is a script of fixed size.
Every line of a script or message holds complete statements (pyvisa-sim matches line by line).
The data come back in one query that waits on the instrument (``waitcomplete()``): the count,
then ``printbuffer`` of current, voltage, relative timestamp and status per reading, as ASCII or,
above `BINARY_ABOVE` readings, as ``#0`` + little-endian float32 + LF.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from .sequence import PulseTrain, Segment, Staircase

MEASURE_OVERHEAD_S = 60e-6
TIMING_MARGIN_S = 20e-6
MIN_TIMER_DELAY_S = 10e-6
MIN_AVERAGE_DELAY_S = 50e-6
VALUES_PER_LINE = 50
BINARY_ABOVE = 1000
COLUMNS = 4  # current, voltage, relative timestamp, status
STATUS_COMPLIANCE = 0x40
VOLTAGE_RANGES = (0.2, 2.0, 20.0, 200.0)
HIGH_VOLTAGE_MAX_CURRENT = 0.1


@dataclass(frozen=True)
class ScriptPlan:
    """A segment compiled for one channel: script body, expected duration and readings."""

    lines: list[str]
    duration: float
    readings: int
    every: int  # readings per returned row (2 for pulse trains with a read: write, read)
    blocking: bool  # a Lua loop: the script itself runs the segment

    @property
    def binary(self) -> bool:
        return self.readings > BINARY_ABOVE


def measure_time(nplc: float, line_frequency: float) -> float:
    """One ``measure.iv`` with autozero ONCE: aperture plus processing (§8: ~60 µs)."""
    return nplc / line_frequency + MEASURE_OVERHEAD_S


def voltage_range(peak: float) -> float:
    return next((r for r in VOLTAGE_RANGES if abs(peak) <= r), VOLTAGE_RANGES[-1])


def _g(value: float) -> str:
    return f"{value:.9g}"


def setup_lines(smu: str, limit: float, peak: float, idle: float, nplc: float,
                measure_delay: float) -> list[str]:
    """Source, range, limit (SOA-safe order), measure settings and cleared buffers."""
    limit_line = f"{smu}.source.limiti = {_g(limit)}"
    lines = [f"{smu}.abort()", f"{smu}.source.func = {smu}.OUTPUT_DCVOLTS",
             f"{smu}.source.levelv = 0"]
    if limit <= HIGH_VOLTAGE_MAX_CURRENT:
        lines.append(limit_line)
    lines += [f"{smu}.source.autorangev = {smu}.AUTORANGE_OFF",
              f"{smu}.source.rangev = {_g(voltage_range(peak))}"]
    if limit > HIGH_VOLTAGE_MAX_CURRENT:
        lines.append(limit_line)
    if idle != 0:
        lines.append(f"{smu}.source.levelv = {_g(idle)}")
    lines += [f"{smu}.source.delay = 0", f"{smu}.measure.autorangei = {smu}.AUTORANGE_ON",
              f"{smu}.measure.autozero = {smu}.AUTOZERO_ONCE",
              f"{smu}.measure.nplc = {_g(nplc)}", f"{smu}.measure.delay = {_g(measure_delay)}",
              f"{smu}.measure.count = 1"]
    for n in (1, 2):
        lines += [f"{smu}.nvbuffer{n}.clear()", f"{smu}.nvbuffer{n}.appendmode = 1"]
    lines.append(f"{smu}.nvbuffer1.collecttimestamps = 1")
    return lines


def table_lines(name: str, values: list[float]) -> list[str]:
    """A Lua table built in chunks of `VALUES_PER_LINE` values, one statement per line."""
    lines = [f"local {name} = {{}}"]
    if len(values) > VALUES_PER_LINE:
        lines.append("local function extend(t, v) for i = 1, table.getn(v) do "
                     "t[table.getn(t) + 1] = v[i] end end")
        for i in range(0, len(values), VALUES_PER_LINE):
            chunk = ", ".join(_g(v) for v in values[i:i + VALUES_PER_LINE])
            lines.append(f"extend({name}, {{{chunk}}})")
    else:
        lines[0] = f"local {name} = {{{', '.join(_g(v) for v in values)}}}"
    return lines


def _model_lines(smu: str, count: int, measure: bool, endpulse_idle: bool) -> list[str]:
    t = f"{smu}.trigger"
    return [f"{t}.source.action = {smu}.ENABLE",
            f"{t}.measure.iv({smu}.nvbuffer1, {smu}.nvbuffer2)",
            f"{t}.measure.action = {smu}.{'ENABLE' if measure else 'DISABLE'}",
            f"{t}.endpulse.action = {smu}.{'SOURCE_IDLE' if endpulse_idle else 'SOURCE_HOLD'}",
            f"{t}.endsweep.action = {smu}.SOURCE_IDLE",
            f"{t}.count = {count}", f"{t}.arm.count = 1", f"{t}.arm.stimulus = 0"]


def staircase_script(smu: str, step: Staircase, nplc: float, line_frequency: float
                     ) -> ScriptPlan:
    """A trigger-model sweep: each level held `dwell`, measured at the end of it."""
    reading = measure_time(nplc, line_frequency)
    delay = max(step.dwell - reading, 0.0)
    peak = max(abs(v) for v in step.levels)
    lines = setup_lines(smu, step.current_limit, peak, 0.0, nplc, delay)
    if step.is_linear():
        lines.append(f"{smu}.trigger.source.linearv({_g(step.levels[0])}, "
                     f"{_g(step.levels[-1])}, {step.points})")
    else:
        lines += table_lines("levels", list(step.levels))
        lines.append(f"{smu}.trigger.source.listv(levels)")
    lines += [f"{smu}.trigger.source.limiti = {_g(step.current_limit)}"]
    lines += _model_lines(smu, step.points, measure=True, endpulse_idle=False)
    lines += [f"{smu}.trigger.{stage}.stimulus = 0" for stage in ("source", "measure",
                                                                   "endpulse")]
    lines += [f"{smu}.source.output = {smu}.OUTPUT_ON", f"{smu}.trigger.initiate()"]
    return ScriptPlan(lines, step.points * (delay + reading), step.points, 1, blocking=False)


def ramp_until_limit_script(smu: str, step: Staircase, nplc: float, line_frequency: float
                            ) -> ScriptPlan:
    """A Lua loop that ends at the first reading in compliance, then returns to 0 V."""
    reading = measure_time(nplc, line_frequency)
    delay = max(step.dwell - reading, 0.0)
    peak = max(abs(v) for v in step.levels)
    lines = setup_lines(smu, step.current_limit, peak, 0.0, nplc, 0.0)
    lines += table_lines("levels", list(step.levels))
    lines += [f"{smu}.source.levelv = levels[1]", f"{smu}.source.output = {smu}.OUTPUT_ON",
              f"for k = 1, {step.points} do", f"{smu}.source.levelv = levels[k]"]
    if delay > 0:
        lines.append(f"delay({_g(delay)})")
    lines += [f"{smu}.measure.iv({smu}.nvbuffer1, {smu}.nvbuffer2)",
              f"if {smu}.source.compliance then break end", "end",
              f"{smu}.source.levelv = 0"]
    return ScriptPlan(lines, step.points * (delay + reading), step.points, 1, blocking=True)


def pulse_train_script(smu: str, train: PulseTrain, nplc: float, line_frequency: float,
                       timers: tuple[int, int, int]) -> ScriptPlan:
    """Timer-paced pulses from `base`, each followed by a read at `read_level` (if any).

    The trigger model measures in every iteration, the write pulse included; a pulse shorter
    than one reading cannot hold that measurement, so such trains run as a Lua loop timed
    with ``delay()`` instead (`pulse_loop_script`).
    """
    reading = measure_time(nplc, line_frequency)
    if train.read_level is not None and not fits_trigger_model(train, reading):
        return pulse_loop_script(smu, train, nplc, line_frequency)
    pace, place, end = (f"trigger.timer[{n}]" for n in timers)
    n = train.points
    read = train.read_level
    levels = train.amplitudes if read is None else [v for a in train.amplitudes
                                                    for v in (a, read)]
    lines = setup_lines(smu, train.current_limit, max(abs(v) for v in train.levels),
                        train.base, nplc, 0.0)
    if len(set(train.amplitudes)) == 1:
        write = _g(train.amplitudes[0])
        body = (f"levels[k] = {write}" if read is None else
                f"levels[2 * k - 1] = {write} levels[2 * k] = {_g(read)}")
        lines += ["local levels = {}", f"for k = 1, {n} do {body} end"]
    else:
        lines += table_lines("levels", list(levels))
    lines += [f"{smu}.trigger.source.listv(levels)",
              f"{smu}.trigger.source.limiti = {_g(train.current_limit)}"]
    lines += _model_lines(smu, len(levels), measure=read is not None, endpulse_idle=True)
    if read is None:
        pace_delays, pace_count = [train.period], max(n - 1, 1)
        end_delays = [train.width]
    else:
        pace_delays, pace_count = [train.width, train.period - train.width], 2 * n - 1
        place_delays = [max(train.width - reading - TIMING_MARGIN_S, MIN_TIMER_DELAY_S),
                        max(train.read_delay, MIN_TIMER_DELAY_S)]
        end_delays = [train.width, max(train.read_delay, MIN_TIMER_DELAY_S) + reading
                      + TIMING_MARGIN_S]
    lines += _timer_lines(pace, pace_delays, pace_count, True, f"{smu}.trigger.ARMED_EVENT_ID")
    if read is not None:
        lines += _timer_lines(place, place_delays, 1, False,
                              f"{smu}.trigger.SOURCE_COMPLETE_EVENT_ID")
    lines += _timer_lines(end, end_delays, 1, False, f"{smu}.trigger.SOURCE_COMPLETE_EVENT_ID")
    lines += [f"{smu}.trigger.source.stimulus = {pace}.EVENT_ID",
              f"{smu}.trigger.measure.stimulus = {place + '.EVENT_ID' if read is not None else 0}",
              f"{smu}.trigger.endpulse.stimulus = {end}.EVENT_ID",
              f"{smu}.source.output = {smu}.OUTPUT_ON", f"{smu}.trigger.initiate()"]
    readings = 0 if read is None else 2 * n
    return ScriptPlan(lines, n * train.period, readings, 2, blocking=False)


def fits_trigger_model(train: PulseTrain, reading: float) -> bool:
    """The write reading fits in the pulse, and the measure timer's delay list averages at
    least 50 µs (a timer delay list's minimum average, 2600B-family manuals)."""
    write_delay = train.width - reading - TIMING_MARGIN_S
    return write_delay >= MIN_TIMER_DELAY_S and (
        write_delay + max(train.read_delay, MIN_TIMER_DELAY_S) >= 2 * MIN_AVERAGE_DELAY_S)


def pulse_loop_script(smu: str, train: PulseTrain, nplc: float, line_frequency: float
                      ) -> ScriptPlan:
    """Write `width`, read after `read_delay`, back to `base` until the next period."""
    reading = measure_time(nplc, line_frequency)
    rest = train.period - train.width - train.read_delay - reading
    lines = setup_lines(smu, train.current_limit, max(abs(v) for v in train.levels),
                        train.base, nplc, 0.0)
    identical = len(set(train.amplitudes)) == 1
    if not identical:
        lines += table_lines("levels", list(train.amplitudes))
    write = _g(train.amplitudes[0]) if identical else "levels[k]"
    lines += [f"{smu}.source.output = {smu}.OUTPUT_ON", f"for k = 1, {train.points} do",
              f"{smu}.source.levelv = {write}", f"delay({_g(train.width)})",
              f"{smu}.source.levelv = {_g(train.read_level or 0.0)}"]
    if train.read_delay > 0:
        lines.append(f"delay({_g(train.read_delay)})")
    lines += [f"{smu}.measure.iv({smu}.nvbuffer1, {smu}.nvbuffer2)",
              f"{smu}.source.levelv = {_g(train.base)}"]
    if rest > 0:
        lines.append(f"delay({_g(rest)})")
    lines.append("end")
    return ScriptPlan(lines, train.points * train.period, train.points, 1, blocking=True)


def _timer_lines(timer: str, delays: list[float], count: int, passthrough: bool,
                 stimulus: str) -> list[str]:
    return [f"{timer}.reset()",
            f"{timer}.delaylist = {{{', '.join(_g(d) for d in delays)}}}",
            f"{timer}.count = {count}",
            f"{timer}.passthrough = {'true' if passthrough else 'false'}",
            f"{timer}.stimulus = {stimulus}"]


def load_message(name: str, lines: list[str]) -> str:
    return "\n".join([f"loadscript {name}", *lines, "endscript"])


def read_message(smu: str, binary: bool, script: str) -> str:
    """Wait for the segment, print the count, then the buffer; forget the script.

    The binary format is chosen on the printbuffer line itself, so the line says what it returns.
    """
    buffers = (f"{smu}.nvbuffer1.readings, {smu}.nvbuffer2.readings, "
               f"{smu}.nvbuffer1.timestamps, {smu}.nvbuffer1.statuses")
    dump = f"if {smu}.nvbuffer1.n > 0 then printbuffer(1, {smu}.nvbuffer1.n, {buffers}) end"
    if binary:
        dump = f"format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN {dump}"
    return "\n".join(["waitcomplete()", "format.data = format.ASCII",
                      f"print({smu}.nvbuffer1.n)", dump, f'script.delete("{script}")',
                      f"{script} = nil"])


def parse_ascii(reply: str, count: int) -> list[float] | None:
    """``printbuffer`` ASCII: values separated by ", "; None if the shape is wrong."""
    try:
        values = [float(v) for v in reply.split(",")]
    except ValueError:
        return None
    return values if len(values) == COLUMNS * count else None


def parse_binary(raw: bytes, count: int) -> list[float] | None:
    """``#0`` + little-endian float32 + LF; None if the framing or length is wrong."""
    size = 4 * COLUMNS * count
    if len(raw) != size + 3 or not raw.startswith(b"#0") or not raw.endswith(b"\n"):
        return None
    return list(struct.unpack(f"<{COLUMNS * count}f", raw[2:-1]))


def binary_size(count: int) -> int:
    return 4 * COLUMNS * count + 3


def is_compliance(status: float) -> bool:
    return math.isfinite(status) and (int(status) & STATUS_COMPLIANCE) != 0


def instrument_pieces(segment: Segment, max_readings: int) -> list[Segment]:
    """A segment cut to what one buffer holds (a pulse with a read stores two readings)."""
    if isinstance(segment, Staircase):
        return [Staircase(segment.levels[i:i + max_readings], segment.dwell,
                          segment.current_limit, segment.label, segment.stop_on_limit)
                for i in range(0, segment.points, max_readings)]
    size = max_readings // 2
    return [PulseTrain(segment.amplitudes[i:i + size], segment.width, segment.period,
                       segment.current_limit, segment.base, segment.read_level,
                       segment.read_delay, segment.label)
            for i in range(0, segment.points, size)]
