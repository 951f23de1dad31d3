"""The forming and iv-sweep protocols, unchanged, on a Keithley 2636B station: smua on TE, smub
on BE. They recover the simulator's ground truth as on the 2450, and dry-run on pyvisa-sim."""

from __future__ import annotations

import pytest

from .conftest import run
from .truth_checks import (
    STATIONS,
    assert_dry_run_clean,
    assert_forming_recovers_truth,
    assert_iv_sweep_recovers_truth,
    open_sim_station,
)

SIM_STATION = STATIONS / "keithley_2636b_sim.yaml"
PYVISA_SIM_STATION = STATIONS / "keithley_2636b_pyvisa_sim.yaml"


def test_the_station_binds_te_to_smua_and_be_to_smub() -> None:
    with open_sim_station(SIM_STATION) as station:
        te, be = station.terminal("TE").driver, station.terminal("BE").driver
        assert (te.smu, be.smu) == ("smua", "smub") and te.parent is be.parent
        (simulator,) = station.bench.instruments.values()
        dut = station.bench.timeline.duts[0]
        assert dut.terminals == {"TE": simulator.channels_by_number[1],
                                 "BE": simulator.channels_by_number[2]}


@pytest.mark.parametrize("device", [1, 2, 4])
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_sim_station(SIM_STATION, device_index=device) as station:
        _, data = assert_forming_recovers_truth(station)
        assert station.terminal("BE").driver.source_voltage == 0.0
    ramp = data[data["phase"] == 1]
    assert ramp["limited"].sum() == 1 and bool(ramp["limited"].iloc[-1])  # stopped at the trip


@pytest.mark.parametrize("device", [0, 3])
def test_switching_voltages_match_the_crossings_of_the_same_loop(device: int) -> None:
    with open_sim_station(SIM_STATION, device_index=device) as station:
        formed = run(station, "forming")
        assert formed.figures["v_form"].ok, formed.figures["v_form"].reason
        assert_iv_sweep_recovers_truth(station, cycles=5, at_least=8)


@pytest.mark.parametrize(("name", "params"), [
    ("iv-sweep", {"cycles": 3}),
    ("forming", {}),
    ("forming", {"mode": "pulsed", "v_start": 1.0, "v_step": 0.5, "v_max": 3.0}),
])
def test_protocols_dry_run_clean_on_stock_pyvisa_sim(name: str, params: dict) -> None:
    runner = assert_dry_run_clean(PYVISA_SIM_STATION, name, params)
    if params.get("mode") == "pulsed":  # the longest branch: every pulse of the ramp
        assert runner.data()["step"].max() == 5
