"""The unchanged forming and iv-sweep protocols on a Keysight B1500A station: ground truth on the
simulated bench (labsyn-sim), a clean dry run on stock pyvisa-sim."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import run
from .truth_checks import (
    STATIONS,
    assert_dry_run_clean,
    assert_forming_recovers_truth,
    assert_iv_sweep_recovers_truth,
    open_sim_station,
)

SIM_STATION = STATIONS / "keysight_b1500a_sim.yaml"
PYVISA_SIM = STATIONS / "keysight_b1500a_pyvisa_sim.yaml"


@pytest.mark.parametrize("device", [0, 1, 3])
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_sim_station(SIM_STATION, device_index=device) as station:
        assert station.terminal("TE").driver.name == "analyzer SMU1"
        assert_forming_recovers_truth(station)


def test_iv_sweep_switching_voltages_match_the_crossings_of_each_loop() -> None:
    with open_sim_station(SIM_STATION, device_index=3) as station:
        assert run(station, "forming").figures["v_form"].ok
        assert_iv_sweep_recovers_truth(station, cycles=4, at_least=6)


def test_pulsed_forming_runs_on_the_smu_pulse_timing() -> None:
    with open_sim_station(SIM_STATION, device_index=2) as station:
        assert_forming_recovers_truth(station, v_step=0.1, mode="pulsed", v_start=1.0,
                                      v_max=5.0, pulse_width=1e-3, read_delay=4e-3,
                                      pulse_interval=16e-3, r_threshold=100e3)


@pytest.mark.parametrize(("name", "params"), [
    ("iv-sweep", {"cycles": 3}),
    ("forming", {}),
    ("forming", {"mode": "pulsed", "v_start": 1.0, "v_step": 0.5, "v_max": 3.0,
                 "read_delay": 4e-3, "pulse_interval": 16e-3}),
])
def test_protocols_run_clean_on_stock_pyvisa_sim(name: str, params: dict[str, Any]) -> None:
    assert_dry_run_clean(PYVISA_SIM, name, params)
