"""Simulated Keysight B2901A / B2902A Precision Source/Measure Unit (SCPI, channel suffixes).

Each channel sources V (or I) with a measure-side compliance (``:SENS:CURR:PROT``) that really
limits the DUT current, in DC or pulse shape (base ``:SOUR:VOLT``, peak ``:SOUR:VOLT:TRIG`` or the
sweep/list point, ``:PULS:WIDT`` ≥ 50 µs, ``:PULS:DEL``), with fixed, sweep or list modes. At
``:INIT`` the ARM-TRIGger model (User's Guide Ed 5 §6-27: an ARM layer and a TRIGger layer, each
with source, timer, count and delay, run independently for the transient and the acquire
actions) is executed on paper and scheduled on the bench timeline, so the DUT sees the real
voltages. Readings carry VOLT, CURR, RES, TIME, STAT, SOUR (status bits 1-2 = compliance, bit 13 =
range overflow). With ``:OUTP:PROT ON`` the first reading in compliance switches the output off
(0 V, relay open); the trigger system runs on with the output off. The per-channel power envelope
and, on the B2902A, the shared-supply rule are enforced (-221).

Modelling choices where the manual was not at hand: a TIMer layer fires its first event on entry;
a sweep or list repeats when the trigger count exceeds its points; a timer shorter than what it
paces (pulse, measurement, trigger layer) is refused at ``:INIT`` with -221 instead of losing
events; trigger sources other than AINT and TIM are refused at ``:INIT``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .keysight_b2900_commands import register_commands
from .scpi import STB_MAV, STB_RQS, CommandTree, ScpiError
from .sim_instrument import ScpiInstrument
from .timeline import DriveState, Measurement, Piece, SourceChannel

VOLTAGE_RANGES = (0.2, 2.0, 20.0, 200.0)
CURRENT_RANGES = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 1.5, 3.0)
MAX_VOLTAGE, MAX_CURRENT = 210.0, 3.03
ENVELOPE = ((6.0, 3.03), (21.0, 1.515), (210.0, 0.105))
MEASURE_OVERHEAD_S = 50e-6
MIN_TRIGGER_INTERVAL = 20e-6
MAX_READINGS = 100_000
OFF_MODES = {"NORM": "NORM", "HIZ": "HIMP", "ZERO": "ZERO"}
NAN_VALUE = 9.91e37
OVERFLOW = 9.9e37
STATUS_CURRENT_SOURCE, STATUS_COMPLIANCE, STATUS_OVERFLOW = 1, 2, 8192
EPSILON = 1e-12


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    """Smallest range that holds |value| (5 % over-range)."""
    for rng in ranges:
        if abs(value) <= rng * 1.05:
            return rng
    return ranges[-1]


def envelope_current(voltage: float) -> float:
    for top, current in ENVELOPE:
        if abs(voltage) <= top * (1 + 1e-9):
            return current
    return 0.0


@dataclass
class Layer:
    """One layer (ARM or TRIGger) of one action's trigger model."""

    source: str = "AINT"
    timer: float = 1e-3
    count: int = 1
    delay: float = 0.0


@dataclass
class TriggerModel:
    arm: Layer = field(default_factory=Layer)
    trig: Layer = field(default_factory=Layer)


@dataclass(frozen=True)
class Reading:
    voltage: float
    current: float
    time: float
    status: int
    source: float


