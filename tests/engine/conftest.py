"""A simulated one-SMU station and small test protocols for the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from labsyn.drivers.sequence import Sequence, Staircase
from labsyn.protocols.base import Analysis, PlotSpec, Protocol, ProtocolParameters, param
from labsyn.station import Station
from labsyn.station.config import load_station_config
from labsyn.store import Column

from .served import served_bench  # noqa: F401 - fixture for the served-simulator tests

ROOT = Path(__file__).resolve().parents[2]
SIM_STATION = ROOT / "examples" / "stations" / "keithley_2450_sim.yaml"


def open_station(clock: str = "instant", speedup: float = 100.0, **sim: Any) -> Station:
    config = load_station_config(SIM_STATION)
    update: dict[str, Any] = {"clock": clock, "speedup": speedup}
    if sim:
        update["sim"] = config.sim.model_copy(update=sim)
    return Station(config.model_copy(update=update), str(SIM_STATION))


def output_of(station: Station) -> str:
    """What the simulated 2450 itself says about its output."""
    (state,) = station.bench.status().values()
    return state["output"]


@pytest.fixture
def station() -> Iterator[Station]:
    with open_station() as opened:
        yield opened


@pytest.fixture
def paced_station() -> Iterator[Station]:
    with open_station("paced", speedup=10.0, device="resistor") as opened:
        yield opened


class SweepParameters(ProtocolParameters):
    points: int = param(200, "", "staircase points", ge=1, le=10_000)
    level: float = param(1.0, "V", "top of the staircase", gt=0, le=20)
    dwell: float = param(0.01, "s", "per step", gt=0, le=1)
    blocks: int = param(1, "", "staircases, checkpoint between", ge=1, le=100)
    fail_in_block: int = param(0, "", "raise in this block (0: never)", ge=0)
    sleep: float = param(0.0, "s", "ctx.sleep before each block", ge=0)


class SweepProtocol(Protocol):
    """A staircase on TE per block, output on at the start, for engine tests."""

    name: ClassVar[str] = "test-sweep"
    title: ClassVar[str] = "test sweep"
    Parameters = SweepParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("block", "", "i4"), Column("time", "s"), Column("voltage", "V"),
        Column("current", "A"))
    plots: ClassVar[tuple[PlotSpec, ...]] = ()
    figures: ClassVar[dict[str, str]] = {"rows": ""}

    def check(self, params: SweepParameters, station: Any) -> None:
        station.check_voltage("TE", params.level)

    def run(self, ctx: Any) -> None:
        p: SweepParameters = ctx.params
        smu = ctx.station.terminal("TE").driver
        smu.apply_voltage(0.1, 1e-3)
        staircase = Staircase(tuple(np.linspace(0, p.level, p.points)), p.dwell, 1e-3)
        for block in range(1, p.blocks + 1):
            ctx.checkpoint()
            if p.sleep:
                ctx.sleep(p.sleep)
            if block == p.fail_in_block:
                raise RuntimeError(f"protocol bug in block {block}")
            data = smu.run(Sequence("TE", (staircase,), nplc=0.01), ctx.should_abort)
            ctx.emit({"block": np.full(len(data), block), "time": data.time,
                      "voltage": data.source, "current": data.current})
            ctx.progress(block, p.blocks)
            if data.aborted:
                ctx.checkpoint()

    def analyse(self, data: pd.DataFrame, params: Any) -> Analysis:
        from labsyn.analysis import Estimate

        return Analysis({"rows": Estimate(float(len(data)), None, "")})
