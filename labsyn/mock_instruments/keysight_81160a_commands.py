"""The SCPI command table of the simulated 81150A/81160A (one output per numeric suffix).

Execution errors (-221 "Settings conflict", -222 "Data out of range") are queued and the rest of
the message still runs, as on the instrument; a refused setting leaves the old value in force.
Command errors (-113 undefined header, -114 header suffix out of range) end the message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keysight_81160a import SimKeysight81160A

MAX_COUNT = 2_147_483_647
FUNCTIONS = {"SINusoid": "SIN", "SQUare": "SQU", "RAMP": "RAMP", "PULSe": "PULS",
             "NOISe": "NOIS", "DC": "DC", "USER": "USER"}
ARM_SOURCES = {"IMMediate": "IMM", "INTernal2": "INT2", "EXTernal": "EXT", "MANual": "MAN"}
POLARITIES = {"NORMal": "NORM", "INVerted": "INV"}


def _e(value: float) -> str:
    return f"{value:.6E}"


def _tolerant(inst: SimKeysight81160A, handler: Callable[[Call], Any]) -> Callable[[Call], Any]:
    """Queue execution errors (-2xx) and carry on with the message."""

    def run(call: Call) -> Any:
        try:
            return handler(call)
        except ScpiError as err:
            if not -299 <= err.code <= -200:
                raise
            inst.status.push(err.code, err.message)
            return None

    return run


def register_commands(inst: SimKeysight81160A, tree: CommandTree) -> None:
    """Declare every command the simulated generator understands."""

    def add(pattern: str, query: Callable[[Call], Any] | None = None,
            setter: Callable[[Call], Any] | None = None) -> None:
        tree.add(pattern, query=None if query is None else _tolerant(inst, query),
                 setter=None if setter is None else _tolerant(inst, setter))

    def number(c: Call, low: float, high: float) -> float:
        c.require(1)
        return c.number(0, low, high, minimum=low, maximum=high)

    def seconds(field: str, low: Callable[[], float], high: float) -> Callable[[Call], None]:
        def set_(c: Call) -> None:
            inst.change(c.suffixes[0], **{field: number(c, low(), high)})
        return set_

    def get(field: str, fmt: Callable[[Any], str] = _e) -> Callable[[Call], str]:
        return lambda c: fmt(getattr(inst.settings(c.suffixes[0]), field))

    model = inst.model
    tree_add_seconds = [
        ("[:SOURce]:PULSe:PERiod#", "period", lambda: model.min_period, 1e6),
        ("[:SOURce]:PULSe:WIDTh#", "width", lambda: model.min_width, 1e6),
        ("[:SOURce]:PULSe:TRANsition#[:LEADing]", "edge", lambda: model.min_edge, 1e3),
        ("[:SOURce]:PULSe:TRANsition#:TRAiling", "trailing", lambda: model.min_edge, 1e3),
        ("[:SOURce]:BURSt#:INTernal:PERiod", "burst_period", lambda: model.min_period, 1e6),
    ]
    for pattern, field, low, high in tree_add_seconds:
        add(pattern, query=get(field), setter=seconds(field, low, high))

    def set_levels(c: Call, which: str) -> None:
        o = inst.settings(c.suffixes[0])
        window = o.window()
        value = number(c, -window, window) if which != "amplitude" else number(
            c, *o.amplitude_limits())
        high, low = o.high, o.low
        centre, span = (high + low) / 2, high - low
        if which == "high":
            high = value
        elif which == "low":
            low = value
        elif which == "offset":
            high, low = value + span / 2, value - span / 2
        else:
            high, low = centre + value / 2, centre - value / 2
        inst.change(c.suffixes[0], high=high, low=low)

    def levels(which: str) -> Callable[[Call], None]:
        return lambda c: set_levels(c, which)

    level_getters = {"amplitude": lambda o: o.high - o.low,
                     "offset": lambda o: (o.high + o.low) / 2,
                     "high": lambda o: o.high, "low": lambda o: o.low}
    for node, which in (("[:AMPLitude]", "amplitude"), (":OFFSet", "offset"), (":HIGH", "high"),
                        (":LOW", "low")):
        getter = level_getters[which]
        add(f"[:SOURce]:VOLTage#[:LEVel][:IMMediate]{node}",
            query=lambda c, g=getter: _e(g(inst.settings(c.suffixes[0]))), setter=levels(which))

    def set_limit(field: str) -> Callable[[Call], None]:
        def set_(c: Call) -> None:
            window = inst.settings(c.suffixes[0]).window()
            inst.change(c.suffixes[0], **{field: number(c, -window, window)})
        return set_

    add("[:SOURce]:VOLTage#:LIMit[:HIGH]", query=get("limit_high"), setter=set_limit("limit_high"))
    add("[:SOURce]:VOLTage#:LIMit:LOW", query=get("limit_low"), setter=set_limit("limit_low"))
    add("[:SOURce]:VOLTage#:LIMit:STATe", query=get("limit_on", _bool),
        setter=lambda c: inst.change(c.suffixes[0], limit_on=_boolean(c)))

    def choice(field: str, options: dict[str, str]) -> Callable[[Call], None]:
        def set_(c: Call) -> None:
            c.require(1)
            inst.change(c.suffixes[0], **{field: c.choice(0, options)})
        return set_

    add("[:SOURce]:FUNCtion#[:SHAPe]", query=get("function", str),
        setter=choice("function", FUNCTIONS))
    add(":OUTPut#:POLarity", query=get("polarity", str), setter=choice("polarity", POLARITIES))
    add(":ARM:SOURce#", query=get("arm", str), setter=lambda c: inst.set_arm(
        c.suffixes[0], (c.require(1), c.choice(0, ARM_SOURCES))[1]))
    add(":OUTPut#[:STATe]", query=get("on", _bool),
        setter=lambda c: inst.set_output(c.suffixes[0], _boolean(c)))

    def set_load(c: Call) -> None:
        c.require(1)
        text = c.params[0].strip().upper()
        load = math.inf if text in ("INF", "INFINITY", "MAX", "MAXIMUM") else (
            50.0 if text in ("MIN", "MINIMUM") else c.number(0, 0.3, 1e6))
        inst.change(c.suffixes[0], load=load)

    add(":OUTPut#:LOAD", setter=set_load,
        query=lambda c: _e(min(inst.settings(c.suffixes[0]).load, 9.9e37)))
    add("[:SOURce]:BURSt#:STATe", query=get("burst", _bool),
        setter=lambda c: inst.change(c.suffixes[0], burst=_boolean(c)))
    add("[:SOURce]:BURSt#:NCYCles", query=get("ncycles", str),
        setter=lambda c: inst.change(c.suffixes[0], ncycles=_count(c, 2)))

    def set_trigger_count(c: Call) -> None:
        count = _count(c, 1)
        changes: dict[str, Any] = {"burst": count > 1}
        if count > 1:
            changes["ncycles"] = count
        inst.change(c.suffixes[0], **changes)

    add(":TRIGger#:COUNt", setter=set_trigger_count,
        query=lambda c: str(inst.settings(c.suffixes[0]).pulses_per_trigger))


def _boolean(c: Call) -> bool:
    c.require(1)
    return c.boolean(0)


def _bool(value: bool) -> str:
    return "1" if value else "0"


def _count(c: Call, low: int) -> int:
    c.require(1)
    return c.integer(0, low, MAX_COUNT)

