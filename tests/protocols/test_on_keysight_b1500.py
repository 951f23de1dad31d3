"""The unchanged forming and iv-sweep protocols on a Keysight B1500A station: ground truth on the
simulated bench (labsyn-sim), a clean dry run on stock pyvisa-sim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labsyn.analysis import DRY_RUN_REASON
from labsyn.engine import Runner, RunSink, RunState
from labsyn.protocols import get_protocol
from labsyn.station import Station
from labsyn.station.config import load_station_config

from .conftest import run, truth

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
SIM_STATION = STATIONS / "keysight_b1500a_sim.yaml"
PYVISA_SIM = STATIONS / "keysight_b1500a_pyvisa_sim.yaml"
STEP = 0.02


def open_b1500(**sim: Any) -> Station:
    config = load_station_config(SIM_STATION)
    if sim:
        config = config.model_copy(update={"sim": config.sim.model_copy(update=sim)})
    return Station(config, str(SIM_STATION))


class Crossings(RunSink):
    """After each loop: how many SET / RESET crossings the device has recorded so far."""

    def __init__(self, station: Station) -> None:
        self.truth = truth(station)
        self.counts = [(len(self.truth.set_crossings), len(self.truth.reset_crossings))]

    def on_progress(self, done: float, total: float, message: str) -> None:
        self.counts.append((len(self.truth.set_crossings), len(self.truth.reset_crossings)))

    def first(self, cycle: int, kind: str) -> float | None:
        index = 0 if kind == "set" else 1
        found = self.truth.set_crossings if kind == "set" else self.truth.reset_crossings
        window = found[self.counts[cycle - 1][index]:self.counts[cycle][index]]
        return window[0] if window else None


@pytest.mark.parametrize("device", [0, 1, 3])
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_b1500(device_index=device) as station:
        assert station.terminal("TE").driver.name == "analyzer SMU1"
        result = run(station, "forming", v_step=STEP)
        recorded = truth(station)
    assert result.status == RunState.COMPLETED, result.message
    assert recorded.forming_voltage is not None
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= STEP
    assert 1e3 < result.figures["r_after"].value < 2e4


def test_iv_sweep_switching_voltages_match_the_crossings_of_each_loop() -> None:
    with open_b1500(device_index=3) as station:
        assert run(station, "forming").figures["v_form"].ok
        crossings = Crossings(station)
        result = run(station, "iv-sweep", sinks=(crossings,), cycles=4, v_step=STEP)
    assert result.status == RunState.COMPLETED, result.message
    checked = 0
    for row in result.details.itertuples():
        for kind, value in (("set", row.v_set), ("reset", row.v_reset)):
            true = crossings.first(row.cycle, kind)
            if true is None:
                assert value is None or np.isnan(value)
                continue
            assert abs(value - true) <= 2 * STEP, (kind, row.cycle, value, true)
            checked += 1
    assert checked >= 6
    assert 5 < result.figures["on_off"].value < 100


def test_pulsed_forming_runs_on_the_smu_pulse_timing() -> None:
    with open_b1500(device_index=2) as station:
        result = run(station, "forming", mode="pulsed", v_start=1.0, v_step=0.1, v_max=5.0,
                     pulse_width=1e-3, read_delay=4e-3, pulse_interval=16e-3,
                     r_threshold=100e3)
        recorded = truth(station)
    assert result.status == RunState.COMPLETED, result.message
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= 0.1


@pytest.mark.parametrize(("name", "params"), [
    ("iv-sweep", {"cycles": 3}),
    ("forming", {}),
    ("forming", {"mode": "pulsed", "v_start": 1.0, "v_step": 0.5, "v_max": 3.0,
                 "read_delay": 4e-3, "pulse_interval": 16e-3}),
])
def test_protocols_run_clean_on_stock_pyvisa_sim(name: str, params: dict[str, Any]) -> None:
    with Station.open(PYVISA_SIM) as station:
        result = Runner(station, get_protocol(name), params).run()
        errors = station.terminal("TE").driver.errors()
    assert result.status == RunState.COMPLETED, result.message
    assert errors == []
    assert result.figures and all(not f.ok and f.reason == DRY_RUN_REASON
                                  for f in result.figures.values())
