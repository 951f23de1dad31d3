"""Simulated Keysight 81150A / 81160A pulse generator: one or two 50 Ω outputs on the bench.

Each output drives a bench `SourceChannel` with ``DriveState(on, "V", <open-circuit voltage>,
impedance=50)``: levels are programmed into the `:OUTP:LOAD` setting, so with 50 Ω the
open-circuit voltage is twice the programmed level, with high-Z it equals it (a numeric load R
scales by (R + 50)/R). Changing the load setting keeps the open-circuit levels (the programmed
numbers rescale), as function generators do. An output that is off sources 0 V through 50 Ω.

Modelled: pulse function with high/low (or amplitude/offset) levels, polarity (inverted idles at
the high level), width, period, leading/trailing edges with period ≥ width + 0.8·(lead + trail)
(= 1.6 x edge), level window +-10 V open circuit and amplitude 0.1 ... 10 V open circuit, level
limits, bursts (`:BURS:NCYC`, `:TRIG:COUN`), arm sources MAN (``*TRG`` starts a burst on every
output armed manually, ignored while one runs), IMM (continuous pulses), INT2 (a burst every
`:BURS:INT:PER`) and EXT (no external trigger on the bench: nothing starts), ``*OPC?`` answered
when the burst ends, ``*OPT?`` = 001/002 (one or two outputs). Errors: -221 for conflicts and
changes while a burst runs, -222 for a value out of range, -114 for a missing output.

Not modelled (fidelity traps): edges are instantaneous (width/period/burst timing is exact on the
bench clock, the edge time only enters the coupled rule); trigger latency is zero; shapes other
than PULS drive their offset as DC; free-running modes are scheduled at most
`FREE_RUN_PULSES` pulses ahead and extended on every message the generator receives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from .keysight_81160a_commands import register_commands
from .scpi import CommandTree, ScpiError
from .sim_instrument import ScpiInstrument
from .timeline import DriveState, Piece, SourceChannel

SOURCE_OHMS = 50.0
OPEN_WINDOW = 10.0  # V, |open-circuit level|
OPEN_AMPLITUDE = (0.1, 10.0)  # V, open-circuit high − low
FREE_RUN_PULSES = 2000
OFF_STATE = DriveState(on=False, mode="V", level=0.0, limit=None, impedance=SOURCE_OHMS)


@dataclass(frozen=True)
class ModelTiming:
    """Timing limits that differ between the models (manual: minimum period)."""

    min_period: float
    min_width: float
    min_edge: float


MODELS = {"81150A": ModelTiming(8.33e-9, 4.1e-9, 2.5e-9),
          "81160A": ModelTiming(3.03e-9, 1.5e-9, 1.0e-9)}


@dataclass(frozen=True)
class OutputSettings:
    """What one output is programmed to (levels in terms of the load setting)."""

    edge: float
    trailing: float
    function: str = "SIN"
    high: float = 0.5
    low: float = -0.5
    period: float = 1e-6
    width: float = 100e-9
    trailing_auto: bool = True
    polarity: str = "NORM"
    load: float = 50.0
    on: bool = False
    burst: bool = False
    ncycles: int = 2
    burst_period: float = 1e-3
    arm: str = "IMM"
    limit_on: bool = False
    limit_high: float = 5.0
    limit_low: float = -5.0

    @property
    def scale(self) -> float:
        """Programmed volts per open-circuit volt."""
        return 1.0 if math.isinf(self.load) else self.load / (self.load + SOURCE_OHMS)

    def window(self) -> float:
        return OPEN_WINDOW * self.scale

    def amplitude_limits(self) -> tuple[float, float]:
        return OPEN_AMPLITUDE[0] * self.scale, OPEN_AMPLITUDE[1] * self.scale

    @property
    def pulses_per_trigger(self) -> int:
        return self.ncycles if self.burst else 1

    @property
    def idle_level(self) -> float:
        if self.function != "PULS":
            return (self.high + self.low) / 2
        return self.high if self.polarity == "INV" else self.low

    @property
    def pulse_level(self) -> float:
        return self.low if self.polarity == "INV" else self.high

    def drive(self, level: float) -> DriveState:
        """The bench drive for a programmed level: its open-circuit voltage through 50 Ω."""
        return DriveState(on=True, mode="V", level=level / self.scale, limit=None,
                          impedance=SOURCE_OHMS)

    def conflict(self) -> str | None:
        """Why this combination is refused (-221), or None."""
        window, (smallest, largest) = self.window(), self.amplitude_limits()
        span = self.high - self.low
        if max(abs(self.high), abs(self.low)) > window * (1 + 1e-9):
            return f"levels {self.low:g} ... {self.high:g} V exceed +-{window:g} V"
        if not smallest * (1 - 1e-9) <= span <= largest * (1 + 1e-9):
            return f"amplitude {span:g} V outside {smallest:g} ... {largest:g} V"
        if self.limit_on and (self.high > self.limit_high or self.low < self.limit_low):
            return f"levels outside the limits {self.limit_low:g} ... {self.limit_high:g} V"
        needed = self.width + 0.8 * (self.edge + self.trailing)
        if self.period < needed * (1 - 1e-9):
            return (f"period {self.period:g} s < width + 1.6 x edge = {needed:g} s")
        return None


class SimKeysight81160A(ScpiInstrument):
    """One simulated generator; `channels_by_number[n]` is output n, to wire to a terminal."""

    def __init__(self, name: str = "Keysight 81160A", model: str = "81160A", outputs: int = 2,
                 serial: str = "DE00000000") -> None:
        if model not in MODELS or outputs not in (1, 2):
            raise ValueError(f"model {model!r} must be one of {', '.join(MODELS)} and outputs "
                             f"{outputs!r} 1 or 2")
        self.model = MODELS[model]
        self.idn = f"Agilent Technologies,{model},{serial},1.0.0.0"
        self.option = f"{outputs:03d}"
        self.channels_by_number = {n: SourceChannel(f"{name} OUT{n}")
                                   for n in range(1, outputs + 1)}
        self.channel = self.channels_by_number[1]
        self.outputs: dict[int, OutputSettings] = {}
        self.burst_end: dict[int, float] = {}
        self.free_run: dict[int, tuple[float, float]] = {}  # output: (start, scheduled until)
        self.reset_state()
        super().__init__(name)

    def build(self, tree: CommandTree) -> None:
        register_commands(self, tree)

    def attach(self, bench: Any) -> None:
        super().attach(bench)
        for channel in self.channels_by_number.values():
            bench.timeline.add_channel(channel)

    # -- state ----------------------------------------------------------------------------------
    def reset_state(self) -> None:
        edge = self.model.min_edge
        self.outputs = {n: OutputSettings(edge=edge, trailing=edge)
                        for n in self.channels_by_number}
        self.burst_end = {n: -math.inf for n in self.channels_by_number}
        self.free_run.clear()

    def reset(self) -> None:
        self.reset_state()
        if self.bench is not None:
            self.bench.sync()
            for channel in self.channels_by_number.values():
                channel.set(OFF_STATE, self.now)

    def settings(self, number: int) -> OutputSettings:
        if number not in self.outputs:
            raise ScpiError(-114, f"output {number} does not exist (outputs "
                            f"{', '.join(map(str, self.outputs))})")
        return self.outputs[number]

    def running(self, number: int) -> bool:
        return self.bench is not None and self.now < self.burst_end[number]

    def busy_until(self) -> float:
        return max(self.now, *self.burst_end.values())

    def change(self, number: int, **changes: Any) -> None:
        """Apply settings to output `number` as one step; a conflict refuses all of them."""
        present = self.settings(number)
        if self.running(number):
            raise ScpiError(-221, f"output {number}: settings cannot change while a burst runs")
        if "edge" in changes and present.trailing_auto:
            changes.setdefault("trailing", changes["edge"])
        elif "trailing" in changes:
            changes["trailing_auto"] = False
        if "load" in changes:
            ratio = replace(present, load=changes["load"]).scale / present.scale
            changes.update(high=present.high * ratio, low=present.low * ratio,
                           limit_high=present.limit_high * ratio,
                           limit_low=present.limit_low * ratio)
        candidate = replace(present, **changes)
        problem = candidate.conflict()
        if problem is not None:
            raise ScpiError(-221, f"output {number}: {problem}")
        self.outputs[number] = candidate
        self.apply(number)

    def set_output(self, number: int, on: bool) -> None:
        """Output relay; switching it off stops a running burst at once."""
        self.settings(number)
        if not on:
            self.burst_end[number] = min(self.burst_end[number], self.now)
        self.outputs[number] = replace(self.outputs[number], on=on)
        self.apply(number)

    def set_arm(self, number: int, arm: str) -> None:
        self.change(number, arm=arm)

    def apply(self, number: int) -> None:
        """Make output `number` drive its channel from now (idle, off or free-running)."""
        if self.bench is None:
            return
        self.bench.sync()
        o, channel = self.outputs[number], self.channels_by_number[number]
        self.free_run.pop(number, None)
        if not o.on:
            channel.set(OFF_STATE, self.now)
        elif o.function == "PULS" and o.arm in ("IMM", "INT2"):
            self.free_run[number] = (self.now, self.now)
            self._extend_free_run(number)
        else:
            channel.set(o.drive(o.idle_level), self.now)

    # -- pulses ---------------------------------------------------------------------------------
    def trigger(self, now: float) -> None:
        """``*TRG`` / GPIB GET: a burst on every output armed manually and idle."""
        if self.bench is None:
            return
        self.bench.sync()
        for number, o in self.outputs.items():
            if o.arm != "MAN" or o.function != "PULS" or self.running(number):
                continue
            count = o.pulses_per_trigger
            starts = [now + k * o.period for k in range(count)]
            self.burst_end[number] = starts[-1] + o.width
            if o.on:
                self.channels_by_number[number].schedule(self._pieces(o, starts),
                                                         o.drive(o.idle_level), now)

    @staticmethod
    def _pieces(o: OutputSettings, starts: list[float]) -> list[Piece]:
        pulse, idle = o.drive(o.pulse_level), o.drive(o.idle_level)
        pieces: list[Piece] = []
        for k, start in enumerate(starts):
            end = start + o.width
            pieces.append(Piece(start, end, pulse))
            if k + 1 < len(starts):
                pieces.append(Piece(end, starts[k + 1], idle))
        return pieces

    def _free_run_starts(self, o: OutputSettings, origin: float, after: float) -> list[float]:
        """Pulse starts of a free-running output from `after` on (at most FREE_RUN_PULSES)."""
        if o.arm == "IMM":
            first = max(0, math.floor((after - origin) / o.period))  # the pulse under way too
            return [origin + (first + k) * o.period for k in range(FREE_RUN_PULSES)]
        cycle = max(o.burst_period, o.pulses_per_trigger * o.period)
        starts: list[float] = []
        burst = max(0, math.floor((after - origin) / cycle))
        while len(starts) < FREE_RUN_PULSES:
            base = origin + burst * cycle
            starts += [base + i * o.period for i in range(o.pulses_per_trigger)
                       if base + i * o.period + o.width > after]
            burst += 1
        return starts[:FREE_RUN_PULSES]

    def _extend_free_run(self, number: int) -> None:
        origin, _ = self.free_run[number]
        o = self.outputs[number]
        starts = self._free_run_starts(o, origin, self.now)
        self.channels_by_number[number].schedule(self._pieces(o, starts),
                                                 o.drive(o.idle_level), self.now)
        self.free_run[number] = (origin, starts[len(starts) // 2])

    def before_message(self, now: float) -> None:
        for number, (_, refresh_at) in list(self.free_run.items()):
            if now >= refresh_at and self.bench is not None:
                self.bench.sync()
                self._extend_free_run(number)

    # -- common commands and status -------------------------------------------------------------
    def common_extra(self, header: str, params: list[str]) -> str | None:
        if header == "*OPT?":
            return self.option
        return super().common_extra(header, params)

    def output_state(self) -> dict[str, Any]:
        return {f"output{n}": {"on": o.on, "function": o.function, "high": o.high,
                               "low": o.low, "load": o.load, "arm": o.arm,
                               "running": self.running(n) or n in self.free_run}
                for n, o in self.outputs.items()}
