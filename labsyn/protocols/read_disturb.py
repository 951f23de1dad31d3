"""Read disturb: program a state (optional), rest, then 10^4–10^6 reads at V_read, optionally
each after a half-select stress pulse (V/2, V/3), instrument-side in blocks. Reports ΔR/R after
N reads, pass/fail against `max_drift`, and the read count at which it first exceeded it."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis.states import read_disturb_drift
from labsyn.drivers.capabilities import SourceMeter
from labsyn.drivers.sequence import Sequence, Staircase
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, check_sequence, with_station_series_resistance
from .pulsing import PulsePath, PulseReads, WriteRead

PROGRAM, BASELINE, DISTURB = 0, 1, 2


class Reads:
    """Plain reads at the device (V_read in the device's frame): the SMU on TE, or, when a pulse
    generator drives TE, the SMU on BE sourcing −V_read (currents returned TE → BE)."""

    def __init__(self, station: Any, protocol: str, terminal: str = "TE",
                 return_terminal: str = "BE") -> None:
        self.station, self.protocol = station, protocol
        front, back = station.terminal(terminal), station.terminal(return_terminal)
        if not front.grounded and isinstance(front.driver, SourceMeter):
            self.terminal, self.sign, self.smu = terminal, 1.0, front.driver
        elif not back.grounded and isinstance(back.driver, SourceMeter):
            self.terminal, self.sign, self.smu = return_terminal, -1.0, back.driver
        else:
            raise ConfigError(f"{protocol} reads with a source-measure unit on {terminal} or "
                              f"{return_terminal}; the station has none there")

    def sequence(self, level: float, count: int, dwell: float, compliance: float, nplc: float
                 ) -> Sequence:
        return Sequence(self.terminal, (Staircase((self.sign * level,) * count, dwell,
                                                  compliance, "reads"),), nplc)

    def check(self, level: float, count: int, dwell: float, compliance: float, nplc: float,
              parameters: str = "") -> None:
        check_sequence(self.station, self.sequence(level, count, dwell, compliance, nplc),
                       self.protocol, parameters)

    def run(self, level: float, count: int, dwell: float, compliance: float, nplc: float,
            should_abort: Any = None) -> PulseReads:
        data = self.smu.run(self.sequence(level, count, dwell, compliance, nplc), should_abort)
        return PulseReads(np.zeros(len(data)), data.time, self.sign * data.source,
                          self.sign * data.current, data.limited.astype(bool), data.aborted)


class ReadDisturbParameters(ReadingParameters):
    nplc: float = param(0.01, "PLC", "integration time per reading", ge=0.01, le=10.0)
    v_read: float = param(0.2, "V", "read level at the device", gt=0.0, le=2.0)
    compliance: float = param(1e-3, "A", "current limit of reads and pulses", gt=0.0, le=1.0)
    reads: int = param(10_000, "", "reads in the disturb phase", ge=20, le=10_000_000)
    block: int = param(10_000, "", "reads per instrument-side sequence", ge=10, le=1_000_000)
    read_interval: float = param(0.0, "s", "plain reads: time per read (0: as fast as the "
                                 "instrument reads)", ge=0.0, le=10.0)
    stress_amplitude: float | None = param(None, "V", "half-select stress pulse before each read "
                                           "(e.g. V_set/2); none: plain reads", ge=-5.0, le=5.0)
    stress_width: float = param(1e-3, "s", "stress pulse width", gt=0.0, le=1.0)
    stress_period: float = param(10e-3, "s", "stress pulse start to next start", gt=0.0,
                                 le=10.0)
    read_delay: float = param(5e-3, "s", "pulse end to its read (the volatile response to the "
                              "pulse decays first)", ge=0.0, le=1.0)
    program_amplitude: float | None = param(None, "V", "program pulses first (none: the state "
                                            "as found)", ge=-5.0, le=5.0)
    program_pulses: int = param(10, "", "program pulses", ge=1, le=10_000)
    program_width: float = param(1e-3, "s", "program pulse width", gt=0.0, le=1.0)
    settle: float = param(1.0, "s", "rest at 0 V before the first read (retention relaxation "
                          "is not read disturb)", ge=0.0, le=1e5)
    max_drift: float = param(0.02, "", "pass while |ΔR/R| stays within this fraction", gt=0.0,
                             le=10.0)
    baseline: int = param(10, "", "plain reads before the disturb, averaged into R0", ge=2,
                          le=10_000)
    window: int = param(9, "", "reads in the running median that decides the drift", ge=1,
                        le=10_000)
    record: Literal["all", "log"] = param("all", "", "all: every read; log: the first "
                                          "`window` and log-spaced read counts (see `read`)")
    points_per_decade: int = param(20, "", "log record: read counts kept per decade", ge=2,
                                   le=1000)


class ReadDisturb(Protocol):
    name: ClassVar[str] = "read-disturb"
    title: ClassVar[str] = "Read disturb"
    Parameters = ReadDisturbParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("phase", "", "i1", "0 programming pulse reads, 1 R0 reads, 2 disturb reads"),
        Column("read", "", "i8", "read count within the phase (1 = first)"),
        Column("time", "s", "f8", "instrument time of the reading"),
        Column("v_program", "V", "f8", "pulse before the read at the device (0: none)"),
        Column("voltage", "V", "f8", "measured read voltage at the device"),
        Column("current", "A", "f8", "read current TE → BE"),
        Column("limited", "", "bool", "the reading was in compliance"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("disturb", "Read disturb", "read", "current", x_log=True, abs_y=True,
                 where={"phase": DISTURB}),
    )
    figures: ClassVar[dict[str, str]] = {"drift": "", "passed": "", "reads_to_fail": "reads",
                                         "r0": "Ω", "read_noise": ""}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: ReadDisturbParameters, station: Any) -> None:
        if params.window > params.reads:
            raise ConfigError(f"read-disturb: reads = {params.reads} must cover the running "
                              f"median's window = {params.window}")
        Reads(station, self.name).check(params.v_read, params.baseline, params.read_interval,
                                        params.compliance, params.nplc,
                                        "v_read, baseline, read_interval, compliance")
        if params.stress_amplitude is not None:
            PulsePath(station, self.name).check(
                self._stress(params, min(params.block, params.reads)),
                "stress_amplitude, stress_width, stress_period, read_delay, v_read, compliance")
        else:
            Reads(station, self.name).check(params.v_read, min(params.block, params.reads),
                                            params.read_interval, params.compliance,
                                            params.nplc, "v_read, read_interval, compliance")
        if params.program_amplitude is not None:
            PulsePath(station, self.name).check(
                self._program(params), "program_amplitude, program_width, v_read, compliance")

    def _stress(self, params: ReadDisturbParameters, count: int) -> WriteRead:
        return WriteRead((float(params.stress_amplitude or 0.0),) * count, params.stress_width,
                         params.stress_period, params.v_read, params.read_delay,
                         params.compliance, params.nplc, "stress")

    def _program(self, params: ReadDisturbParameters) -> WriteRead:
        period = params.program_width + params.read_delay + 5e-3
        return WriteRead((float(params.program_amplitude or 0.0),) * params.program_pulses,
                         params.program_width, period, params.v_read, params.read_delay,
                         params.compliance, params.nplc, "program")

    def run(self, ctx: Any) -> None:
        params: ReadDisturbParameters = ctx.params
        blocks = -(-params.reads // params.block)
        if params.program_amplitude is not None:
            ctx.progress(0, blocks + 1, "programming")
            reads = PulsePath(ctx.station, self.name).run(self._program(params), ctx.should_abort)
            self._emit(ctx, PROGRAM, np.arange(1, len(reads) + 1), reads)
            ctx.checkpoint()
        if params.settle:
            ctx.sleep(params.settle)
        base = Reads(ctx.station, self.name).run(params.v_read, params.baseline,
                                                 params.read_interval, params.compliance,
                                                 params.nplc, ctx.should_abort)
        self._emit(ctx, BASELINE, np.arange(1, len(base) + 1), base)
        keep = kept_reads(params)
        done = 0
        for block in range(blocks):
            ctx.checkpoint()
            count = min(params.block, params.reads - done)
            if params.stress_amplitude is None:
                reads = Reads(ctx.station, self.name).run(
                    params.v_read, count, params.read_interval, params.compliance, params.nplc,
                    ctx.should_abort)
            else:
                reads = PulsePath(ctx.station, self.name).run(self._stress(params, count),
                                                              ctx.should_abort)
            number = done + np.arange(1, len(reads) + 1)
            rows = np.isin(number, keep) if keep is not None else slice(None)
            self._emit(ctx, DISTURB, number[rows], _select(reads, rows))
            done += count  # a dry run's static buffer may hold fewer or more rows
            ctx.progress(block + 1 + (params.program_amplitude is not None),
                         blocks + (params.program_amplitude is not None), f"{done} reads")
            if reads.aborted:
                ctx.checkpoint()

    def _emit(self, ctx: Any, phase: int, number: np.ndarray, reads: PulseReads) -> None:
        if len(reads) == 0:
            return
        n = min(len(number), len(reads))
        ctx.emit({"phase": np.full(n, phase), "read": number[:n], "time": reads.time[:n],
                  "v_program": reads.amplitude[:n], "voltage": reads.voltage[:n],
                  "current": reads.current[:n], "limited": reads.limited[:n]})

    def analyse(self, data: pd.DataFrame, params: ReadDisturbParameters) -> Analysis:
        rows, base = (data[data["phase"] == phase] if len(data) else data
                      for phase in (DISTURB, BASELINE))
        result = read_disturb_drift(
            rows["read"].to_numpy(float) if len(rows) else np.empty(0),
            np.full(len(rows), params.v_read), rows["current"].to_numpy(float) if len(rows)
            else np.empty(0), params.max_drift,
            base["current"].to_numpy(float) if len(base) else np.empty(0), params.window,
            params.series_resistance or 0.0)
        figures = {"drift": result.drift, "passed": result.passed,
                   "reads_to_fail": result.reads_to_fail, "r0": result.r0,
                   "read_noise": result.read_noise}
        return Analysis(figures, details=result.running)


def kept_reads(params: ReadDisturbParameters) -> np.ndarray | None:
    """Read counts a log record keeps (the first `window`, then `points_per_decade`); None:
    all."""
    if params.record == "all":
        return None
    decades = np.log10(params.reads)
    spaced = np.unique(np.round(np.logspace(0, decades, int(np.ceil(
        decades * params.points_per_decade)) + 1)).astype(np.int64))
    head = np.arange(1, params.window + 1)
    return np.union1d(head, spaced)


def _select(reads: PulseReads, rows: Any) -> PulseReads:
    n = len(reads)
    pick = rows[:n] if isinstance(rows, np.ndarray) else rows
    return PulseReads(reads.amplitude[pick], reads.time[pick], reads.voltage[pick],
                      reads.current[pick], reads.limited[pick], reads.aborted)
