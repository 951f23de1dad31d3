"""Multistate (ArC MultiStateSeeker III): from HRS (an optional RESET train first), step the
programming towards LRS — the pulse amplitude, or the number of pulses at a fixed amplitude —
and after each step take `reads` reads. A step is a new state when its mean ± kσ band is clear
of the last state's. Reports the number of distinguishable states, their means and σ."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis.states import distinguishable_states
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, with_station_series_resistance
from .pulsing import PulsePath, PulseReads, WriteRead
from .read_disturb import Reads

RESET, PROGRAM, READS = 0, 1, 2
PULSES = "v_start, v_stop, amplitude, pulse_width, read_delay, v_read, compliance"


class MultiStateParameters(ReadingParameters):
    nplc: float = param(0.01, "PLC", "integration time per reading", ge=0.01, le=10.0)
    mode: Literal["amplitude", "count"] = param("amplitude", "", "amplitude: v_start → v_stop "
                                                "by v_step; count: `steps` steps at `amplitude`")
    v_start: float = param(0.8, "V", "amplitude mode: first programming amplitude", ge=-5.0,
                           le=5.0)
    v_stop: float = param(1.0, "V", "amplitude mode: last programming amplitude", ge=-5.0,
                          le=5.0)
    v_step: float = param(0.01, "V", "amplitude mode: amplitude increment", gt=0.0, le=1.0)
    amplitude: float = param(0.9, "V", "count mode: programming amplitude", ge=-5.0, le=5.0)
    steps: int = param(30, "", "count mode: programming steps", ge=1, le=10_000)
    pulses_per_step: int = param(1, "", "programming pulses per step", ge=1, le=10_000)
    pulse_width: float = param(1e-3, "s", "programming pulse width", gt=0.0, le=1.0)
    read_delay: float = param(10e-3, "s", "pulse end to its read (the volatile part decays)",
                              ge=0.0, le=1.0)
    v_read: float = param(0.2, "V", "read level at the device", gt=0.0, le=2.0)
    compliance: float = param(1e-3, "A", "current limit of pulses and reads", gt=0.0, le=1.0)
    reads: int = param(20, "", "reads per step", ge=3, le=100_000)
    read_interval: float = param(0.0, "s", "time per read (0: as fast as the instrument reads)",
                                 ge=0.0, le=10.0)
    k: float = param(3.0, "", "a state's band is mean ± k·σ", gt=0.0, le=100.0)
    monotonic: Literal["ignore", "stop"] = param("ignore", "", "a step falling below the last "
                                                 "state: skip it (ignore) or end the search")
    reset_amplitude: float | None = param(-1.2, "V", "RESET to HRS first (none: start as "
                                          "found)", ge=-5.0, le=5.0)
    reset_pulses: int = param(30, "", "RESET pulses", ge=1, le=10_000)


class MultiState(Protocol):
    name: ClassVar[str] = "multistate"
    title: ClassVar[str] = "Multistate seeker"
    Parameters = MultiStateParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("phase", "", "i1", "0 RESET pulse reads, 1 programming pulse reads, 2 state reads"),
        Column("step", "", "i4", "programming step (0: the RESET)"),
        Column("time", "s", "f8", "instrument time of the reading"),
        Column("v_program", "V", "f8", "step amplitude at the device"),
        Column("voltage", "V", "f8", "measured read voltage at the device"),
        Column("current", "A", "f8", "read current TE → BE"),
        Column("limited", "", "bool", "the reading was in compliance"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("levels", "Multistate reads", "step", "current", abs_y=True,
                 where={"phase": READS}),
    )
    figures: ClassVar[dict[str, str]] = {"n_states": "", "g_lowest": "S", "g_highest": "S",
                                         "relative_sigma": ""}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: MultiStateParameters, station: Any) -> None:
        amplitudes = self.amplitudes(params)
        if amplitudes.size > 10_000:
            raise ConfigError(f"multistate: v_start, v_stop, v_step give {amplitudes.size} "
                              "steps (at most 10000)")
        path = PulsePath(station, self.name)
        for amplitude in {float(amplitudes[np.argmax(np.abs(amplitudes))]), float(amplitudes[0])}:
            path.check(self._train(params, amplitude, params.pulses_per_step), PULSES)
        if params.reset_amplitude is not None:
            path.check(self._train(params, params.reset_amplitude, params.reset_pulses),
                       "reset_amplitude, reset_pulses, pulse_width, read_delay, v_read")
        Reads(station, self.name).check(params.v_read, params.reads, params.read_interval,
                                        params.compliance, params.nplc,
                                        "reads, read_interval, v_read, compliance")

    def amplitudes(self, params: MultiStateParameters) -> np.ndarray:
        """The programming amplitude of each step."""
        if params.mode == "count":
            return np.full(params.steps, params.amplitude)
        n = int(np.floor(abs(params.v_stop - params.v_start) / params.v_step + 1e-9)) + 1
        return params.v_start + np.sign(params.v_stop - params.v_start) * params.v_step \
            * np.arange(n)

    def _train(self, params: MultiStateParameters, amplitude: float, count: int) -> WriteRead:
        period = params.pulse_width + params.read_delay + 5e-3
        return WriteRead((float(amplitude),) * count, params.pulse_width, period, params.v_read,
                         params.read_delay, params.compliance, params.nplc, "multistate")

    def run(self, ctx: Any) -> None:
        params: MultiStateParameters = ctx.params
        path, reader = PulsePath(ctx.station, self.name), Reads(ctx.station, self.name)
        amplitudes = self.amplitudes(params)
        if params.reset_amplitude is not None:
            ctx.progress(0, amplitudes.size + 1, "RESET")
            self._emit(ctx, RESET, 0, path.run(
                self._train(params, params.reset_amplitude, params.reset_pulses),
                ctx.should_abort))
        for step, amplitude in enumerate(amplitudes, 1):
            ctx.checkpoint()
            written = path.run(self._train(params, amplitude, params.pulses_per_step),
                               ctx.should_abort)
            self._emit(ctx, PROGRAM, step, written)
            if written.aborted:
                ctx.checkpoint()
            reads = reader.run(params.v_read, params.reads, params.read_interval,
                               params.compliance, params.nplc, ctx.should_abort)
            reads.amplitude[:] = amplitude
            self._emit(ctx, READS, step, reads)
            ctx.progress(step, amplitudes.size, f"step {step}: {amplitude:+.3g} V")
            if reads.aborted:
                ctx.checkpoint()

    def _emit(self, ctx: Any, phase: int, step: int, reads: PulseReads) -> None:
        if len(reads) == 0:
            return
        ctx.emit({"phase": np.full(len(reads), phase), "step": np.full(len(reads), step),
                  "time": reads.time, "v_program": reads.amplitude, "voltage": reads.voltage,
                  "current": reads.current, "limited": reads.limited})

    def analyse(self, data: pd.DataFrame, params: MultiStateParameters) -> Analysis:
        rows = data[data["phase"] == READS] if len(data) else data
        step = rows["step"].to_numpy(float) if len(rows) else np.empty(0)
        current = rows["current"].to_numpy(float) if len(rows) else np.empty(0)
        result = distinguishable_states(step, np.full(step.size, params.v_read), current,
                                        params.k, params.monotonic,
                                        params.series_resistance or 0.0)
        fits = {}
        if not result.states.empty:
            fits["levels"] = pd.DataFrame({"step": result.states["step"],
                                           "current": params.v_read / (
                                               1.0 / result.states["g_mean"]
                                               + (params.series_resistance or 0.0))})
        return Analysis({"n_states": result.n_states, "g_lowest": result.g_lowest,
                         "g_highest": result.g_highest,
                         "relative_sigma": result.relative_sigma},
                        details=result.states, fits=fits)