class SimChannel:
    """State of one B2900 channel; `output` is the timeline channel wired to a DUT terminal."""

    def __init__(self, number: int, output: SourceChannel) -> None:
        self.number = number
        self.output = output
        self.reset()

    def reset(self) -> None:
        self.function = "VOLT"
        self.shape = "DC"
        self.level = {"VOLT": 0.0, "CURR": 0.0}
        self.triggered = {"VOLT": 0.0, "CURR": 0.0}
        self.mode = {"VOLT": "FIX", "CURR": "FIX"}
        self.start = {"VOLT": 0.0, "CURR": 0.0}
        self.stop = {"VOLT": 0.0, "CURR": 0.0}
        self.lists: dict[str, list[float]] = {"VOLT": [], "CURR": []}
        self.points = 1
        self.spacing, self.direction = "LIN", "UP"
        self.pulse_width, self.pulse_delay = 1e-3, 0.0
        self.range = {"VOLT": 2.0, "CURR": 1e-4}
        self.range_auto = {"VOLT": True, "CURR": True}
        self.protection = {"CURR": 1e-4, "VOLT": 2.0}
        self.sense_range = {"CURR": 1e-4, "VOLT": 2.0}
        self.sense_auto = {"CURR": True, "VOLT": True}
        self.nplc = 1.0
        self.functions = {"CURR"}
        self.output_on, self.off_mode, self.protect, self.auto_on = False, "NORM", False, True
        self.waits = {"SOUR": True, "SENS": True}
        self.transient, self.acquire = TriggerModel(), TriggerModel()
        self.readings: list[Reading] = []
        self.plan_end = -math.inf
        self.protection_tripped = False

    @property
    def limit(self) -> float:
        """The compliance in force: current when sourcing V, voltage when sourcing I."""
        return self.protection["CURR" if self.function == "VOLT" else "VOLT"]

    def drive(self, level: float, on: bool | None = None) -> DriveState:
        mode = "V" if self.function == "VOLT" else "I"
        return DriveState(self.output_on if on is None else on, mode, level,  # type: ignore[arg-type]
                          self.limit, OFF_MODES[self.off_mode])  # type: ignore[arg-type]

    def source_values(self) -> list[float]:
        """The levels the transient action steps through (FIX: the triggered level)."""
        f = self.function
        if self.mode[f] == "FIX":
            return [self.triggered[f]]
        if self.mode[f] == "LIST":
            if not self.lists[f]:
                raise ScpiError(-221, f"channel {self.number}: the {f} list is empty")
            return list(self.lists[f])
        a, b, n = self.start[f], self.stop[f], self.points
        if self.spacing == "LOG":
            if a == 0 or b == 0 or (a > 0) != (b > 0):
                raise ScpiError(-221, "a log sweep needs start and stop of one sign, not 0")
            values = list(np.geomspace(a, b, n))
        else:
            values = list(np.linspace(a, b, n))
        return values[::-1] if self.direction == "DOWN" else values

    def measure_time(self, line_frequency: float) -> float:
        return self.nplc / line_frequency + MEASURE_OVERHEAD_S

    def transient_time(self) -> float:
        return self.pulse_delay + self.pulse_width if self.shape == "PULS" else 0.0


