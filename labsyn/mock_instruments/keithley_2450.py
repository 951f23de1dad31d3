"""Simulated Keithley 2450 SourceMeter speaking its native SCPI command set.

Sources V or I with a source-side limit (``:SOUR:VOLT:ILIM``) that really limits the DUT current
and raises the trip flag; source and sense ranges with the coupled 105 mA-above-21 V rule; NPLC;
output and its off-state; ``:MEAS?``/``:READ?``; linear and list sweeps (≤ 100 list values per
command, 2500 in all, ``failAbort``); configuration lists, timers and the block trigger model for
pulse trains; reading buffers with ``:TRAC:ACT?`` and ``:TRAC:DATA?`` (ASCII or ``#0`` binary).
Digital I/O lines 1-6 as trigger outputs (``:DIG:LINE<n>:MODE TRIG, OUT`` and
``:TRIG:DIG<n>:OUTP:STIM NOT<k>``): every NOTIFY k block the planner runs emits a trigger on line
DIG<n> at its planned time through the bench's trigger links (an abort cancels those not yet
reached). Logic and pulse width are stored only; the trigger is emitted at the block's time.
Timing: each measurement takes NPLC / line frequency (twice with autozero) plus an overhead.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any

import numpy as np

from .keithley_2450_commands import register_commands
from .keithley_2450_fast_trains import bulk_list_store, fast_alternating_train
from .keithley_trigger import Block, Plan, Planner, SourceSettings, Timer
from .reading_buffer import (
    SOURCE_STATUS_LIMIT,
    SOURCE_STATUS_OUTPUT_ON,
    BufferSet,
    Reading,
)
from .scpi import CommandTree, ScpiError
from .sim_instrument import ScpiInstrument
from .timeline import Measurement, SourceChannel

VOLTAGE_RANGES = (0.02, 0.2, 2.0, 20.0, 200.0)
CURRENT_RANGES = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
MAX_VOLTAGE, MAX_CURRENT = 210.0, 1.05
HIGH_VOLTAGE, HIGH_VOLTAGE_MAX_CURRENT = 21.0, 0.105
MEASURE_OVERHEAD_S = 250e-6
DIGITAL_LINES = range(1, 7)
TRIGGER_OUTPUTS = tuple(f"DIG{n}" for n in DIGITAL_LINES)
OVERFLOW = 9.9e37


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    """Smallest range that holds |value| (5 % over-range, 210 V on the 200 V range)."""
    for r in ranges:
        if abs(value) <= r * 1.05:
            return r
    return ranges[-1]


class SimKeithley2450(ScpiInstrument):
    """One simulated 2450; its output is `channel`, to be wired to a DUT terminal."""

    idn = "KEITHLEY INSTRUMENTS,MODEL 2450,04488850,1.7.3c"

    def __init__(self, name: str = "Keithley 2450", line_frequency: float = 50.0,
                 seed: int = 0) -> None:
        self.channel = SourceChannel(f"{name} HI")
        self.line_frequency = line_frequency
        self.rng = np.random.default_rng(seed)
        self.buffers = BufferSet()
        self.reset_state()
        super().__init__(name)

    def build(self, tree: CommandTree) -> None:
        register_commands(self, tree)

    def attach(self, bench: Any) -> None:
        super().attach(bench)
        bench.timeline.add_channel(self.channel)

    # -- state ----------------------------------------------------------------------------------
    def reset_state(self) -> None:
        self.language = "SCPI"
        self.source = SourceSettings()
        self.voltage_range_auto = True
        self.current_range_auto = True
        self.delay_auto = True
        self.readback = True
        self.output_on = False
        self.off_mode = "NORM"
        self.sense_function = "CURR"
        self.sense_range = {"CURR": 1e-4, "VOLT": 0.2}
        self.sense_range_auto = {"CURR": True, "VOLT": True}
        self.nplc = 1.0
        self.autozero = True
        self.sense_count = 1
        self.data_format = "ASC"
        self.byte_order = "SWAP"
        self.precision = 0
        self.source_lists: dict[str, list[SourceSettings]] = {}
        self.sense_lists: dict[str, list[float]] = {}
        self.blocks: dict[int, Block] = {}
        self.timers: dict[int, Timer] = {n: Timer() for n in range(1, 5)}
        self.tripped = False
        self.plan: Plan | None = None
        self.buffers.reset()
        self.digital_mode = {n: ("DIG", "IN") for n in DIGITAL_LINES}
        self.digital_stimulus = {n: "NONE" for n in DIGITAL_LINES}
        self.digital_logic = {n: "NEG" for n in DIGITAL_LINES}
        self.digital_pulse_width = {n: 10e-6 for n in DIGITAL_LINES}

    def reset(self) -> None:
        self.abort()
        self.reset_state()
        self.apply_source()

    @property
    def running(self) -> bool:
        return self.plan is not None and self.now < self.plan.end

    def before_message(self, now: float) -> None:
        if self.plan is not None and now >= self.plan.end:
            self._finish_plan()

    def receive(self, data: bytes, now: float) -> None:
        if not bulk_list_store(self, data, now):  # a pulse train's levels, in one pass
            super().receive(data, now)

    def _finish_plan(self) -> None:
        assert self.plan is not None
        self.source, self.output_on = self.plan.final_settings, self.plan.final_output
        self.plan = None

    def busy_until(self) -> float:
        return self.plan.end if self.plan is not None else self.now

    def measure_time(self) -> float:
        aperture = self.nplc / self.line_frequency
        return aperture * (2 if self.autozero else 1) + MEASURE_OVERHEAD_S

    def source_delay(self) -> float:
        if not self.delay_auto:
            return self.source.delay
        return 0.5e-3 if self.source.function == "VOLT" else 1e-3

    def require_idle(self, what: str) -> None:
        if self.running:
            raise ScpiError(-221, f"{what} not allowed while the trigger model is running")

    def apply_source(self) -> None:
        """Make the present source settings and output state drive the channel from now."""
        if self.bench is None:
            return
        self.bench.sync()
        self.channel.set(self.source.drive(self.output_on, self.off_mode), self.now)

    def set_source(self, **changes: Any) -> None:
        self.require_idle("changing the source")
        candidate = replace(self.source, **changes)
        check_coupled_limits(candidate)
        self.source = candidate
        self.apply_source()

    def set_output(self, on: bool) -> None:
        if self.running and not on:
            self.abort()
        self.require_idle("switching the output on")
        self.output_on = on
        if on:
            self.tripped = False
        self.apply_source()

    # -- trigger model --------------------------------------------------------------------------
    def initiate(self, blocks: dict[int, Block] | None = None) -> None:
        self.require_idle(":INIT")
        assert self.bench is not None
        if blocks is not None:
            self.blocks = blocks
        self.bench.sync()
        if (fast := fast_alternating_train(self)) is not None:  # endurance trains
            self.plan, self.tripped = fast, False
            return
        planner = Planner(self.blocks, self.source_lists, self.timers, self.measure_time(),
                          self.off_mode)
        settings = replace(self.source, delay=self.source_delay())
        lists = {name: [replace(s, delay=s.delay if not self.delay_auto else self.source_delay())
                        for s in entries] for name, entries in self.source_lists.items()}
        planner.lists = lists
        plan = planner.plan(self.now, settings, self.output_on)
        after = plan.final_settings.drive(plan.final_output, self.off_mode)
        self.channel.schedule(plan.pieces, after, self.now)
        for t, buffer in plan.clears:
            self.bench.timeline.measure_at(t, self.channel, lambda m, b=buffer:
                                           self.buffers.get(b).clear())
        for planned in plan.measures:
            self.bench.timeline.measure_at(planned.time, self.channel,
                                           lambda m, p=planned: self._store(m, p.buffer,
                                                                            p.abort_on_limit))
        self.plan = plan
        self.tripped = False
        self._emit_notifies(plan)

    def _emit_notifies(self, plan: Plan) -> None:
        """Each NOTIFY a digital trigger output listens to pulses that line at its time."""
        assert self.bench is not None
        lines = {n: self.digital_stimulus[n] for n in DIGITAL_LINES
                 if self.digital_mode[n] == ("TRIG", "OUT") and self.digital_stimulus[n] != "NONE"}
        if not lines:
            return
        for t, event in plan.notifies:
            for n, stimulus in lines.items():
                if stimulus == f"NOT{event}":
                    self.bench.emit_trigger(self, f"DIG{n}", t)

    def abort(self, at: float | None = None) -> None:
        """Stop the trigger model; the source holds what it was doing at that instant."""
        if self.plan is None or self.bench is None:
            return
        t = self.now if at is None else at
        if at is None:
            self.bench.sync()
        self.channel.cancel_after(t)
        self.bench.timeline.cancel_events(self.channel, t)
        self.bench.cancel_triggers(self, t)
        state = self.channel.hold
        self.plan.end = min(self.plan.end, t)
        self.plan.final_output = state.on
        level = state.level
        self.plan.final_settings = replace(
            self.plan.final_settings,
            **({"voltage": level} if state.mode == "V" else {"current": level}))
        self._finish_plan()

    # -- measuring ------------------------------------------------------------------------------
    def reading_value(self, m: Measurement, function: str | None = None) -> float:
        function = function or self.sense_function
        if function == "VOLT":
            value, ranges, key = m.voltage, VOLTAGE_RANGES, "VOLT"
        else:
            value, ranges, key = m.current, CURRENT_RANGES, "CURR"
        if function == "RES":
            return m.voltage / m.current if m.current else OVERFLOW
        rng = range_for(value, ranges) if self.sense_range_auto[key] else self.sense_range[key]
        if abs(value) > rng * 1.05:
            return OVERFLOW if value > 0 else -OVERFLOW
        if not m.limited:
            value += float(self.rng.normal(0.0, 2e-5 * rng))
        return value

    def _store(self, m: Measurement, buffer: str, abort_on_limit: bool = False) -> Reading:
        status = (SOURCE_STATUS_LIMIT if m.limited else 0) | (
            SOURCE_STATUS_OUTPUT_ON if self.channel.state_at(m.time).on else 0)
        self.tripped = self.tripped or m.limited
        source = m.voltage if self.source.function == "VOLT" else m.current
        reading = Reading(self.reading_value(m), source if self.readback else m.source,
                          m.time, status)
        self.buffers.get(buffer).add(reading)
        if abort_on_limit and m.limited:
            self.abort(at=m.time)
        return reading

    def spot_measure(self, buffer: str | None, function: str | None = None) -> list[Reading]:
        """``:MEAS?``/``:READ?``: `sense_count` readings starting now; the reply waits for them."""
        self.require_idle("a spot measurement")
        assert self.bench is not None
        if function is not None:
            self.sense_function = function
        readings: list[Reading] = []
        t = self.now
        for _ in range(self.sense_count):
            t += self.measure_time()
            self.bench.timeline.measure_at(t, self.channel,
                                           lambda m: readings.append(
                                               self._store(m, buffer or "defbuffer1")))
        self.bench.run_until(t)
        self.reply_at(t)
        return readings

    def channel_limited(self) -> bool:
        """Is the output in its limit right now (the trip flag of the limit query)?"""
        if self.bench is None or self.channel.wired is None:
            return False
        self.bench.sync()
        return self.channel.wired[0].last_limited and self.channel.state_at(self.now).on

    def common_extra(self, header: str, params: list[str]) -> str | None:
        if header == "*LANG?":
            return self.language
        if header == "*LANG":
            if not params or params[0].strip().upper() not in ("SCPI", "TSP", "SCPI2400"):
                raise ScpiError(-224, "*LANG takes SCPI, TSP or SCPI2400")
            self.language = params[0].strip().upper()
            return None
        return super().common_extra(header, params)

    # -- data transfer --------------------------------------------------------------------------
    def format_values(self, values: list[float]) -> str | bytes:
        if self.data_format == "ASC":
            spec = f".{self.precision}e" if self.precision else ".6e"
            return ",".join(format(v, spec) for v in values)
        code = "d" if self.data_format == "REAL" else "f"
        order = "<" if self.byte_order == "SWAP" else ">"
        return b"#0" + struct.pack(f"{order}{len(values)}{code}", *values)

    def output_state(self) -> dict[str, Any]:
        return {"output": "ON" if self.channel.state_at(self.now).on else "OFF",
                "function": self.source.function, "level": self.source.level,
                "trigger_model": "RUNNING" if self.running else "IDLE"}


def check_coupled_limits(s: SourceSettings) -> None:
    """The 2450's power envelope: at most 105 mA when more than 21 V is possible."""
    high_voltage = (s.function == "VOLT" and (abs(s.voltage) > HIGH_VOLTAGE
                                              or s.voltage_range > 20.0)) or (
        s.function == "CURR" and s.vlimit > HIGH_VOLTAGE)
    current = s.ilimit if s.function == "VOLT" else abs(s.current)
    if high_voltage and current > HIGH_VOLTAGE_MAX_CURRENT * 1.0000001:
        raise ScpiError(-222, f"{current:g} A exceeds 105 mA while more than 21 V is possible")
