"""The Keithley 2450-style trigger model: blocks, configuration lists, timers, and its planner.

At ``:INIT`` the block list is executed symbolically into a `Plan`: the source drive as timeline
pieces, the measurement instants and buffer clears. The plan is then scheduled on the bench
timeline, so a 1000-point sweep or pulse train costs one trigger and runs on virtual time.
Branch counters, config-list recall/next, delays, source output, notify and wait-on-timer blocks
are modelled; blocks that branch on measured values are refused with a SCPI error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .scpi import ScpiError
from .timeline import DriveState, Piece

MAX_PLANNED_BLOCKS = 5_000_000


@dataclass(frozen=True)
class SourceSettings:
    """The source settings a configuration-list index stores."""

    function: str = "VOLT"
    voltage: float = 0.0
    current: float = 0.0
    ilimit: float = 105e-6
    vlimit: float = 21.0
    voltage_range: float = 0.2
    current_range: float = 1e-4
    delay: float = 0.0

    def drive(self, on: bool, off_mode: str) -> DriveState:
        if self.function == "VOLT":
            return DriveState(on, "V", self.voltage, self.ilimit, off_mode)  # type: ignore[arg-type]
        return DriveState(on, "I", self.current, self.vlimit, off_mode)  # type: ignore[arg-type]

    @property
    def level(self) -> float:
        return self.voltage if self.function == "VOLT" else self.current


@dataclass(frozen=True)
class Block:
    """One trigger-model block; `kind` names it as :TRIG:BLOC does."""

    kind: str
    buffer: str = "defbuffer1"
    config_list: str = ""
    index: int = 1
    value: float = 0.0
    count: int = 1
    target: int = 0
    on: bool = True
    events: tuple[str, ...] = ()
    abort_on_limit: bool = False

    def describe(self, number: int) -> str:
        return f"{number},{self.kind}"


@dataclass
class Timer:
    delay: float = 10e-6
    count: int = 1
    stimulus: str = "NONE"
    enabled: bool = False


@dataclass(frozen=True)
class PlannedMeasure:
    time: float
    buffer: str
    abort_on_limit: bool


@dataclass
class Plan:
    start: float
    end: float
    pieces: list[Piece] = field(default_factory=list)
    measures: list[PlannedMeasure] = field(default_factory=list)
    clears: list[tuple[float, str]] = field(default_factory=list)
    notifies: list[tuple[float, int]] = field(default_factory=list)  # (time, NOTIFY event n)
    final_settings: SourceSettings = field(default_factory=SourceSettings)
    final_output: bool = False
    waits_forever: bool = False


class Planner:
    """Runs a block list on paper, producing the drive pieces and measurement times."""

    def __init__(self, blocks: dict[int, Block], lists: dict[str, list[SourceSettings]],
                 timers: dict[int, Timer], measure_time: float, off_mode: str) -> None:
        self.blocks = blocks
        self.lists = lists
        self.timers = timers
        self.measure_time = measure_time
        self.off_mode = off_mode

    def plan(self, start: float, settings: SourceSettings, output: bool) -> Plan:
        plan = Plan(start, start)
        t, pc, steps = start, 1, 0
        counters: dict[int, int] = {}
        cursors: dict[str, int] = {}
        timer_events: dict[int, list[float]] = {}
        notified: list[tuple[float, int]] = []
        piece_start, state = t, settings.drive(output, self.off_mode)
        last_block = max(self.blocks, default=0)

        def switch(new: DriveState, at: float) -> None:
            nonlocal piece_start, state
            if new != state:
                if at > piece_start:
                    plan.pieces.append(Piece(piece_start, at, state))
                piece_start, state = at, new

        while pc <= last_block:
            steps += 1
            if steps > MAX_PLANNED_BLOCKS:
                raise ScpiError(-225, "trigger model runs more than "
                                f"{MAX_PLANNED_BLOCKS} blocks")
            block = self.blocks.get(pc)
            pc += 1
            if block is None or block.kind == "NOP":
                continue
            kind = block.kind
            if kind == "BUFFER_CLEAR":
                plan.clears.append((t, block.buffer))
            elif kind in ("CONFIG_RECALL", "CONFIG_NEXT", "CONFIG_PREV"):
                entries = self._list(block.config_list)
                if kind == "CONFIG_RECALL":
                    index = block.index
                elif kind == "CONFIG_NEXT":
                    index = cursors.get(block.config_list, 0) % len(entries) + 1
                else:
                    index = (cursors.get(block.config_list, 2) - 2) % len(entries) + 1
                if not 1 <= index <= len(entries):
                    raise ScpiError(-222, f"config list {block.config_list!r} has "
                                    f"{len(entries)} indices, {index} recalled")
                cursors[block.config_list] = index
                settings = entries[index - 1]
                switch(settings.drive(output, self.off_mode), t)
                if output:
                    t += settings.delay
            elif kind == "SOURCE_OUTPUT":
                output = block.on
                switch(settings.drive(output, self.off_mode), t)
                if output:
                    t += settings.delay
            elif kind == "DELAY_CONSTANT":
                t += block.value
            elif kind == "MEASURE":
                for _ in range(block.count):
                    t += self.measure_time
                    plan.measures.append(PlannedMeasure(t, block.buffer, block.abort_on_limit))
            elif kind == "BRANCH_COUNTER":
                counters[pc - 1] = counters.get(pc - 1, 0) + 1
                if counters[pc - 1] < block.count:
                    pc = block.target
                else:
                    counters[pc - 1] = 0
            elif kind == "BRANCH_ALWAYS":
                pc = block.target
            elif kind == "NOTIFY":
                notified.append((t, int(block.value)))
                self._start_timers(f"NOT{int(block.value)}", t, timer_events)
            elif kind == "WAIT":
                waited = self._wait(block.events, t, timer_events, notified)
                if waited is None:
                    plan.waits_forever = True
                    break
                t = waited
            else:
                raise ScpiError(-221, f"trigger block {kind} is not simulated")
        if not plan.waits_forever and t > piece_start:
            plan.pieces.append(Piece(piece_start, t, state))
        plan.end = math.inf if plan.waits_forever else t
        plan.notifies = notified
        plan.final_settings = settings
        plan.final_output = output
        return plan

    def _list(self, name: str) -> list[SourceSettings]:
        entries = self.lists.get(name)
        if not entries:
            raise ScpiError(-221, f"configuration list {name!r} does not exist or is empty")
        return entries

    def _start_timers(self, event: str, t: float, timer_events: dict[int, list[float]]) -> None:
        for number, timer in self.timers.items():
            if timer.enabled and timer.stimulus == event:
                count = timer.count if timer.count > 0 else 1_000_000
                timer_events[number] = [t + timer.delay * k for k in range(count, 0, -1)]

    def _wait(self, events: tuple[str, ...], t: float, timer_events: dict[int, list[float]],
              notified: list[tuple[float, int]]) -> float | None:
        for event in events:
            if event.startswith("TIM"):
                queue = timer_events.get(int(event[3:] or 1))
                if queue:
                    return max(t, queue.pop())
            elif event.startswith("NOT"):
                number = int(event[3:] or 1)
                hits = [when for when, k in notified if k == number]
                if hits:
                    return max(t, hits[0])
            else:
                raise ScpiError(-221, f"wait event {event} is not simulated")
        return None


def sweep_blocks(list_name: str, points: int, start_index: int, delay: float, count: int,
                 fail_abort: bool, buffer: str) -> dict[int, Block]:
    """The trigger model a :SOURce:SWEep command builds."""
    blocks = [Block("CONFIG_RECALL", config_list=list_name, index=start_index),
              Block("SOURCE_OUTPUT", on=True)]
    loop = len(blocks) + 1
    if delay > 0:
        blocks.append(Block("DELAY_CONSTANT", value=delay))
    blocks.append(Block("MEASURE", buffer=buffer, abort_on_limit=fail_abort))
    blocks.append(Block("CONFIG_NEXT", config_list=list_name))
    blocks.append(Block("BRANCH_COUNTER", count=points, target=loop))
    if count != 1:
        blocks.append(Block("BRANCH_COUNTER", count=count if count > 0 else 10**9, target=1))
    return {n: b for n, b in enumerate(blocks, start=1)}


def with_level(settings: SourceSettings, level: float) -> SourceSettings:
    if settings.function == "VOLT":
        return replace(settings, voltage=level)
    return replace(settings, current=level)
