"""Simulated Keithley 2400 SourceMeter speaking its SCPI (2400S-900-01 §18).

Sources V or I with the compliance on the measure side (``:SENS:CURR:PROT``) that really limits the
DUT current and sets bit 3 of the status word; source ranges with the 105 mA-above-21 V envelope;
fixed, sweep (linear/log) and list source modes; source-delay-measure cycles under an arm layer
(immediate or timer) and a trigger layer (count, trigger delay), the list index running on across
arm passes and wrapping; abort on compliance (``:SOUR:SWE:CAB EARL|LATE``); after a sweep (or an
abort) the source returns to the bias level; a 2500-reading buffer (``:TRAC``) with timestamps from
its first reading; ``:READ?`` refused with the output off (+803); ``:STAT:OPER:COND?`` idle bit.
Timing: each SDM cycle is trigger delay + source delay + one conversion of NPLC/line frequency per
measured function (×3 with autozero) + an overhead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .keithley_2400_commands import register_commands
from .scpi import CommandTree, ScpiError
from .sim_instrument import ScpiInstrument
from .timeline import DriveState, Measurement, Piece, SourceChannel

VOLTAGE_RANGES = (0.2, 2.0, 20.0, 200.0)
CURRENT_RANGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
MAX_VOLTAGE, MAX_CURRENT = 210.0, 1.05
HIGH_VOLTAGE, HIGH_VOLTAGE_MAX_CURRENT = 21.0, 0.105
MAX_POINTS = 2500
MEASURE_OVERHEAD_S = 0.3e-3
AUTO_DELAY_S = 1e-3
NOT_A_NUMBER = 9.91e37  # what the 2400 sends for an element it did not measure
OVERFLOW = 9.9e37
OFLO, FRONT, CMPL, V_MEAS, I_MEAS, R_MEAS, V_SOUR, I_SOUR = 1, 4, 8, 2048, 4096, 8192, 16384, 32768
REMOTE_SENSE = 1 << 22
OPER_SWEEPING, OPER_WAIT_ARM, OPER_IDLE = 8, 64, 1024
OFF_STATES = {"NORM": "NORM", "HIMP": "HIMP", "ZERO": "ZERO", "GUAR": "NORM"}


class KeithleyError(ScpiError):
    """A 2400-specific error-queue entry (+800 … +810), with the manual's exact message."""

    def __init__(self, code: int, message: str) -> None:
        Exception.__init__(self, f"{code},{message}")
        self.code, self.message = code, message


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    """Smallest range that holds |value| (5 % over-range: 210 V on the 200 V range)."""
    return next((r for r in ranges if abs(value) <= r * 1.05), ranges[-1])


@dataclass(frozen=True)
class Reading:
    voltage: float
    current: float
    resistance: float
    time: float
    status: int


@dataclass
class Trace:
    """The 2500-reading buffer; ``:TRAC:FEED:CONT NEXT`` fills it once, then storage stops."""

    capacity: int = 100
    control: str = "NEV"
    timestamps: str = "ABS"
    readings: list[Reading] = field(default_factory=list)

    def add(self, reading: Reading) -> None:
        if self.control != "NEXT":
            return
        self.readings.append(reading)
        if len(self.readings) >= self.capacity:
            self.control = "NEV"

    @property
    def full(self) -> bool:
        return len(self.readings) >= self.capacity


@dataclass
class Plan:
    """One trigger-model run: its end, whether it sweeps, the readings taken so far."""

    end: float
    sweeping: bool
    readings: list[Reading] = field(default_factory=list)


