"""Two 2600B channels stepping together: one staircase per channel, one script, one timer.

For drives that need both DUT terminals at once (STDP with pre on TE and post on BE), the two
channels of one 2636B run equal-length staircases on the same sample grid. One loaded script
configures both trigger models; one trigger timer paces both sources (its pass-through event
and then one event every `dwell`), started by the first channel's ARMED event, so sample k
changes on both outputs at the same timer event. Each channel measures at the end of every
sample (measure delay = dwell − reading − margin), into its own buffer. The cost is one load,
one run, one buffer read per channel and one error check, whatever the length.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from labsyn.errors import InstrumentReplyError, LimitError

from .capabilities import AbortCheck
from .keithley_2600_script import (
    MIN_TIMER_DELAY_S,
    TIMING_MARGIN_S,
    ScriptPlan,
    binary_size,
    is_compliance,
    load_message,
    measure_time,
    parse_ascii,
    parse_binary,
    read_message,
    setup_lines,
    table_lines,
)
from .sequence import Sequence, SequenceData, Staircase
from .validators import strict_range

MIN_PULSE_WIDTH = 100e-6
MAX_READINGS = 50_000
TIMERS = {"a": 1, "b": 4}  # the first timer of the pacing channel (keithley_2600_channel)
_TOKENS = itertools.count(1)


def _g(value: float) -> str:
    return f"{value:.9g}"


def pair_script(first: str, second: str, first_steps: Staircase, second_steps: Staircase,
                nplc: float, line_frequency: float, timer: int) -> ScriptPlan:
    """Both trigger models, sources released by `trigger.timer[timer]`, which `first`'s ARMED
    event starts; `second` is initiated first, so it waits for the timer."""
    reading = measure_time(nplc, line_frequency)
    dwell, count = first_steps.dwell, first_steps.points
    delay = max(dwell - reading - TIMING_MARGIN_S, 0.0)
    pace = f"trigger.timer[{timer}]"
    lines: list[str] = []
    for smu, steps in ((first, first_steps), (second, second_steps)):
        t = f"{smu}.trigger"
        lines += setup_lines(smu, steps.current_limit, max(abs(v) for v in steps.levels), 0.0,
                             nplc, delay)
        lines += table_lines("levels", list(steps.levels))
        lines += [f"{t}.source.listv(levels)", f"{t}.source.limiti = {_g(steps.current_limit)}",
                  f"{t}.source.action = {smu}.ENABLE",
                  f"{t}.measure.iv({smu}.nvbuffer1, {smu}.nvbuffer2)",
                  f"{t}.measure.action = {smu}.ENABLE",
                  f"{t}.endpulse.action = {smu}.SOURCE_HOLD",
                  f"{t}.endsweep.action = {smu}.SOURCE_IDLE", f"{t}.count = {count}",
                  f"{t}.arm.count = 1", f"{t}.arm.stimulus = 0",
                  f"{t}.source.stimulus = {pace}.EVENT_ID", f"{t}.measure.stimulus = 0",
                  f"{t}.endpulse.stimulus = 0"]
    lines += [f"{pace}.reset()", f"{pace}.delaylist = {{{_g(dwell)}}}",
              f"{pace}.count = {max(count - 1, 1)}", f"{pace}.passthrough = true",
              f"{pace}.stimulus = {first}.trigger.ARMED_EVENT_ID",
              f"{second}.source.output = {second}.OUTPUT_ON",
              f"{first}.source.output = {first}.OUTPUT_ON",
              f"{second}.trigger.initiate()", f"{first}.trigger.initiate()"]
    return ScriptPlan(lines, count * dwell, count, 1, blocking=False)


def pairs_with(channel: Any, partner: Any) -> bool:
    """Both are channels of the same mainframe, and not the same one."""
    return (getattr(partner, "parent", None) is channel.parent and partner is not channel
            and hasattr(partner, "smu"))


def check_pair(channel: Any, partner: Any, own: Staircase, theirs: Staircase,
               nplc: float) -> None:
    """Both staircases against the 2636B and against each other; raises before sending."""
    if not pairs_with(channel, partner):
        raise LimitError(f"{channel.name} paired channel", getattr(partner, "name", partner),
                         f"the other channel of {channel.parent.name}")
    if own.points != theirs.points or own.dwell != theirs.dwell:
        raise LimitError(f"{channel.name} paired staircases",
                         f"{own.points} × {own.dwell:g} s and {theirs.points} × "
                         f"{theirs.dwell:g} s", "the same points and dwell on both channels")
    if own.stop_on_limit or theirs.stop_on_limit:
        raise LimitError(f"{channel.name} paired staircases", "stop on limit",
                         "off (both channels step on the timer to the end)")
    strict_range("paired staircase points", "")(own.points, (1, MAX_READINGS))
    reading = measure_time(nplc, channel.parent.line_frequency)
    shortest = max(MIN_PULSE_WIDTH, reading + TIMING_MARGIN_S + MIN_TIMER_DELAY_S)
    strict_range("paired staircase dwell", "s")(own.dwell, (shortest, 1e4))
    for member, steps in ((channel, own), (partner, theirs)):
        member.check_sequence(Sequence(member.smu, (steps,), nplc))


def run_pair(channel: Any, partner: Any, own: Staircase, theirs: Staircase, nplc: float,
             should_abort: AbortCheck | None = None) -> tuple[SequenceData, SequenceData]:
    """Run `own` on `channel` and `theirs` on `partner`, sample by sample on one timer;
    returns each channel's readings (on abort: what was measured, flagged aborted)."""
    check_pair(channel, partner, own, theirs, nplc)
    parent = channel.parent
    with parent.lock:
        if channel._abort_requested(should_abort):
            empty = (SequenceData.empty(), SequenceData.empty())
            for data in empty:
                data.aborted = True
            return empty
        plan = pair_script(channel.smu, partner.smu, own, theirs, nplc, parent.line_frequency,
                           TIMERS[channel.id])
        script = f"labsynSeqPair{next(_TOKENS)}"
        parent.write(load_message(script, plan.lines))
        start = parent.clock.now()
        parent.require_armed(f"{script}()")
        parent.write(f"{script}()")
    channel._known.clear()
    partner._known.clear()
    aborted = _wait(channel, partner, start + plan.duration, should_abort)
    first_message = "\n".join(read_message(partner.smu, plan.binary, script).split("\n")[:-2])
    theirs_data = _fetch(partner, plan, first_message, start, theirs.label)
    own_data = _fetch(channel, plan, read_message(channel.smu, plan.binary, script), start,
                      own.label)
    parent.check_errors(f"{script} ({own.label or 'paired staircases'})")
    for member, data in ((channel, own_data), (partner, theirs_data)):
        if not aborted and len(data) != plan.readings and not parent.dry_run:
            raise InstrumentReplyError(member.name, "printbuffer", f"paired staircase stored "
                                       f"{len(data)} readings, expected {plan.readings}")
        data.aborted = aborted
    return own_data, theirs_data


