"""Electroforming: a DC ramp under compliance that stops at the first trip, or a pulsed ramp
(pulse, read, stop at R < R_threshold, a relative drop, a sudden-drop trip or V_max). Reports
V_form and R before and after, and which criterion detected forming."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.forming import forming_from_pulses, forming_from_ramp
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import (
    READING_COLUMNS,
    ReadingParameters,
    check_parameters,
    check_sequence,
    reading_rows,
    resistance_at,
    source_meter,
    with_station_series_resistance,
)

PRISTINE, RAMP, AFTER = 0, 1, 2


class FormingParameters(ReadingParameters):
    mode: Literal["dc", "pulsed"] = param("dc", "", "dc: staircase ramp; pulsed: pulse then read")
    polarity: Literal["positive", "negative"] = param("positive", "", "sign of the ramp on TE")
    v_start: float = param(0.0, "V", "first ramp level (magnitude)", ge=0.0, le=200.0)
    v_max: float = param(4.0, "V", "last ramp level (magnitude): the ramp never goes beyond",
                         gt=0.0, le=200.0)
    v_step: float = param(0.02, "V", "ramp step", gt=0.0, le=1.0)
    dwell: float = param(0.01, "s", "time per DC step (measured at its end)", gt=0.0, le=10.0)
    compliance: float = param(100e-6, "A", "current limit during the ramp", gt=0.0, le=1.0)
    read_voltage: float = param(0.2, "V", "read level for R before / after", gt=0.0, le=2.0)
    pulse_width: float = param(1e-3, "s", "pulsed mode: pulse width", gt=0.0, le=10.0)
    pulse_interval: float = param(10e-3, "s", "pulsed mode: pulse start to next pulse start",
                                  gt=0.0, le=100.0)
    read_delay: float = param(1e-3, "s", "pulsed mode: pulse end to the read", ge=0.0, le=10.0)
    r_threshold: float | None = param(100e3, "Ω", "pulsed mode: formed once R_read < this",
                                      gt=0.0)
    relative_drop: float | None = param(None, "", "pulsed mode: formed once (R0 − R)/R0 > this",
                                        gt=0.0, lt=1.0)
    trip_percent: float | None = param(
        None, "%", "pulsed mode: formed (the ramp stops) once R < this % of R at ramp start "
        "(ArC2 AutoFormer trip; 20 for its 80 % setting)", gt=0.0, lt=100.0)
    jump_factor: float = param(10.0, "", "DC mode: a current rise this large counts as forming",
                               gt=1.0, le=1e6)


class Forming(Protocol):
    name: ClassVar[str] = "forming"
    title: ClassVar[str] = "Electroforming"
    Parameters = FormingParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("phase", "", "i1", "0 pristine read, 1 ramp / pulse read, 2 read after"),
        Column("step", "", "i4", "ramp step or pulse number"),
        *READING_COLUMNS,
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("ramp", "Forming ramp", "v_program", "current", y_log=True, abs_y=True,
                 where={"phase": RAMP}),
    )
    figures: ClassVar[dict[str, str]] = {"v_form": "V", "r_before": "Ω", "r_after": "Ω",
                                         "i_form": "A"}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: FormingParameters, station: Any) -> None:
        if params.v_start >= params.v_max:
            raise ConfigError(f"forming: v_start = {params.v_start:g} V must be below "
                              f"v_max = {params.v_max:g} V")
        if params.mode == "pulsed" and params.r_threshold is None and not params.relative_drop \
                and not params.trip_percent:
            raise ConfigError("forming: pulsed mode needs r_threshold or relative_drop or "
                              "trip_percent")
        sign = self._sign(params)
        check_parameters(station, self.terminal, self.name,
                         {"v_max": sign * params.v_max, "read_voltage": sign * params.read_voltage},
                         {"compliance": params.compliance})
        check_sequence(station, self._read(params), self.name, "read_voltage, compliance")
        for sequence in self._plan(params):
            check_sequence(station, sequence, self.name,
                           "v_max, v_step, dwell, compliance, nplc" if params.mode == "dc" else
                           "v_max, pulse_width, pulse_interval, read_delay, compliance, nplc")

    def _sign(self, params: FormingParameters) -> float:
        return 1.0 if params.polarity == "positive" else -1.0

    def _read(self, params: FormingParameters) -> Sequence:
        level = self._sign(params) * params.read_voltage
        return Sequence(self.terminal, (Staircase((level,), 0.0, params.compliance, "read"),),
                        params.nplc)

    def _amplitudes(self, params: FormingParameters) -> np.ndarray:
        start = params.v_start if params.v_start > 0 else params.v_step
        n = int(np.floor((params.v_max - start) / params.v_step + 1e-9)) + 1
        return self._sign(params) * (start + params.v_step * np.arange(n))

    def _plan(self, params: FormingParameters) -> list[Sequence]:
        sign = self._sign(params)
        if params.mode == "dc":
            ramp = Staircase.ramp(sign * params.v_start, sign * params.v_max, params.v_step,
                                  params.dwell, params.compliance, "forming ramp",
                                  stop_on_limit=True)
            return [Sequence(self.terminal, (ramp,), params.nplc)]
        peak = self._amplitudes(params)[-1]  # the largest pulse stands for all of them
        return [self._pulse(params, peak)]

    def _pulse(self, params: FormingParameters, amplitude: float) -> Sequence:
        train = PulseTrain((float(amplitude),), params.pulse_width, params.pulse_interval,
                           params.compliance, read_level=self._sign(params) * params.read_voltage,
                           read_delay=params.read_delay, label="forming pulse")
        return Sequence(self.terminal, (train,), params.nplc)

    # -- procedure -------------------------------------------------------------------------------
    def run(self, ctx: Any) -> None:
        params: FormingParameters = ctx.params
        smu = source_meter(ctx.station, self.terminal, self.name)
        ctx.progress(0, 3, "pristine read")
        pristine = self._spot(ctx, smu, PRISTINE)
        ctx.checkpoint()
        if params.mode == "dc":
            self._dc(ctx, smu)
        else:
            self._pulsed(ctx, smu, pristine)
        ctx.checkpoint()
        self._spot(ctx, smu, AFTER)
        ctx.progress(3, 3, "done")

    def _spot(self, ctx: Any, smu: Any, phase: int) -> float:
        """Read at the read level (then back to 0 V); returns the device resistance."""
        params: FormingParameters = ctx.params
        level = self._sign(params) * params.read_voltage
        smu.apply_voltage(level, params.compliance)
        reading = smu.measure()
        smu.apply_voltage(0.0, params.compliance)
        ctx.emit({"phase": phase, "step": 0, "time": ctx.clock.now(), "v_program": level,
                  "voltage": reading.voltage, "current": reading.current,
                  "limited": reading.limited})
        return resistance_at(params.read_voltage, reading.current, params.series_resistance or 0.0)

    def _dc(self, ctx: Any, smu: Any) -> None:
        (sequence,) = self._plan(ctx.params)
        ctx.progress(1, 3, "ramp")
        data = smu.run(sequence, ctx.should_abort)
        self._emit_rows(ctx, sequence, data)
        if data.aborted:
            ctx.checkpoint()
        ctx.progress(2, 3, "ramp done" + (", tripped" if data.limited.any() else ""))

    def _pulsed(self, ctx: Any, smu: Any, r0: float) -> None:
        """Pulse, read, stop once formed (R against the pristine read `r0`)."""
        params: FormingParameters = ctx.params
        amplitudes = self._amplitudes(params)
        for number, amplitude in enumerate(amplitudes, 1):
            ctx.checkpoint()
            sequence = self._pulse(params, amplitude)
            data = smu.run(sequence, ctx.should_abort)
            self._emit_rows(ctx, sequence, data, step=number)
            if data.aborted:
                ctx.checkpoint()
            ctx.progress(1 + number / len(amplitudes), 3, f"pulse {amplitude:+.3g} V")
            r = resistance_at(params.read_voltage, float(data.current[-1]),
                            params.series_resistance or 0.0)
            if not ctx.dry_run and _formed(r, r0, params):  # a dry run takes the longest branch
                break

    def _emit_rows(self, ctx: Any, sequence: Sequence, data: Any, step: int | None = None
                   ) -> None:
        if len(data) == 0:
            return
        steps = np.arange(len(data)) if step is None else np.full(len(data), step)
        ctx.emit({"phase": np.full(len(data), RAMP), "step": steps,
                  **reading_rows(sequence, data)})

    # -- analysis --------------------------------------------------------------------------------
    def analyse(self, data: pd.DataFrame, params: FormingParameters) -> Analysis:
        ramp = data[data["phase"] == RAMP]
        after = data[data["phase"] == AFTER]
        read_i = float(after["current"].iloc[-1]) if len(after) else None
        read_v = float(after["v_program"].iloc[-1]) if len(after) else None
        if params.mode == "dc":
            result = forming_from_ramp(
                ramp["v_program"].to_numpy(), ramp["current"].to_numpy(),
                ramp["limited"].to_numpy(), params.v_step,
                series_resistance=params.series_resistance, jump_factor=params.jump_factor,
                read_voltage=read_v, read_current=read_i)
        else:
            pristine = data[data["phase"] == PRISTINE]
            result = forming_from_pulses(
                ramp["v_program"].to_numpy(), params.read_voltage, ramp["current"].to_numpy(),
                r_threshold=params.r_threshold, relative_drop=params.relative_drop,
                trip_fraction=params.trip_percent / 100 if params.trip_percent else None,
                step=params.v_step, series_resistance=params.series_resistance or 0.0,
                initial_read_current=float(pristine["current"].iloc[-1]) if len(pristine)
                else None)
        figures = {"v_form": result.v_form, "r_before": _pristine(data, result.r_before),
                   "r_after": result.r_after if result.r_after.ok else _read(after),
                   "i_form": result.i_form}
        return Analysis(figures, pd.DataFrame([{"criterion": result.criterion,
                                                "index": result.index}]))


def _formed(r: float, r0: float | None, params: FormingParameters) -> bool:
    if params.r_threshold is not None and r < params.r_threshold:
        return True
    if not (r0 and r0 > 0 and np.isfinite(r0)):
        return False
    if params.trip_percent and r < params.trip_percent / 100 * r0:
        return True
    return bool(params.relative_drop and (r0 - r) / r0 > params.relative_drop)


def _read(rows: pd.DataFrame) -> Estimate:
    if not len(rows) or not rows["current"].iloc[-1]:
        return Estimate.missing("Ω", "no read after forming")
    return Estimate(abs(float(rows["v_program"].iloc[-1] / rows["current"].iloc[-1])), None, "Ω")


def _pristine(data: pd.DataFrame, fallback: Estimate) -> Estimate:
    read = _read(data[data["phase"] == PRISTINE])
    return read if read.ok else fallback
