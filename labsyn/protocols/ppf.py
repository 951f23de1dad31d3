"""Paired-pulse facilitation: pulse pairs at log-swept gaps, a rest read and a read after each
pulse, all in one instrument-side train per pair; PPF in both conventions and its
double-exponential fit (definitions: labsyn.analysis.short_term).

Every train starts with a *rest read*: a "pulse" at the read level (below any volatile
threshold, so it is a read, not a stimulus) and its read, one gap before the first real pulse.
That works alike on an SMU and on a pulser+SMU path (where the generator's output is off, so
the device floats, between trains). `rest` (idle before each pair) must be ≥ 5 × interval_max:
a sweep reaching beyond τ2 then leaves ≥ 5·τ2 between pairs, so each pair starts at rest.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.short_term import (
    conductance,
    fit_double_exponential,
    mean_response,
    noise_floor,
    ppf_index,
)
from labsyn.errors import ConfigError, LimitError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, with_station_series_resistance
from .pulsing import PulsePath, PulseReads, WriteRead

TRAIN_PARAMETERS = "v_pulse, width, read_level, read_delay, compliance, nplc"


class ShortTermParameters(ReadingParameters):
    """What every short-term protocol's trains need."""

    v_pulse: float = param(0.32, "V", "pulse amplitude at the device (sub-switching)", gt=0.0,
                           le=10.0)
    width: float = param(1e-3, "s", "pulse width", gt=0.0, le=10.0)
    read_level: float = param(0.1, "V", "read voltage at the device (below the volatile "
                              "threshold)", gt=0.0, le=2.0)
    read_delay: float = param(0.2e-3, "s", "pulse end to its read", ge=0.0, le=10.0)
    compliance: float = param(1e-3, "A", "current limit of pulses and reads", gt=0.0, le=1.0)
    repeats: int = param(3, "", "trains per setting", ge=1, le=100)
    rest: float | None = param(None, "s", "idle before each train (default: 5 × the longest "
                               "gap)", gt=0.0, le=1e4)
    nplc: float = param(0.01, "PLC", "integration time per reading", ge=0.01, le=10.0)


class PPFParameters(ShortTermParameters):
    interval_min: float = param(2e-3, "s", "shortest gap between the two pulses", gt=0.0,
                                le=100.0)
    interval_max: float = param(1.5, "s", "longest gap between the two pulses", gt=0.0,
                                le=1000.0)
    points: int = param(12, "", "gaps, log-spaced", ge=3, le=200)


def response_train(p: ShortTermParameters, pulses: int, interval: float, label: str
                   ) -> WriteRead:
    """A rest read then `pulses` pulses of v_pulse, gaps `interval`, a read after each."""
    return WriteRead((p.read_level,) + (p.v_pulse,) * pulses, p.width, p.width + interval,
                     p.read_level, p.read_delay, p.compliance, p.nplc, label)


def shortest_gap(path: PulsePath, make: Any, low: float, high: float) -> float:
    """The shortest gap in [low, high] the path accepts for trains `make(gap)` (bisection on
    `path.check`, which sends nothing); `high` must be accepted."""
    for _ in range(40):
        mid = np.sqrt(low * high)
        try:
            path.check(make(mid))
            high = mid
        except LimitError:
            low = mid
        if high / low < 1.01:
            break
    return high


def check_gaps(path: PulsePath, make: Any, shortest: float, longest: float, name: str,
               parameters: str) -> None:
    """Every train limit at the longest gap, then the shortest gap: a gap too short for the
    path's read timing is refused naming `name` and the shortest it allows."""
    path.check(make(longest), parameters)
    try:
        path.check(make(shortest))
    except LimitError as exc:
        allowed = shortest_gap(path, make, shortest, longest)
        raise LimitError(f"{path.protocol} parameter {name}", f"{shortest:g} s",
                         f"≥ {allowed:.3g} s on this station: each read must fit in the gap "
                         f"after its pulse ({exc.quantity}: {exc.allowed})") from None


def check_rest(params: Any, longest: float, protocol: str) -> None:
    if params.rest is not None and params.rest < 5.0 * longest:
        raise ConfigError(f"{protocol}: rest = {params.rest:g} s must be ≥ 5 × the longest gap "
                          f"({5.0 * longest:g} s) so that each train starts from rest")


def train_rows(reads: PulseReads, pulses: int, series_resistance: float) -> dict[str, np.ndarray]:
    """Rows of one rest-read-then-pulses train, padded with NaN to 1 + `pulses` reads (a dry
    run's static buffer may hold fewer)."""
    n = pulses + 1
    out: dict[str, np.ndarray] = {}
    for name in ("amplitude", "time", "voltage", "current"):
        column = np.full(n, np.nan)
        values = getattr(reads, name)[:n]
        column[:len(values)] = values
        out[name] = column
    limited = np.zeros(n, bool)
    limited[:len(reads.limited[:n])] = reads.limited[:n]
    out["limited"] = limited
    out["conductance"] = conductance(out["current"], out["voltage"], series_resistance)
    return out


