"""Retention: program each state (LRS by a SET pulse train, HRS by a RESET train, through
`PulsePath`), then read it at log- or linearly spaced times since programming, each read tagged
with the temperature — measured by the station's thermal head (set and settled first when
`temperature_k` is given) or, without one, the nominal `temperature_k` (tagged as nominal).

Rows: phase 0 are the programming train's reads, phase 1 the retention reads, phase 2 the
reference programming at `reference_k` (below). Figures are those of the LRS if measured, else
of the first state; `details` has one row per state. The drift fit of an LRS uses the HRS reads
(their median) as the floor when HRS is also measured (see labsyn.analysis.retention).

The failure reference (what "G moved by max_change" is measured from) must be the
as-programmed state, and at a bake temperature that state cannot be read: the drift clock runs
exp(E_a/k_B·(1/300 K − 1/T)) times faster (×1e5 at 400 K for HfOx), so the onset t0 = 1 s at
300 K becomes ~10 µs and a read even 1 ms after the pulse has already lost several % of the
window — more the hotter the bake, which tilts the Arrhenius slope (E_a biased low). So, as a
bake experiment does (program and verify at room temperature, then bake), with a thermal head
and `temperature_k` each state is first programmed at `reference_k` (default 300 K), where the
onset is long against `read_delay` and `read_delay` is long against the volatile decay (HfOx
τ2 = 1 ms: 10 ms leaves e^−10 of it); the mean of the second half of those reads is the
reference. The head then heats to `temperature_k`, soaks, and the state is programmed again in
situ with the same train, so time zero is a pulse at the bake temperature and no heating ramp
is folded into the failure time (a ramp's drift depends on E_a itself). This assumes the train
saturates the state (it reaches the same G hot and cold) and that G itself does not depend on
temperature; on a real device with a temperature coefficient, use `reference_k = None` (the
in-situ reads are the reference) or the ratio criterion `min_ratio` against the HRS read at the
same temperature. Without a head, or with `reference_k` None or equal to `temperature_k`, the
in-situ programming reads are the reference.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis import Estimate
from labsyn.analysis.retention import (
    failure_time,
    fit_drift,
    fit_stretched_exponential,
    read_times,
)
from labsyn.drivers.sequence import Sequence, Staircase
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, check_sequence, with_station_series_resistance
from .pulsing import PulsePath, WriteRead

PROGRAM, RETAIN, REFERENCE = 0, 1, 2
STATES = ("LRS", "HRS")


class RetentionParameters(ReadingParameters):
    states: Literal["LRS", "HRS", "LRS,HRS", "HRS,LRS"] = param(
        "LRS,HRS", "", "states to program and follow, in order (figures: the first)")
    set_amplitude: float = param(1.2, "V", "SET pulse at the device", gt=0.0, le=20.0)
    reset_amplitude: float = param(-1.5, "V", "RESET pulse at the device", ge=-20.0, lt=0.0)
    pulses: int = param(20, "", "programming pulses per state (the reads after the second "
                        "half are the reference)", ge=1, le=1000)
    pulse_width: float = param(1e-3, "s", "programming pulse width", gt=0.0, le=1.0)
    pulse_period: float = param(20e-3, "s", "programming pulse start to next start", gt=0.0,
                                le=10.0)
    read_delay: float = param(10e-3, "s", "pulse end to its read (the as-programmed reference): "
                              "long against the volatile decay, short against the drift onset",
                              ge=0.0, le=1.0)
    compliance: float = param(1e-3, "A", "current limit of pulses and reads", gt=0.0, le=1.0)
    read_voltage: float = param(0.1, "V", "read level", gt=0.0, le=2.0)
    reads: int = param(3, "", "reads at each time (averaged by the analysis)", ge=1, le=100)
    t_min: float = param(1.0, "s", "first read after programming", gt=0.0, le=1e7)
    t_max: float = param(1e4, "s", "last read after programming", gt=0.0, le=1e8)
    points: int = param(25, "", "read times per state", ge=2, le=10_000)
    spacing: Literal["log", "linear"] = param("log", "", "read-time spacing")
    temperature_k: float | None = param(
        None, "K", "with a thermal head: set and settle here first (none: leave it, read it); "
        "without: the nominal temperature tagged on the reads (none: 300 K)", gt=0.0, le=800.0)
    reference_k: float | None = param(
        300.0, "K", "with a thermal head and temperature_k: program and verify each state here "
        "first (the failure reference), then heat and re-program in situ (none: the in-situ "
        "programming reads are the reference)", gt=0.0, le=800.0)
    settle_tolerance: float = param(0.5, "K", "settled within this of temperature_k", gt=0.0,
                                    le=20.0)
    soak: float = param(60.0, "s", "settled for this long before programming", ge=0.0,
                        le=1e5)
    settle_timeout: float = param(3600.0, "s", "give up settling after", gt=0.0, le=1e6)
    max_change: float = param(0.1, "", "failed once G moved by this fraction of the "
                              "as-programmed read", gt=0.0, lt=1.0)
    min_ratio: float | None = param(None, "", "or: failed once G_LRS/G_HRS falls below this "
                                    "(needs both states)", gt=1.0)


class Retention(Protocol):
    name: ClassVar[str] = "retention"
    title: ClassVar[str] = "Retention (log-spaced, temperature-tagged)"
    Parameters = RetentionParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("phase", "", "i1", "0 programming read, 1 retention read, 2 reference "
               "programming read (at reference_k)"),
        Column("state", "", "i1", "index in `states` (0 = first listed)"),
        Column("time", "s", "f8", "time since the end of programming (the reads of one "
               "time point share its start)"),
        Column("v_read", "V", "f8", "measured read voltage"),
        Column("current", "A", "f8", "read current"),
        Column("conductance", "S", "f8", "device conductance (series resistance removed)"),
        Column("temperature", "K", "f8", "temperature of the read"),
        Column("temperature_measured", "", "bool", "measured by the thermal head, else "
               "nominal"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("retention", "Retention", "time", "conductance", group="state", x_log=True,
                 y_log=True, where={"phase": RETAIN}),
    )
    figures: ClassVar[dict[str, str]] = {
        "drift_nu": "", "g_programmed": "S", "drift_onset": "s", "t_fail": "s",
        "stretch_tau": "s", "stretch_beta": "", "temperature": "K", "on_off": ""}

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def _trains(self, params: RetentionParameters) -> list[WriteRead]:
        amplitude = {"LRS": params.set_amplitude, "HRS": params.reset_amplitude}
        return [WriteRead((amplitude[s],) * params.pulses, params.pulse_width,
                          params.pulse_period, params.read_voltage, params.read_delay,
                          params.compliance, min(params.nplc, 1.0), f"program {s}")
                for s in params.states.split(",")]

    def _read(self, params: RetentionParameters, path: PulsePath) -> Sequence:
        if path.kind == "smu":
            level, terminal = params.read_voltage, self.terminal
        else:  # the SMU on BE reads: the device sees V_TE − V_BE
            level, terminal = -params.read_voltage, path.return_terminal
        read = Staircase((level,) * params.reads, 0.0, params.compliance, "retention read")
        return Sequence(terminal, (read,), params.nplc)

    def check(self, params: RetentionParameters, station: Any) -> None:
        if params.t_min >= params.t_max:
            raise ConfigError(f"retention: t_min = {params.t_min:g} s must be below t_max = "
                              f"{params.t_max:g} s")
        if params.min_ratio is not None and params.states in STATES:
            raise ConfigError("retention: min_ratio compares LRS with HRS; set states=LRS,HRS")
        path = PulsePath(station, self.name, self.terminal)
        for train in self._trains(params):
            path.check(train, "set_amplitude/reset_amplitude, pulse_width, pulse_period, "
                       "read_delay, compliance")
        check_sequence(station, self._read(params, path), self.name,
                       "read_voltage, compliance, reads, nplc")
        if getattr(station, "has_thermal", False) and params.temperature_k is not None:
            station.thermal.check_temperature(params.temperature_k)
            if params.reference_k is not None:
                station.thermal.check_temperature(params.reference_k)

    @staticmethod
    def _cold_reference(params: RetentionParameters, head: Any) -> bool:
        """Whether each state is first programmed at `reference_k` (see the module docstring)."""
        return (head is not None and params.temperature_k is not None
                and params.reference_k is not None
                and abs(params.temperature_k - params.reference_k) > params.settle_tolerance)

    @staticmethod
    def _settle(ctx: Any, head: Any, kelvin: float, text: str) -> None:
        params: RetentionParameters = ctx.params
        ctx.progress(0, 1, f"{text}: settling at {kelvin:g} K")
        head.set_temperature(kelvin)
        head.wait_settled(kelvin, params.settle_tolerance, params.soak, params.settle_timeout,
                          ctx.should_abort)
        ctx.checkpoint()

    def _program(self, ctx: Any, path: PulsePath, head: Any, train: WriteRead, phase: int,
                 index: int) -> float:
        """Play `train`, emit its reads as `phase`; the clock at the end of programming."""
        written = path.run(train, ctx.should_abort)
        end = ctx.clock.now()
        ctx.checkpoint()
        temperature, measured = self._temperature(ctx, head)
        last = max(len(written) - 1, 0)
        self._emit(ctx, phase, index, written.time - written.time[last] if len(written)
                   else np.empty(0), written.voltage, written.current, temperature,
                   measured, ctx.params)
        return end

    # -- procedure -------------------------------------------------------------------------------
    def run(self, ctx: Any) -> None:
        params: RetentionParameters = ctx.params
        path = PulsePath(ctx.station, self.name, self.terminal)
        head = ctx.station.thermal if getattr(ctx.station, "has_thermal", False) else None
        cold = self._cold_reference(params, head)
        if head is not None and params.temperature_k is not None and not cold:
            self._settle(ctx, head, params.temperature_k, "bake")
        times = read_times(params.t_min, params.t_max, params.points, params.spacing)
        trains = self._trains(params)
        reader = path.binding.driver if path.kind == "smu" else path.reader
        read = self._read(params, path)
        for index, train in enumerate(trains):
            ctx.checkpoint()
            ctx.progress(index, len(trains), train.label)
            if cold:
                self._settle(ctx, head, params.reference_k, f"{train.label} reference")
                self._program(ctx, path, head, train, REFERENCE, index)
                self._settle(ctx, head, params.temperature_k, f"{train.label} bake")
            end = self._program(ctx, path, head, train, PROGRAM, index)
            for k, t in enumerate(times):
                self._wait(ctx, end + t - ctx.clock.now())
                temperature, measured = self._temperature(ctx, head)
                start = ctx.clock.now() - end
                data = reader.run(read, ctx.should_abort)
                self._emit(ctx, RETAIN, index, np.full(len(data), start), data.source,
                           data.current, temperature, measured, params)
                ctx.progress(index + (k + 1) / len(times), len(trains),
                             f"{train.label}: read at {t:.3g} s")
                if data.aborted:
                    ctx.checkpoint()

    @staticmethod
    def _wait(ctx: Any, seconds: float) -> None:
        if seconds > 0:
            ctx.sleep(seconds)

    def _temperature(self, ctx: Any, head: Any) -> tuple[float, bool]:
        if head is not None:
            return head.temperature(), True
        nominal = ctx.params.temperature_k
        return (300.0 if nominal is None else nominal), False

    def _emit(self, ctx: Any, phase: int, state: int, times: np.ndarray, voltage: np.ndarray,
              current: np.ndarray, temperature: float, measured: bool,
              params: RetentionParameters) -> None:
        n = len(current)
        if n == 0:
            return
        ctx.emit({"phase": np.full(n, phase), "state": np.full(n, state),
                  "time": np.asarray(times, dtype=float)[:n], "v_read": voltage,
                  "current": current,
                  "conductance": conductance(params.read_voltage, np.asarray(current),
                                             params.series_resistance or 0.0),
                  "temperature": np.full(n, temperature),
                  "temperature_measured": np.full(n, measured)})

    # -- analysis --------------------------------------------------------------------------------
    def analyse(self, data: pd.DataFrame, params: RetentionParameters) -> Analysis:
        states = params.states.split(",")
        rows, fits = [], []
        retain = data[data["phase"] == RETAIN] if len(data) else data
        medians = {name: float(np.nanmedian(retain[retain["state"] == i]["conductance"]))
                   if len(retain) and (retain["state"] == i).any() else np.nan
                   for i, name in enumerate(states)}
        floor = medians.get("HRS", np.nan)
        for index, name in enumerate(states):
            rows.append(self._state(data, index, name, floor, params, fits))
        first = rows[states.index("LRS")] if "LRS" in states else rows[0] if rows else {}
        on_off = (Estimate(medians["LRS"] / floor, None, "") if np.isfinite(floor)
                  and floor > 0 and np.isfinite(medians.get("LRS", np.nan))
                  else Estimate.missing("", "needs finite LRS and HRS reads"))
        figures = {key: first.get(key, Estimate.missing(unit, "no reads"))
                   for key, unit in self.figures.items() if key != "on_off"}
        figures["on_off"] = on_off
        details = pd.DataFrame([{k: (v.value if isinstance(v, Estimate) else v)
                                 for k, v in row.items()} for row in rows])
        curves = pd.concat(fits, ignore_index=True) if fits else None
        return Analysis(figures, details, {"retention": curves} if curves is not None else {})

    def _state(self, data: pd.DataFrame, index: int, name: str, floor: float,
               params: RetentionParameters, fits: list[pd.DataFrame]) -> dict[str, Any]:
        rows = data[data["state"] == index] if len(data) else data
        retain = rows[rows["phase"] == RETAIN] if len(rows) else rows
        cold = rows[rows["phase"] == REFERENCE] if len(rows) else rows
        program = cold if len(cold) else rows[rows["phase"] == PROGRAM] if len(rows) else rows
        t = retain["time"].to_numpy(float) if len(retain) else np.empty(0)
        g = retain["conductance"].to_numpy(float) if len(retain) else np.empty(0)
        drift = fit_drift(t, g, floor if name == "LRS" else None)
        stretched = fit_stretched_exponential(t, g)
        settled = program["conductance"].to_numpy(float)[len(program) // 2:]
        finite = settled[np.isfinite(settled)]
        reference = float(finite.mean()) if finite.size else None
        spread = float(finite.std(ddof=1) / np.sqrt(finite.size)) if finite.size > 1 else None
        ratio = params.min_ratio if name == "LRS" else None
        t_fail = failure_time(t, g, reference, params.max_change, floor if ratio else None,
                              ratio, reference_uncertainty=spread)
        temps = retain["temperature"].to_numpy(float) if len(retain) else np.empty(0)
        temperature = (Estimate(float(np.nanmean(temps)), float(np.nanstd(temps)), "K",
                                "measured" if bool(retain["temperature_measured"].all())
                                else "nominal")
                       if np.isfinite(temps).any() else Estimate.missing("K", "no reads"))
        if drift.nu.ok and t.size:
            grid = np.geomspace(t.min(), t.max(), 100)
            fits.append(pd.DataFrame({"time": grid, "conductance": drift.curve(grid),
                                      "label": f"{name} drift fit"}))
        where = (f"as-programmed reads at {float(cold['temperature'].mean()):.1f} K"
                 if len(cold) else "as-programmed reads in situ")
        g0 = (Estimate(reference, spread, "S", where)
              if reference is not None and np.isfinite(reference)
              else Estimate.missing("S", "no programming read"))
        return {"state": name, "drift_nu": drift.nu, "g_programmed": g0,
                "drift_onset": drift.tau, "drift_form": drift.form, "t_fail": t_fail,
                "stretch_tau": stretched.tau, "stretch_beta": stretched.beta,
                "temperature": temperature}


def conductance(read_voltage: float, current: np.ndarray, series_resistance: float
                ) -> np.ndarray:
    """|I / V_read| with the series resistance removed (NaN where no current flows)."""
    current = np.abs(np.asarray(current, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = read_voltage / current - series_resistance
        return np.where((current > 0) & (r > 0), 1.0 / r, np.where(current > 0, np.nan, 0.0))
