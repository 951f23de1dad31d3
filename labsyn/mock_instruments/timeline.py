"""The bench's discrete-event timeline: source channels schedule drive states, the DUTs integrate.

Each instrument output is a `SourceChannel` whose drive state (on/off, V or I mode, level, limit)
is piecewise constant in virtual time: a held state plus scheduled `Piece`s (a sweep or a pulse
train). DUT terminals are wired to channels; `Timeline.advance_to(t)` integrates every DUT over the
intervals in which all its terminal drives are constant, and fires measurement events in time
order. Integration is lazy: it runs when an instrument needs a result or changes its state.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

DriveMode = Literal["V", "I"]
OffMode = Literal["NORM", "HIMP", "ZERO"]


class DeviceModel(Protocol):
    """What the timeline needs of a device model (see device_model.RRAMDevice)."""

    temperature_k: float

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> SegmentLike: ...

    def apply_current(self, i: float, duration: float, v_limit: float,
                      r_series: float = 0.0) -> SegmentLike: ...

    def idle(self, duration: float) -> None: ...

    def read_current(self, v: float) -> float: ...


class SegmentLike(Protocol):
    current: float
    v_device: float
    limited: bool


@dataclass(frozen=True)
class DriveState:
    """What a source output does: held until the next scheduled change."""

    on: bool = False
    mode: DriveMode = "V"
    level: float = 0.0
    limit: float | None = None
    off_mode: OffMode = "NORM"
    impedance: float = 0.0

    @property
    def floating(self) -> bool:
        return not self.on and self.off_mode == "HIMP"

    def effective(self) -> DriveState:
        """The state the DUT sees: an output that is off sources 0 V (or floats)."""
        if self.on:
            return self
        return replace(self, mode="V", level=0.0)


@dataclass(frozen=True)
class Piece:
    start: float
    end: float
    state: DriveState


@dataclass(frozen=True)
class Measurement:
    """What a channel measures at one instant."""

    time: float
    voltage: float
    current: float
    limited: bool
    source: float


class SourceChannel:
    """One instrument output (SMU channel, pulse-generator channel)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hold = DriveState()
        self.pieces: deque[Piece] = deque()
        self.wired: tuple[Dut, str] | None = None
        self._before = DriveState()

    def state_at(self, t: float) -> DriveState:
        state = self._before
        for piece in self.pieces:
            if t < piece.start:
                return state
            if t < piece.end:
                return piece.state
            state = piece.state
        return self.hold

    def next_change_after(self, t: float) -> float:
        for piece in self.pieces:
            if piece.start > t:
                return piece.start
            if piece.end > t:
                return piece.end
        return math.inf

    def busy_until(self) -> float:
        return self.pieces[-1].end if self.pieces else -math.inf

    def set(self, state: DriveState, now: float) -> None:
        """Change the held state from `now`, cancelling anything scheduled after it."""
        self.cancel_after(now)
        self._before = state
        self.hold = state

    def schedule(self, pieces: list[Piece], after: DriveState, now: float) -> None:
        """Replace whatever is scheduled after `now` with `pieces`, then hold `after`."""
        self.cancel_after(now)
        self._before = self.state_at(now)
        self.pieces.extend(pieces)
        self.hold = after

    def cancel_after(self, t: float) -> None:
        """Stop the schedule at `t`: the state in force at `t` is held from then on."""
        current = self.state_at(t)
        kept: deque[Piece] = deque()
        for piece in self.pieces:
            if piece.end <= t:
                kept.append(piece)
            elif piece.start < t:
                kept.append(Piece(piece.start, t, piece.state))
        self.pieces = kept
        self._before = current
        self.hold = current

    def forget_before(self, t: float) -> None:
        while self.pieces and self.pieces[0].end <= t:
            self._before = self.pieces.popleft().state


GROUND = SourceChannel("ground")
GROUND.hold = DriveState(on=True, mode="V", level=0.0)