class SimKeysightB2900(ScpiInstrument):
    """A simulated B2901A (one channel) or B2902A (two); channels are `channels_by_number`."""

    def __init__(self, name: str = "Keysight B2900", model: str = "B2902A",
                 line_frequency: float = 50.0, seed: int = 0) -> None:
        if model not in ("B2901A", "B2902A"):
            raise ValueError(f"model {model!r} is not B2901A or B2902A")
        self.model = model
        self.idn = f"Keysight Technologies,{model},MY51141234,3.4.2011.5100"
        self.line_frequency = line_frequency
        self.rng = np.random.default_rng(seed)
        self.elements = ["VOLT", "CURR"]
        count = 1 if model == "B2901A" else 2
        self.sim_channels = {n: SimChannel(n, SourceChannel(f"{name} ch{n}"))
                             for n in range(1, count + 1)}
        self.channels_by_number = {n: c.output for n, c in self.sim_channels.items()}
        self.channel = self.channels_by_number[1]
        super().__init__(name)

    def build(self, tree: CommandTree) -> None:
        register_commands(self, tree)

    def attach(self, bench: Any) -> None:
        super().attach(bench)
        for output in self.channels_by_number.values():
            bench.timeline.add_channel(output)

    def sim_channel(self, number: int) -> SimChannel:
        if number not in self.sim_channels:
            raise ScpiError(-114, f"channel {number} does not exist on the {self.model}")
        return self.sim_channels[number]

    # -- state ----------------------------------------------------------------------------------
    def reset(self) -> None:
        for ch in self.sim_channels.values():
            self.abort(ch)
            ch.reset()
            self.apply(ch)
        self.elements = ["VOLT", "CURR"]

    def running(self, ch: SimChannel) -> bool:
        return self.bench is not None and self.now < ch.plan_end

    def require_idle(self, ch: SimChannel, what: str) -> None:
        if self.running(ch):
            raise ScpiError(-221, f"{what} not allowed while channel {ch.number} is running")

    def status_byte(self) -> int:
        """MAV only once the first reply exists (a pending ``*OPC?`` waits for the run)."""
        stb = super().status_byte()
        if self.output and self.output[0].ready_at > self.now:
            stb &= ~STB_MAV
            if not stb & self.status.sre & ~STB_RQS:
                stb &= ~STB_RQS
        return stb

    def busy_until(self) -> float:
        return max([self.now, *(c.plan_end for c in self.sim_channels.values())])

    def apply(self, ch: SimChannel) -> None:
        """Drive the channel's output from its present settings, from now."""
        if self.bench is None:
            return
        self.bench.sync()
        ch.output.set(ch.drive(ch.level[ch.function]), self.now)

    def change(self, ch: SimChannel, what: str, **settings: Any) -> None:
        """Change source settings (idle only), check the envelope, then drive them."""
        self.require_idle(ch, what)
        before = {key: getattr(ch, key) for key in settings}
        for key, value in settings.items():
            setattr(ch, key, value)
        try:
            self.check_power(ch, [ch.level[ch.function]])
        except ScpiError:
            for key, value in before.items():
                setattr(ch, key, value)
            raise
        self.apply(ch)

    def check_power(self, ch: SimChannel, levels: list[float]) -> None:
        """Per-channel envelope and the B2902A's shared-supply rule (User's Guide table 2-4)."""
        if ch.function != "VOLT":
            return
        peak = max(abs(v) for v in levels)
        if ch.limit > envelope_current(peak) * (1 + 1e-9):
            raise ScpiError(-221, f"channel {ch.number}: {ch.limit:g} A at {peak:g} V is "
                            "outside the power envelope")
        others = [c for c in self.sim_channels.values() if c is not ch and c.function == "VOLT"]
        for other in others:
            va, vb = peak, abs(other.level["VOLT"])
            if va > 21 or vb > 21:
                continue
            ia, ib = ch.limit, other.limit
            if va <= 6 and vb <= 6:
                ok = ia + ib <= 4.0
            elif va <= 6 or vb <= 6:
                low, high = (ia, ib) if va <= 6 else (ib, ia)
                ok = low + 1.6 * high <= 4.0
            else:
                ok = ia + ib <= 2.5
            if not ok:
                raise ScpiError(-221, "the two channels' current limits exceed the shared "
                                "supply")

    def set_output(self, ch: SimChannel, on: bool) -> None:
        if self.running(ch) and not on:
            self.abort(ch)
        self.require_idle(ch, "switching the output on")
        ch.output_on = on
        if on:
            ch.protection_tripped = False
        self.apply(ch)

    # -- trigger system -------------------------------------------------------------------------
    def _action_times(self, model: TriggerModel, start: float, duration: float,
                      aint: float, what: str) -> list[tuple[float, float]]:
        """(trigger time, action time) of every action the ARM-TRIGger layers produce."""
        arm, trig = model.arm, model.trig
        for layer in (arm, trig):
            if layer.source not in ("AINT", "TIM"):
                raise ScpiError(-221, f"{what} trigger source {layer.source} is not simulated "
                                "(AINT, TIM)")
        if arm.count * trig.count > MAX_READINGS * 10:
            raise ScpiError(-223, f"{what}: {arm.count * trig.count} actions are too many")
        interval = trig.timer if trig.source == "TIM" else aint
        if trig.count > 1 and interval + EPSILON < duration:
            raise ScpiError(-221, f"{what} trigger interval {interval:g} s is shorter than "
                            f"the action ({duration:g} s)")
        times: list[tuple[float, float]] = []
        t_arm = start
        for _ in range(arm.count):
            first = t_arm + arm.delay
            times.extend((first + k * interval, first + k * interval + trig.delay)
                         for k in range(trig.count))
            layer_end = times[-1][1] + duration
            if arm.source == "TIM":
                if arm.count > 1 and t_arm + arm.timer + EPSILON < layer_end:
                    raise ScpiError(-221, f"{what} arm timer {arm.timer:g} s is shorter than "
                                    "its trigger layer")
                t_arm += arm.timer
            else:
                t_arm = max(layer_end, t_arm + MIN_TRIGGER_INTERVAL)
        return times

    def initiate(self, ch: SimChannel) -> None:
        """``:INIT``: plan both actions, schedule the drive and the readings on the timeline."""
        self.require_idle(ch, ":INIT")
        assert self.bench is not None
        self.bench.sync()
        now, measure = self.now, ch.measure_time(self.line_frequency)
        values = ch.source_values()
        self.check_power(ch, [*values, ch.level[ch.function]])
        self._check_ranges(ch, values)
        aint = max(MIN_TRIGGER_INTERVAL, ch.transient_time(), measure)
        transients = self._action_times(ch.transient, now, ch.transient_time(), aint,
                                        "transient")
        acquires = self._action_times(ch.acquire, now, measure, aint, "acquire")
        if len(acquires) > MAX_READINGS:
            raise ScpiError(-223, f"{len(acquires)} readings exceed the {MAX_READINGS} buffer")
        if not ch.output_on and ch.auto_on:
            ch.output_on = True
        ch.protection_tripped = False
        pieces, after, end = self._pieces(ch, [t for _, t in transients], values)
        ch.output.schedule(pieces, after, now)
        ch.readings = []
        for trigger, action in acquires:
            self.bench.timeline.measure_at(action + measure, ch.output,
                                           lambda m, c=ch, t=trigger: self._store(c, m, t))
        ch.plan_end = max(end, acquires[-1][1] + measure if acquires else now)

    def _pieces(self, ch: SimChannel, times: list[float], values: list[float]
                ) -> tuple[list[Piece], DriveState, float]:
        base = ch.drive(ch.level[ch.function])
        changes: list[tuple[float, DriveState]] = [(self.now, ch.output.state_at(self.now))]
        end = self.now
        for k, t in enumerate(times):
            level = values[k % len(values)]
            if ch.shape == "PULS":
                rise = t + ch.pulse_delay
                changes += [(rise, ch.drive(level)), (rise + ch.pulse_width, base)]
                end = rise + ch.pulse_width
            else:
                changes.append((t, ch.drive(level)))
                end = t
        pieces = [Piece(t0, t1, state) for (t0, state), (t1, _) in itertools.pairwise(changes)
                  if t1 > t0]
        return pieces, changes[-1][1], end

    def _check_ranges(self, ch: SimChannel, values: list[float]) -> None:
        f = ch.function
        if ch.range_auto[f]:
            return
        for v in (*values, ch.level[f]):
            if abs(v) > ch.range[f] * 1.05 + EPSILON:
                raise ScpiError(-221, f"level {v:g} exceeds the fixed {ch.range[f]:g} range")

    def abort(self, ch: SimChannel) -> None:
        """``:ABOR``: stop both actions; a pulse in progress returns to its base."""
        if self.bench is None or not self.running(ch):
            return
        self.bench.sync()
        self.bench.timeline.cancel_events(ch.output, self.now)
        ch.output.cancel_after(self.now)
        if ch.shape == "PULS":
            ch.output.set(ch.drive(ch.level[ch.function], ch.output.hold.on), self.now)
        ch.plan_end = self.now

    # -- measuring ------------------------------------------------------------------------------
    def _store(self, ch: SimChannel, m: Measurement, trigger_time: float) -> Reading:
        reading = self.reading(ch, m, trigger_time)
        ch.readings.append(reading)
        if m.limited and ch.protect and ch.output.state_at(m.time).on:
            ch.output.set(ch.drive(0.0, on=False), m.time)
            ch.output_on, ch.protection_tripped = False, True
        # The timeline never looks back before a reading it has fired: dropping the pieces that
        # ended keeps its lookups short over a long train (it does the same after each advance).
        ch.output.forget_before(m.time)
        return reading

    def reading(self, ch: SimChannel, m: Measurement, time: float) -> Reading:
        status = STATUS_CURRENT_SOURCE if ch.function == "CURR" else 0
        if m.limited:
            status |= STATUS_COMPLIANCE
        values = {}
        for key, raw in (("VOLT", m.voltage), ("CURR", m.current)):
            ranges = VOLTAGE_RANGES if key == "VOLT" else CURRENT_RANGES
            rng = range_for(raw, ranges) if ch.sense_auto[key] else ch.sense_range[key]
            if abs(raw) > rng * 1.06:
                values[key] = math.copysign(OVERFLOW, raw)
                status |= STATUS_OVERFLOW
            elif key not in ch.functions:
                values[key] = NAN_VALUE
            else:
                noise = 0.0 if m.limited else float(self.rng.normal(0.0, 2e-5 * rng))
                values[key] = raw + noise
        return Reading(values["VOLT"], values["CURR"], time, status, m.source)

    def spot(self, ch: SimChannel) -> Reading:
        """``:MEAS?``: one reading at the present output; the reply waits for it."""
        self.require_idle(ch, "a spot measurement")
        assert self.bench is not None
        if not ch.output_on and ch.auto_on:
            self.set_output(ch, True)
        start = self.now
        t = start + ch.measure_time(self.line_frequency)
        taken: list[Reading] = []
        self.bench.timeline.measure_at(t, ch.output,
                                       lambda m: taken.append(self.reading(ch, m, start)))
        self.bench.run_until(t)
        self.reply_at(t)
        return taken[0]

    def in_compliance(self, ch: SimChannel) -> bool:
        if self.bench is None or ch.output.wired is None:
            return False
        self.bench.sync()
        return ch.output.wired[0].last_limited and ch.output.state_at(self.now).on

    def format_readings(self, readings: list[Reading], elements: list[str] | None = None) -> str:
        """ASCII data in the instrument's fixed element order."""
        wanted = elements or self.elements
        order = [e for e in ("VOLT", "CURR", "RES", "TIME", "STAT", "SOUR") if e in wanted]
        out: list[str] = []
        for r in readings:
            for element in order:
                if element == "RES":
                    value = r.voltage / r.current if r.current else NAN_VALUE
                else:
                    value = {"VOLT": r.voltage, "CURR": r.current, "TIME": r.time,
                             "STAT": float(r.status), "SOUR": r.source}[element]
                out.append(f"{value:+.6E}")
        return ",".join(out)

    def output_state(self) -> dict[str, Any]:
        """Any output on, then each channel's output, source and trigger state."""
        channels = {f"ch{n}": {"output": "ON" if c.output.state_at(self.now).on else "OFF",
                               "function": c.function, "shape": c.shape,
                               "level": c.level[c.function],
                               "trigger": "RUNNING" if self.running(c) else "IDLE"}
                    for n, c in self.sim_channels.items()}
        on = any(state["output"] == "ON" for state in channels.values())
        return {"output": "ON" if on else "OFF", **channels}
