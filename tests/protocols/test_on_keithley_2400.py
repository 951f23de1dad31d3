"""The unchanged forming and iv-sweep protocols on a Keithley 2400 station: the simulator's ground
truth recovered through the 2400 driver, and a clean dry run on stock pyvisa-sim."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvisa

from labsyn.analysis import DRY_RUN_REASON
from labsyn.drivers.keithley_2400 import Keithley2400
from labsyn.engine import RunSink, RunState
from labsyn.errors import LimitError
from labsyn.station import Station
from labsyn.station.config import load_station_config

from .conftest import run, truth

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
SIM_STATION = STATIONS / "keithley_2400_sim.yaml"
PYVISA_SIM_STATION = STATIONS / "keithley_2400_pyvisa_sim.yaml"
STEP = 0.02


def open_station(**sim: Any) -> Station:
    config = load_station_config(SIM_STATION)
    if sim:
        config = config.model_copy(update={"sim": config.sim.model_copy(update=sim)})
    return Station(config, str(SIM_STATION))


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


def test_the_station_serves_te_with_a_2400() -> None:
    with open_station() as station:
        assert isinstance(station.terminal("TE").driver, Keithley2400)
        assert "MODEL 2400" in station.snapshot()["instruments"]["smu"]["idn"]


@pytest.mark.parametrize("device", [0, 3])
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_station(device_index=device) as station:
        result = run(station, "forming", v_step=STEP)
        recorded = truth(station)
    assert result.status == RunState.COMPLETED, result.message
    assert recorded.forming_voltage is not None
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= STEP
    assert result.figures["r_before"].value > 1e6
    assert 1e3 < result.figures["r_after"].value < 2e4


def test_pulsed_forming_runs_where_the_2400_can_time_it_and_is_refused_where_not() -> None:
    pulsed = {"mode": "pulsed", "v_start": 1.0, "v_step": 0.1, "v_max": 5.0,
              "pulse_width": 1e-3, "r_threshold": 100e3}
    with open_station(device_index=2) as station:
        result = run(station, "forming", nplc=0.01, **pulsed)  # one reading: 0.5 ms
        recorded = truth(station)
        with pytest.raises(LimitError, match=r"pulse width.*≥ 0.0023 s at NPLC 0.1"):
            run(station, "forming", **pulsed)  # the default NPLC 0.1: 2.3 ms per reading
    assert result.status == RunState.COMPLETED, result.message
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= 0.1
    assert result.figures["r_after"].value < 100e3


def test_iv_sweep_switching_voltages_match_the_crossings_of_the_same_loop() -> None:
    with open_station(device_index=7) as station:
        assert run(station, "forming").status == RunState.COMPLETED
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


@pytest.mark.parametrize(("name", "params"), [("iv-sweep", {"cycles": 3}), ("forming", {})])
def test_protocols_run_clean_on_stock_pyvisa_sim(name: str, params: dict[str, Any]) -> None:
    yaml_path = files("labsyn.mock_instruments.pyvisa_sim") / "keithley_2400.yaml"
    manager = pyvisa.ResourceManager(f"{yaml_path}@sim")
    manager.close()
    manager.visalib._init()  # the YAML's defaults, whatever ran before
    with Station.open(PYVISA_SIM_STATION) as station:
        result = run(station, name, **params)
        errors = station.terminal("TE").driver.errors()
    assert result.status == RunState.COMPLETED, result.message
    assert errors == []  # pyvisa-sim queues an error for any command it does not know
    assert result.figures and all(not f.ok and f.reason == DRY_RUN_REASON
                                  for f in result.figures.values())
