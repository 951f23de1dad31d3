"""LTP/LTD: potentiation then depression branches of write pulses (identical or incremental),
a read after each, N cycles, all played as one write/read train. Reports NeuroSim's nonlinearity
(A, label), states, window, asymmetry, C2C and the energy per pulse, and exports device configs
(`device_configs`)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.device_export import aihwkit_config, neurosim_config
from labsyn.analysis.plasticity import (
    BranchFit,
    asymmetry,
    energy_per_pulse,
    fit_branch,
    ratio,
)
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, check_parameters, with_station_series_resistance
from .pulsing import PulsePath, WriteRead

LTP, LTD = 0, 1


class LtpLtdParameters(ReadingParameters):
    scheme: Literal["identical", "incremental"] = param(
        "identical", "", "identical pulses, or incremental: |V| grows by the step per pulse")
    v_ltp: float = param(0.9, "V", "potentiation pulse at the device (first pulse if incremental)",
                         gt=0.0, le=200.0)
    v_ltd: float = param(-1.02, "V", "depression pulse at the device (first pulse if incremental)",
                         lt=0.0, ge=-200.0)
    v_step_ltp: float = param(0.0, "V", "incremental: |V| added per LTP pulse", ge=0.0, le=1.0)
    v_step_ltd: float = param(0.0, "V", "incremental: |V| added per LTD pulse", ge=0.0, le=1.0)
    width: float = param(1e-3, "s", "pulse width", gt=0.0, le=10.0)
    width_step: float = param(0.0, "s", "incremental: width added per pulse", ge=0.0)
    pulses: int = param(200, "", "pulses per branch (≥ 1.5x what the device needs to saturate)",
                        ge=4, le=100_000)
    cycles: int = param(3, "", "LTP/LTD cycles", ge=1, le=1000)
    precondition: bool = param(True, "", "one depression branch first (cycle 0, not analysed)")
    read_voltage: float = param(0.1, "V", "read level at the device", gt=0.0, le=2.0)
    read_delay: float = param(10e-3, "s", "pulse end to read: long against volatile decay",
                              ge=0.0, le=10.0)
    period: float = param(25e-3, "s", "pulse start to next pulse start", gt=0.0, le=100.0)
    compliance: float = param(1e-3, "A", "current limit of pulses and reads", gt=0.0, le=1.0)
    nplc: float = param(0.01, "PLC", "integration time per reading (the pulse-top sample must "
                        "fit inside the pulse)", ge=0.001, le=10.0)
    sample_pulse: bool = param(True, "", "sample the current at each pulse top (energy) where "
                               "the path can")


class LtpLtd(Protocol):
    name: ClassVar[str] = "ltp-ltd"
    title: ClassVar[str] = "LTP/LTD (potentiation / depression)"
    Parameters = LtpLtdParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("cycle", "", "i4", "cycle (0: preconditioning depression)"),
        Column("branch", "", "i1", "0 LTP, 1 LTD"),
        Column("pulse", "", "i4", "pulse number within the branch, from 1"),
        Column("step", "", "i4", "pulse number within the cycle, from 1"),
        Column("amplitude", "V", "f8", "pulse amplitude at the device"),
        Column("time", "s", "f8", "instrument time of the read"),
        Column("read_voltage", "V", "f8", "measured read voltage"),
        Column("current", "A", "f8", "read current"),
        Column("conductance", "S", "f8", "read conductance, series resistance removed"),
        Column("pulse_current", "A", "f8", "current at the pulse top (NaN: not sampled)"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("conductance", "Conductance vs pulse", "step", "conductance", group="cycle"),
    )
    figures: ClassVar[dict[str, str]] = {
        "g_max": "S", "g_min": "S", "dynamic_range": "", "states_ltp": "", "states_ltd": "",
        "nl_ltp": "", "nl_ltd": "", "a_norm_ltp": "", "a_norm_ltd": "", "asymmetry": "",
        "c2c": "", "energy_per_pulse_ltp": "J", "energy_per_pulse_ltd": "J"}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: LtpLtdParameters, station: Any) -> None:
        if params.width_step:
            raise ConfigError("ltp-ltd: width_step must be 0: the pulse path plays one width per "
                              "train (per-pulse widths are not supported on this station)")
        if params.scheme == "identical" and (params.v_step_ltp or params.v_step_ltd):
            raise ConfigError("ltp-ltd: v_step_ltp / v_step_ltd need scheme = incremental")
        ltp, ltd = self._branch(params, LTP), self._branch(params, LTD)
        check_parameters(station, self.terminal, self.name,
                         {"v_ltp, v_step_ltp, pulses": float(ltp[-1]),
                          "v_ltd, v_step_ltd, pulses": float(ltd[-1]),
                          "read_voltage": params.read_voltage},
                         {"compliance": params.compliance})
        PulsePath(station, self.name, self.terminal).check(
            self._train(params, station, np.concatenate([ltp[-1:], ltd[-1:]])),
            "v_ltp, v_ltd, v_step_ltp, v_step_ltd, width, period, read_delay, read_voltage, "
            "compliance, nplc")

    def _branch(self, params: LtpLtdParameters, branch: int) -> np.ndarray:
        steps = np.arange(params.pulses) if params.scheme == "incremental" else 0
        if branch == LTP:
            return params.v_ltp + params.v_step_ltp * steps + np.zeros(params.pulses)
        return params.v_ltd - params.v_step_ltd * steps + np.zeros(params.pulses)

    def _plan(self, params: LtpLtdParameters) -> pd.DataFrame:
        """One row per pulse of the whole run: cycle, branch, pulse, step, amplitude."""
        blocks = [(0, LTD)] if params.precondition else []
        blocks += [(c, b) for c in range(1, params.cycles + 1) for b in (LTP, LTD)]
        n = params.pulses
        rows = [pd.DataFrame({"cycle": c, "branch": b, "pulse": np.arange(1, n + 1),
                              "step": np.arange(1, n + 1) + (n if b == LTD and c else 0),
                              "amplitude": self._branch(params, b)}) for c, b in blocks]
        return pd.concat(rows, ignore_index=True)

    def _train(self, params: LtpLtdParameters, station: Any, amplitudes: np.ndarray
               ) -> WriteRead:
        path = PulsePath(station, self.name, self.terminal)
        return WriteRead(tuple(float(a) for a in amplitudes), params.width, params.period,
                         params.read_voltage, params.read_delay, params.compliance, params.nplc,
                         label="ltp-ltd",
                         sample_pulse=params.sample_pulse and path.can_sample_pulse)

    # -- procedure -------------------------------------------------------------------------------
    def run(self, ctx: Any) -> None:
        params: LtpLtdParameters = ctx.params
        plan = self._plan(params)
        path = PulsePath(ctx.station, self.name, self.terminal)
        ctx.progress(0, len(plan), f"{len(plan)} pulses as one write/read train")
        ctx.checkpoint()
        reads = path.run(self._train(params, ctx.station, plan["amplitude"].to_numpy()),
                         ctx.should_abort)
        n = len(reads)
        rows = plan.iloc[:n]
        pulse_current = getattr(reads, "pulse_current", None)
        ctx.emit({"cycle": rows["cycle"].to_numpy(), "branch": rows["branch"].to_numpy(),
                  "pulse": rows["pulse"].to_numpy(), "step": rows["step"].to_numpy(),
                  "amplitude": rows["amplitude"].to_numpy(), "time": reads.time,
                  "read_voltage": reads.voltage, "current": reads.current,
                  "conductance": _conductance(reads.voltage, reads.current, params),
                  "pulse_current": (np.full(n, np.nan) if pulse_current is None
                                    else np.asarray(pulse_current, dtype=float)[:n])})
        ctx.progress(n, len(plan), "done")
        ctx.checkpoint()

    # -- analysis --------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, params: LtpLtdParameters) -> tuple[BranchFit, BranchFit]:
        """The LTP and LTD fits over the analysed cycles (cycle >= 1)."""
        return (fit_branch(_table(data, LTP, params.pulses), +1),
                fit_branch(_table(data, LTD, params.pulses), -1))

    def analyse(self, data: pd.DataFrame, params: LtpLtdParameters) -> Analysis:
        ltp, ltd = self.fit(data, params)
        figures = {
            "g_max": ltp.g_end, "g_min": ltd.g_end, "dynamic_range": ratio(ltp.g_end, ltd.g_end),
            "states_ltp": _saturated(ltp, ltp.p_max), "states_ltd": _saturated(ltd, ltd.p_max),
            "nl_ltp": _saturated(ltp, ltp.label), "nl_ltd": _saturated(ltd, ltd.label),
            "a_norm_ltp": _saturated(ltp, ltp.a_norm), "a_norm_ltd": _saturated(ltd, ltd.a_norm),
            "asymmetry": asymmetry(ltp, ltd), "c2c": _pooled_c2c(ltp, ltd),
        }
        for branch, key in ((LTP, "energy_per_pulse_ltp"), (LTD, "energy_per_pulse_ltd")):
            rows = data[(data["branch"] == branch) & (data["cycle"] >= 1)]
            current = rows["pulse_current"].to_numpy(dtype=float) if len(rows) else np.empty(0)
            sampled = current if np.isfinite(current).any() else None
            figures[key] = energy_per_pulse(rows["amplitude"].to_numpy(dtype=float), sampled,
                                            params.width)
        fits = []
        steps = np.arange(1, params.pulses + 1)
        for fit, offset, label in ((ltp, 0, "LTP fit"), (ltd, params.pulses, "LTD fit")):
            if fit.ok:
                fits.append(pd.DataFrame({"step": steps + offset,
                                          "conductance": fit.curve(steps), "label": label}))
        details = pd.DataFrame([
            {"branch": name, "a_pulses": f.a.value, "p_max": f.p_max.value,
             "saturated": f.saturated, "bound": f.bound, "g_start": f.g_start.value,
             "g_end": f.g_end.value, "c2c": f.c2c.value, "reason": f.reason}
            for name, f in (("LTP", ltp), ("LTD", ltd))])
        return Analysis(figures, details,
                        {"conductance": pd.concat(fits, ignore_index=True)} if fits else {})

    def device_configs(self, analysis: Analysis, params: LtpLtdParameters) -> dict[str, Any]:
        """NeuroSim (Cell.cpp fields) and aihwkit (SoftBoundsPmaxDevice) configs of a run."""
        return {"neurosim": neurosim_config(analysis.figures, params),
                "aihwkit": aihwkit_config(analysis.figures)}


def _conductance(voltage: np.ndarray, current: np.ndarray, params: LtpLtdParameters
                 ) -> np.ndarray:
    v = np.where(np.isfinite(voltage) & (np.abs(voltage) > 0), voltage, params.read_voltage)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(v / current) - (params.series_resistance or 0.0)
        return np.where(r > 0, 1.0 / r, np.nan)


def _table(data: pd.DataFrame, branch: int, pulses: int) -> np.ndarray:
    rows = data[(data["branch"] == branch) & (data["cycle"] >= 1)]
    cycles = sorted(rows["cycle"].unique())
    table = np.full((max(len(cycles), 1), pulses), np.nan)
    for i, cycle in enumerate(cycles):
        part = rows[rows["cycle"] == cycle]
        index = part["pulse"].to_numpy(dtype=int) - 1
        table[i, index] = part["conductance"].to_numpy(dtype=float)
    return table


def _saturated(fit: BranchFit, value: Estimate) -> Estimate:
    if not value.ok or fit.saturated:
        return value
    return Estimate.missing(value.unit, fit.reason)


def _pooled_c2c(ltp: BranchFit, ltd: BranchFit) -> Estimate:
    parts = [f.c2c for f in (ltp, ltd) if f.c2c.ok]
    if not parts:
        return ltp.c2c
    value = float(np.sqrt(np.mean([p.value ** 2 for p in parts])))
    return Estimate(value, float(np.mean([p.uncertainty or 0.0 for p in parts])), "")
