"""The unchanged forming and iv-sweep protocols on a Keithley 2400 station: the simulator's ground
truth recovered through the 2400 driver, and a clean dry run on stock pyvisa-sim."""

from __future__ import annotations

from typing import Any

import pytest

from labsyn.drivers.keithley_2400 import Keithley2400
from labsyn.engine import RunState
from labsyn.errors import LimitError
from tests.pyvisa_sim_support import PYVISA_SIM, reset_library

from .conftest import run
from .truth_checks import (
    STATIONS,
    assert_dry_run_clean,
    assert_forming_recovers_truth,
    assert_iv_sweep_recovers_truth,
    open_sim_station,
)

SIM_STATION = STATIONS / "keithley_2400_sim.yaml"
PYVISA_SIM_STATION = STATIONS / "keithley_2400_pyvisa_sim.yaml"


def test_the_station_serves_te_with_a_2400() -> None:
    with open_sim_station(SIM_STATION) as station:
        assert isinstance(station.terminal("TE").driver, Keithley2400)
        assert "MODEL 2400" in station.snapshot()["instruments"]["smu"]["idn"]


@pytest.mark.parametrize("device", [0, 3])
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_sim_station(SIM_STATION, device_index=device) as station:
        assert_forming_recovers_truth(station)


def test_pulsed_forming_runs_where_the_2400_can_time_it_and_is_refused_where_not() -> None:
    pulsed = {"mode": "pulsed", "v_start": 1.0, "v_max": 5.0, "pulse_width": 1e-3,
              "r_threshold": 100e3}
    with open_sim_station(SIM_STATION, device_index=2) as station:
        # one reading: 0.5 ms
        result, _ = assert_forming_recovers_truth(station, v_step=0.1, nplc=0.01, **pulsed)
        with pytest.raises(LimitError, match=r"pulse width.*≥ 0.0023 s at NPLC 0.1"):
            run(station, "forming", v_step=0.1, **pulsed)  # the default NPLC 0.1: 2.3 ms
    assert result.figures["r_after"].value < 100e3


def test_iv_sweep_switching_voltages_match_the_crossings_of_the_same_loop() -> None:
    with open_sim_station(SIM_STATION, device_index=7) as station:
        assert run(station, "forming").status == RunState.COMPLETED
        assert_iv_sweep_recovers_truth(station, cycles=5, at_least=8)


@pytest.mark.parametrize(("name", "params"), [("iv-sweep", {"cycles": 3}), ("forming", {})])
def test_protocols_run_clean_on_stock_pyvisa_sim(name: str, params: dict[str, Any]) -> None:
    reset_library(PYVISA_SIM / "keithley_2400.yaml")  # the YAML's defaults, whatever ran before
    assert_dry_run_clean(PYVISA_SIM_STATION, name, params)
