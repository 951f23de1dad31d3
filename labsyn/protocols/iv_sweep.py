"""Bipolar DC I-V switching: 0 → +V_set → 0 → −V_reset → 0, N cycles, compliance on SET.
Reports V_set, V_reset, R_LRS and R_HRS at V_read and on/off, per cycle and as statistics."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.statistics import coefficient_of_variation, fit_lognormal, fit_weibull
from labsyn.analysis.switching import Statistic, analyse_cycle, switching_statistics
from labsyn.drivers.sequence import Sequence, bipolar_loop
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import (
    READING_COLUMNS,
    ReadingParameters,
    check_parameters,
    check_sequence,
    reading_rows,
    source_meter,
    with_station_series_resistance,
)

SET_BRANCH, RESET_BRANCH = 0, 1
QUANTITIES = {"v_set": "V", "v_reset": "V", "r_lrs": "Ω", "r_hrs": "Ω", "on_off": ""}
VARIABILITY = {"cv_v_set": "", "cv_v_reset": "", "cv_r_lrs": "", "cv_r_hrs": "",
               "r_lrs_median": "Ω", "r_lrs_sigma_ln": "", "r_hrs_median": "Ω",
               "r_hrs_sigma_ln": "", "v_set_weibull_scale": "V", "v_set_weibull_shape": ""}


class IVSweepParameters(ReadingParameters):
    v_set: float = param(1.5, "V", "positive sweep maximum (SET branch)", gt=0.0, le=200.0)
    v_reset: float = param(1.6, "V", "negative sweep magnitude (RESET branch)", gt=0.0, le=200.0)
    v_step: float = param(0.02, "V", "sweep step", gt=0.0, le=1.0)
    dwell: float = param(0.01, "s", "time per step (measured at its end)", gt=0.0, le=10.0)
    set_compliance: float = param(500e-6, "A", "current limit on the SET branch", gt=0.0, le=1.0)
    reset_compliance: float = param(1e-3, "A", "current limit on the RESET branch",
                                    gt=0.0, le=1.0)
    cycles: int = param(5, "", "number of loops", ge=1, le=100_000)
    v_read: float = param(0.2, "V", "read level for R_LRS / R_HRS", gt=0.0, le=2.0)


class IVSweep(Protocol):
    name: ClassVar[str] = "iv-sweep"
    title: ClassVar[str] = "Bipolar I-V switching"
    Parameters = IVSweepParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("cycle", "", "i4", "loop number, from 1"),
        Column("branch", "", "i1", "0 SET (0 → +V → 0), 1 RESET (0 → −V → 0)"),
        *READING_COLUMNS,
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("iv", "I-V loops", "voltage", "current", group="cycle", y_log=True,
                 abs_y=True),
    )
    figures: ClassVar[dict[str, str]] = {**QUANTITIES, "cycles_switched": "", **VARIABILITY}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: IVSweepParameters, station: Any) -> None:
        if params.v_read >= min(params.v_set, params.v_reset):
            raise ConfigError(f"iv-sweep: v_read = {params.v_read:g} V must be below v_set and "
                              f"v_reset ({params.v_set:g}, {params.v_reset:g} V)")
        check_parameters(station, self.terminal, self.name,
                         {"v_set": params.v_set, "v_reset": -params.v_reset},
                         {"set_compliance": params.set_compliance,
                          "reset_compliance": params.reset_compliance})
        check_sequence(station, self._loop(params), self.name,
                       "v_set, v_reset, v_step, dwell, set_compliance, reset_compliance, nplc")

    def _loop(self, params: IVSweepParameters) -> Sequence:
        return bipolar_loop(params.v_set, params.v_reset, params.v_step, params.dwell,
                            params.set_compliance, params.reset_compliance, self.terminal,
                            params.nplc)

    def run(self, ctx: Any) -> None:
        params: IVSweepParameters = ctx.params
        smu = source_meter(ctx.station, self.terminal, self.name)
        loop = self._loop(params)
        for cycle in range(1, params.cycles + 1):
            ctx.checkpoint()
            data = smu.run(loop, ctx.should_abort)
            if len(data):
                ctx.emit({"cycle": np.full(len(data), cycle), "branch": data.segment,
                          **reading_rows(loop, data)})
            if data.aborted:
                ctx.checkpoint()
            ctx.progress(cycle, params.cycles, f"cycle {cycle}/{params.cycles}")

    def analyse(self, data: pd.DataFrame, params: IVSweepParameters) -> Analysis:
        cycles = []
        for number, rows in data.groupby("cycle", sort=True):
            cycles.append(analyse_cycle(
                rows["v_program"].to_numpy(), rows["current"].to_numpy(),
                rows["limited"].to_numpy(), params.v_step, params.v_read, cycle=int(number),
                series_resistance=params.series_resistance))
        stats = switching_statistics(cycles)
        resolution = {"v_set": params.v_step, "v_reset": params.v_step}
        figures = {name: stats[name].as_estimate(resolution.get(name, 0.0))
                   for name in QUANTITIES}
        switched = sum(1 for c in cycles if c.v_set.ok and c.v_reset.ok)
        figures["cycles_switched"] = Estimate(float(switched), None, "")
        figures.update(variability(stats))
        details = pd.DataFrame([{"cycle": c.cycle, **{name: getattr(c, name).value
                                                      for name in QUANTITIES}}
                                for c in cycles])
        return Analysis(figures, details)


def variability(stats: dict[str, Statistic]) -> dict[str, Estimate]:
    """Cycle-to-cycle figures: CV of V_set, V_reset, R_LRS, R_HRS; log-normal median and σ of
    ln R for R_LRS and R_HRS; Weibull scale and shape of V_set (missing with reasons)."""
    figures = {f"cv_{name}": coefficient_of_variation(stats[name].values)
               for name in ("v_set", "v_reset", "r_lrs", "r_hrs")}
    for name in ("r_lrs", "r_hrs"):
        fit = fit_lognormal(stats[name].values, "Ω")
        figures[f"{name}_median"], figures[f"{name}_sigma_ln"] = fit.median, fit.sigma
    weibull = fit_weibull(stats["v_set"].values, "V")
    figures["v_set_weibull_scale"], figures["v_set_weibull_shape"] = weibull.scale, weibull.shape
    return figures
