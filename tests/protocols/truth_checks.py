"""The ground-truth checks every instrument's station must pass with the unchanged protocols.

Forming reports the forming voltage the simulated device recorded, within one ramp step; an
iv-sweep's V_set / V_reset fall within two steps of the crossings the device recorded in the same
loop; a dry run on stock pyvisa-sim completes with every command accepted and no physical numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labsyn.analysis import DRY_RUN_REASON
from labsyn.engine import Runner, RunResult, RunSink, RunState
from labsyn.protocols import get_protocol
from labsyn.station import Station
from labsyn.station.config import load_station_config

from .conftest import run, run_with_data, truth

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
STEP = 0.02  # the ramp and sweep step the checks run with


def open_sim_station(path: Path, **sim: Any) -> Station:
    """A labsyn-sim station file, with its `sim:` section updated by `sim` (e.g. device_index)."""
    config = load_station_config(path)
    if sim:
        config = config.model_copy(update={"sim": config.sim.model_copy(update=sim)})
    return Station(config, str(path))


class CrossingsPerCycle(RunSink):
    """After each loop: how many SET / RESET crossings the device has recorded so far."""

    def __init__(self, station: Station) -> None:
        self.truth = truth(station)
        self.counts = [(len(self.truth.set_crossings), len(self.truth.reset_crossings))]

    def on_progress(self, done: float, total: float, message: str) -> None:
        self.counts.append((len(self.truth.set_crossings), len(self.truth.reset_crossings)))

    def in_cycle(self, cycle: int, kind: str) -> list[float]:
        index = 0 if kind == "set" else 1
        crossings = self.truth.set_crossings if kind == "set" else self.truth.reset_crossings
        return crossings[self.counts[cycle - 1][index]:self.counts[cycle][index]]


def assert_forming_recovers_truth(station: Station, v_step: float = STEP,
                                  **params: Any) -> tuple[RunResult, pd.DataFrame]:
    """Forming with `params` reports the device's true forming voltage within one `v_step`;
    a DC ramp also finds the pristine cell insulating and the formed one in LRS."""
    result, data = run_with_data(station, "forming", v_step=v_step, **params)
    recorded = truth(station)
    assert result.status == RunState.COMPLETED, result.message
    assert recorded.forming_voltage is not None, "the simulated device never formed"
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= v_step
    if params.get("mode", "dc") == "dc":
        assert result.figures["r_before"].value > 1e6  # pristine: insulating
        # post-forming LRS ≈ V_min / I_cc (reference: 0.4 V / 100 µA = 4 kΩ), read at 0.2 V
        assert 1e3 < result.figures["r_after"].value < 2e4
    return result, data


def assert_iv_sweep_recovers_truth(station: Station, cycles: int, at_least: int,
                                   v_step: float = STEP) -> RunResult:
    """An iv-sweep of `cycles` loops on a formed cell: V_set / V_reset within two steps of the
    first crossing the device recorded in the same loop (`at_least` of them found), and none
    reported where the device did not switch."""
    crossings = CrossingsPerCycle(station)
    result = run(station, "iv-sweep", sinks=(crossings,), cycles=cycles, v_step=v_step)
    assert result.status == RunState.COMPLETED, result.message
    checked = 0
    for row in result.details.itertuples():
        for kind, value in (("set", row.v_set), ("reset", row.v_reset)):
            true = crossings.in_cycle(row.cycle, kind)
            if not true:  # e.g. no SET in loop 1: forming left the cell in LRS
                assert value is None or np.isnan(value)
                continue
            assert abs(value - true[0]) <= 2 * v_step, (kind, row.cycle, value, true)
            checked += 1
    assert checked >= at_least
    assert 5 < result.figures["on_off"].value < 100
    return result


def assert_dry_run_clean(station_path: Path, name: str, params: dict[str, Any]) -> Runner:
    """Protocol `name` on a stock pyvisa-sim station: completes, every command accepted (the
    TE driver's error queue is empty) and every figure withheld as a dry run's."""
    with Station.open(station_path) as station:
        runner = Runner(station, get_protocol(name), params)
        result = runner.run()
        errors = station.terminal("TE").driver.errors()
    assert result.status == RunState.COMPLETED, result.message
    assert errors == []  # pyvisa-sim queues an error for any command it does not know
    assert result.figures and all(not f.ok and f.reason == DRY_RUN_REASON
                                  for f in result.figures.values())
    return runner