def _wait(channel: Any, partner: Any, expected_end: float,
          should_abort: AbortCheck | None) -> bool:
    """Sleep on the clock in ≤ 50 ms slices; on abort end both trigger models."""
    clock = channel.parent.clock
    while clock.now() < expected_end:
        if channel._abort_requested(should_abort):
            with channel.parent.lock:
                channel.parent.write(f"{channel.smu}.abort()\n{partner.smu}.abort()")
            return True
        clock.sleep(min(0.05, expected_end - clock.now()))
    return False


def _fetch(member: Any, plan: ScriptPlan, command: str, start: float,
           label: str) -> SequenceData:
    """One query: the count, then the buffer (current, voltage, time, status)."""
    parent = member.parent
    with parent.lock:
        parent.write(command)
        text = parent.read().strip()
        try:
            count = int(float(text))
        except ValueError:
            raise InstrumentReplyError(member.name, command, f"reading count {text[:40]!r} is "
                                       "not a number") from None
        if count <= 0:
            return SequenceData.empty()
        if plan.binary:
            values = parse_binary(parent.read_bytes(binary_size(count)), count)
        else:
            values = parse_ascii(parent.read(), count)
    if values is None:
        raise InstrumentReplyError(member.name, command, f"buffer reply is not {count} "
                                   "readings of current, voltage, time, status")
    table = np.asarray(values, dtype=float).reshape(count, 4)
    limited = np.array([is_compliance(s) for s in table[:, 3]], dtype=bool)
    return SequenceData(np.zeros(count, int), start + table[:, 2], table[:, 1], table[:, 0],
                        limited, labels=[label])
