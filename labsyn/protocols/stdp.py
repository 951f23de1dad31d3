"""Spike-timing-dependent plasticity: for each delay Δt, prepare the start state, read G0, apply
a pre spike on TE and a post spike on BE delayed by Δt, read G, and fit the window ΔG/G0(Δt).

Two drives (`drive`; `auto` picks from the wiring):
- te-only — one SMU on TE, BE grounded. A two-terminal device sees only the difference of its
  terminal voltages, so the SMU plays the device-frame waveform V_pre(t) − V_post(t − Δt),
  sampled every `sample_interval` (each sample's midpoint), as one instrument-side staircase
  per Δt — exact for the device, up to the sampling.
- two-terminal — pre on TE, post on BE, each from its own channel of one SMU that can step two
  channels together (`run_pair`: a 2636B's smua and smub from one script on one trigger timer),
  on the same sample grid; the preparation and the reads are on TE with BE at 0 V. Each
  terminal's levels are checked against its limit, and V_TE − V_BE against the device's.
Other sources on BE (a second instrument) are refused: they cannot be synchronised.

The start state is restored before every pair by an identical preparation (`restore =
"prepare"`: a saturating RESET pulse, then a fixed SET pulse to a mid state), because a single
restoring pulse cannot undo both potentiation and depression; `restore = "accumulate"` lets
the pairs accumulate.

Sign: pre on TE, V_TE − V_BE > 0 SETs. With the biphasic spike (positive lobe first), Δt > 0
(post after pre) overlaps the post lobe with the pre's negative ramp, giving a negative device
voltage: depression (A+ < 0). A negative `spike_amplitude` inverts the spike and the window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis.stdp import fit_stdp_window, read_noise, relative_change
from labsyn.drivers.capabilities import PairedSourceMeter
from labsyn.drivers.sequence import Sequence, SequenceData, Staircase
from labsyn.errors import ConfigError, LimitError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, ProtocolParameters, param
from .common import (
    READING_COLUMNS,
    check_sequence,
    source_meter,
    with_station_series_resistance,
)
from .waveforms import Waveform, built_in, delta_ts, difference, load_csv

PREPARE, BEFORE, PAIR, AFTER, RESULT = 0, 1, 2, 3, 4
LEVEL_PARAMETERS = ("spike_amplitude, voltage_scale, spike_file, reset_voltage, set_voltage, "
                    "read_voltage, compliance")
SPIKE_PARAMETERS = "spike_amplitude, voltage_scale, spike_file, compliance"


class STDPParameters(ProtocolParameters):
    spike_shape: Literal["biphasic", "rectangular", "triangular", "file"] = param(
        "biphasic", "", "pre and post spike shape (identical spikes); file: spike_file")
    spike_file: str | None = param(None, "", "CSV of t (s), V (V) for spike_shape = file")
    drive: Literal["auto", "te-only", "two-terminal"] = param(
        "auto", "", "te-only: V_pre − V_post on TE, BE grounded; two-terminal: pre on TE, post "
        "on BE from a paired SMU channel; auto: as wired")
    spike_amplitude: float = param(0.5, "V", "peak of a built-in spike (< 0 inverts it)",
                                   ge=-20.0, le=20.0)
    spike_width: float = param(0.1, "s", "total length of a built-in spike", gt=0.0, le=100.0)
    voltage_scale: float = param(1.0, "", "factor on the spike's voltages", ge=-100.0, le=100.0)
    time_scale: float = param(1.0, "", "factor on the spike's times", gt=0.0, le=1e6)
    dt_min: float = param(5e-3, "s", "smallest |Δt| (post start − pre start)", gt=0.0, le=100.0)
    dt_max: float = param(50e-3, "s", "largest |Δt|", gt=0.0, le=100.0)
    points: int = param(6, "", "Δt values per sign", ge=1, le=500)
    spacing: Literal["log", "linear"] = param("log", "", "spacing of |Δt| from dt_min to dt_max")
    sample_interval: float = param(1e-3, "s", "time per waveform sample (staircase dwell)",
                                   gt=0.0, le=10.0)
    read_voltage: float = param(0.1, "V", "read level for G0 and G", gt=0.0, le=2.0)
    reads: int = param(5, "", "reads averaged for G0 and for G", ge=1, le=1000)
    read_delay: float = param(10e-3, "s", "0 V before each read block (volatile decay)",
                              ge=0.0, le=10.0)
    restore: Literal["prepare", "accumulate"] = param(
        "prepare", "", "prepare: the same RESET + SET before every pair; accumulate: no restore")
    reset_voltage: float = param(-1.2, "V", "preparation: saturating RESET level", ge=-20.0,
                                 le=0.0)
    reset_width: float = param(10e-3, "s", "preparation: RESET duration", gt=0.0, le=10.0)
    set_voltage: float = param(0.95, "V", "preparation: SET level to the mid state", ge=0.0,
                               le=20.0)
    set_width: float = param(2e-3, "s", "preparation: SET duration", gt=0.0, le=10.0)
    compliance: float = param(1e-3, "A", "current limit throughout", gt=0.0, le=1.0)
    series_resistance: float | None = param(
        None, "Ω", "series resistance to subtract (default: the station's wiring)", ge=0.0,
        le=1e7)


@dataclass(frozen=True)
class PairPlan:
    """One Δt: the TE staircase that prepares, reads, plays the pair and reads, each level's
    phase, and (two-terminal) the BE staircase on the same grid (None: BE grounded)."""

    delta_t: float
    staircase: Staircase
    phases: np.ndarray
    back: Staircase | None = None

    @property
    def be_levels(self) -> np.ndarray:
        return (np.zeros(self.staircase.points) if self.back is None
                else np.asarray(self.back.levels))

    @property
    def device_levels(self) -> np.ndarray:
        """V_TE − V_BE, as programmed."""
        return np.asarray(self.staircase.levels) - self.be_levels


def spike(params: STDPParameters) -> Waveform:
    """The pre (= post) spike the parameters describe."""
    if params.spike_shape == "file":
        if not params.spike_file:
            raise ConfigError("stdp: spike_shape = file needs spike_file (a CSV of t (s), V (V))")
        shape = load_csv(params.spike_file)
    else:
        shape = built_in(params.spike_shape, params.spike_amplitude, params.spike_width)
    return shape.scaled(params.voltage_scale, params.time_scale)


def pair_levels(pre: Waveform, post: Waveform, delta_t: float, interval: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """V_pre(t) and V_post(t − Δt) on `difference`'s sample grid (their difference is it)."""
    starts, _ = difference(pre, post, delta_t, interval)
    middle = starts + interval / 2
    return pre.at(middle), post.at(middle - delta_t)


