"""Switch seeker (ArC SwitchSeeker, stage I): trains of `pulses` pulses at rising |V|
(v_start → v_max in v_step), alternating polarity, each train followed by `reads` reads; a train
switched the device when the mean read leaves the ±tolerance band around the reads before it.
Reports which polarity SETs and the threshold amplitude of SET and RESET (signed, ± v_step),
the figures a recipe hands on to LTP/LTD, endurance or retention."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis.seeker import NONE, moved, seek_thresholds
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, resistance_at, with_station_series_resistance
from .pulsing import PulsePath, PulseReads, WriteRead

REFERENCE, AFTER_PULSE, TRAIN_READ = 0, 1, 2


class SwitchSeekerParameters(ReadingParameters):
    v_start: float = param(0.5, "V", "first pulse amplitude (magnitude, at the device)",
                           gt=0.0, le=20.0)
    v_max: float = param(3.0, "V", "largest pulse amplitude (magnitude): never exceeded",
                         gt=0.0, le=20.0)
    v_step: float = param(0.1, "V", "amplitude step between trains of one polarity",
                          gt=0.0, le=5.0)
    first_polarity: Literal["positive", "negative"] = param(
        "positive", "", "polarity of the first train at each amplitude")
    pulses: int = param(10, "", "pulses per train", ge=1, le=10_000)
    reads: int = param(5, "", "reads after each train (their mean is compared)", ge=1, le=1000)
    pulse_width: float = param(1e-3, "s", "pulse width (below the SMU's minimum a pulse "
                               "generator is needed)", gt=0.0, le=1.0)
    pulse_interval: float = param(10e-3, "s", "pulse start to next pulse start", gt=0.0,
                                  le=10.0)
    read_delay: float = param(1e-3, "s", "pulse end to its read", ge=0.0, le=1.0)
    read_voltage: float = param(0.2, "V", "read level (non-perturbing)", gt=0.0, le=1.0)
    tolerance: float = param(0.1, "", "relative band around the previous reads that a "
                             "switch leaves", gt=0.0, lt=1.0)
    compliance: float = param(1e-3, "A", "current limit during pulses and reads", gt=0.0,
                              le=1.0)


class SwitchSeeker(Protocol):
    name: ClassVar[str] = "switch-seeker"
    title: ClassVar[str] = "Switch seeker (polarity and thresholds)"
    Parameters = SwitchSeekerParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("train", "", "i4", "train number from 1; 0 the reference reads"),
        Column("phase", "", "i1", "0 reference read, 1 read after a write pulse, 2 train read"),
        Column("v_pulse", "V", "f8", "signed write amplitude at the device of the train"),
        Column("time", "s", "f8", "instrument time of the read"),
        Column("voltage", "V", "f8", "measured read voltage"),
        Column("current", "A", "f8", "read current"),
        Column("limited", "", "bool", "the read was in compliance"),
        Column("resistance", "Ω", "f8", "|V_read/I| less the series resistance"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("seek", "Read resistance after each train", "v_pulse", "resistance",
                 y_log=True, where={"phase": TRAIN_READ}),
    )
    figures: ClassVar[dict[str, str]] = {"v_set_threshold": "V", "v_reset_threshold": "V",
                                         "set_polarity": ""}
    _PARAMETERS = "v_max, pulses, pulse_width, pulse_interval, read_delay, read_voltage, " \
                  "compliance, nplc"

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: SwitchSeekerParameters, station: Any) -> None:
        if params.v_start > params.v_max:
            raise ConfigError(f"switch-seeker: v_start = {params.v_start:g} V must not exceed "
                              f"v_max = {params.v_max:g} V")
        if params.read_voltage >= params.v_start:
            raise ConfigError(f"switch-seeker: read_voltage = {params.read_voltage:g} V must "
                              f"be below v_start = {params.v_start:g} V")
        path = PulsePath(station, self.name, self.terminal)
        path.check(self._reference(params), "reads, " + self._PARAMETERS)
        for sign in (1.0, -1.0):
            path.check(self._train(params, sign * params.v_max), self._PARAMETERS)

    def amplitudes(self, params: SwitchSeekerParameters) -> np.ndarray:
        """The signed amplitude of each train, in the order played."""
        n = int(np.floor((params.v_max - params.v_start) / params.v_step + 1e-9)) + 1
        first = 1.0 if params.first_polarity == "positive" else -1.0
        levels = params.v_start + params.v_step * np.arange(n)
        return np.column_stack([first * levels, -first * levels]).ravel()

    def _train(self, params: SwitchSeekerParameters, amplitude: float) -> WriteRead:
        """`pulses` writes, then `reads` read-level pulses each read (one train per block)."""
        levels = (float(amplitude),) * params.pulses + (params.read_voltage,) * params.reads
        return WriteRead(levels, params.pulse_width, params.pulse_interval, params.read_voltage,
                         params.read_delay, params.compliance, params.nplc,
                         f"seek {amplitude:+.3g} V")

    def _reference(self, params: SwitchSeekerParameters) -> WriteRead:
        return WriteRead((params.read_voltage,) * params.reads, params.pulse_width,
                         params.pulse_interval, params.read_voltage, params.read_delay,
                         params.compliance, params.nplc, "seek reference")

    # -- procedure -------------------------------------------------------------------------------
    def run(self, ctx: Any) -> None:
        params: SwitchSeekerParameters = ctx.params
        path = PulsePath(ctx.station, self.name, self.terminal)
        amplitudes = self.amplitudes(params)
        ctx.progress(0, len(amplitudes), "reference reads")
        before = self._play(ctx, path, self._reference(params), 0, 0.0, params.reads)
        found: set[tuple[float, int]] = set()
        for number, amplitude in enumerate(amplitudes, 1):
            ctx.checkpoint()
            after = self._play(ctx, path, self._train(params, amplitude), number, amplitude,
                               params.reads)
            move = moved(before, after, params.tolerance)
            if move != NONE:
                found.add((float(np.sign(amplitude)), move))
            if np.isfinite(after):
                before = after
            ctx.progress(number, len(amplitudes), f"train {amplitude:+.3g} V")
            polarities = {sign for sign, _ in found}
            if not ctx.dry_run and len(polarities) == 2 and len({m for _, m in found}) == 2:
                break  # both polarities switched, in opposite directions; a dry run goes on

    def _play(self, ctx: Any, path: PulsePath, train: WriteRead, number: int, amplitude: float,
              reads: int) -> float:
        """Play one train, emit its reads, return the mean resistance of its last `reads`."""
        params: SwitchSeekerParameters = ctx.params
        data: PulseReads = path.run(train, ctx.should_abort)
        if data.aborted:
            ctx.checkpoint()
        n = len(data)
        if n == 0:
            return float("nan")
        phase = np.full(n, TRAIN_READ if number else REFERENCE, dtype=np.int8)
        phase[:max(0, min(n, train.pulses - reads))] = AFTER_PULSE
        r = resistance_at(params.read_voltage, data.current, params.series_resistance or 0.0)
        ctx.emit({"train": np.full(n, number), "phase": phase,
                  "v_pulse": np.full(n, amplitude), "time": data.time, "voltage": data.voltage,
                  "current": data.current, "limited": data.limited, "resistance": r})
        tail = r[phase != AFTER_PULSE]
        tail = tail[np.isfinite(tail)]
        return float(np.mean(tail)) if tail.size else float("nan")

    # -- analysis --------------------------------------------------------------------------------
    def analyse(self, data: pd.DataFrame, params: SwitchSeekerParameters) -> Analysis:
        reads = data[data["phase"] != AFTER_PULSE]
        reference = reads[reads["train"] == 0]["resistance"]
        trains = reads[reads["train"] > 0].groupby("train", sort=True).agg(
            v_pulse=("v_pulse", "first"), r_after=("resistance", _finite_mean))
        r_ref = _finite_mean(reference) if len(reference) else float("nan")
        result = seek_thresholds(trains["v_pulse"].to_numpy(), trains["r_after"].to_numpy(),
                                 r_ref, params.tolerance, params.v_step)
        details = trains.reset_index().assign(change=result.change, move=result.moves)
        return Analysis({"v_set_threshold": result.v_set_threshold,
                         "v_reset_threshold": result.v_reset_threshold,
                         "set_polarity": result.set_polarity}, details)


def _finite_mean(values: pd.Series) -> float:
    a = values.to_numpy(dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")
