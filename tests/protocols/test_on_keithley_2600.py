"""The forming and iv-sweep protocols, unchanged, on a Keithley 2636B station: smua on TE, smub
on BE. They recover the simulator's ground truth as on the 2450, and dry-run on pyvisa-sim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labsyn.analysis import DRY_RUN_REASON
from labsyn.engine import Runner, RunState
from labsyn.protocols import get_protocol
from labsyn.station import Station
from labsyn.station.config import load_station_config

from .conftest import run, run_with_data, truth
from .test_iv_sweep import CrossingsPerCycle

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
SIM_STATION = STATIONS / "keithley_2636b_sim.yaml"
PYVISA_SIM_STATION = STATIONS / "keithley_2636b_pyvisa_sim.yaml"
STEP = 0.02


def open_2636b(**sim: Any) -> Station:
    config = load_station_config(SIM_STATION)
    if sim:
        config = config.model_copy(update={"sim": config.sim.model_copy(update=sim)})
    return Station(config, str(SIM_STATION))


def test_the_station_binds_te_to_smua_and_be_to_smub() -> None:
    with open_2636b() as station:
        te, be = station.terminal("TE").driver, station.terminal("BE").driver
        assert (te.smu, be.smu) == ("smua", "smub") and te.parent is be.parent
        (simulator,) = station.bench.instruments.values()
        dut = station.bench.timeline.duts[0]
        assert dut.terminals == {"TE": simulator.channels_by_number[1],
                                 "BE": simulator.channels_by_number[2]}


@pytest.mark.parametrize("device", [1, 2, 4])
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_2636b(device_index=device) as station:
        result, data = run_with_data(station, "forming", v_step=STEP)
        recorded = truth(station)
        assert station.terminal("BE").driver.source_voltage == 0.0
    assert result.status == RunState.COMPLETED, result.message
    assert recorded.forming_voltage is not None
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= STEP
    ramp = data[data["phase"] == 1]
    assert ramp["limited"].sum() == 1 and bool(ramp["limited"].iloc[-1])  # stopped at the trip
    assert 1e3 < result.figures["r_after"].value < 2e4


@pytest.mark.parametrize("device", [0, 3])
def test_switching_voltages_match_the_crossings_of_the_same_loop(device: int) -> None:
    with open_2636b(device_index=device) as station:
        formed = run(station, "forming")
        assert formed.figures["v_form"].ok, formed.figures["v_form"].reason
        crossings = CrossingsPerCycle(station)
        result = run(station, "iv-sweep", sinks=(crossings,), cycles=5, v_step=STEP)
    assert result.status == RunState.COMPLETED, result.message
    checked = 0
    for row in result.details.itertuples():
        for kind, value in (("set", row.v_set), ("reset", row.v_reset)):
            true = crossings.in_cycle(row.cycle, kind)
            if not true:
                assert value is None or np.isnan(value)
                continue
            assert abs(value - true[0]) <= 2 * STEP, (kind, row.cycle, value, true)
            checked += 1
    assert checked >= 8
    assert 5 < result.figures["on_off"].value < 100


@pytest.mark.parametrize(("name", "params"), [
    ("iv-sweep", {"cycles": 3}),
    ("forming", {}),
    ("forming", {"mode": "pulsed", "v_start": 1.0, "v_step": 0.5, "v_max": 3.0}),
])
def test_protocols_dry_run_clean_on_stock_pyvisa_sim(name: str, params: dict) -> None:
    with Station.open(PYVISA_SIM_STATION) as station:
        runner = Runner(station, get_protocol(name), params)
        result = runner.run()
        errors = station.terminal("TE").driver.errors()
    assert result.status == RunState.COMPLETED, result.message
    assert errors == []
    assert result.figures and all(not f.ok and f.reason == DRY_RUN_REASON
                                  for f in result.figures.values())
    if params.get("mode") == "pulsed":  # the longest branch: every pulse of the ramp
        assert runner.data()["step"].max() == 5
