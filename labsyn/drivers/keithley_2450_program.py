"""Compiling `Sequence` segments into 2450 SCPI: sweep lists and block trigger models."""

from __future__ import annotations

from dataclasses import dataclass

from labsyn.errors import LimitError

from .sequence import PulseTrain, SequenceData, Staircase

LIST_VALUES_PER_COMMAND = 100
LIST_MAX_POINTS = 2500  # one sweep list
STORES_PER_COMMAND = 100  # config-list stores per packing unit (~4.5 kB)
MAX_MESSAGE_BYTES = 6000  # program-message size we allow; the 2450 manual we have states no limit
MEASURE_OVERHEAD_S = 250e-6
MIN_SWEEP_DELAY_S = 50e-6
BUFFER = '"defbuffer1"'
MAX_BLOCKS = 63  # trigger-model block numbers 1-63
SETUP_BLOCKS = 5  # buffer clear, W and R recalls, output on, notify (timer start)


def measure_time(nplc: float, line_frequency: float, autozero: bool = True) -> float:
    """Time of one reading: aperture (twice with autozero) plus processing."""
    return nplc / line_frequency * (2 if autozero else 1) + MEASURE_OVERHEAD_S


def _setup(limit: float, nplc: float, autozero: bool) -> str:
    return ";".join([":SOUR:FUNC VOLT", ":SOUR:VOLT:DEL:AUTO 0", ":SOUR:VOLT:DEL 0",
                     f":SOUR:VOLT:ILIM {limit:.9g}", ":SOUR:VOLT:READ:BACK 1",
                     ':SENS:FUNC "CURR"', f":SENS:CURR:NPLC {nplc:.6g}",
                     f":SENS:CURR:AZER {1 if autozero else 0}", ":SENS:CURR:RANG:AUTO 1"])


def staircase_commands(step: Staircase, nplc: float, line_frequency: float
                       ) -> tuple[list[str], float]:
    """Commands for one sweep and its duration.

    failAbort is OFF (a SET sweep survives compliance) unless the staircase stops on the limit.
    """
    reading = measure_time(nplc, line_frequency)
    delay = step.dwell - reading
    delay = delay if delay >= MIN_SWEEP_DELAY_S else 0.0
    fail_abort = "ON" if step.stop_on_limit else "OFF"
    commands = [_setup(step.current_limit, nplc, autozero=True), f":TRAC:CLE {BUFFER}"]
    if step.is_linear():
        commands.append(f":SOUR:SWE:VOLT:LIN {step.levels[0]:.9g}, {step.levels[-1]:.9g}, "
                        f"{step.points}, {delay:.6g}, 1, BEST, {fail_abort}, OFF, {BUFFER}")
    else:
        for i in range(0, step.points, LIST_VALUES_PER_COMMAND):
            values = ", ".join(f"{v:.9g}" for v in step.levels[i:i + LIST_VALUES_PER_COMMAND])
            head = ":SOUR:LIST:VOLT" if i == 0 else ":SOUR:LIST:VOLT:APP"
            commands.append(f"{head} {values}")
        commands.append(f":SOUR:SWE:VOLT:LIST 1, {delay:.6g}, 1, {fail_abort}, {BUFFER}")
    return commands, step.points * (delay + reading)


def pulse_top_delay(train: PulseTrain, nplc: float, line_frequency: float) -> float:
    """Delay from a pulse's start to its pulse-top reading, so the reading ends with the pulse;
    negative when the pulse is shorter than one reading."""
    return train.width - measure_time(nplc, line_frequency, autozero=False)


def check_pulse_top(train: PulseTrain, name: str, nplc: float, line_frequency: float) -> None:
    """A pulse-top sampled train's pulses must hold one whole reading at `nplc`."""
    if train.measure_pulse and pulse_top_delay(train, nplc, line_frequency) < 0:
        needed = measure_time(nplc, line_frequency, autozero=False)
        raise LimitError(f"{name} pulse width", f"{train.width:g} s",
                         f"≥ {needed:g} s to measure inside the pulse (pulse-top sampling) at "
                         f"NPLC {nplc:g} on a {line_frequency:g} Hz line; lengthen the pulse or "
                         "lower the NPLC")