@dataclass
class Dut:
    """A two-terminal device under test and what each terminal is wired to."""

    name: str
    device: DeviceModel
    series_resistance: float = 0.0
    terminals: dict[str, SourceChannel | None] = field(
        default_factory=lambda: {"TE": None, "BE": None})
    last_current: float = 0.0
    last_v_device: float = 0.0
    last_limited: bool = False
    last_interval_start: float | None = None

    def measure(self, channel: SourceChannel, t: float) -> Measurement:
        """What `channel` reads now: current out of its terminal, voltage at its output."""
        terminal = next(name for name, ch in self.terminals.items() if ch is channel)
        sign = 1.0 if terminal == "TE" else -1.0
        when = t
        t = self.last_interval_start if self.last_interval_start is not None else t
        state = channel.state_at(t).effective()
        if not self._connected(t):
            return Measurement(when, state.level, 0.0, False, state.level)
        if self.last_limited or state.mode == "I":
            i_dut = self.last_current
        else:
            i_dut = self.device.read_current(self.last_v_device)
        voltage = state.level
        if state.mode == "I" or self.last_limited:
            other = self.terminals["BE" if terminal == "TE" else "TE"]
            other_v = other.state_at(t).effective().level if other is not None else 0.0
            drop = self.last_v_device + self.last_current * self._resistance(t)
            voltage = other_v + sign * drop
        return Measurement(when, voltage, sign * i_dut, self.last_limited, state.level)

    def _connected(self, t: float) -> bool:
        return all(ch is not None and not ch.state_at(t).floating
                   for ch in self.terminals.values())

    def _resistance(self, t: float) -> float:
        r = self.series_resistance
        for ch in self.terminals.values():
            if ch is not None:
                r += ch.state_at(t).impedance
        return r

    def integrate(self, t0: float, t1: float) -> None:
        """Apply the (constant) drive in force during [t0, t1) to the device."""
        duration = t1 - t0
        if duration <= 0:
            return
        self.last_interval_start = t0
        te, be = self.terminals["TE"], self.terminals["BE"]
        if te is None or be is None or not self._connected(t0):
            self.device.idle(duration)
            self.last_current, self.last_v_device, self.last_limited = 0.0, 0.0, False
            return
        a, b = te.state_at(t0).effective(), be.state_at(t0).effective()
        r = self._resistance(t0)
        if a.mode == "I" or b.mode == "I":
            current = a.level if a.mode == "I" else -b.level
            v_limit = (a.limit if a.mode == "I" else b.limit) or 1e3
            result = self.device.apply_current(current, duration, v_limit, r)
        else:
            limits = [s.limit for s in (a, b) if s.limit is not None and s.on]
            result = self.device.apply(a.level - b.level, duration,
                                       min(limits) if limits else None, r)
        self.last_current = result.current
        self.last_v_device = result.v_device
        self.last_limited = result.limited


MeasureCallback = Callable[[Measurement], None]


class Timeline:
    """Integrates DUTs up to a virtual time, firing measurement events in order."""

    def __init__(self) -> None:
        self.time = 0.0
        self.duts: list[Dut] = []
        self.channels: list[SourceChannel] = []
        self._events: list[tuple[float, int, SourceChannel, MeasureCallback]] = []
        self._order = itertools.count()

    def add_channel(self, channel: SourceChannel) -> SourceChannel:
        self.channels.append(channel)
        return channel

    def measure_at(self, t: float, channel: SourceChannel, callback: MeasureCallback) -> None:
        heapq.heappush(self._events, (t, next(self._order), channel, callback))

    def cancel_events(self, channel: SourceChannel, after: float) -> None:
        self._events = [e for e in self._events if not (e[2] is channel and e[0] > after)]
        heapq.heapify(self._events)

    def pending_events(self, channel: SourceChannel) -> int:
        return sum(1 for e in self._events if e[2] is channel)

    def advance_to(self, t: float) -> None:
        while self.time < t or (self._events and self._events[0][0] <= t):
            next_event = self._events[0][0] if self._events else math.inf
            step_end = min(t, next_event, self._next_change())
            step_end = max(step_end, self.time)
            for channel in self.channels:  # keeps lookups short in long trains; a reading
                channel.forget_before(self.time)  # looks back to its interval's start only
            for dut in self.duts:
                dut.integrate(self.time, step_end)
            self.time = step_end
            while self._events and self._events[0][0] <= self.time:
                _, _, channel, callback = heapq.heappop(self._events)
                callback(self._measure(channel, self.time))
        for channel in self.channels:
            channel.forget_before(self.time)

    def _next_change(self) -> float:
        upcoming = [ch.next_change_after(self.time) for dut in self.duts
                    for ch in dut.terminals.values() if ch is not None]
        return min(upcoming, default=math.inf)

    def _measure(self, channel: SourceChannel, t: float) -> Measurement:
        if channel.wired is not None:
            return channel.wired[0].measure(channel, t)
        state = channel.state_at(t).effective()
        return Measurement(t, state.level, 0.0, False, state.level)