class SimKeithley2400(ScpiInstrument):
    """One simulated 2400; its output is `channel`, to be wired to a DUT terminal."""

    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1248014,C30   Mar 17 2006 09:29:29/A02  /K/J"

    def __init__(self, name: str = "Keithley 2400", line_frequency: float = 50.0,
                 seed: int = 0) -> None:
        self.channel = SourceChannel(f"{name} HI")
        self.line_frequency = line_frequency
        self.rng = np.random.default_rng(seed)
        self.trace = Trace()  # *RST leaves the buffer alone
        self.time_zero = 0.0
        self.reset_state()
        super().__init__(name)

    def build(self, tree: CommandTree) -> None:
        register_commands(self, tree)

    def attach(self, bench: Any) -> None:
        super().attach(bench)
        bench.timeline.add_channel(self.channel)

    # -- state ----------------------------------------------------------------------------------
    def reset_state(self) -> None:
        self.function = "VOLT"
        self.level = {"VOLT": 0.0, "CURR": 0.0}
        self.mode = {"VOLT": "FIX", "CURR": "FIX"}
        self.source_range = {"VOLT": 20.0, "CURR": 1e-4}
        self.source_range_auto = {"VOLT": True, "CURR": True}
        self.start = {"VOLT": 0.0, "CURR": 0.0}
        self.stop = {"VOLT": 0.0, "CURR": 0.0}
        self.lists: dict[str, list[float]] = {"VOLT": [], "CURR": []}
        self.sweep_points, self.spacing, self.ranging = MAX_POINTS, "LIN", "BEST"
        self.direction, self.compliance_abort = "UP", "NEV"
        self.source_delay, self.delay_auto = 0.0, True
        self.protection = {"CURR": 105e-6, "VOLT": 21.0}
        self.sense_functions, self.concurrent = ["CURR"], True
        self.nplc, self.autozero = 1.0, True
        self.sense_range = {"CURR": 1e-4, "VOLT": 20.0}
        self.sense_range_auto = {"CURR": True, "VOLT": True}
        self.output_on, self.off_mode, self.auto_off = False, "NORM", False
        self.arm_source, self.arm_count, self.arm_timer = "IMM", 1, 0.1
        self.trigger_source, self.trigger_count, self.trigger_delay = "IMM", 1, 0.0
        self.elements = ["VOLT", "CURR", "RES", "TIME", "STAT"]
        self.front, self.remote_sense = True, False
        self.plan: Plan | None = None
        self.last_readings: list[Reading] = []
        self.tripped = False

    def reset(self) -> None:
        self.abort()
        self.reset_state()
        self.apply_source()

    @property
    def running(self) -> bool:
        return self.plan is not None and self.now < self.plan.end

    def before_message(self, now: float) -> None:
        if self.plan is not None and now >= self.plan.end:
            self._finish()

    def _finish(self) -> None:
        assert self.plan is not None
        self.last_readings, self.plan = self.plan.readings, None

    def busy_until(self) -> float:
        return self.plan.end if self.plan is not None else self.now

    def require_idle(self, what: str) -> None:
        if self.running:
            raise ScpiError(-221, f"{what} not allowed while sweeping")

    def drive(self, level: float | None = None, on: bool | None = None) -> DriveState:
        on = self.output_on if on is None else on
        value = self.level[self.function] if level is None else level
        off = OFF_STATES[self.off_mode]
        if self.function == "VOLT":
            return DriveState(on, "V", value, self.protection["CURR"], off)  # type: ignore[arg-type]
        return DriveState(on, "I", value, self.protection["VOLT"], off)  # type: ignore[arg-type]

    def apply_source(self) -> None:
        """The fixed (bias) level and output state drive the channel from now."""
        if self.bench is None or self.running:
            return
        self.bench.sync()
        self.channel.set(self.drive(on=self.output_on and not self.auto_off), self.now)

    def check_envelope(self, function: str, level: float, source_range: float) -> None:
        """1.05 A up to 21 V, 105 mA on the 200 V range (either source function)."""
        if function == "VOLT":
            high = abs(level) > HIGH_VOLTAGE or source_range > 20.0
            current = self.protection["CURR"]
        else:
            high, current = self.protection["VOLT"] > HIGH_VOLTAGE, abs(level)
        if high and current > HIGH_VOLTAGE_MAX_CURRENT * (1 + 1e-9):
            raise ScpiError(-222, f"{current:g} A exceeds 105 mA on the 200 V range")

    def set_output(self, on: bool) -> None:
        if self.running and not on:
            self.abort()
        self.output_on = on
        if on:
            self.tripped = False
        self.apply_source()

    # -- trigger model --------------------------------------------------------------------------
    def measure_time(self) -> float:
        functions = len(self.sense_functions) if self.concurrent else 1
        return max(functions, 1) * self.nplc / self.line_frequency * (3 if self.autozero else 1)

    def cycle_delay(self) -> float:
        """Source delay of an SDM cycle; a fixed level that is already on has none (Case V/VI)."""
        if self.mode[self.function] == "FIX" and not self.auto_off:
            return 0.0
        return AUTO_DELAY_S if self.delay_auto else self.source_delay

    def sweep_levels(self, total: int) -> list[float]:
        """The level of each of `total` SDM cycles; lists and sweeps wrap after the last point."""
        function = self.function
        mode = self.mode[function]
        if mode == "FIX":
            return [self.level[function]] * total
        if mode == "LIST":
            points = list(self.lists[function])
            if not points:
                raise KeithleyError(801, "Insufficient vector data")
        elif self.spacing == "LOG":
            start, stop = self.start[function], self.stop[function]
            if start * stop <= 0:
                raise ScpiError(-221, "a log sweep needs start and stop of one sign, not 0")
            points = list(np.geomspace(start, stop, self.sweep_points))
        else:
            points = list(np.linspace(self.start[function], self.stop[function],
                                      self.sweep_points))
        if self.direction == "DOWN":
            points.reverse()
        ranges = VOLTAGE_RANGES if function == "VOLT" else CURRENT_RANGES
        best = range_for(max(abs(p) for p in points), ranges)
        levels = []
        for level in points:
            rng = {"BEST": best, "AUTO": range_for(level, ranges)}.get(
                self.ranging, self.source_range[function])
            level = float(np.clip(level, -1.05 * rng, 1.05 * rng))  # FIX: the range's maximum
            self.check_envelope(function, level, rng)
            levels.append(level)
        return [levels[k % len(levels)] for k in range(total)]

    def initiate(self) -> Plan:
        """Leave idle: schedule every SDM cycle of the arm and trigger layers on the timeline."""
        if self.running:
            raise KeithleyError(-213, "Init ignored")
        if not self.output_on and not self.auto_off:
            raise KeithleyError(803, "Not permitted with OUTPUT off")
        if self.arm_source not in ("IMM", "TIM") or self.trigger_source != "IMM":
            raise ScpiError(-221, f"arm source {self.arm_source} / trigger source "
                            f"{self.trigger_source} are not simulated (IMM, TIM)")
        assert self.bench is not None
        levels = self.sweep_levels(self.arm_count * self.trigger_count)
        self.bench.sync()
        t0 = t = self.now
        delay, conversion = self.cycle_delay(), self.measure_time()
        sweeping = self.mode[self.function] != "FIX"
        pieces: list[Piece] = []
        changes: list[tuple[float, DriveState]] = []
        k = 0
        for arm in range(self.arm_count):
            if self.arm_source == "TIM":
                t = max(t, t0 + arm * self.arm_timer)
            for _ in range(self.trigger_count):
                t += self.trigger_delay
                changes.append((t, self.drive(levels[k], on=True)))
                if self.compliance_abort == "EARL" and sweeping:
                    self.bench.timeline.measure_at(t + delay, self.channel, self._early_check)
                t += delay + conversion
                self.bench.timeline.measure_at(t, self.channel,
                                               lambda m, s=sweeping: self._take(m, s))
                if self.auto_off:
                    changes.append((t, self.drive(levels[k], on=False)))
                t += MEASURE_OVERHEAD_S
                k += 1
        for (start, state), (end, _) in zip(changes, [*changes[1:], (t, None)], strict=True):
            if pieces and pieces[-1].state == state and pieces[-1].end == start:
                pieces[-1] = Piece(pieces[-1].start, end, state)
            elif end > start:
                pieces.append(Piece(start, end, state))
        self.channel.schedule(pieces, self.drive(on=self.output_on and not self.auto_off), t0)
        self.plan = Plan(t, sweeping)
        self.tripped = False
        return self.plan

    def abort(self, at: float | None = None) -> None:
        """Stop the trigger model; the source returns to the bias level."""
        if self.plan is None or self.bench is None:
            return
        t = self.now if at is None else at
        if at is None:
            self.bench.sync()
        self.bench.timeline.cancel_events(self.channel, t)
        self.channel.schedule([], self.drive(on=self.output_on and not self.auto_off), t)
        self.plan.end = min(self.plan.end, t)
        self._finish()

    def _early_check(self, m: Measurement) -> None:
        if m.limited:
            self.tripped = True
            self.abort(at=m.time)

    def _take(self, m: Measurement, sweeping: bool) -> None:
        # The timeline has integrated up to m.time: drop the pieces behind it, as each
        # advance_to() does at its end, so a 2500-point run stays linear in its length.
        self.channel.forget_before(m.time)
        reading = self.make_reading(m)
        if self.plan is not None:
            self.plan.readings.append(reading)
        self.trace.add(reading)
        self.tripped = self.tripped or m.limited
        if m.limited and sweeping and self.compliance_abort == "LATE":
            self.abort(at=m.time)

    # -- readings -------------------------------------------------------------------------------
    def sensed(self, function: str) -> bool:
        return function in self.sense_functions

    def measured(self, value: float, function: str) -> tuple[float, bool]:
        """A reading on its range: (value, overflowed)."""
        ranges = VOLTAGE_RANGES if function == "VOLT" else CURRENT_RANGES
        rng = range_for(value, ranges) if self.sense_range_auto[function] else (
            self.sense_range[function])
        if abs(value) > rng * 1.05:
            return (OVERFLOW if value > 0 else -OVERFLOW), True
        return value, False

    def make_reading(self, m: Measurement) -> Reading:
        overflow = False
        if self.sensed("VOLT"):
            voltage, overflow = self.measured(m.voltage, "VOLT")
        else:
            voltage = m.source if self.function == "VOLT" else NOT_A_NUMBER
        if self.sensed("CURR"):
            current, over = self.measured(m.current, "CURR")
            if not over and not m.limited:
                current += float(self.rng.normal(0.0, 2e-5 * range_for(current, CURRENT_RANGES)))
            overflow = overflow or over
        else:
            current = m.source if self.function == "CURR" else NOT_A_NUMBER
        resistance = voltage / current if self.sensed("RES") and current not in (
            0.0, NOT_A_NUMBER) else NOT_A_NUMBER
        status = (FRONT if self.front else 0) | (CMPL if m.limited else 0) | (
            OFLO if overflow else 0) | (V_SOUR if self.function == "VOLT" else I_SOUR) | (
            REMOTE_SENSE if self.remote_sense else 0)
        for function, bit in (("VOLT", V_MEAS), ("CURR", I_MEAS), ("RES", R_MEAS)):
            status |= bit if self.sensed(function) else 0
        return Reading(voltage, current, resistance, m.time, status)

    def read(self) -> list[Reading]:
        """``:READ?``: run the trigger model now; the reply waits for its last reading."""
        plan = self.initiate()
        assert self.bench is not None
        self.bench.run_until(plan.end)
        self.reply_at(plan.end)
        return plan.readings

    def format_readings(self, readings: list[Reading], times: list[float]) -> str:
        """The FORM:ELEM elements, always in the order VOLT, CURR, RES, TIME, STAT."""
        values: list[float] = []
        for reading, t in zip(readings, times, strict=True):
            row = {"VOLT": reading.voltage, "CURR": reading.current, "RES": reading.resistance,
                   "TIME": t, "STAT": float(reading.status)}
            values += [row[e] for e in ("VOLT", "CURR", "RES", "TIME", "STAT")
                       if e in self.elements]
        return ",".join(f"{v:+.6E}" for v in values)

    def buffer_times(self) -> list[float]:
        readings = self.trace.readings
        if self.trace.timestamps == "DELT":
            return [0.0] + [b.time - a.time for a, b in itertools.pairwise(readings)]
        return [r.time - readings[0].time for r in readings]

    def operation_condition(self) -> int:
        if self.bench is not None:
            self.bench.sync()
        self.before_message(self.now)
        if self.plan is None:
            return OPER_IDLE
        return OPER_SWEEPING if self.plan.sweeping else 0

    def channel_limited(self) -> bool:
        if self.bench is None or self.channel.wired is None:
            return False
        self.bench.sync()
        return self.channel.wired[0].last_limited and self.channel.state_at(self.now).on

    def output_state(self) -> dict[str, Any]:
        return {"output": "ON" if self.channel.state_at(self.now).on else "OFF",
                "function": self.function, "level": self.level[self.function],
                "trigger_model": "RUNNING" if self.running else "IDLE"}