def plan(params: STDPParameters, two_terminal: bool = False) -> list[PairPlan]:
    """Every pair's staircase(s), in the order they run (negative Δt first)."""
    pre = spike(params)
    dt = params.sample_interval

    def hold(level: float, duration: float, phase: int) -> tuple[list[float], list[int]]:
        n = int(round(duration / dt))
        return [level] * n, [phase] * n

    head: list[tuple[list[float], list[int]]] = []
    if params.restore == "prepare":
        head += [hold(params.reset_voltage, max(params.reset_width, dt), PREPARE),
                 hold(0.0, params.read_delay, PREPARE),
                 hold(params.set_voltage, max(params.set_width, dt), PREPARE)]
    head += [hold(0.0, params.read_delay, BEFORE),
             ([params.read_voltage] * params.reads, [BEFORE] * params.reads)]
    tail = [hold(0.0, params.read_delay, AFTER),
            ([params.read_voltage] * params.reads, [AFTER] * params.reads), ([0.0], [AFTER])]
    plans = []
    for delta_t in delta_ts(params.dt_min, params.dt_max, params.points, params.spacing):
        te, be = pair_levels(pre, pre, float(delta_t), dt)
        pair = te if two_terminal else te - be
        parts = [*head, (list(pair), [PAIR] * len(pair)), *tail]
        levels = [v for part, _ in parts for v in part]
        phases = np.array([p for _, part in parts for p in part], dtype=np.int8)
        label = f"stdp Δt {delta_t:g}"
        back = None
        if two_terminal:
            be_levels = np.zeros(len(levels))
            be_levels[phases == PAIR] = be
            back = Staircase(tuple(float(v) for v in be_levels), dt, params.compliance,
                             f"{label} BE")
        plans.append(PairPlan(float(delta_t), Staircase(tuple(float(v) for v in levels), dt,
                                                        params.compliance, label),
                              phases, back))
    return plans


