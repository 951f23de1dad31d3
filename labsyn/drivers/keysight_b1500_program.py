"""Compiling `Sequence` segments into Keysight B1500 FLEX, and reading FLEX data back.

A *piece* is one configuration message, closed by ``ERRX?`` so a bad setting stops the run before
anything is triggered, and the trigger messages that run it. Every ``XE`` returns one data block
in FMT 1: items ``<status><channel><type><value>`` of 15 characters, comma-separated, the block
ending in CR LF. Where ``XE`` repeats with unchanged settings, up to `XE_PER_MESSAGE` of them go in
one message.

- Staircase → ``MM 2`` staircase sweeps (``WT``/``WM``/``WV``), one per linear run of levels
  (``WV`` is linear only: an arbitrary list costs one sweep per run of equal steps).
  ``stop_on_limit`` is ``WM 2`` (abort on compliance, instrument-side).
- PulseTrain without a read → ``MM 4`` pulsed sweeps (``PT``/``PWV``), one per linear run of
  amplitudes (10001 pulses each); a single pulse is an ``MM 3`` pulsed spot (``PT``/``PV``).
- PulseTrain with a read → one two-step pulsed sweep per pulse: the write pulse, then a read
  pulse of the same width at the read level, ``PT`` period = width + read delay after it. The
  SMU measures only during a pulse, so the read is a pulse too; the hold before each pair makes
  up the train period (the driver refuses periods off the 10 ms hold grid). Identical pulses
  repeat ``XE`` alone; a change of amplitude adds one ``PWV``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from pymeasure.instruments.agilent.agilentB1500 import SMUCurrentRanging, SMUVoltageRanging

from labsyn.errors import LimitError

from .sequence import PulseTrain, SequenceData, Staircase
from .validators import strict_range

MAX_MESSAGE_CHARS = 250  # a longer message overflows the input buffer (qcodes MessageBuilder) ~
XE_PER_MESSAGE = 83  # "XE;" * 83 fits MAX_MESSAGE_CHARS
MAX_SWEEP_STEPS = 10_001
MIN_PULSE_WIDTH, MAX_PULSE_WIDTH = 0.5e-3, 2.0  # HR/MP/HP SMU (B1500 User's Guide) ✔
MIN_PULSE_PERIOD, MAX_PULSE_PERIOD = 5e-3, 5.0  # ✔
MAX_HOLD_S, HOLD_RESOLUTION_S = 655.35, 0.01
MAX_DELAY_S, TIME_RESOLUTION_S = 65.535, 1e-4
MEASURE_OVERHEAD_S = 200e-6  # per reading, beyond the integration time ~
SAMPLES_PER_PLC = 128  # high-speed ADC (qcodes: "128 samples in a power line cycle") ~
DUMMY_LIMIT = 1e99  # 199.999E+99 marks no data (over range, after an automatic abort)
ITEM_CHARS = 15

_ITEM = re.compile(r"^([A-Z])([A-Za-z])([A-Z])([+-](?:\d+\.?\d*|\.\d+)E[+-]\d+)$")


def pulse_gap(width: float) -> float:
    """Least time between a pulse's end and the next pulse's start (User's Guide: period ≥
    width + 2 ms up to 100 ms, width + 10 ms beyond)."""
    return 2e-3 if width <= 0.1 else 10e-3


def min_pulse_period(width: float) -> float:
    return max(MIN_PULSE_PERIOD, width + pulse_gap(width))


def on_grid(value: float, resolution: float) -> float:
    return round(round(value / resolution) * resolution, 10)


def up_to_grid(value: float, resolution: float) -> float:
    return round(math.ceil(value / resolution - 1e-6) * resolution, 10)


def adc_setting(nplc: float) -> tuple[str, float]:
    """High-speed ADC command for `nplc` and the integration it gives, in PLC.

    Whole numbers 1–100 use PLC mode (``AIT 0,2,N``); anything else from 0.01 PLC up to 7.99
    uses manual mode, N samples of 1/128 PLC (``AIT 0,1,N``).
    """
    if not 0.01 <= nplc <= 100:
        raise LimitError("NPLC", nplc, "0.01 … 100")
    whole = round(nplc)
    if nplc >= 1 and abs(nplc - whole) < 1e-9:
        return f"AIT 0,2,{whole}", float(whole)
    samples = max(1, round(nplc * SAMPLES_PER_PLC))
    if samples > 1023:
        raise LimitError("NPLC", nplc, "0.01 … 7.99, or a whole number 1 … 100")
    return f"AIT 0,1,{samples}", samples / SAMPLES_PER_PLC


def measure_time(nplc: float, line_frequency: float) -> float:
    """One reading of the high-speed ADC: integration plus processing."""
    return adc_setting(nplc)[1] / line_frequency + MEASURE_OVERHEAD_S


def number(value: float) -> str:
    return f"{value:.6g}"


@dataclass(frozen=True)
class Batch:
    """One trigger message and what comes back: `blocks` data blocks of `points` items each,
    of which `keep` (a slice of each block) are rows at `times` (s from the message) and
    programmed `levels`."""

    message: str
    blocks: int
    points: int
    keep: slice
    duration: float
    times: tuple[float, ...]
    levels: tuple[float, ...]

    @property
    def rows(self) -> int:
        return len(self.times)

    @property
    def reply_bytes(self) -> int:
        """Size of the reply in FMT 1: items, commas and one CR LF per block."""
        return self.blocks * (ITEM_CHARS * self.points + self.points - 1 + 2)


@dataclass(frozen=True)
class Piece:
    """A configuration message (ending in ``ERRX?``) and the batches that run it."""

    setup: str
    batches: tuple[Batch, ...]
    stop_on_limit: bool = False


def linear_runs(levels: tuple[float, ...], max_points: int = MAX_SWEEP_STEPS
                ) -> list[tuple[int, int]]:
    """Split `levels` into [start, end) index runs of equal steps (a constant run included)."""
    runs: list[tuple[int, int]] = []
    start, count = 0, len(levels)
    while start < count:
        end = min(start + 2, count)
        if end - start == 2:
            step = levels[start + 1] - levels[start]
            tolerance = 1e-9 * max(1.0, abs(step))
            while (end < count and end - start < max_points
                   and abs(levels[end] - levels[end - 1] - step) <= tolerance):
                end += 1
        runs.append((start, end))
        start = end
    return runs


def pack(units: list[str], limit: int = MAX_MESSAGE_CHARS) -> list[list[str]]:
    """Units joined with ";" into as few messages as stay within `limit` characters."""
    messages: list[list[str]] = []
    length = 0
    for unit in units:
        if messages and length + 1 + len(unit) <= limit:
            messages[-1].append(unit)
            length += 1 + len(unit)
        else:
            messages.append([unit])
            length = len(unit)
    return messages


def staircase_pieces(step: Staircase, channel: int, nplc: float, line_frequency: float
                     ) -> list[Piece]:
    """One linear staircase sweep (``MM 2``) per run of equal steps; each step is held
    `dwell` and measured at its end (``WT 0,delay,0`` with delay = dwell − reading time)."""
    adc, _ = adc_setting(nplc)
    reading = measure_time(nplc, line_frequency)
    delay = on_grid(max(step.dwell - reading, 0.0), TIME_RESOLUTION_S)
    period = delay + reading
    abort = "WM 2,2" if step.stop_on_limit else "WM 1,2"  # post = stop: the next run continues
    pieces = []
    for first, end in linear_runs(step.levels):
        levels = step.levels[first:end]
        points = len(levels)
        setup = ";".join([
            "FMT 1,0", f"MM 2,{channel}", adc, f"WT 0,{number(delay)},0", abort,
            f"WV {channel},1,0,{number(levels[0])},{number(levels[-1])},{points},"
            f"{number(step.current_limit)}", "ERRX?"])
        times = tuple(k * period + delay + reading for k in range(points))
        batch = Batch("XE", 1, points, slice(None), points * period, times, tuple(levels))
        pieces.append(Piece(setup, (batch,), step.stop_on_limit))
    return pieces


def pulse_pieces(train: PulseTrain, channel: int) -> list[Piece]:
    """Pulsed spot, pulsed sweeps or write/read pulse pairs (see the module docstring)."""
    width = on_grid(train.width, TIME_RESOLUTION_S)
    limit = number(train.current_limit)
    base = number(train.base)
    if train.read_level is None and train.points == 1:
        setup = (f"FMT 1,0;MM 3,{channel};PT 0,{number(width)};"
                 f"PV {channel},0,{base},{number(train.amplitudes[0])},{limit};ERRX?")
        return [Piece(setup, (Batch("XE", 1, 1, slice(0, 0), width, (), ()),))]
    if train.read_level is None:
        return _pulsed_sweeps(train, channel, width)
    read = train.read_level
    pulse_period = on_grid(width + train.read_delay, TIME_RESOLUTION_S)
    hold = on_grid(max(train.period - pulse_period - width, 0.0), HOLD_RESOLUTION_S)
    pair = hold + pulse_period + width
    timing = f"FMT 1,0;MM 4,{channel};PT {number(hold)},{number(width)},{number(pulse_period)}"
    groups: list[tuple[float, int]] = []
    for amplitude in train.amplitudes:
        if groups and groups[-1][0] == amplitude:
            groups[-1] = (amplitude, groups[-1][1] + 1)
        else:
            groups.append((amplitude, 1))

    def sweep(amplitude: float) -> str:
        return f"PWV {channel},1,0,{base},{number(amplitude)},{number(read)},2,{limit}"

    setup = f"{timing};WM 1,1;{sweep(groups[0][0])};ERRX?"
    units: list[str] = []
    for index, (amplitude, count) in enumerate(groups):
        if index:
            units.append(sweep(amplitude))
        units.extend(["XE"] * count)
    batches = []
    for message in pack(units):
        blocks = message.count("XE")
        times = tuple(k * pair + pair for k in range(blocks))
        batches.append(Batch(";".join(message), blocks, 2, slice(1, 2), blocks * pair, times,
                             (float(read),) * blocks))
    return [Piece(setup, tuple(batches))]


def _pulsed_sweeps(train: PulseTrain, channel: int, width: float) -> list[Piece]:
    """Source-only trains: one pulsed sweep per linear run of amplitudes; the hold before each
    later sweep keeps the period across the join (rounded up to the 10 ms hold grid)."""
    period = on_grid(train.period, TIME_RESOLUTION_S)
    pieces = []
    for index, (first, end) in enumerate(linear_runs(train.amplitudes)):
        levels = train.amplitudes[first:end]
        hold = 0.0 if index == 0 else up_to_grid(period - width, HOLD_RESOLUTION_S)
        setup = (f"FMT 1,0;MM 4,{channel};PT {number(hold)},{number(width)},{number(period)};"
                 f"WM 1,1;PWV {channel},1,0,{number(train.base)},{number(levels[0])},"
                 f"{number(levels[-1])},{len(levels)},{number(train.current_limit)};ERRX?")
        duration = hold + (len(levels) - 1) * period + width
        pieces.append(Piece(setup, (Batch("XE", 1, len(levels), slice(0, 0), duration, (), ()),)))
    return pieces


@dataclass(frozen=True)
class Item:
    """One FMT 1 datum: status letter, channel letter, data type, value (NaN for no data)."""

    status: str
    channel: str
    kind: str
    value: float

    @property
    def limited(self) -> bool:
        """Status C: this channel reached its compliance (T would be another channel)."""
        return self.status == "C"


def parse_block(text: str) -> list[Item]:
    """``NAI+1.23456E-06,CAI+1.00000E-04`` → items; raises ValueError on anything else."""
    items: list[Item] = []
    if not text.strip():
        return items
    for raw in text.strip().split(","):
        match = _ITEM.match(raw.strip())
        if match is None:
            raise ValueError(f"{raw.strip()[:20]!r} is not an FMT 1 datum")
        status, channel, kind, value = match.groups()
        number_ = float(value)
        items.append(Item(status, channel, kind, math.nan if number_ > DUMMY_LIMIT else number_))
    return items


def block_rows(batch: Batch, texts: list[str], strict: bool, label: str) -> list[Item]:
    """The row items of a batch's data blocks; ValueError if a block is not FMT 1 or (strict)
    not as long as planned."""
    rows: list[Item] = []
    for text in texts:
        items = parse_block(text)
        if strict and len(items) != batch.points:
            raise ValueError(f"segment {label} returned {len(items)} readings, expected "
                             f"{batch.points}")
        rows.extend(items[batch.keep])
    return rows


def batch_data(batch: Batch, rows: list[Item], index: int, start: float, label: str
               ) -> SequenceData:
    """Rows as sequence data at the planned times and programmed levels (at most as many as
    planned: a dry run's static block may hold more)."""
    count = min(len(rows), batch.rows)
    return SequenceData(np.full(count, index), start + np.asarray(batch.times[:count]),
                        np.asarray(batch.levels[:count], dtype=float),
                        np.array([r.value for r in rows[:count]], dtype=float),
                        np.array([r.limited for r in rows[:count]], dtype=bool), labels=[label])


@dataclass(frozen=True)
class SmuModule:
    """An SMU module type: its output envelope as (up to |V|, at most |I|) steps; pymeasure's
    range tables give its ``RI``/``RV`` indices."""

    kind: str
    envelope: tuple[tuple[float, float], ...]
    min_current_limit: float

    @property
    def max_voltage(self) -> float:
        return self.envelope[-1][0]

    @property
    def max_current(self) -> float:
        return self.envelope[0][1]

    def current_limit_at(self, voltage: float) -> float:
        return next(current for volts, current in self.envelope if abs(voltage) <= volts)

    def check(self, name: str, voltage: float, current_limit: float) -> None:
        """Level and compliance against the module, the envelope at |voltage| included."""
        strict_range(f"{name} voltage", "V")(voltage, (-self.max_voltage, self.max_voltage))
        strict_range(f"{name} current limit", "A")(current_limit,
                                                   (self.min_current_limit, self.max_current))
        allowed = self.current_limit_at(voltage)
        if current_limit > allowed:
            raise LimitError(f"{name} current limit", f"{current_limit:g} A at {voltage:g} V",
                             f"≤ {allowed:g} A at that voltage on a {self.kind} ("
                             + ", ".join(f"{i:g} A to {v:g} V" for v, i in self.envelope) + ")")

    def measure_ranges(self, quantity: str) -> list[int]:
        ranging = SMUCurrentRanging(self.kind) if quantity == "current" else \
            SMUVoltageRanging(self.kind)
        return sorted(ranging.meas.ranges)


# Data-sheet envelopes (B1511B/B1517A: 100 mA to 20 V, 50 mA to 40 V, 20 mA to 100 V; B1510A:
# 1 A to 20 V, 0.5 A to 40 V, 125 mA to 100 V, 50 mA to 200 V) ?: not in the reference; these
# are the conservative values the driver enforces.
MPSMU = SmuModule("MPSMU", ((20.0, 0.1), (40.0, 0.05), (100.0, 0.02)), 1e-9)
HRSMU = SmuModule("HRSMU", ((20.0, 0.1), (40.0, 0.05), (100.0, 0.02)), 1e-11)
HPSMU = SmuModule("HPSMU", ((20.0, 1.0), (40.0, 0.5), (100.0, 0.125), (200.0, 0.05)), 1e-9)
SMU_MODULES = {"B1511A": MPSMU, "B1511B": MPSMU, "B1517A": HRSMU, "B1510A": HPSMU}
SLOTS = tuple(range(1, 11))
ANY_SMU = (MPSMU, HRSMU, HPSMU)
MAX_ANY_VOLTAGE = max(m.max_voltage for m in ANY_SMU)
MAX_ANY_CURRENT = max(m.max_current for m in ANY_SMU)
MIN_ANY_LIMIT = min(m.min_current_limit for m in ANY_SMU)


def parse_modules(reply: str) -> dict[int, str]:
    """``UNT?`` → {slot: model} for occupied slots (``B1511B,0;0,0;…``)."""
    modules = {}
    for slot, entry in enumerate(reply.strip().split(";"), 1):
        model = entry.split(",")[0].strip()
        if model and model != "0":
            modules[slot] = model
    return modules


def check_train(train: PulseTrain, name: str) -> None:
    """SMU pulse limits: width, period rules, one polarity (base, pulses and read)."""
    width = strict_range(f"{name} pulse width", "s")(train.width,
                                                      (MIN_PULSE_WIDTH, MAX_PULSE_WIDTH))
    signs = {np.sign(v) for v in train.levels if v != 0}
    if len(signs) > 1:
        raise LimitError(f"{name} levels", "pulses, base and read of both signs",
                         "one polarity (0 V counts as either): a B1500 pulsed sweep needs "
                         "base, pulse and read of the same sign")
    if train.read_level is None:
        strict_range(f"{name} period", "s")(train.period,
                                            (min_pulse_period(width), MAX_PULSE_PERIOD))
        return
    pulse_period = width + train.read_delay
    least = min_pulse_period(width)
    if not least - 1e-9 <= pulse_period <= MAX_PULSE_PERIOD:
        raise LimitError(f"{name} read delay", train.read_delay,
                         f"{least - width:g} … {MAX_PULSE_PERIOD - width:g} s: the read is a "
                         f"second SMU pulse, and pulse periods are ≥ 5 ms and ≥ width + "
                         f"{pulse_gap(width) * 1e3:g} ms")
    pair = on_grid(pulse_period, TIME_RESOLUTION_S) + width
    strict_range(f"{name} period", "s")(train.period, (pair, pair + MAX_HOLD_S))
    hold = train.period - pair
    if abs(hold - on_grid(hold, HOLD_RESOLUTION_S)) > 1e-6:
        nearest = on_grid(hold, HOLD_RESOLUTION_S)
        below, above = max(nearest - HOLD_RESOLUTION_S, 0.0), nearest + HOLD_RESOLUTION_S
        options = sorted({pair + h for h in (below, nearest, above) if h >= 0})
        raise LimitError(f"{name} period", train.period,
                         f"write + read pair ({pair * 1e3:g} ms) + a hold on the 10 ms grid, "
                         f"e.g. {', '.join(f'{o * 1e3:g} ms' for o in options)}")


def up_to_first_limited(data: SequenceData) -> SequenceData:
    end = int(np.argmax(data.limited)) + 1
    return SequenceData(data.segment[:end], data.time[:end], data.source[:end],
                        data.current[:end], data.limited[:end], data.aborted, data.labels)


def enabled_channels(reply: str) -> list[int]:
    """``*LRN? 0`` → the channels whose output switch is on (``CN1,2`` or ``CL``)."""
    text = reply.strip().upper()
    if not text.startswith("CN"):
        return []
    return [int(p) for p in text[2:].replace(";", ",").split(",") if p.strip().isdigit()]
