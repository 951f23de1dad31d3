"""Fibre alignment on the photocurrent: reference the stage if needed, a coarse spiral area scan
in X Y around the present pose, then a gradient (compass) search on the chosen axes, optionally
Z and the tilts U V (about the pivot, set at the fibre tip). Host-side: for any `Positioner6D`
read by the source-measure unit on TE at a small bias. Reports the pose, the peak signal, the
final signal relative to the best found, and the number of stage moves."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from pydantic import field_validator

from labsyn.analysis import Estimate
from labsyn.drivers.alignment import gradient_search, spiral_scan
from labsyn.drivers.capabilities import AbortCheck, Pose, Positioner6D
from labsyn.drivers.sequence import Sequence, Staircase
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, ProtocolParameters, param
from .common import check_parameters, check_sequence, source_meter

SPIRAL, GRADIENT, FINAL = 1, 2, 3
POSE_AXES = ("x", "y", "z", "u", "v", "w")
ANGULAR = ("u", "v")


class AlignParameters(ProtocolParameters):
    axes: str = param("xy", "", "gradient-search axes, letters of xyzuv (spiral: always x y)")
    spiral_radius: float = param(60.0, "µm", "coarse spiral scan radius", gt=0.0, le=2000.0)
    spiral_step: float = param(8.0, "µm", "spiral point and turn spacing (≲ 1.5 mode radii)",
                               gt=0.0, le=500.0)
    gradient_step: float = param(2.0, "µm", "first X Y Z step of the gradient search",
                                 gt=0.0, le=100.0)
    min_step: float = param(0.1, "µm", "X Y Z step at which the gradient search stops",
                            gt=0.0, le=100.0)
    angle_step: float = param(0.5, "°", "first U V step of the gradient search", gt=0.0, le=5.0)
    min_angle_step: float = param(0.02, "°", "U V step at which it stops", gt=0.0, le=5.0)
    max_moves: int = param(500, "", "stage moves allowed in all", ge=2, le=100_000)
    bias: float = param(0.1, "V", "bias on TE while reading the photocurrent", ge=-20.0,
                        le=20.0)
    compliance: float = param(1e-4, "A", "current limit while reading", gt=0.0, le=1.0)
    nplc: float = param(0.1, "PLC", "integration time per reading", ge=0.01, le=10.0)

    @field_validator("axes")
    @classmethod
    def _axes(cls, value: str) -> str:
        letters = value.strip().lower()
        if not letters or any(a not in "xyzuv" for a in letters) or len(set(letters)) != len(
                letters):
            raise ValueError("letters of x y z u v, each at most once, e.g. xy or xyuv")
        return letters


class _CountingStage:
    """The station's stage as the alignment routines see it: a checkpoint before each move,
    the moves counted and the pose reached remembered (for each reading's row)."""

    def __init__(self, stage: Positioner6D, ctx: Any) -> None:
        self.stage, self.ctx, self.name = stage, ctx, stage.name
        self.moves = 0
        self.pose = stage.position()

    def position(self) -> Pose:
        self.pose = self.stage.position()
        return self.pose

    def move_to(self, target: Pose, should_abort: AbortCheck | None = None) -> Pose:
        self.ctx.checkpoint()
        self.pose = self.stage.move_to(target, should_abort)
        self.moves += 1
        return self.pose


class Align(Protocol):
    name: ClassVar[str] = "align"
    title: ClassVar[str] = "Fibre alignment (spiral scan + gradient search)"
    Parameters = AlignParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("phase", "", "i1", "1 spiral scan (from its centre), 2 gradient search, "
               "3 final pose"),
        Column("move", "", "i4", "stage moves made before this reading"),
        Column("time", "s", "f8", "clock time of the reading"),
        *(Column(a, "mm" if a in "xyz" else "°", "f8", f"stage {a.upper()} at the reading")
          for a in POSE_AXES),
        Column("voltage", "V", "f8", "bias readback"),
        Column("current", "A", "f8", "photocurrent"),
        Column("limited", "", "bool", "the reading was in compliance"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("scan", "Scan path (X vs Y; current: see the signal plot)", "x", "y",
                 group="phase"),
        PlotSpec("signal", "Photocurrent at each move", "move", "current", group="phase",
                 y_log=True, abs_y=True),
    )
    figures: ClassVar[dict[str, str]] = {
        **{a: "mm" if a in "xyz" else "°" for a in POSE_AXES},
        "peak_current": "A", "final_current": "A", "relative_coupling": "", "moves": ""}

    def check(self, params: AlignParameters, station: Any) -> None:
        if params.spiral_step > params.spiral_radius:
            raise ConfigError(f"align: spiral_step = {params.spiral_step:g} µm must not exceed "
                              f"spiral_radius = {params.spiral_radius:g} µm")
        if params.min_step > params.gradient_step or params.min_angle_step > params.angle_step:
            raise ConfigError("align: min_step / min_angle_step must not exceed gradient_step / "
                              "angle_step")
        stage = station.stage  # ConfigError unless the station has exactly one 6-D stage
        if not isinstance(stage, Positioner6D):
            raise ConfigError(f"align needs a 6-D stage; {type(stage).__name__} is not one")
        check_parameters(station, self.terminal, self.name, {"bias": params.bias},
                         {"compliance": params.compliance})
        check_sequence(station, self._read(params), self.name, "bias, compliance, nplc")

    def _read(self, params: AlignParameters) -> Sequence:
        return Sequence(self.terminal, (Staircase((params.bias,), 0.0, params.compliance,
                                                  "photocurrent read"),), params.nplc)

    # -- procedure -------------------------------------------------------------------------------
    def run(self, ctx: Any) -> None:
        params: AlignParameters = ctx.params
        smu = source_meter(ctx.station, self.terminal, self.name)
        driver = ctx.station.stage
        if not driver.referenced():
            ctx.progress(0, 4, "referencing the stage")
            driver.reference(ctx.should_abort)
            ctx.checkpoint()
        stage = _CountingStage(driver, ctx)
        smu.apply_voltage(params.bias, params.compliance)
        phase = SPIRAL

        def read_signal() -> float:
            ctx.checkpoint()
            reading = smu.measure()
            ctx.emit({"phase": phase, "move": stage.moves, "time": ctx.clock.now(),
                      **stage.pose.as_dict(), "voltage": reading.voltage,
                      "current": reading.current, "limited": reading.limited})
            return float(reading.current)

        ctx.progress(1, 4, "spiral scan")
        coarse = spiral_scan(stage, read_signal, params.spiral_radius * 1e-3,
                             params.spiral_step * 1e-3, ("x", "y"), ctx.should_abort,
                             max_moves=params.max_moves)
        ctx.checkpoint()
        ctx.progress(2, 4, f"gradient search from {coarse.signal:.3g} A")
        phase = GRADIENT
        axes = tuple(params.axes)
        steps = {a: params.angle_step if a in ANGULAR else params.gradient_step * 1e-3
                 for a in axes}
        floors = {a: params.min_angle_step if a in ANGULAR else params.min_step * 1e-3
                  for a in axes}
        left = params.max_moves - stage.moves
        if left > 0:
            gradient_search(stage, read_signal, axes, steps, floors, ctx.should_abort,
                            max_moves=left)
        ctx.checkpoint()
        phase = FINAL
        stage.position()
        read_signal()
        smu.apply_voltage(0.0, params.compliance)
        ctx.progress(4, 4, f"aligned in {stage.moves} moves")

    # -- analysis --------------------------------------------------------------------------------
    def analyse(self, data: pd.DataFrame, params: AlignParameters) -> Analysis:
        final = data[data["phase"] == FINAL]
        if not len(final):
            missing = {name: Estimate.missing(unit, "the run ended before the final pose")
                       for name, unit in self.figures.items()}
            if len(data):
                missing["peak_current"] = Estimate(float(data["current"].max()), None, "A")
                missing["moves"] = Estimate(float(data["move"].max()), None, "")
            return Analysis(missing)
        last = final.iloc[-1]
        peak = float(data["current"].max())
        figures = {a: Estimate(float(last[a]), None, self.figures[a]) for a in POSE_AXES}
        figures["peak_current"] = Estimate(peak, None, "A")
        figures["final_current"] = Estimate(float(last["current"]), None, "A")
        figures["relative_coupling"] = (Estimate(float(last["current"]) / peak, None, "")
                                        if peak > 0 else
                                        Estimate.missing("", "no positive photocurrent"))
        figures["moves"] = Estimate(float(last["move"]), None, "")
        return Analysis(figures)
