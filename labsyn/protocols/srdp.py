"""Spike-rate-dependent plasticity: trains of N sub-switching pulses at several rates (gaps),
a rest read before and a read after every pulse, one instrument-side train each; ΔG = G − G_rest
after each pulse and after the train, against the rate (definitions: analysis.short_term).
`TrainResponse` is shared with SNDP (labsyn.protocols.sndp), which varies N instead."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.short_term import noise_floor, rate_dependence
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import with_station_series_resistance
from .ppf import (
    TRAIN_PARAMETERS,
    ShortTermParameters,
    check_gaps,
    check_rest,
    response_train,
    train_rows,
)
from .pulsing import PulsePath

READ_COLUMNS = (
    Column("repeat", "", "i4", "train number at this setting"),
    Column("pulse", "", "i4", "0 rest read, n: read after pulse n"),
    Column("last", "", "bool", "the read after the train's last pulse"),
    Column("time", "s", "f8", "instrument time of the read"),
    Column("v_program", "V", "f8", "amplitude at the device before the read"),
    Column("voltage", "V", "f8", "measured read voltage"),
    Column("current", "A", "f8", "read current"),
    Column("limited", "", "bool", "the read was in compliance"),
    Column("conductance", "S", "f8", "I / (V − I·R_s)"),
    Column("dg", "S", "f8", "conductance above the train's rest read"),
)


class TrainResponse(Protocol):
    """Trains from `plan(params)`: (setting, pulses, gap) each, `repeats` times."""

    setting: ClassVar[str]  # the column naming the varied quantity

    def resolve(self, params: Any, station: Any) -> Any:
        params = with_station_series_resistance(params, station, self.terminal)
        if params.rest is None:
            longest = max(gap for _, _, gap in self.plan(params))
            params = params.model_copy(update={"rest": max(5.0 * longest, 0.05)})
        return params

    def plan(self, params: Any) -> list[tuple[float, int, float]]:
        raise NotImplementedError

    def check_plan(self, params: Any, station: Any, names: str) -> None:
        plan = self.plan(params)
        gaps = [gap for _, _, gap in plan]
        check_rest(params, max(gaps), self.name)
        path = PulsePath(station, self.name, self.terminal)
        pulses = max(n for _, n, _ in plan)
        check_gaps(path, lambda gap: response_train(params, pulses, gap, self.name),
                   min(gaps), max(gaps), names.split(",")[0],
                   f"{names}, {TRAIN_PARAMETERS}")

    def run(self, ctx: Any) -> None:
        p = ctx.params
        path = PulsePath(ctx.station, self.name, self.terminal)
        plan = self.plan(p)
        total, done = len(plan) * p.repeats, 0
        for value, pulses, gap in plan:
            for repeat in range(p.repeats):
                ctx.checkpoint()
                ctx.sleep(p.rest)
                reads = path.run(response_train(p, pulses, gap, self.name), ctx.should_abort)
                rows = train_rows(reads, pulses, p.series_resistance or 0.0)
                n = pulses + 1
                ctx.emit({self.setting: np.full(n, value), "repeat": np.full(n, repeat),
                          "pulse": np.arange(n), "last": np.arange(n) == pulses,
                          "time": rows["time"], "v_program": rows["amplitude"],
                          "voltage": rows["voltage"], "current": rows["current"],
                          "limited": rows["limited"], "conductance": rows["conductance"],
                          "dg": rows["conductance"] - rows["conductance"][0]})
                done += 1
                ctx.progress(done, total, f"{self.setting} {value:.3g}, train {repeat + 1}")
                if reads.aborted:
                    ctx.checkpoint()

    def trains(self, data: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        """ΔG after each train's last pulse, per (setting, repeat), and the read noise."""
        last = data[data["last"].astype(bool)]
        rest = data[data["pulse"] == 0]["conductance"].to_numpy(float)
        trains = last[[self.setting, "repeat", "dg"]].reset_index(drop=True)
        return trains, noise_floor(rest) * np.sqrt(2.0)

    @staticmethod
    def summary(trains: pd.DataFrame, setting: str) -> pd.DataFrame:
        grouped = trains.groupby(setting)["dg"]
        return pd.DataFrame({"dg_mean": grouped.mean(), "dg_sem": grouped.sem(),
                             "trains": grouped.count()}).reset_index()


class SRDPParameters(ShortTermParameters):
    pulses: int = param(10, "", "pulses per train", ge=1, le=10_000)
    interval_min: float = param(2e-3, "s", "shortest gap between pulses (highest rate)",
                                gt=0.0, le=100.0)
    interval_max: float = param(0.3, "s", "longest gap between pulses (lowest rate)", gt=0.0,
                                le=1000.0)
    points: int = param(6, "", "rates, log-spaced gaps", ge=2, le=100)


class SRDP(TrainResponse):
    name: ClassVar[str] = "srdp"
    title: ClassVar[str] = "Spike-rate-dependent plasticity"
    Parameters = SRDPParameters
    setting: ClassVar[str] = "interval"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("interval", "s", "f8", "gap between pulses of the train"), *READ_COLUMNS)
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("train", "ΔG per pulse", "pulse", "dg", group="interval"),
        PlotSpec("rate", "ΔG after the train vs gap", "interval", "dg", x_log=True,
                 where={"last": True}),
    )
    figures: ClassVar[dict[str, str]] = {"dg_fast": "S", "dg_slow": "S", "rate_gain": ""}

    def plan(self, params: SRDPParameters) -> list[tuple[float, int, float]]:
        gaps = np.geomspace(params.interval_min, params.interval_max, params.points)
        return [(float(g), params.pulses, float(g)) for g in gaps]

    def check(self, params: SRDPParameters, station: Any) -> None:
        if params.interval_min >= params.interval_max:
            raise ConfigError(f"srdp: interval_min = {params.interval_min:g} s must be below "
                              f"interval_max = {params.interval_max:g} s")
        self.check_plan(params, station, "interval_min, interval_max, pulses")

    def analyse(self, data: pd.DataFrame, params: SRDPParameters) -> Analysis:
        trains, noise = self.trains(data)
        figures: dict[str, Estimate] = rate_dependence(
            trains["interval"].to_numpy(float), trains["dg"].to_numpy(float), noise)
        details = self.summary(trains, "interval")
        details["rate"] = 1.0 / (params.width + details["interval"])
        return Analysis(figures, details)
