"""The TSP attribute trees of the simulated 2636B: reading buffers, ``smuX.*`` and the globals.

Each attribute is one line with its getter and validating setter, in the instrument's units.
Setters reject out-of-range values with -222 (Parameter data out of range) and wrong types with
-286; the smuX tree follows the 2600B Reference Manual (2600BS-901-01) §7/§9 names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .keithley_2600_lua import number_text
from .keithley_2600_trigger import TimerSettings
from .keithley_2600_tsp import (
    RUNTIME_ERROR,
    Builtin,
    Context,
    LuaTable,
    TspArray,
    TspError,
    TspNode,
    standard_library,
)

if TYPE_CHECKING:
    from .keithley_2600 import SimKeithley2600
    from .keithley_2600_smu import Smu

MAX_EVENT_ID = 1000
TIMER_EVENT_BASE = 30


def number(value: Any, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TspError(RUNTIME_ERROR, f"{what}: number expected, got {type(value).__name__}")
    if math.isnan(value) or not low <= value <= high:
        raise TspError(-222, f"Parameter data out of range: {what} = {value:g} "
                       f"(allowed {low:g} to {high:g})")
    return float(value)


def choice(value: Any, what: str, allowed: tuple[int, ...]) -> int:
    result = number(value, what)
    if result not in allowed:
        raise TspError(-222, f"Parameter data out of range: {what} = {result:g} (allowed "
                       f"{', '.join(map(str, allowed))})")
    return int(result)


def integer(value: Any, what: str, low: int, high: int) -> int:
    result = number(value, what, low, high)
    if result != int(result):
        raise TspError(-222, f"Parameter data out of range: {what} = {result:g} is not an integer")
    return int(result)


def flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    return bool(choice(value, what, (0, 1)))


@dataclass
class ReadingBuffer:
    """``smuX.nvbufferN``: readings with relative timestamps, statuses and source values."""

    name: str
    capacity: int = 60_000
    readings: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    statuses: list[float] = field(default_factory=list)
    sources: list[float] = field(default_factory=list)
    appendmode: int = 0
    collecttimestamps: int = 1
    collectsourcevalues: int = 0

    def clear(self) -> None:
        for column in (self.readings, self.times, self.statuses, self.sources):
            column.clear()

    def add(self, value: float, t: float, status: float, source: float) -> None:
        if len(self.readings) >= self.capacity:
            return
        self.readings.append(value)
        self.times.append(t)
        self.statuses.append(status)
        self.sources.append(source)

    def column(self, name: str) -> list[float]:
        if name == "timestamps":
            if not self.collecttimestamps:
                raise TspError(RUNTIME_ERROR, f"{self.name} holds no timestamps "
                               "(collecttimestamps = 0)")
            return [t - self.times[0] for t in self.times]
        if name == "sourcevalues" and not self.collectsourcevalues:
            raise TspError(RUNTIME_ERROR, f"{self.name} holds no source values "
                           "(collectsourcevalues = 0)")
        return {"readings": self.readings, "statuses": self.statuses,
                "sourcevalues": self.sources}[name]

    def node(self) -> TspNode:
        node = TspNode(self.name)
        node.add("n", lambda: float(len(self.readings)))
        node.add("capacity", lambda: float(self.capacity))
        node.add("basetimestamp", lambda: self.times[0] if self.times else 0.0)
        node.add("timestampresolution", lambda: 1e-6)
        for flag in ("appendmode", "collecttimestamps", "collectsourcevalues"):
            node.add(flag, lambda f=flag: float(getattr(self, f)),
                     lambda v, f=flag: setattr(self, f, choice(v, f"{self.name}.{f}", (0, 1))))
        for column in ("readings", "timestamps", "statuses", "sourcevalues"):
            node.add(column, lambda c=column: BufferColumn(self, c))
        node.function("clear", self.clear)
        node.buffer = self  # type: ignore[attr-defined]
        return node


class BufferColumn:
    """``buffer.readings`` etc.: indexable 1..n, and printable with printbuffer()."""

    def __init__(self, buffer: ReadingBuffer, name: str) -> None:
        self.buffer, self.name = buffer, name

    def values(self) -> list[float]:
        return self.buffer.column(self.name)

    def tsp_get(self, key: Any, line: int) -> Any:
        values = self.values()
        if isinstance(key, (int, float)) and not isinstance(key, bool) and key == int(key) \
                and 1 <= key <= len(values):
            return values[int(key) - 1]
        return None

    def tsp_set(self, key: Any, value: Any, line: int) -> None:
        raise TspError(RUNTIME_ERROR, f"{self.buffer.name}.{self.name} is read-only", line)


def smu_node(smu: Smu) -> TspNode:
    """``smuX``: source, measure, nvbuffer1/2, trigger, abort(), reset() and the constants."""
    from .keithley_2600_smu import (
        CONSTANTS,
        MAX_CURRENT,
        MAX_VOLTAGE,
        MIN_CURRENT_LIMIT,
        MIN_VOLTAGE_LIMIT,
        spot_builtin,
    )

    x = smu.name
    node = TspNode(x)
    for name, value in CONSTANTS.items():
        node.const(name, float(value))
    node.child("source", _source_node(smu, MIN_VOLTAGE_LIMIT, MAX_VOLTAGE, MIN_CURRENT_LIMIT,
                                      MAX_CURRENT))
    measure = TspNode(f"{x}.measure")

    def setting(name: str, validate: Any) -> None:
        measure.add(name, lambda: float(getattr(smu.measure, name)),
                    lambda v: setattr(smu.measure, name, validate(v)))

    def measure_range(value: Any, volts: bool) -> None:
        from .keithley_2600_smu import CURRENT_RANGES, VOLTAGE_RANGES, range_for

        ranges = VOLTAGE_RANGES if volts else CURRENT_RANGES
        key = "v" if volts else "i"
        chosen = range_for(number(value, f"{x}.measure.range{key}", 0, ranges[-1] * 1.01),
                           ranges)
        setattr(smu.measure, "range" + key, chosen)
        setattr(smu.measure, "autorange" + key, 0)

    setting("nplc", lambda v: number(v, f"{x}.measure.nplc", 0.001, 25.0))
    measure.add("rangei", lambda: smu.measure.rangei, lambda v: measure_range(v, False))
    measure.add("rangev", lambda: smu.measure.rangev, lambda v: measure_range(v, True))
    setting("autorangei", lambda v: choice(v, f"{x}.measure.autorangei", (0, 1)))
    setting("autorangev", lambda v: choice(v, f"{x}.measure.autorangev", (0, 1)))
    setting("autozero", lambda v: choice(v, f"{x}.measure.autozero", (0, 1, 2)))
    setting("delay", lambda v: number(v, f"{x}.measure.delay", -1.0, 1e4))
    setting("count", lambda v: integer(v, f"{x}.measure.count", 1, 60_000))
    for kind in ("i", "v", "iv", "r", "p"):
        measure.child(kind, spot_builtin(smu, kind))
    node.child("measure", measure)
    node.child("nvbuffer1", smu.buffers[0].node())
    node.child("nvbuffer2", smu.buffers[1].node())
    node.child("trigger", _trigger_node(smu, MAX_VOLTAGE, MAX_CURRENT))
    node.function("abort", smu.abort)
    node.function("reset", smu.reset)
    sense = {"value": 0}
    node.add("sense", lambda: float(sense["value"]),
             lambda v: sense.__setitem__("value", choice(v, f"{x}.sense", (0, 1, 3))))
    return node


def _source_node(smu: Smu, min_v: float, max_v: float, min_i: float, max_i: float
                 ) -> TspNode:
    x = smu.name
    node = TspNode(f"{x}.source")

    def setting(name: str, validate: Any) -> None:
        node.add(name, lambda: float(getattr(smu.source, name)),
                 lambda v: smu.change(**{name: validate(v)}))

    setting("func", lambda v: choice(v, f"{x}.source.func", (0, 1)))
    node.add("levelv", lambda: smu.source.levelv, lambda v: smu.set_level(v, True))
    node.add("leveli", lambda: smu.source.leveli, lambda v: smu.set_level(v, False))
    setting("limitv", lambda v: number(v, f"{x}.source.limitv", min_v, max_v))
    setting("limiti", lambda v: number(v, f"{x}.source.limiti", min_i, max_i))
    node.add("rangev", lambda: smu.source.rangev, lambda v: smu.set_range(v, True))
    node.add("rangei", lambda: smu.source.rangei, lambda v: smu.set_range(v, False))
    for name in ("autorangev", "autorangei", "output"):
        setting(name, lambda v, n=name: choice(v, f"{x}.source.{n}", (0, 1)))
    setting("offmode", lambda v: choice(v, f"{x}.source.offmode", (0, 1, 2)))
    setting("delay", lambda v: max(number(v, f"{x}.source.delay", -1.0, 1e4), 0.0))
    node.add("compliance", smu.in_compliance)
    extra = {"offlimiti": 1e-3, "offlimitv": 20.0}
    for name, (low, high) in (("offlimiti", (min_i, max_i)), ("offlimitv", (min_v, max_v))):
        node.add(name, lambda n=name: extra[n],
                 lambda v, n=name, lo=low, hi=high: extra.__setitem__(
                     n, number(v, f"{x}.source.{n}", lo, hi)))
    return node


def _trigger_node(smu: Smu, max_v: float, max_i: float) -> TspNode:
    x = smu.name
    node = TspNode(f"{x}.trigger")
    trig = lambda: smu.trigger  # noqa: E731 - the settings object is replaced on reset

    def field_(parent: TspNode, name: str, attr: str, validate: Any) -> None:
        parent.add(name, lambda: float(getattr(trig(), attr)),
                   lambda v: setattr(trig(), attr, validate(v)))

    def stimulus(parent: TspNode, attr: str, path: str, detector: str) -> None:
        field_(parent, "stimulus", attr,
               lambda v: integer(v, f"{x}.trigger.{path}.stimulus", 0, MAX_EVENT_ID))
        parent.function("set", lambda: trig().prelatched.add(detector))
        parent.function("clear", lambda: trig().prelatched.discard(detector))

    field_(node, "count", "count", lambda v: integer(v, f"{x}.trigger.count", 0, 2**28))
    node.function("initiate", smu.initiate)
    for name, event in smu.events.items():
        node.const(f"{name}_EVENT_ID", float(event))
    arm = TspNode(f"{x}.trigger.arm")
    field_(arm, "count", "arm_count", lambda v: integer(v, f"{x}.trigger.arm.count", 0, 2**28))
    stimulus(arm, "arm_stimulus", "arm", "arm")
    source = TspNode(f"{x}.trigger.source")
    source.function("listv", lambda t: smu.set_list(t, True))
    source.function("listi", lambda t: smu.set_list(t, False))
    source.function("linearv", lambda a, b, n: smu.set_linear(a, b, n, True))
    source.function("lineari", lambda a, b, n: smu.set_linear(a, b, n, False))
    field_(source, "limiti", "source_limit",
           lambda v: number(v, f"{x}.trigger.source.limiti", 0.0, max_i))
    field_(source, "limitv", "source_limit",
           lambda v: number(v, f"{x}.trigger.source.limitv", 0.0, max_v))
    field_(source, "action", "source_action",
           lambda v: choice(v, f"{x}.trigger.source.action", (0, 1)))
    stimulus(source, "source_stimulus", "source", "source")
    measure = TspNode(f"{x}.trigger.measure")
    for kind in ("iv", "i", "v"):
        measure.function(kind, lambda *b, k=kind: smu.set_measure_buffers(k, *b))
    field_(measure, "action", "measure_action",
           lambda v: choice(v, f"{x}.trigger.measure.action", (0, 1)))
    stimulus(measure, "measure_stimulus", "measure", "measure")
    endpulse = TspNode(f"{x}.trigger.endpulse")
    field_(endpulse, "action", "endpulse_action",
           lambda v: choice(v, f"{x}.trigger.endpulse.action", (0, 1)))
    stimulus(endpulse, "endpulse_stimulus", "endpulse", "endpulse")
    endsweep = TspNode(f"{x}.trigger.endsweep")
    field_(endsweep, "action", "endsweep_action",
           lambda v: choice(v, f"{x}.trigger.endsweep.action", (0, 1)))
    for name, child in (("arm", arm), ("source", source), ("measure", measure),
                        ("endpulse", endpulse), ("endsweep", endsweep)):
        node.child(name, child)
    return node


def timer_node(number_: int, settings: dict[int, TimerSettings]) -> TspNode:
    """``trigger.timer[N]``: delay / delaylist, count, passthrough, stimulus, EVENT_ID."""
    path = f"trigger.timer[{number_}]"
    node = TspNode(path)
    timer = lambda: settings[number_]  # noqa: E731 - replaced by reset()

    def set_delays(value: Any) -> None:
        delays = value.array() if isinstance(value, LuaTable) else [value]
        checked = [number(d, f"{path}.delaylist", 1e-6, 1e5) for d in delays]
        if not checked:
            raise TspError(-222, f"Parameter data out of range: {path}.delaylist is empty")
        if len(checked) > 1 and sum(checked) / len(checked) < 50e-6:
            raise TspError(-222, f"Parameter data out of range: {path}.delaylist average "
                           f"{sum(checked) / len(checked):g} s is below 50 µs")
        timer().delaylist = checked

    node.add("delay", lambda: timer().delaylist[0], set_delays)
    node.add("delaylist", lambda: LuaTable(list(timer().delaylist)), set_delays)
    node.add("count", lambda: float(timer().count),
             lambda v: setattr(timer(), "count", integer(v, f"{path}.count", 0, 1_048_575)))
    node.add("passthrough", lambda: timer().passthrough,
             lambda v: setattr(timer(), "passthrough", flag(v, f"{path}.passthrough")))
    node.add("stimulus", lambda: float(timer().stimulus),
             lambda v: setattr(timer(), "stimulus", integer(v, f"{path}.stimulus", 0,
                                                              MAX_EVENT_ID)))
    node.const("EVENT_ID", float(TIMER_EVENT_BASE + number_))
    node.function("reset", lambda: settings.__setitem__(number_, TimerSettings()))
    return node


def global_environment(inst: SimKeithley2600) -> dict[str, Any]:
    """The names a 2636B knows at the top level (plus the Lua base library)."""
    env = standard_library()
    env.update(smua=inst.smua.node, smub=inst.smub.node)
    for name, fn in (("print", inst.tsp_print), ("printbuffer", inst.tsp_printbuffer),
                     ("printnumber", inst.tsp_printnumber), ("delay", _delay),
                     ("waitcomplete", inst.waitcomplete)):
        env[name] = Builtin(name, fn, "context")
    env["reset"] = Builtin("reset", inst.reset)
    fmt = TspNode("format")
    for name, value in (("ASCII", 1), ("SREAL", 2), ("REAL32", 2), ("REAL", 3), ("REAL64", 3),
                        ("DREAL", 3), ("NORMAL", 0), ("BIGENDIAN", 0), ("NETWORK", 0),
                        ("SWAPPED", 1), ("LITTLEENDIAN", 1)):
        fmt.const(name, float(value))
    fmt.add("data", lambda: float(inst.format["data"]),
            lambda v: inst.format.__setitem__("data", choice(v, "format.data", (1, 2, 3))))
    fmt.add("asciiprecision", lambda: float(inst.format["asciiprecision"]),
            lambda v: inst.format.__setitem__("asciiprecision",
                                              integer(v, "format.asciiprecision", 1, 16)))
    fmt.add("byteorder", lambda: float(inst.format["byteorder"]),
            lambda v: inst.format.__setitem__("byteorder", choice(v, "format.byteorder", (0, 1))))
    local = TspNode("localnode")
    local.add("model", lambda: inst.model)
    local.add("serialno", lambda: inst.serial)
    local.add("revision", lambda: inst.firmware)
    local.add("description", lambda: f"Keithley Instruments SMU {inst.model} - {inst.serial}")
    local.add("linefreq", lambda: inst.line_frequency,
              lambda v: setattr(inst, "line_frequency", float(choice(v, "localnode.linefreq",
                                                                      (50, 60)))))
    for name in ("prompts", "showerrors"):
        local.add(name, lambda n=name: float(inst.flags[n]),
                  lambda v, n=name: inst.flags.__setitem__(n, choice(v, f"localnode.{n}",
                                                                      (0, 1))))
    local.function("reset", inst.reset)
    errors = TspNode("errorqueue")
    errors.add("count", lambda: float(len(inst.errors)))
    errors.function("next", inst.next_error)
    errors.function("clear", inst.errors.clear)
    scripts = TspNode("script")
    scripts.function("delete", inst.delete_script)
    trigger = TspNode("trigger")
    trigger.child("timer", TspArray("trigger.timer",
                                    {n: timer_node(n, inst.timers) for n in range(1, 9)}))
    env.update(format=fmt, localnode=local, errorqueue=errors, script=scripts, trigger=trigger)
    return env


def _delay(ctx: Context, seconds: Any) -> None:
    ctx.cursor += number(seconds, "delay()", 0.0, 1e5)


def ascii_number(value: float, precision: int) -> str:
    return number_text(value, precision)
