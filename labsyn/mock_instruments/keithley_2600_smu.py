"""One channel (smua / smub) of the simulated 2636B: its TSP attribute tree and its physics.

Source V or I with a source-side limit that really limits the DUT (``smuX.source.limiti``),
autoranged or fixed source ranges, the 2636B safe operating area (at most 0.1 A where more than
20.2 V is possible, error 5007), output off-modes (normal 0 V, zero, high-Z = floating), spot
measurements that take NPLC / line frequency (three apertures with autozero AUTO) plus 60 µs,
two reading buffers with relative timestamps and compliance status bits (0x40), and the trigger
model (``keithley_2600_trigger``) scheduled on the bench timeline at ``initiate()``.
Unknown attributes, out-of-range values (-222) and wrong types (-286) are errors, as on the
instrument; values the driver never sends still behave as the reference manual says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .keithley_2600_nodes import ReadingBuffer, number
from .keithley_2600_trigger import (
    EVENT_NAMES,
    TimerSettings,
    TriggerPlan,
    TriggerPlanner,
    TriggerSettings,
)
from .keithley_2600_tsp import RUNTIME_ERROR, Builtin, Context, LuaTable, TspError, TspNode
from .timeline import DriveState, Measurement, Piece, SourceChannel

if TYPE_CHECKING:
    from .keithley_2600 import SimKeithley2600

VOLTAGE_RANGES = (0.2, 2.0, 20.0, 200.0)
CURRENT_RANGES = (1e-9, 10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5)
OVER_RANGE = 1.01
MAX_VOLTAGE, MAX_CURRENT = 200.0 * OVER_RANGE, 1.5 * OVER_RANGE
MIN_CURRENT_LIMIT, MIN_VOLTAGE_LIMIT = 100e-12, 20e-3
SOA_VOLTAGE, SOA_CURRENT = 20.0 * OVER_RANGE, 0.1
MEASURE_OVERHEAD_S = 60e-6
OVERFLOW = 9.91e37
STATUS_COMPLIANCE = 0x40
OFF_MODES = {0: "NORM", 1: "ZERO", 2: "HIMP"}
CONSTANTS = {"OUTPUT_DCAMPS": 0, "OUTPUT_DCVOLTS": 1, "OUTPUT_OFF": 0, "OUTPUT_ON": 1,
             "OUTPUT_NORMAL": 0, "OUTPUT_ZERO": 1, "OUTPUT_HIGH_Z": 2, "AUTORANGE_OFF": 0,
             "AUTORANGE_ON": 1, "AUTOZERO_OFF": 0, "AUTOZERO_ONCE": 1, "AUTOZERO_AUTO": 2,
             "DISABLE": 0, "ENABLE": 1, "SOURCE_IDLE": 0, "SOURCE_HOLD": 1, "LIMIT_AUTO": 0,
             "DELAY_OFF": 0, "DELAY_AUTO": -1, "SENSE_LOCAL": 0, "SENSE_REMOTE": 1}


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    for r in ranges:
        if abs(value) <= r * OVER_RANGE:
            return r
    return ranges[-1]


@dataclass
class Source:
    func: int = 1
    levelv: float = 0.0
    leveli: float = 0.0
    limitv: float = 20.0
    limiti: float = 0.1
    rangev: float = 0.2
    rangei: float = 100e-9
    autorangev: int = 1
    autorangei: int = 1
    output: int = 0
    offmode: int = 0
    delay: float = 0.0


@dataclass
class Measure:
    nplc: float = 1.0
    rangei: float = 100e-9
    rangev: float = 0.2
    autorangei: int = 1
    autorangev: int = 1
    autozero: int = 2
    delay: float = -1.0
    count: int = 1


class Smu:
    """One SMU channel; `channel` is its output on the bench."""

    def __init__(self, inst: SimKeithley2600, letter: str, event_base: int) -> None:
        self.inst = inst
        self.name = f"smu{letter}"
        self.channel = SourceChannel(f"{inst.name} {self.name}")
        self.events = {name: event_base + i for i, name in enumerate(EVENT_NAMES)}
        self.buffers = (ReadingBuffer(f"{self.name}.nvbuffer1"),
                        ReadingBuffer(f"{self.name}.nvbuffer2"))
        self.reset_state()
        self.node = self._build()

    def reset_state(self) -> None:
        self.source = Source()
        self.measure = Measure()
        self.trigger = TriggerSettings()
        self.plan: TriggerPlan | None = None
        self.held_level: float | None = None
        for buffer in self.buffers:
            buffer.clear()

    def reset(self) -> None:
        self.abort()
        self.reset_state()
        self.apply()

    # -- state and drive -------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.inst.timeline_time

    def finish_if_done(self) -> None:
        if self.plan is not None and self.now >= self.plan.end:
            self.held_level = self.plan.final_level
            self.plan = None

    @property
    def running(self) -> bool:
        self.finish_if_done()
        return self.plan is not None

    def busy_until(self) -> float:
        return self.plan.end if self.running and self.plan is not None else -math.inf

    def level(self) -> float:
        if self.held_level is not None:
            return self.held_level
        return self.source.levelv if self.source.func == 1 else self.source.leveli

    def drive(self, level: float | None = None, limit: float | None = None) -> DriveState:
        s = self.source
        volts = s.func == 1
        return DriveState(bool(s.output), "V" if volts else "I",
                          self.level() if level is None else level,
                          (s.limiti if volts else s.limitv) if limit is None else limit,
                          OFF_MODES[s.offmode])  # type: ignore[arg-type]

    def apply(self) -> None:
        """The present settings drive the output from now (unless a sweep owns it)."""
        if self.inst.bench is not None and not self.running:
            self.channel.set(self.drive(), self.now)

    def change(self, **settings: Any) -> None:
        candidate = replace(self.source, **settings)
        check_safe_operating_area(candidate, self.name)
        if "output" in settings and not settings["output"] and self.running:
            self.abort()
        if {"levelv", "leveli", "func", "output"} & set(settings):
            self.held_level = None
        self.source = candidate
        self.apply()

    def set_level(self, value: Any, volts: bool) -> None:
        what = f"{self.name}.source.level{'v' if volts else 'i'}"
        limit = MAX_VOLTAGE if volts else MAX_CURRENT
        level = number(value, what, -limit, limit)
        ranges = VOLTAGE_RANGES if volts else CURRENT_RANGES
        key = "rangev" if volts else "rangei"
        if getattr(self.source, "autorange" + key[-1]):
            self.change(**{"level" + key[-1]: level, key: range_for(level, ranges)})
            return
        present = getattr(self.source, key)
        if abs(level) > present * OVER_RANGE:
            raise TspError(-222, f"Parameter data out of range: {what} = {level:g} exceeds "
                           f"the fixed {present:g} range")
        self.change(**{"level" + key[-1]: level})

    def set_range(self, value: Any, volts: bool) -> None:
        ranges = VOLTAGE_RANGES if volts else CURRENT_RANGES
        what = f"{self.name}.source.range{'v' if volts else 'i'}"
        chosen = range_for(number(value, what, -ranges[-1] * OVER_RANGE,
                                  ranges[-1] * OVER_RANGE), ranges)
        level = self.source.levelv if volts else self.source.leveli
        if abs(level) > chosen * OVER_RANGE:
            raise TspError(-222, f"Parameter data out of range: {what} = {chosen:g} is below "
                           f"the present level {level:g}")
        suffix = "v" if volts else "i"
        self.change(**{"range" + suffix: chosen, "autorange" + suffix: 0})

    # -- measuring -------------------------------------------------------------------------------
    def measure_time(self) -> float:
        aperture = self.measure.nplc / self.inst.line_frequency
        return aperture * (3 if self.measure.autozero == 2 else 1) + MEASURE_OVERHEAD_S

    def in_compliance(self) -> bool:
        wired = self.channel.wired
        return bool(wired is not None and wired[0].last_limited
                    and self.channel.state_at(self.now).on)

    def reading(self, m: Measurement, kind: str) -> float:
        if kind == "v":
            noise = 1e-6 * range_for(m.voltage, VOLTAGE_RANGES)
            return m.voltage + float(self.inst.rng.normal(0.0, noise))
        value = m.current
        rng = range_for(value, CURRENT_RANGES) if self.measure.autorangei \
            else self.measure.rangei
        if abs(value) > rng * OVER_RANGE:
            return math.copysign(OVERFLOW, value)
        if not m.limited:
            value += float(self.inst.rng.normal(0.0, 2e-5 * rng))
        return value

    def store(self, m: Measurement, kind: str, buffers: tuple[Any, ...]) -> tuple[float, ...]:
        status = float(STATUS_COMPLIANCE if m.limited else 0)
        values = {"i": self.reading(m, "i"), "v": self.reading(m, "v")}
        if kind == "r":
            result: tuple[float, ...] = (values["v"] / values["i"] if values["i"] else OVERFLOW,)
        elif kind == "p":
            result = (values["v"] * values["i"],)
        else:
            result = tuple(values[k] for k in kind)
        for buffer, value in zip(buffers, result, strict=False):
            if buffer is not None:
                buffer.add(value, m.time, status, m.source)
        return result

    def spot(self, ctx: Context, kind: str, *buffer_nodes: Any) -> Any:
        """``smuX.measure.i/v/iv/r/p([buffer...])``: the reply waits for the aperture."""
        if self.running:
            raise TspError(-221, f"Settings conflict: {self.name} is sweeping; "
                           f"{self.name}.abort() first")
        buffers = tuple(buffer_of(b) for b in buffer_nodes)
        for buffer in buffers:
            if buffer is not None and not buffer.appendmode:
                buffer.clear()
        taken: list[Measurement] = []
        t = max(ctx.cursor, self.now)
        for _ in range(self.measure.count):
            t += self.measure_time()
            self.inst.timeline.measure_at(t, self.channel, taken.append)
        ctx.cursor = t
        yield t
        result = ()
        for m in taken:
            result = self.store(m, kind, buffers)
        return result

    # -- trigger model ---------------------------------------------------------------------------
    def initiate(self) -> None:
        if self.running:
            raise TspError(-221, f"Settings conflict: {self.name} is already sweeping")
        trig = self.trigger
        if trig.measure_action and not trig.measure_buffers:
            raise TspError(-221, f"Settings conflict: {self.name}.trigger.measure has no "
                           "buffer (call smuX.trigger.measure.iv(buffer1, buffer2) first)")
        sibling = self.inst.smub if self is self.inst.smua else self.inst.smua
        others = tuple(sibling.plan.events) if sibling.running and sibling.plan else ()
        self._schedule(self.now, others, self.now)
        if sibling.running and sibling.plan is not None and sibling.plan.waits_forever:
            assert self.plan is not None
            sibling._schedule(sibling.plan.start, tuple(self.plan.events), self.now)

    def _schedule(self, t: float, external: tuple[tuple[float, int], ...], since: float
                  ) -> None:
        """Plan the trigger model from `t` (with the other SMU's events: a sweep waiting on a
        timer the other SMU starts is planned again when that SMU initiates) and put it on
        the bench; measurements before `since` have already happened."""
        trig = self.trigger
        delay = self.measure.delay if self.measure.delay >= 0 else 0.0
        planner = TriggerPlanner(trig, self.events, self.inst.timers, self.inst.timer_events,
                                 self.source.levelv if self.source.func == 1
                                 else self.source.leveli, self.measure_time(), delay,
                                 self.source.delay, external)
        plan = planner.plan(t)
        replanning = self.plan is not None
        if replanning:
            self.inst.timeline.cancel_events(self.channel, since)
        for buffer in trig.measure_buffers:
            if not buffer.appendmode:  # type: ignore[attr-defined]
                buffer.clear()  # type: ignore[attr-defined]
        limit = trig.source_limit or None
        pieces, start, level = [], t, self.level()
        for when, new_level in plan.changes:
            if when > start:
                pieces.append(Piece(start, when, self.drive(level, limit)))
                start = when
            level = new_level
        if plan.waits_forever:
            after = self.drive(level, limit)
        else:
            if plan.end > start:
                pieces.append(Piece(start, plan.end, self.drive(level, limit)))
            final = plan.final_level
            after = self.drive(final if final is not None else
                               (self.source.levelv if self.source.func == 1
                                else self.source.leveli))
        self.held_level = None
        self.channel.schedule(pieces, after, t)
        kind, buffers = trig.measure_kind, trig.measure_buffers
        for when in (w for w in plan.measures if w > since or not replanning):
            self.inst.timeline.measure_at(when, self.channel,
                                          lambda m, k=kind, b=buffers: self.store(m, k, b))
        self.plan = plan

    def abort(self) -> None:
        """``smuX.abort()``: stop the sweep now; the output stays on at the idle level."""
        if not self.running or self.inst.bench is None:
            return
        t = self.now
        self.channel.cancel_after(t)
        self.inst.timeline.cancel_events(self.channel, t)
        self.plan = None
        self.held_level = None
        self.apply()

    def set_list(self, values: Any, volts: bool) -> None:
        if not isinstance(values, LuaTable):
            raise TspError(RUNTIME_ERROR, f"{self.name}.trigger.source.list"
                           f"{'v' if volts else 'i'}: table expected")
        limit = MAX_VOLTAGE if volts else MAX_CURRENT
        self.trigger.values = [number(v, f"{self.name} sweep list value", -limit, limit)
                               for v in values.array()]
        if not self.trigger.values:
            raise TspError(-222, "Parameter data out of range: empty sweep list")

    def set_linear(self, start: Any, stop: Any, points: Any, volts: bool) -> None:
        limit = MAX_VOLTAGE if volts else MAX_CURRENT
        a = number(start, "sweep start", -limit, limit)
        b = number(stop, "sweep stop", -limit, limit)
        n = int(number(points, "sweep points", 2, 10**6))
        self.trigger.values = [a + (b - a) * k / (n - 1) for k in range(n)]

    def set_measure_buffers(self, kind: str, *nodes: Any) -> None:
        buffers = tuple(buffer_of(n) for n in nodes)
        if len(buffers) != len(kind) or any(b is None for b in buffers):
            raise TspError(RUNTIME_ERROR, f"{self.name}.trigger.measure.{kind}: "
                           f"{len(kind)} reading buffer(s) expected")
        self.trigger.measure_kind, self.trigger.measure_buffers = kind, buffers

    # -- the attribute tree ----------------------------------------------------------------------
    def _build(self) -> TspNode:
        from .keithley_2600_nodes import smu_node

        return smu_node(self)


def buffer_of(node: Any) -> ReadingBuffer | None:
    return getattr(node, "buffer", None)


def check_safe_operating_area(s: Source, name: str) -> None:
    """2636B: at most 0.1 A (limit or level) where more than 20.2 V is possible."""
    if s.func == 1:
        high = abs(s.levelv) > SOA_VOLTAGE or (not s.autorangev and s.rangev > SOA_VOLTAGE)
        current = s.limiti
    else:
        high = s.limitv > SOA_VOLTAGE
        current = abs(s.leveli)
    if high and current > SOA_CURRENT * 1.0000001:
        raise TspError(5007, f"Operation would exceed safe operating area of the instrument "
                       f"({name}: {current:g} A where more than 20.2 V is possible)")


def spot_builtin(smu: Smu, kind: str) -> Builtin:
    return Builtin(f"{smu.name}.measure.{kind}", lambda ctx, *b: smu.spot(ctx, kind, *b),
                   "generator")


def timer_settings() -> dict[int, TimerSettings]:
    return {n: TimerSettings() for n in range(1, 9)}
