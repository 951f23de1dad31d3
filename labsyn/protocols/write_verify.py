"""Write-verify (ArC ConvergeToState): pulse, read, adjust until the read conductance (or
resistance) is within a tolerance of the target. The amplitude ramps from its start to its
maximum in the polarity that moves towards the target (SET, positive, raises G; RESET lowers
it); an overshoot flips the polarity and restarts the ramp. Stops when converged, after
`max_reversals` flips or `max_pulses` pulses. Each pulse + read is one write/read train."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from labsyn.analysis.states import read_resistance, write_verify_summary
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, with_station_series_resistance
from .pulsing import PulsePath, PulseReads, WriteRead
from .read_disturb import Reads

PARAMETERS = "v_max, v_reset_max, pulse_width, read_delay, v_read, compliance"


class WriteVerifyParameters(ReadingParameters):
    nplc: float = param(0.01, "PLC", "integration time per reading", ge=0.01, le=10.0)
    target_resistance: float | None = param(10e3, "Ω", "target read resistance (or give "
                                            "target_conductance)", gt=0.0, le=1e9)
    target_conductance: float | None = param(None, "S", "target read conductance (set "
                                             "target_resistance to none)", gt=0.0, le=1.0)
    tolerance: float = param(0.05, "", "converged within this fraction of the target", gt=0.0,
                             lt=1.0)
    v_read: float = param(0.2, "V", "read level at the device", gt=0.0, le=2.0)
    compliance: float = param(1e-3, "A", "current limit of pulses and reads", gt=0.0, le=1.0)
    v_start: float = param(0.8, "V", "first SET amplitude at the device", gt=0.0, le=5.0)
    v_max: float = param(1.0, "V", "largest SET amplitude", gt=0.0, le=5.0)
    v_reset_start: float = param(0.9, "V", "first RESET amplitude (magnitude)", gt=0.0, le=5.0)
    v_reset_max: float = param(1.2, "V", "largest RESET amplitude (magnitude)", gt=0.0, le=5.0)
    v_step: float = param(0.01, "V", "amplitude increment per pulse", gt=0.0, le=1.0)
    pulse_width: float = param(1e-3, "s", "pulse width", gt=0.0, le=1.0)
    read_delay: float = param(10e-3, "s", "pulse end to its read (lets the volatile part "
                              "decay: the read verifies the retained state)", ge=0.0, le=1.0)
    max_pulses: int = param(200, "", "give up after this many pulses", ge=1, le=100_000)
    max_reversals: int = param(5, "", "give up after this many polarity flips", ge=0, le=1000)


class WriteVerify(Protocol):
    name: ClassVar[str] = "write-verify"
    title: ClassVar[str] = "Write-verify (converge to state)"
    Parameters = WriteVerifyParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("pulse", "", "i4", "pulse number (0: the read before the first pulse)"),
        Column("time", "s", "f8", "instrument time of the reading"),
        Column("v_program", "V", "f8", "pulse amplitude at the device before the read"),
        Column("voltage", "V", "f8", "measured read voltage at the device"),
        Column("current", "A", "f8", "read current TE → BE"),
        Column("limited", "", "bool", "the reading was in compliance"),
        Column("conductance", "S", "f8", "read conductance, series resistance removed"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("convergence", "Write-verify", "pulse", "conductance"),
    )
    figures: ClassVar[dict[str, str]] = {"g_final": "S", "error": "", "pulses": "",
                                         "converged": "", "reversals": ""}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: WriteVerifyParameters, station: Any) -> None:
        if (params.target_resistance is None) == (params.target_conductance is None):
            raise ConfigError("write-verify: give exactly one of target_resistance and "
                              "target_conductance (set the other to none)")
        for start, top, names in ((params.v_start, params.v_max, "v_start, v_max"),
                                  (params.v_reset_start, params.v_reset_max,
                                   "v_reset_start, v_reset_max")):
            if start > top:
                raise ConfigError(f"write-verify: {names} = {start:g}, {top:g} V: the start "
                                  "must not exceed the maximum")
        path = PulsePath(station, self.name)
        for amplitude in (params.v_max, -params.v_reset_max):
            path.check(self._train(params, amplitude), PARAMETERS)
        Reads(station, self.name).check(params.v_read, 1, 0.0, params.compliance, params.nplc,
                                        "v_read, compliance")

    def _train(self, params: WriteVerifyParameters, amplitude: float) -> WriteRead:
        period = params.pulse_width + params.read_delay + 5e-3
        return WriteRead((float(amplitude),), params.pulse_width, period, params.v_read,
                         params.read_delay, params.compliance, params.nplc, "write-verify")

    def target(self, params: WriteVerifyParameters) -> float:
        """Target read conductance (S)."""
        return params.target_conductance or 1.0 / float(params.target_resistance or np.inf)

    def run(self, ctx: Any) -> None:
        params: WriteVerifyParameters = ctx.params
        path = PulsePath(ctx.station, self.name)
        target = self.target(params)
        g = self._emit(ctx, 0, Reads(ctx.station, self.name).run(
            params.v_read, 1, 0.0, params.compliance, params.nplc, ctx.should_abort))
        polarity, amplitude, reversals = 0, 0.0, 0
        for pulse in range(1, params.max_pulses + 1):
            ctx.checkpoint()
            off = g / target - 1.0 if np.isfinite(g) else -np.inf
            if not ctx.dry_run and abs(off) <= params.tolerance:  # dry run: the longest branch
                break
            wanted = 1 if off < 0 else -1
            if wanted != polarity:
                if polarity:
                    reversals += 1
                    if not ctx.dry_run and reversals > params.max_reversals:
                        break
                polarity = wanted
                amplitude = params.v_start if wanted > 0 else params.v_reset_start
            else:
                top = params.v_max if polarity > 0 else params.v_reset_max
                amplitude = min(amplitude + params.v_step, top)
            reads = path.run(self._train(params, polarity * amplitude), ctx.should_abort)
            g = self._emit(ctx, pulse, reads)
            ctx.progress(pulse, params.max_pulses, f"{polarity * amplitude:+.3g} V, "
                         f"G = {g:.4g} S")
            if reads.aborted:
                ctx.checkpoint()

    def _emit(self, ctx: Any, pulse: int, reads: PulseReads) -> float:
        """Emit the reads; returns the last read's conductance (NaN if none)."""
        if len(reads) == 0:
            return float("nan")
        params: WriteVerifyParameters = ctx.params
        g = 1.0 / read_resistance(params.v_read, reads.current, params.series_resistance or 0.0)
        ctx.emit({"pulse": np.full(len(reads), pulse), "time": reads.time,
                  "v_program": reads.amplitude, "voltage": reads.voltage,
                  "current": reads.current, "limited": reads.limited, "conductance": g})
        return float(g[-1])

    def analyse(self, data: pd.DataFrame, params: WriteVerifyParameters) -> Analysis:
        pulses = data[data["pulse"] > 0] if len(data) else data
        signs = np.sign(pulses["v_program"].to_numpy(float)) if len(pulses) else np.empty(0)
        reversals = int(np.count_nonzero(np.diff(signs[signs != 0]))) if signs.size else 0
        last = data.groupby("pulse").tail(1) if len(data) else data
        current = last["current"].to_numpy(float) if len(last) else np.empty(0)
        result = write_verify_summary(np.full(current.size, params.v_read), current,
                                      self.target(params), params.tolerance, reversals,
                                      pulses=int(pulses["pulse"].nunique()) if len(pulses) else 0,
                                      series_resistance=params.series_resistance or 0.0)
        return Analysis({"g_final": result.g_final, "error": result.error,
                         "pulses": result.pulses, "converged": result.converged,
                         "reversals": result.reversals})