class PPF(Protocol):
    name: ClassVar[str] = "ppf"
    title: ClassVar[str] = "Paired-pulse facilitation"
    Parameters = PPFParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("interval", "s", "f8", "gap between the two pulses"),
        Column("repeat", "", "i4", "pair number at this gap"),
        Column("read", "", "i1", "0 rest read, 1 after pulse 1, 2 after pulse 2"),
        Column("time", "s", "f8", "instrument time of the read"),
        Column("v_program", "V", "f8", "amplitude at the device before the read"),
        Column("voltage", "V", "f8", "measured read voltage"),
        Column("current", "A", "f8", "read current"),
        Column("limited", "", "bool", "the read was in compliance"),
        Column("conductance", "S", "f8", "I / (V − I·R_s)"),
        Column("ppf", "%", "f8", "(A2 − A1)/A1 × 100 %, on the read after pulse 2"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("ppf", "PPF vs gap", "interval", "ppf", x_log=True, where={"read": 2}),
    )
    figures: ClassVar[dict[str, str]] = {
        "ppf_index": "%", "ppf_ratio": "%", "c1": "%", "tau1": "s", "c2": "%", "tau2": "s"}

    def resolve(self, params: Any, station: Any) -> Any:
        params = with_station_series_resistance(params, station, self.terminal)
        if params.rest is None:
            params = params.model_copy(update={"rest": 5.0 * params.interval_max})
        return params

    def check(self, params: PPFParameters, station: Any) -> None:
        if params.interval_min >= params.interval_max:
            raise ConfigError(f"ppf: interval_min = {params.interval_min:g} s must be below "
                              f"interval_max = {params.interval_max:g} s")
        check_rest(params, params.interval_max, self.name)
        path = PulsePath(station, self.name, self.terminal)
        check_gaps(path, lambda gap: response_train(params, 2, gap, "pulse pair"),
                   params.interval_min, params.interval_max, "interval_min",
                   f"interval_min, interval_max, {TRAIN_PARAMETERS}")

    def intervals(self, params: PPFParameters) -> np.ndarray:
        return np.geomspace(params.interval_min, params.interval_max, params.points)

    def run(self, ctx: Any) -> None:
        p: PPFParameters = ctx.params
        path = PulsePath(ctx.station, self.name, self.terminal)
        gaps = self.intervals(p)
        total, done = len(gaps) * p.repeats, 0
        for gap in gaps:
            for repeat in range(p.repeats):
                ctx.checkpoint()
                ctx.sleep(p.rest)
                reads = path.run(response_train(p, 2, float(gap), "pulse pair"),
                                 ctx.should_abort)
                rows = train_rows(reads, 2, p.series_resistance or 0.0)
                g = rows["conductance"]
                ppf = np.full(3, np.nan)
                ppf[2] = ppf_index(np.array([g[1] - g[0]]), np.array([g[2] - g[0]]))[0][0]
                ctx.emit({"interval": np.full(3, gap), "repeat": np.full(3, repeat),
                          "read": np.arange(3), "time": rows["time"],
                          "v_program": rows["amplitude"], "voltage": rows["voltage"],
                          "current": rows["current"], "limited": rows["limited"],
                          "conductance": g, "ppf": ppf})
                done += 1
                ctx.progress(done, total, f"gap {gap:.3g} s, pair {repeat + 1}")
                if reads.aborted:
                    ctx.checkpoint()

    def analyse(self, data: pd.DataFrame, params: PPFParameters) -> Analysis:
        pairs = data.pivot_table(index=["interval", "repeat"], columns="read",
                                 values="conductance", aggfunc="first", dropna=False)
        pairs = pairs.reindex(columns=[0, 1, 2])
        rest, g1, g2 = (pairs[k].to_numpy(float) for k in (0, 1, 2))
        a1, a2 = g1 - rest, g2 - rest
        gap = pairs.index.get_level_values("interval").to_numpy(float)
        noise = noise_floor(rest - np.nanmean(rest)) * np.sqrt(2.0) if rest.size > 1 else 0.0
        response = mean_response(a1, "S", noise, "volatile response to one pulse")
        index, ratio = ppf_index(a1, a2)
        details = pd.DataFrame({"interval": gap, "a1": a1, "a2": a2, "ppf": index,
                                "ppf_ratio": ratio})
        if not response.ok:
            reason = f"PPF undefined: {response.reason}"
            return Analysis({k: Estimate.missing(u, reason) for k, u in self.figures.items()},
                            details)
        shortest = gap == np.nanmin(gap)
        figures = {"ppf_index": _mean(index[shortest], "%"),
                   "ppf_ratio": _mean(ratio[shortest], "%")}
        fit = fit_double_exponential(gap, index, "%", "s")
        figures.update(c1=fit.c1, tau1=fit.tau1, c2=fit.c2, tau2=fit.tau2)
        fits = {}
        if fit.ok:
            x = np.geomspace(np.nanmin(gap), np.nanmax(gap), 200)
            fits["ppf"] = pd.DataFrame({"interval": x, "ppf": fit.curve(x)})
        return Analysis(figures, details, fits)


def _mean(values: np.ndarray, unit: str) -> Estimate:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return Estimate.missing(unit, "no finite PPF at the shortest gap")
    sem = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None
    return Estimate(float(v.mean()), sem, unit)