class STDP(Protocol):
    name: ClassVar[str] = "stdp"
    title: ClassVar[str] = "Spike-timing-dependent plasticity"
    Parameters = STDPParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("pair", "", "i4", "spike pair number, from 0"),
        Column("phase", "", "i1", "0 prepare, 1 read G0, 2 pair, 3 read G, 4 pair result"),
        Column("delta_t", "s", "f8", "post start − pre start"),
        *READING_COLUMNS,
        Column("v_te", "V", "f8", "programmed TE level (v_program = v_te − v_be)"),
        Column("v_be", "V", "f8", "programmed BE level (0 with BE grounded)"),
        Column("time_be", "s", "f8", "two-terminal: instrument time of the BE reading"),
        Column("voltage_be", "V", "f8", "two-terminal: measured BE source voltage"),
        Column("current_be", "A", "f8", "two-terminal: current out of the BE channel"),
        Column("g0", "S", "f8", "result rows: mean conductance before the pair"),
        Column("g", "S", "f8", "result rows: mean conductance after the pair"),
        Column("dg_rel", "", "f8", "result rows: (G − G0) / G0"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("window", "STDP window", "delta_t", "dg_rel", where={"phase": RESULT}),
        PlotSpec("pairs", "Device-frame pair waveforms", "time", "v_program", group="pair",
                 where={"phase": PAIR}),
    )
    figures: ClassVar[dict[str, str]] = {"a_plus": "", "tau_plus": "s", "a_minus": "",
                                         "tau_minus": "s"}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def paired(self, params: STDPParameters, station: Any) -> tuple[Any, Any | None]:
        """(the TE SMU, the BE channel it steps with — None when BE is grounded), or a
        `ConfigError` saying what the wiring allows."""
        back = station.terminal("BE")
        if back.grounded:
            if params.drive == "two-terminal":
                raise ConfigError("stdp drive = two-terminal needs BE on the other channel of "
                                  "TE's SMU; this station grounds BE (drive = te-only or auto)")
            return source_meter(station, self.terminal, self.name), None
        front = station.terminal(self.terminal).driver
        if isinstance(front, PairedSourceMeter) and front.pairs_with(back.driver):
            if params.drive == "te-only":
                raise ConfigError("stdp drive = te-only needs BE grounded; this station wires "
                                  f"BE to {type(back.driver).__name__} (drive = two-terminal "
                                  "or auto)")
            return source_meter(station, self.terminal, self.name), back.driver
        raise ConfigError(
            f"stdp needs BE grounded (te-only: V_pre − V_post from one SMU on TE) or BE on the "
            f"other channel of TE's SMU (two-terminal); this station wires BE to "
            f"{type(back.driver).__name__}, and stdp cannot synchronise sources on TE and BE "
            "from different instruments")

    def check(self, params: STDPParameters, station: Any) -> None:
        smu, partner = self.paired(params, station)
        if params.dt_min > params.dt_max or (params.points > 1 and params.dt_min == params.dt_max):
            raise ConfigError(f"stdp: dt_min = {params.dt_min:g} s must be below dt_max = "
                              f"{params.dt_max:g} s")
        if params.sample_interval < smu.limits.min_pulse_width:
            raise LimitError(f"stdp parameter sample_interval ({type(smu).__name__})",
                             f"{params.sample_interval:g} s",
                             f"≥ {smu.limits.min_pulse_width:g} s, the SMU's shortest step")
        if params.dt_min < params.sample_interval:
            raise ConfigError(f"stdp: dt_min = {params.dt_min:g} s is finer than one sample "
                              f"(sample_interval = {params.sample_interval:g} s)")
        if spike(params).duration < params.sample_interval:
            raise ConfigError("stdp: the spike is shorter than one sample; raise spike_width or "
                              "time_scale, or lower sample_interval")
        for pair in plan(params, partner is not None):
            if pair.staircase.points > smu.limits.max_list_points:
                raise LimitError(
                    f"stdp points per pair at Δt = {pair.delta_t:g} s", pair.staircase.points,
                    f"≤ {smu.limits.max_list_points} (one instrument list); set by spike_width, "
                    "time_scale, dt_max, sample_interval, reads, read_delay, reset_width, "
                    "set_width")
            check_sequence(station, self._sequence(pair, smu), self.name, LEVEL_PARAMETERS)
            if pair.back is not None:
                self._check_two_terminal(station, pair, smu, partner)

    def _check_two_terminal(self, station: Any, pair: PairPlan, smu: Any, partner: Any) -> None:
        """BE against its terminal limit, V_TE − V_BE against the device's, both channels
        against the instrument."""
        assert pair.back is not None
        check_sequence(station, Sequence("BE", (pair.back,), smu.limits.min_nplc), self.name,
                       SPIKE_PARAMETERS)
        limit = station.config.limits.max_device_voltage
        peak = float(max(pair.device_levels, key=abs))
        if abs(peak) > limit:
            raise LimitError(f"stdp: station {station.config.name!r} device voltage V_TE − V_BE "
                             f"at Δt = {pair.delta_t:g} s", peak,
                             f"|V| ≤ {limit:g} V (limits.max_device_voltage); set by "
                             f"{SPIKE_PARAMETERS}")
        try:
            smu.check_pair(partner, pair.staircase, pair.back, smu.limits.min_nplc)
        except LimitError as exc:
            raise LimitError(f"stdp: {exc.quantity}", exc.value,
                             f"{exc.allowed}; set by sample_interval, {SPIKE_PARAMETERS}"
                             ) from None

    def _sequence(self, pair: PairPlan, smu: Any) -> Sequence:
        return Sequence(self.terminal, (pair.staircase,), smu.limits.min_nplc)

    # -- procedure -------------------------------------------------------------------------------
    def run(self, ctx: Any) -> None:
        params: STDPParameters = ctx.params
        smu, partner = self.paired(params, ctx.station)
        pairs = plan(params, partner is not None)
        for number, pair in enumerate(pairs):  # every pair, also in a dry run
            ctx.checkpoint()
            ctx.progress(number, len(pairs), f"pair {number + 1}/{len(pairs)}: "
                                             f"Δt = {pair.delta_t * 1e3:+.3g} ms")
            if pair.back is None:
                data, back = smu.run(self._sequence(pair, smu), ctx.should_abort), None
            else:
                data, back = smu.run_pair(partner, pair.staircase, pair.back,
                                          smu.limits.min_nplc, ctx.should_abort)
            n = min(len(data), pair.staircase.points)  # a dry run's static buffer may differ
            if n:
                self._emit(ctx, number, pair, data, back, n, params)
            if data.aborted:
                ctx.checkpoint()
        ctx.progress(len(pairs), len(pairs), "done")

    def _emit(self, ctx: Any, number: int, pair: PairPlan, data: SequenceData,
              back: SequenceData | None, n: int, params: STDPParameters) -> None:
        """One pair's reading rows, then its result row."""
        levels = pair.device_levels[:n]
        phases = pair.phases[:n]
        nan = np.full(n, np.nan)
        be = {"time_be": nan, "voltage_be": nan, "current_be": nan}
        if back is not None:
            be = {"time_be": _padded(back.time, n), "voltage_be": _padded(back.source, n),
                  "current_be": _padded(back.current, n)}
        ctx.emit({"pair": np.full(n, number), "phase": phases,
                  "delta_t": np.full(n, pair.delta_t), "time": data.time[:n],
                  "v_program": levels, "voltage": data.source[:n],
                  "current": data.current[:n], "limited": data.limited[:n],
                  "v_te": np.asarray(pair.staircase.levels[:n]), "v_be": pair.be_levels[:n],
                  **be, "g0": nan, "g": nan, "dg_rel": nan})
        g0, g, dg_rel, _ = _pair_result(levels, data.current[:n], phases,
                                        params.series_resistance or 0.0)
        ctx.emit({"pair": number, "phase": RESULT, "delta_t": pair.delta_t,
                  "time": float(data.time[n - 1]), "v_program": np.nan, "voltage": np.nan,
                  "current": np.nan, "limited": False, "v_te": np.nan, "v_be": np.nan,
                  "time_be": np.nan, "voltage_be": np.nan, "current_be": np.nan, "g0": g0,
                  "g": g, "dg_rel": dg_rel})

    # -- analysis --------------------------------------------------------------------------------
    def analyse(self, data: pd.DataFrame, params: STDPParameters) -> Analysis:
        rows = data[data["phase"] != RESULT]
        table = []
        for number, pair in rows.groupby("pair", sort=True):
            g0, g, dg_rel, noise = _pair_result(
                pair["v_program"].to_numpy(float), pair["current"].to_numpy(float),
                pair["phase"].to_numpy(), params.series_resistance or 0.0)
            table.append({"pair": int(number), "delta_t": float(pair["delta_t"].iloc[0]),
                          "g0": g0, "g": g, "dg_rel": dg_rel, "noise": noise})
        details = pd.DataFrame(table, columns=["pair", "delta_t", "g0", "g", "dg_rel", "noise"])
        window = fit_stdp_window(details["delta_t"].to_numpy(float),
                                 details["dg_rel"].to_numpy(float),
                                 details["noise"].to_numpy(float))
        return Analysis(window.figures, details, _fits(window, details["delta_t"].to_numpy()))


