"""Sweeps, source lists and configuration lists of the simulated Keithley 2450 (2450-901-01 §6):
``:SOUR:SWE:…``, ``:SOUR:LIST:…`` and ``:SOUR:CONF:LIST:…``, each building trigger-model blocks
or source settings."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .keithley_trigger import SourceSettings, sweep_blocks, with_level
from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keithley_2450 import SimKeithley2450

LIST_VALUES_PER_COMMAND = 100
LIST_MAX_POINTS = 2500
SWEEP_MAX_POINTS = 1_000_000


def _custom_list(function: str) -> str:
    return "VoltCustomSweepList" if function == "VOLT" else "CurrCustomSweepList"


def _sweep_levels(inst: SimKeithley2450, levels: list[float], function: str,
                  range_type: str) -> list[SourceSettings]:
    from .keithley_2450 import CURRENT_RANGES, VOLTAGE_RANGES, check_coupled_limits, range_for

    ranges = VOLTAGE_RANGES if function == "VOLT" else CURRENT_RANGES
    range_key = "voltage_range" if function == "VOLT" else "current_range"
    base = replace(inst.source, function=function)
    best = range_for(max(abs(v) for v in levels), ranges)
    entries = []
    for level in levels:
        if range_type == "AUTO":
            rng = range_for(level, ranges)
        elif range_type == "BEST":
            rng = best
        else:
            rng = getattr(base, range_key)
            if abs(level) > rng * 1.05 and not (rng == 200.0 and abs(level) <= 210):
                raise ScpiError(-222, f"sweep level {level:g} exceeds the fixed {rng:g} range")
        settings = replace(with_level(base, level), **{range_key: rng})
        check_coupled_limits(settings)
        entries.append(settings)
    return entries


def _sweep_delay(c: Call, index: int) -> float:
    delay = c.number(index, -1, 1e4) if len(c.params) > index else -1.0
    if delay not in (-1.0, 0.0) and not 50e-6 <= delay <= 1e4:
        raise ScpiError(-222, f"sweep delay {delay:g} must be -1 (auto), 0 or 50 µs..10 ks")
    return delay


def _optional(c: Call, index: int, read, default):  # type: ignore[no-untyped-def]
    return read(index) if len(c.params) > index else default


def _sweep_linear(inst: SimKeithley2450, c: Call, function: str, by_step: bool = False) -> None:
    from .keithley_2450 import MAX_CURRENT, MAX_VOLTAGE

    inst.require_idle("a sweep command")
    c.require(3, 9)
    limit = MAX_VOLTAGE if function == "VOLT" else MAX_CURRENT
    start, stop = c.number(0, -limit, limit), c.number(1, -limit, limit)
    if by_step:
        step = c.number(2, 1e-12, 2 * limit)
        points = int(round(abs(stop - start) / step)) + 1
    else:
        points = c.integer(2, 2, SWEEP_MAX_POINTS)
    if not 2 <= points <= SWEEP_MAX_POINTS:
        raise ScpiError(-222, f"sweep has {points} points; allowed 2..{SWEEP_MAX_POINTS}")
    delay = _sweep_delay(c, 3)
    count = _optional(c, 4, lambda i: c.integer(i, 0, 268_435_455), 1)
    fail_abort = _optional(c, 6, c.boolean, True)
    range_type = c.choice(5, {"AUTO": "AUTO", "BEST": "BEST", "FIXed": "FIX"}) if len(
        c.params) > 5 else "BEST"
    dual = c.boolean(7) if len(c.params) > 7 else False
    buffer = c.string(8) if len(c.params) > 8 else "defbuffer1"
    inst.buffers.get(buffer)
    levels = [start + (stop - start) * k / (points - 1) for k in range(points)]
    if dual:
        levels = levels + levels[::-1]
    name = "VoltLinearSweepList" if function == "VOLT" else "CurrLinearSweepList"
    inst.source_lists[name] = _sweep_levels(inst, levels, function, range_type)
    inst.blocks = sweep_blocks(name, len(levels), 1, max(delay, 0.0), count, fail_abort, buffer)


def _sweep_list(inst: SimKeithley2450, c: Call, function: str) -> None:
    inst.require_idle("a sweep command")
    c.require(1, 6)
    name = _custom_list(function)
    entries = inst.source_lists.get(name)
    if not entries:
        raise ScpiError(-221, f"no source list: send :SOUR:LIST:{function} first")
    start = c.integer(0, 1, len(entries))
    delay = _sweep_delay(c, 1)
    count = _optional(c, 2, lambda i: c.integer(i, 0, 268_435_455), 1)
    fail_abort = _optional(c, 3, c.boolean, True)
    buffer = c.string(4) if len(c.params) > 4 else "defbuffer1"
    inst.buffers.get(buffer)
    levels = [s.level for s in entries]
    inst.source_lists[name] = _sweep_levels(inst, levels, function, "BEST")
    inst.blocks = sweep_blocks(name, len(entries) - start + 1, start, max(delay, 0.0), count,
                               fail_abort, buffer)


def _source_list(inst: SimKeithley2450, c: Call, function: str, append: bool) -> None:
    from .keithley_2450 import MAX_CURRENT, MAX_VOLTAGE

    inst.require_idle("changing the source list")
    if not c.params:
        raise ScpiError(-109, "a source list needs at least one value")
    if len(c.params) > LIST_VALUES_PER_COMMAND:
        raise ScpiError(-223, f"{len(c.params)} values sent; at most "
                        f"{LIST_VALUES_PER_COMMAND} per command (use :APPend)")
    limit = MAX_VOLTAGE if function == "VOLT" else MAX_CURRENT
    values = [c.number(i, -limit, limit) for i in range(len(c.params))]
    name = _custom_list(function)
    existing = inst.source_lists.get(name, []) if append else []
    if len(existing) + len(values) > LIST_MAX_POINTS:
        raise ScpiError(-223, f"source list would hold {len(existing) + len(values)} points; "
                        f"at most {LIST_MAX_POINTS}")
    base = replace(inst.source, function=function)
    inst.source_lists[name] = existing + [with_level(base, v) for v in values]


def _register_config_lists(inst: SimKeithley2450, tree: CommandTree) -> None:
    def named(c: Call) -> str:
        if not c.params:
            raise ScpiError(-109, f"{c.header} needs a list name")
        return c.string(0)

    def create(c: Call) -> None:
        name = named(c)
        if name in inst.source_lists:
            raise ScpiError(-221, f"configuration list {name!r} already exists")
        inst.source_lists[name] = []

    def store(c: Call) -> None:
        entries = _existing(inst, named(c))
        snapshot = replace(inst.source, delay=inst.source.delay)
        if len(c.params) > 1:
            index = c.integer(1, 1, len(entries) + 1)
            entries[index - 1:index] = [snapshot]
        else:
            entries.append(snapshot)

    def recall(c: Call) -> None:
        entries = _existing(inst, named(c))
        index = c.integer(1, 1, max(1, len(entries))) if len(c.params) > 1 else 1
        if not entries:
            raise ScpiError(-221, f"configuration list {c.params[0]} is empty")
        inst.set_source(**{k: getattr(entries[index - 1], k)
                           for k in SourceSettings.__dataclass_fields__})

    tree.add("[:SOURce#]:CONFiguration:LIST:CREate", setter=create)
    tree.add("[:SOURce#]:CONFiguration:LIST:STORe", setter=store)
    tree.add("[:SOURce#]:CONFiguration:LIST:RECall", setter=recall)
    tree.add("[:SOURce#]:CONFiguration:LIST:SIZE",
             query=lambda c: str(len(_existing(inst, named(c)))))
    tree.add("[:SOURce#]:CONFiguration:LIST:DELete",
             setter=lambda c: (_existing(inst, named(c)), inst.source_lists.pop(named(c)))[1]
             and None)
    tree.add(":SENSe#:CONFiguration:LIST:CREate",
             setter=lambda c: inst.sense_lists.setdefault(named(c), []) and None)
    tree.add(":SENSe#:CONFiguration:LIST:STORe",
             setter=lambda c: inst.sense_lists.setdefault(named(c), []).append(inst.nplc))


def _existing(inst: SimKeithley2450, name: str) -> list[SourceSettings]:
    if name not in inst.source_lists:
        raise ScpiError(-221, f"configuration list {name!r} does not exist")
    return inst.source_lists[name]
