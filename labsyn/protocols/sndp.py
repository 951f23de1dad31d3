"""Spike-number-dependent plasticity: trains of N = 1 … n_max sub-switching pulses at a fixed
gap, a rest read before and a read after every pulse; ΔG after the train against N
(definitions: labsyn.analysis.short_term)."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.short_term import number_dependence
from labsyn.store import Column

from .base import Analysis, PlotSpec, param
from .ppf import ShortTermParameters
from .srdp import READ_COLUMNS, TrainResponse


class SNDPParameters(ShortTermParameters):
    n_max: int = param(10, "", "longest train (trains of 1 … n_max pulses)", ge=2, le=1000)
    interval: float = param(5e-3, "s", "gap between pulses", gt=0.0, le=100.0)
    rest: float | None = param(1.0, "s", "idle before each train: ≥ 5·τ2 of the device, "
                               "and at least 5 × interval", gt=0.0, le=1e4)


class SNDP(TrainResponse):
    name: ClassVar[str] = "sndp"
    title: ClassVar[str] = "Spike-number-dependent plasticity"
    Parameters = SNDPParameters
    setting: ClassVar[str] = "count"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("count", "", "i4", "pulses in the train"), *READ_COLUMNS)
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("number", "ΔG after the train vs pulses", "count", "dg", where={"last": True}),
    )
    figures: ClassVar[dict[str, str]] = {"dg_single": "S", "dg_longest": "S",
                                         "number_gain": ""}

    def plan(self, params: SNDPParameters) -> list[tuple[float, int, float]]:
        return [(n, n, params.interval) for n in range(1, params.n_max + 1)]

    def check(self, params: SNDPParameters, station: Any) -> None:
        self.check_plan(params, station, "interval, n_max")

    def analyse(self, data: pd.DataFrame, params: SNDPParameters) -> Analysis:
        trains, noise = self.trains(data)
        figures: dict[str, Estimate] = number_dependence(
            trains["count"].to_numpy(float), trains["dg"].to_numpy(float), noise)
        return Analysis(figures, self.summary(trains, "count"))