def _pair_result(levels: np.ndarray, current: np.ndarray, phases: np.ndarray,
                 series_resistance: float) -> tuple[float, float, float, float]:
    """(G0, G, ΔG/G0, σ of ΔG/G0) of one pair's rows; conductance at the device voltage."""
    def conductance(phase: int) -> np.ndarray:
        pick = (phases == phase) & (levels != 0)
        i, v = current[pick], levels[pick]
        with np.errstate(divide="ignore", invalid="ignore"):
            return i / (v - i * series_resistance)
    before, after = conductance(BEFORE), conductance(AFTER)
    g0, g, dg_rel = relative_change(before, after)
    return g0, g, dg_rel, read_noise(before, after)


def _fits(window: Any, delta_t: np.ndarray) -> dict[str, pd.DataFrame]:
    """The fitted window on a fine grid, one curve per side that has a fit."""
    curves = []
    for label, side in (("fit Δt < 0", delta_t[delta_t < 0]),
                        ("fit Δt > 0", delta_t[delta_t > 0])):
        if not len(side):
            continue
        grid = np.linspace(side.min(), side.max(), 100)
        y = window.curve(grid)
        if np.all(np.isfinite(y)):
            curves.append(pd.DataFrame({"delta_t": grid, "dg_rel": y, "label": label}))
    return {"window": pd.concat(curves, ignore_index=True)} if curves else {}


def _padded(values: np.ndarray, n: int) -> np.ndarray:
    """The first `n` values, NaN where there are fewer."""
    out = np.full(n, np.nan)
    out[:min(n, len(values))] = values[:n]
    return out