@dataclass(frozen=True)
class RunLayout:
    """A train as runs of identical pulses, (entry index, pulses): `head` once, then `body`
    `repeats` times; `levels` are the write list's entries (one per distinct amplitude)."""

    levels: tuple[float, ...]
    head: tuple[tuple[int, int], ...]
    body: tuple[tuple[int, int], ...]
    repeats: int


def amplitude_runs(amplitudes: tuple[float, ...]) -> list[tuple[float, int]]:
    """Consecutive identical amplitudes as (amplitude, run length)."""
    runs: list[tuple[float, int]] = []
    for value in amplitudes:
        if runs and runs[-1][0] == value:
            runs[-1] = (value, runs[-1][1] + 1)
        else:
            runs.append((value, 1))
    return runs


def _pulse_block_count(train: PulseTrain) -> int:
    """Blocks of one pulse and its read (`_pulse_blocks`)."""
    return 4 + int(train.measure_pulse) + (3 if train.read_level is not None else 0)


def _layout_blocks(train: PulseTrain, runs: list[tuple[float, int]], repeats: int) -> int:
    loops = sum(length > 1 for _, length in runs) + int(repeats > 1)
    return SETUP_BLOCKS + len(runs) * _pulse_block_count(train) + loops + 1


def run_layout(train: PulseTrain) -> RunLayout | None:
    """The fewest-blocks run-length layout of `train` (head + body x repeats) that fits the
    trigger model's MAX_BLOCKS, or None (then one list entry per pulse): when none fits, or
    when it would store as many entries as pulses."""
    runs = amplitude_runs(train.amplitudes)
    most = (MAX_BLOCKS - SETUP_BLOCKS - 1) // _pulse_block_count(train)
    best: tuple[int, int, int] | None = None  # (blocks, head length, body length)
    for h in range(min(len(runs), most + 1)):
        rest = runs[h:]
        for p in range(1, min(len(rest), most - h) + 1):
            if len(rest) % p or rest != rest[:p] * (len(rest) // p):
                continue
            blocks = _layout_blocks(train, runs[:h + p], len(rest) // p)
            if blocks <= MAX_BLOCKS and (best is None or blocks < best[0]):
                best = (blocks, h, p)
            break
    if best is None:
        return None
    _, h, p = best
    levels = tuple(dict.fromkeys(v for v, _ in runs[:h + p]))
    if len(levels) == train.points > 1:  # no run repeats: one entry per pulse is as short
        return None
    indexed = [(levels.index(v) + 1, n) for v, n in runs[:h + p]]
    return RunLayout(levels, tuple(indexed[:h]), tuple(indexed[h:]), (len(runs) - h) // p)


def _pulse_blocks(train: PulseTrain, recall: str, read_list: str, nplc: float,
                  line_frequency: float) -> list[str]:
    """One pulse and its read: wait for the timer, `recall` the pulse level, hold it (sampling
    its top with `measure_pulse`), read, back to base."""
    blocks = ["WAIT {n}, TIM1", recall]
    if train.measure_pulse:
        blocks += [f"DEL:CONS {{n}}, {pulse_top_delay(train, nplc, line_frequency):.9g}",
                   f"MEAS {{n}}, {BUFFER}"]
    else:
        blocks.append(f"DEL:CONS {{n}}, {train.width:.9g}")
    if train.read_level is not None:
        blocks += [f"CONF:REC {{n}}, {read_list}, 1",
                   f"DEL:CONS {{n}}, {train.read_delay:.9g}",
                   f"MEAS {{n}}, {BUFFER}"]
    return [*blocks, f"CONF:REC {{n}}, {read_list}, 2"]


def _run_blocks(train: PulseTrain, layout: RunLayout, write_list: str, read_list: str,
                nplc: float, line_frequency: float) -> list[str]:
    """Each run once, its pulse looped `length` times; the body looped `repeats` times."""
    blocks: list[str] = []
    body_start = 0
    for k, (index, length) in enumerate(layout.head + layout.body):
        if k == len(layout.head):
            body_start = SETUP_BLOCKS + len(blocks) + 1
        start = SETUP_BLOCKS + len(blocks) + 1
        blocks += _pulse_blocks(train, f"CONF:REC {{n}}, {write_list}, {index}", read_list,
                                nplc, line_frequency)
        if length > 1:
            blocks.append(f"BRAN:COUN {{n}}, {length}, {start}")
    if layout.repeats > 1:
        blocks.append(f"BRAN:COUN {{n}}, {layout.repeats}, {body_start}")
    return blocks


def pulse_train_commands(train: PulseTrain, nplc: float, names: tuple[str, str],
                         line_frequency: float = 50.0) -> list[str]:
    """A timer-paced trigger model: write pulse, then a read at `read_level`, N times.

    Run-length layout (`run_layout`): config list W holds one entry per distinct amplitude;
    each run of identical pulses is one pulse block sequence recalling its entry, looped by a
    branch counter (count = run length), and a periodic run pattern (LTP/LTD cycles) is looped
    once more. A train that does not fit the block budget stores one W entry per pulse, stepped
    with CONFIG_NEXT. R holds (read, base). With `measure_pulse` the pulse's constant delay is
    cut to `pulse_top_delay` and a MEASURE block fills the rest of the pulse (the pulse keeps
    its width); `line_frequency` sets that reading's length.
    """
    write_list, read_list = (f'"{n}"' for n in names)
    layout = run_layout(train)
    peak = max(abs(v) for v in train.levels)
    commands = [_setup(train.current_limit, nplc, autozero=False),
                f":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG {max(peak, 0.02):.6g}",
                f":SOUR:CONF:LIST:CRE {write_list};:SOUR:CONF:LIST:CRE {read_list}"]
    amplitudes = train.amplitudes if layout is None else layout.levels
    stores = [f":SOUR:VOLT {v:.9g};:SOUR:CONF:LIST:STOR {write_list}" for v in amplitudes]
    for i in range(0, len(stores), STORES_PER_COMMAND):
        commands.append(";".join(stores[i:i + STORES_PER_COMMAND]))
    read = train.base if train.read_level is None else train.read_level
    commands.append(f":SOUR:VOLT {read:.9g};:SOUR:CONF:LIST:STOR {read_list};"
                    f":SOUR:VOLT {train.base:.9g};:SOUR:CONF:LIST:STOR {read_list}")
    commands.append(";".join([
        ":TRIG:TIM1:STAT OFF", ":TRIG:TIM1:CLE", f":TRIG:TIM1:DEL {train.period:.9g}",
        f":TRIG:TIM1:COUN {train.points}", ":TRIG:TIM1:STAR:STIM NOT1",
        ":TRIG:TIM1:STAR:GEN OFF", ":TRIG:TIM1:STAT ON"]))
    blocks = [f"BUFF:CLE {{n}}, {BUFFER}",
              f"CONF:REC {{n}}, {write_list}, {1 if layout is not None else train.points}",
              f"CONF:REC {{n}}, {read_list}, 2",
              "SOUR:STAT {n}, ON",
              "NOT {n}, 1"]
    if layout is not None:
        blocks += _run_blocks(train, layout, write_list, read_list, nplc, line_frequency)
    else:
        blocks += _pulse_blocks(train, f"CONF:NEXT {{n}}, {write_list}", read_list, nplc,
                                line_frequency)
        blocks.append(f"BRAN:COUN {{n}}, {train.points}, {SETUP_BLOCKS + 1}")
    blocks.append("SOUR:STAT {n}, OFF")
    commands.append(':TRIG:LOAD "Empty"')
    commands.append(";".join(":TRIG:BLOC:" + b.format(n=n) for n, b in enumerate(blocks, 1)))
    return commands


def train_duration(train: PulseTrain) -> float:
    """Upper bound of the trigger model's run: timer 1 fires its first pulse one period after
    :INIT and the last pulse's read ends within that pulse's period."""
    return (train.points + 1) * train.period


def triggered_read_commands(read_level: float, hold_level: float, count: int, period: float,
                            read_delay: float, current_limit: float, nplc: float,
                            read_list: str, line: int = 1) -> list[str]:
    """A timer-paced read train that NOTIFYs a linked instrument each period.

    Digital line `line` is a trigger output pulsed by NOTIFY 1; timer 1 (started once by
    NOTIFY 2) paces the loop. Each period: wait for the timer, NOTIFY 1 (the pulser's trigger),
    hold for `read_delay`, step to `read_level`, measure once, back to `hold_level`. The output
    holds `hold_level` from :INIT until the last read; then it goes off.
    """
    name = f'"{read_list}"'
    peak = max(abs(read_level), abs(hold_level))
    commands = [_setup(current_limit, nplc, autozero=False),
                f":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG {max(peak, 0.02):.6g}",
                f":SOUR:CONF:LIST:CRE {name}",
                f":SOUR:VOLT {read_level:.9g};:SOUR:CONF:LIST:STOR {name};"
                f":SOUR:VOLT {hold_level:.9g};:SOUR:CONF:LIST:STOR {name}",
                f":DIG:LINE{line}:MODE TRIG, OUT;:TRIG:DIG{line}:OUTP:LOG POS;"
                f":TRIG:DIG{line}:OUTP:STIM NOT1",
                ";".join([":TRIG:TIM1:STAT OFF", ":TRIG:TIM1:CLE",
                          f":TRIG:TIM1:DEL {period:.9g}", f":TRIG:TIM1:COUN {count}",
                          ":TRIG:TIM1:STAR:STIM NOT2", ":TRIG:TIM1:STAR:GEN OFF",
                          ":TRIG:TIM1:STAT ON"]),
                ':TRIG:LOAD "Empty"']
    blocks = [f"BUFF:CLE {{n}}, {BUFFER}",
              f"CONF:REC {{n}}, {name}, 2",
              "SOUR:STAT {n}, ON",
              "NOT {n}, 2"]
    loop = len(blocks) + 1
    blocks += ["WAIT {n}, TIM1",
               "NOT {n}, 1",
               f"DEL:CONS {{n}}, {read_delay:.9g}",
               f"CONF:REC {{n}}, {name}, 1",
               f"MEAS {{n}}, {BUFFER}",
               f"CONF:REC {{n}}, {name}, 2",
               f"BRAN:COUN {{n}}, {count}, {loop}",
               "SOUR:STAT {n}, OFF"]
    commands.append(";".join(":TRIG:BLOC:" + b.format(n=n) for n, b in enumerate(blocks, 1)))
    return commands


def triggered_read_duration(count: int, period: float) -> float:
    """Upper bound of the run: the timer's first event is one period after :INIT."""
    return (count + 1) * period


def stopped_on_limit(piece: Staircase | PulseTrain, data: SequenceData) -> bool:
    """A stop-on-limit staircase that ended at a reading in compliance."""
    return (isinstance(piece, Staircase) and piece.stop_on_limit and len(data) > 0
            and bool(data.limited[-1]))


def instrument_pieces(segment: Staircase | PulseTrain) -> list[Staircase | PulseTrain]:
    """A segment cut to what one 2450 trigger can run (lists hold at most 2500 points)."""
    if isinstance(segment, PulseTrain) or segment.is_linear():
        return [segment]
    size = LIST_MAX_POINTS
    return [Staircase(segment.levels[i:i + size], segment.dwell, segment.current_limit,
                      segment.label, segment.stop_on_limit)
            for i in range(0, segment.points, size)]
