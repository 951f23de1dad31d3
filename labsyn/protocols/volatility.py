"""Volatility (relaxation): one pulse, then reads at log-spaced delays in batches until an
ArC-style stop test passes (the relative change over the last batch, from a straight-line fit,
below `stop_change`) or `t_max`; a double and a stretched exponential fitted to G(t).

Reads are trains of read-level "pulses" (below any volatile threshold, so they only read), so
the same procedure runs on an SMU or a pulser+SMU path. Batch j reads every
t_j·(10^(1/reads_per_decade) − 1) (at least the path's shortest period), t_j its start delay:
log spacing, linear within a batch. A dry run never stops early: it reads to t_max.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.short_term import (
    fit_double_exponential,
    fit_stretched_exponential,
    noise_floor,
)
from labsyn.errors import ConfigError, LimitError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, with_station_series_resistance
from .ppf import shortest_gap, train_rows
from .pulsing import PulsePath, WriteRead

REST, FIRST, RELAX = 0, 1, 2


class VolatilityParameters(ReadingParameters):
    v_pulse: float = param(0.32, "V", "pulse amplitude at the device", gt=0.0, le=10.0)
    width: float = param(1e-3, "s", "pulse width", gt=0.0, le=10.0)
    read_level: float = param(0.1, "V", "read voltage at the device", gt=0.0, le=2.0)
    read_delay: float = param(0.2e-3, "s", "pulse end to the first read", ge=0.0, le=10.0)
    compliance: float = param(1e-3, "A", "current limit of pulse and reads", gt=0.0, le=1.0)
    rest_reads: int = param(5, "", "reads before the pulse (the device at rest)", ge=2, le=1000)
    reads_per_decade: int = param(10, "", "read density of the relaxation", ge=2, le=1000)
    batch: int = param(10, "", "reads per batch (one instrument train, one stop test)", ge=3,
                       le=10_000)
    t_max: float = param(2.0, "s", "read no longer than this after the pulse", gt=0.0, le=1e5)
    stop_change: float | None = param(0.005, "", "stop once the fitted change over a batch is "
                                      "below this fraction of G (none: read to t_max)", gt=0.0,
                                      lt=1.0)
    nplc: float = param(0.01, "PLC", "integration time per reading", ge=0.01, le=10.0)


class Volatility(Protocol):
    name: ClassVar[str] = "volatility"
    title: ClassVar[str] = "Volatility (relaxation after a pulse)"
    Parameters = VolatilityParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("phase", "", "i1", "0 rest read, 1 read after the pulse, 2 relaxation read"),
        Column("batch", "", "i4", "relaxation batch (0 for rest and first read)"),
        Column("time", "s", "f8", "instrument time of the read"),
        Column("delay", "s", "f8", "time since the pulse ended"),
        Column("voltage", "V", "f8", "measured read voltage"),
        Column("current", "A", "f8", "read current"),
        Column("limited", "", "bool", "the read was in compliance"),
        Column("conductance", "S", "f8", "I / (V − I·R_s)"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("relaxation", "Relaxation", "delay", "conductance", x_log=True,
                 where={"phase": RELAX}),
    )
    figures: ClassVar[dict[str, str]] = {
        "tau1": "s", "tau2": "s", "dg1": "S", "dg2": "S", "g_inf": "S", "g_rest": "S",
        "tau_stretched": "s", "beta": ""}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def _pulse(self, p: VolatilityParameters, period: float) -> WriteRead:
        """Rest reads, then the pulse and its read (a read-level pulse reads only)."""
        amplitudes = (p.read_level,) * p.rest_reads + (p.v_pulse,)
        return WriteRead(amplitudes, p.width, period, p.read_level, p.read_delay, p.compliance,
                         p.nplc, "volatility pulse")

    def _reads(self, p: VolatilityParameters, count: int, period: float) -> WriteRead:
        return WriteRead((p.read_level,) * count, p.width, period, p.read_level, p.read_delay,
                         p.compliance, p.nplc, "relaxation reads")

    def _shortest_period(self, p: VolatilityParameters, path: PulsePath) -> float:
        longest = p.t_max
        path.check(self._reads(p, p.batch, longest), "width, read_level, read_delay, t_max, "
                   "compliance, nplc")
        gap = shortest_gap(path, lambda g: self._reads(p, p.batch, p.width + g), 1e-9, longest)
        return p.width + gap

    def check(self, params: VolatilityParameters, station: Any) -> None:
        path = PulsePath(station, self.name, self.terminal)
        try:
            period = self._shortest_period(params, path)
        except LimitError as exc:
            raise LimitError(f"volatility: {exc.quantity}", exc.value, exc.allowed) from None
        if period * 2 > params.t_max:
            raise ConfigError(f"volatility: t_max = {params.t_max:g} s leaves no room for a "
                              f"relaxation; reads here are ≥ {period:.3g} s apart")
        path.check(self._pulse(params, period),
                   "v_pulse, width, read_level, read_delay, compliance")

    def plan(self, p: VolatilityParameters, period_min: float) -> list[tuple[int, float]]:
        """(reads, period) per batch, log-spaced up to t_max."""
        factor = 10 ** (1.0 / p.reads_per_decade) - 1.0
        t, batches = p.read_delay + period_min, []
        while t < p.t_max:
            period = max(t * factor, period_min)
            count = int(min(p.batch, max(1, np.ceil((p.t_max - t) / period))))
            batches.append((count, period))
            t += count * period
        return batches

    def run(self, ctx: Any) -> None:
        p: VolatilityParameters = ctx.params
        path = PulsePath(ctx.station, self.name, self.terminal)
        rs = p.series_resistance or 0.0
        period_min = self._shortest_period(p, path)
        batches = self.plan(p, period_min)
        ctx.progress(0, len(batches) + 1, "pulse")
        reads = path.run(self._pulse(p, period_min), ctx.should_abort)
        rows = train_rows(reads, p.rest_reads, rs)
        t_pulse = rows["time"][-1] - p.read_delay
        phase = np.full(p.rest_reads + 1, REST)
        phase[-1] = FIRST
        self._emit(ctx, rows, phase, 0, t_pulse)
        for number, (count, period) in enumerate(batches, 1):
            ctx.checkpoint()
            if reads.aborted:
                break
            reads = path.run(self._reads(p, count, period), ctx.should_abort)
            rows = train_rows(reads, count - 1, rs)
            self._emit(ctx, rows, np.full(count, RELAX), number, t_pulse)
            ctx.progress(number, len(batches) + 1, f"batch {number}")
            if not ctx.dry_run and p.stop_change and _settled(rows, p.stop_change):
                break

    def _emit(self, ctx: Any, rows: dict[str, np.ndarray], phase: np.ndarray, batch: int,
              t_pulse: float) -> None:
        n = len(phase)
        ctx.emit({"phase": phase, "batch": np.full(n, batch), "time": rows["time"],
                  "delay": rows["time"] - t_pulse, "voltage": rows["voltage"],
                  "current": rows["current"], "limited": rows["limited"],
                  "conductance": rows["conductance"]})

    def analyse(self, data: pd.DataFrame, params: VolatilityParameters) -> Analysis:
        rest = data[data["phase"] == REST]["conductance"].to_numpy(float)
        relax = data[data["phase"] != REST]
        t, g = relax["delay"].to_numpy(float), relax["conductance"].to_numpy(float)
        g_rest = _rest(rest)
        noise = noise_floor(rest)
        first = g[0] if g.size else np.nan
        reason = ""
        if not g_rest.ok:
            reason = g_rest.reason
        elif not np.isfinite(first) or not first - g_rest.value > 3.0 * max(noise, 0.0) \
                or first <= g_rest.value:
            reason = (f"no volatile response: the read after the pulse is "
                      f"{first - g_rest.value:.3g} S above rest, within the read noise "
                      f"({3.0 * noise:.3g} S)")
        if reason:
            figures = {k: Estimate.missing(u, reason) for k, u in self.figures.items()}
            figures["g_rest"] = g_rest
            return Analysis(figures)
        fit = fit_double_exponential(t, g, "S", "s", offset=True)
        stretched = fit_stretched_exponential(t, g)
        figures = {"tau1": fit.tau1, "tau2": fit.tau2, "dg1": fit.c1, "dg2": fit.c2,
                   "g_inf": fit.offset if fit.ok else stretched.g_inf, "g_rest": g_rest,
                   "tau_stretched": stretched.tau, "beta": stretched.beta}
        fits = []
        x = np.geomspace(np.nanmin(t[t > 0]), np.nanmax(t), 200)
        for label, result in (("double exponential", fit), ("stretched", stretched)):
            if result.ok:
                fits.append(pd.DataFrame({"delay": x, "conductance": result.curve(x),
                                          "label": label}))
        return Analysis(figures, None, {"relaxation": pd.concat(fits)} if fits else {})


def _settled(rows: dict[str, np.ndarray], threshold: float) -> bool:
    """The batch's straight-line change, relative to its mean, below `threshold`."""
    t, g = rows["time"], rows["conductance"]
    keep = np.isfinite(t) & np.isfinite(g)
    if keep.sum() < 3 or np.ptp(t[keep]) == 0:
        return False
    slope = np.polyfit(t[keep], g[keep], 1)[0]
    mean = float(np.mean(g[keep]))
    return bool(mean != 0 and abs(slope * np.ptp(t[keep]) / mean) < threshold)


def _rest(g: np.ndarray) -> Estimate:
    g = g[np.isfinite(g)]
    if g.size == 0:
        return Estimate.missing("S", "no finite rest read")
    if not np.mean(g) > 0:
        return Estimate.missing("S", "the device conducts no current at rest (dead or open)")
    return Estimate(float(g.mean()), float(g.std(ddof=1) / np.sqrt(g.size)) if g.size > 1
                    else None, "S")
