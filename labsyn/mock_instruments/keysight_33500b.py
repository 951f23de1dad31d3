"""Simulated Keysight 33500B / 33600A waveform generator (one or two outputs, by model).

Each output is a bench `SourceChannel` behind the fixed 50 Ω source impedance, driven at its
open-circuit voltage: twice the programmed level with the 50 Ω load setting, the level itself
with high-Z. Modelled on the bench: the pulse function (edges instantaneous; width, period,
trigger delay and burst count exact on the bench clock), arbitrary waveforms (sample and hold
at the sample rate), DC, polarity, triggered bursts on the bus (``*TRG``, ``TRIG<n>``), timer or
immediate trigger, continuous output, ``ABOR``. Between triggers a
burst idles at its base: the pulse's low level (high level when inverted) or an arb's first
sample. An output that is off is open (the DUT floats). Other functions (sine, square, …) hold
their offset on the bench.

External trigger (rear Ext Trig input, line "EXT", shared by both channels): a bench trigger
link delivers ``external_trigger("EXT", t)``; every output in triggered burst mode with
``TRIG<n>:SOUR EXT`` starts one burst (``BURS:NCYC`` cycles) at t + ``TRIG<n>:DEL``. Causal
rule: an output takes the trigger only if it was armed (its burst/trigger settings last changed)
at or before t and no burst of it is still running at t; otherwise the trigger is ignored and
counted in `missed_triggers` (`taken_triggers` counts the others). A trigger for a time the
bench has already integrated past is missed too (the DUT's past cannot be rewritten; triggers
from a trigger-model plan arrive as timeline events, on time). The input's latency and
slope are not modelled (the edge is taken at the linked line's trigger time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .keysight_33500b_commands import register_commands
from .scpi import CommandTree, ScpiError
from .sim_instrument import ScpiInstrument
from .timeline import DriveState, Piece, SourceChannel

OUTPUT_IMPEDANCE = 50.0
MAX_OPEN_CIRCUIT = 10.0  # V: ±5 V into 50 Ω, ±10 V into high-Z
MIN_OPEN_CIRCUIT_PP = 2e-3  # V: 1 mVpp into 50 Ω, 2 mVpp into high-Z
MIN_WIDTH, MIN_GAP, MIN_PERIOD = 16e-9, 16e-9, 33e-9
MIN_EDGE, MAX_EDGE, EDGE_FRACTION = 8.4e-9, 1e-6, 0.625
DAC_FULL_SCALE = 32_767
TRIGGER_INPUTS = ("EXT",)
CHUNK_PIECES = 64  # pieces put on the bench at a time (the timeline looks pieces up in order)


def model_traits(model: str) -> tuple[int, float, float]:
    """(channels, max frequency, max sample rate) of 33509B…33522B and 33611A…33622A."""
    number = int(model[2:5])
    channels = 2 if number % 2 == 0 else 1
    if model.upper().endswith("A"):
        return channels, 120e6 if number >= 620 else 80e6, 660e6
    return channels, 30e6 if number >= 519 else 20e6, 250e6 if number >= 519 else 160e6


def load_factor(load: float) -> float:
    return 1.0 if math.isinf(load) else (load + OUTPUT_IMPEDANCE) / load


@dataclass
class Output:
    """Settings and running state of one output (defaults as after ``*RST``)."""

    number: int
    source: SourceChannel
    function: str = "SIN"
    frequency: float = 1e3
    phase: float = 0.0
    square_duty: float = 50.0
    ramp_symmetry: float = 100.0
    width: float = 100e-6
    period: float = 1e-3
    lead: float = 10e-9
    trail: float = 10e-9
    hold: str = "WIDT"
    high: float = 0.05
    low: float = -0.05
    unit: str = "VPP"
    load: float = 50.0
    polarity: str = "NORM"
    on: bool = False
    burst: bool = False
    burst_mode: str = "TRIG"
    cycles: int = 1
    burst_period: float = 0.01
    trigger_source: str = "IMM"
    trigger_delay: float = 0.0
    trigger_slope: str = "POS"
    timer: float = 1e-3
    arbs: dict[str, np.ndarray] = field(default_factory=dict)
    arb: str | None = None
    sample_rate: float = 40e3
    arb_filter: str = "NORM"
    arb_advance: str = "SRAT"
    burst_end: float | None = None  # end of a running triggered burst
    armed_at: float = math.inf  # when it last became ready for an external trigger
    generation: int = 0  # bumped whenever what the output plays changes

    @property
    def offset(self) -> float:
        return (self.high + self.low) / 2.0

    def level_limit(self) -> float:
        return MAX_OPEN_CIRCUIT / load_factor(self.load)

    def min_amplitude(self) -> float:
        return MIN_OPEN_CIRCUIT_PP / load_factor(self.load)

    def drive(self, level: float) -> DriveState:
        """The bench state of the output on at programmed `level`."""
        return DriveState(on=True, mode="V", level=level * load_factor(self.load), limit=None,
                          impedance=OUTPUT_IMPEDANCE)

    def off(self) -> DriveState:
        return DriveState(on=False, mode="V", level=0.0, off_mode="HIMP",
                          impedance=OUTPUT_IMPEDANCE)

    def invert(self, volts: np.ndarray | float) -> Any:
        return self.high + self.low - volts if self.polarity == "INV" else volts

    def arb_volts(self) -> np.ndarray | None:
        if self.arb is None or self.arb not in self.arbs:
            return None
        codes = self.arbs[self.arb].astype(float)
        return self.invert(self.offset + codes / DAC_FULL_SCALE * (self.high - self.low) / 2.0)

    def idle_level(self) -> float:
        """Where a burst waits for its trigger (and rests after it)."""
        if self.function == "PULS":
            return float(self.invert(self.low))
        if self.function == "ARB":
            volts = self.arb_volts()
            return float(volts[0]) if volts is not None else self.offset
        return self.offset

    def cycle(self) -> tuple[list[tuple[float, float]], float] | None:
        """One cycle of the waveform as (duration, level) steps, and its period."""
        if self.function == "PULS":
            return ([(self.width, float(self.invert(self.high))),
                     (self.period - self.width, float(self.invert(self.low)))], self.period)
        volts = self.arb_volts() if self.function == "ARB" else None
        if volts is None:
            return None
        dt = 1.0 / self.sample_rate
        changes = np.flatnonzero(np.diff(volts)) + 1
        starts = np.concatenate([[0], changes])
        lengths = np.diff(np.concatenate([starts, [len(volts)]]))
        return [(n * dt, float(volts[s])) for s, n in zip(starts, lengths, strict=True)], \
            len(volts) * dt

    def pieces(self, start: float, cycles: int) -> tuple[list[Piece], float]:
        """`cycles` cycles from `start`: the pieces and their end."""
        shape = self.cycle()
        if shape is None:
            return [], start
        steps, period = shape
        pieces: list[Piece] = []
        for k in range(cycles):
            t = start + k * period
            for duration, level in steps:
                pieces.append(Piece(t, t + duration, self.drive(level)))
                t += duration
        return pieces, start + cycles * period


class SimKeysight33500B(ScpiInstrument):
    """A simulated 33500B-family generator; `channels_by_number` are its bench outputs."""

    def __init__(self, name: str = "Keysight 33500B", model: str = "33522B") -> None:
        self.model = model
        self.idn = f"Agilent Technologies,{model},MY52800000,3.05-1.19-2.00-52-00"
        count, self.max_frequency, self.max_sample_rate = model_traits(model)
        self.outputs = {n: Output(n, SourceChannel(f"{name} CH{n}")) for n in range(1, count + 1)}
        self.channels_by_number = {n: o.source for n, o in self.outputs.items()}
        self.channel = self.channels_by_number[1]
        self.trigger_out = False
        self.trigger_out_slope = "POS"
        self.trigger_out_source = "CH1"
        self.missed_triggers = 0
        self.taken_triggers = 0
        super().__init__(name)

    def build(self, tree: CommandTree) -> None:
        register_commands(self, tree)

    def attach(self, bench: Any) -> None:
        super().attach(bench)
        for output in self.outputs.values():
            bench.timeline.add_channel(output.source)
            output.source.set(output.off(), bench.clock.now())

    # -- state ----------------------------------------------------------------------------------
    def get_output(self, number: int) -> Output:
        if number not in self.outputs:
            raise ScpiError(-114, f"channel {number} (the {self.model} has "
                            f"{len(self.outputs)})")
        return self.outputs[number]

    def running(self, output: Output) -> bool:
        return output.burst_end is not None and self.now < output.burst_end

    def require_idle(self, output: Output, what: str) -> None:
        if self.running(output):
            raise ScpiError(-221, f"{what} while channel {output.number}'s burst runs")

    def before_message(self, now: float) -> None:
        for output in self.outputs.values():
            if output.burst_end is not None and now >= output.burst_end:
                output.burst_end = None

    def busy_until(self) -> float:
        ends = [o.burst_end for o in self.outputs.values() if o.burst_end is not None]
        return max([self.now, *ends])

    def reset(self) -> None:
        self.abort()
        for number, output in self.outputs.items():
            self.outputs[number] = Output(number, output.source)
            self.refresh(self.outputs[number])
        self.trigger_out, self.trigger_out_slope, self.trigger_out_source = False, "POS", "CH1"

    # -- the bench ------------------------------------------------------------------------------
    def refresh(self, output: Output) -> None:
        """Make the present settings drive the output's bench channel from now."""
        if self.bench is None or self.running(output):
            return
        self.bench.sync()
        output.generation += 1
        now, source = self.now, output.source
        external = output.burst and output.burst_mode == "TRIG" and output.trigger_source == "EXT"
        output.armed_at = now if external else math.inf
        self.bench.timeline.cancel_events(source, now)
        if not output.on:
            source.set(output.off(), now)
            return
        idle = output.drive(output.idle_level())
        source.set(idle, now)
        shape = output.cycle()
        if shape is None or (output.burst and output.trigger_source in ("BUS", "EXT")):
            return
        if not output.burst:  # continuous: one cycle after another, for ever
            self._stream(output, now, lambda t: output.pieces(t, 1)[0], shape[1], None, idle)
            return
        interval = output.burst_period if output.trigger_source == "IMM" else output.timer
        unit = max(interval, output.cycles * shape[1])

        def burst_and_gap(t: float) -> list[Piece]:
            pieces, end = output.pieces(t, output.cycles)
            return [*pieces, Piece(end, t + unit, idle)]

        self._stream(output, now + output.trigger_delay, burst_and_gap, unit, None, idle)

    def _stream(self, output: Output, start: float, unit: Callable[[float], list[Piece]],
                duration: float, count: int | None, after: DriveState,
                at: float | None = None) -> None:
        """`count` units (None: no end) from `start`, put on the bench a chunk at a time: the
        next chunk is scheduled by a timeline event when the last one ends."""
        assert self.bench is not None
        generation, timeline, source = output.generation, self.bench.timeline, output.source
        per_chunk = max(1, CHUNK_PIECES // max(1, len(unit(start))))

        def schedule(t0: float, remaining: int | None, at: float) -> None:
            n = per_chunk if remaining is None else min(per_chunk, remaining)
            pieces = [p for k in range(n) for p in unit(t0 + k * duration) if p.end > p.start]
            source.forget_before(at)
            source.schedule(pieces, after, at)
            left = None if remaining is None else remaining - n
            if left is None or left > 0:
                end = t0 + n * duration

                def next_chunk(_: object) -> None:
                    if generation == output.generation:
                        schedule(end, left, end)

                timeline.measure_at(end, source, next_chunk)

        schedule(start, count, self.now if at is None else at)

    def trigger(self, now: float) -> None:
        """``*TRG`` / GPIB GET: every output armed on the bus trigger starts its burst."""
        armed = [o for o in self.outputs.values()
                 if o.burst and o.burst_mode == "TRIG" and o.trigger_source == "BUS"
                 and not self.running(o)]
        if not armed:
            self.status.push(-211, "Trigger ignored; no channel waits for a bus trigger")
            return
        for output in armed:
            self.fire(output)

    def fire(self, output: Output) -> None:
        """Start one burst of `output` now (plus its trigger delay)."""
        if self.bench is None or not output.burst or self.running(output):
            raise ScpiError(-211, f"channel {output.number} is not waiting for a trigger")
        self.bench.sync()
        start = self.now + output.trigger_delay
        shape = output.cycle()
        if shape is None:  # a function the bench does not model: its duration only
            output.burst_end = start + output.cycles / output.frequency
            return
        output.burst_end = start + output.cycles * shape[1]
        if output.on:
            output.generation += 1
            self._stream(output, start, lambda t: output.pieces(t, 1)[0], shape[1],
                         output.cycles, output.drive(output.idle_level()))

    def external_trigger(self, line: str, t: float) -> bool:
        """A trigger on the rear Ext Trig input at bench time `t` (from a bench trigger link,
        delivered while the timeline integrates through `t`): every armed output starts a burst
        at t + its trigger delay. True if any output took it."""
        if line.upper() not in TRIGGER_INPUTS:
            self.missed_triggers += 1
            return False
        armed = [o for o in self.outputs.values()
                 if o.burst and o.burst_mode == "TRIG" and o.trigger_source == "EXT"]
        integrated = self.bench.timeline.time if self.bench is not None else -math.inf
        taken = [o for o in armed if o.armed_at <= t and t >= integrated
                 and (o.burst_end is None or o.burst_end <= t)]
        for output in taken:
            self._fire_at(output, t)
        if taken:
            self.taken_triggers += 1
        else:
            self.missed_triggers += 1
        return bool(taken)

    def _fire_at(self, output: Output, t: float) -> None:
        """One burst of `output` at trigger time `t` (the timeline stands at `t`: no sync)."""
        start = t + output.trigger_delay
        shape = output.cycle()
        if shape is None:
            output.burst_end = start + output.cycles / output.frequency
            return
        output.burst_end = start + output.cycles * shape[1]
        if output.on:
            output.generation += 1
            self._stream(output, start, lambda s: output.pieces(s, 1)[0], shape[1],
                         output.cycles, output.drive(output.idle_level()), at=t)

    def abort(self) -> None:
        """``ABOR``: running bursts stop; outputs that are on rest at their idle level."""
        for output in self.outputs.values():
            output.burst_end = None
            if self.bench is not None and (output.burst or not output.on):
                self.bench.sync()
                output.generation += 1
                self.bench.timeline.cancel_events(output.source, self.now)
                state = output.drive(output.idle_level()) if output.on else output.off()
                output.source.set(state, self.now)

    def output_state(self) -> dict[str, Any]:
        return {f"ch{n}": {"output": "ON" if o.on else "OFF", "function": o.function,
                           "high": o.high, "low": o.low, "load": o.load,
                           "burst": "RUNNING" if self.running(o) else "IDLE"}
                for n, o in self.outputs.items()}
