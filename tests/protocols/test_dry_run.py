"""Dry runs on stock pyvisa-sim: every command accepted, longest branch, no physical numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from labsyn.analysis import DRY_RUN_REASON
from labsyn.engine import Runner, RunState
from labsyn.protocols import get_protocol
from labsyn.station import Station

PYVISA_SIM = Path(__file__).resolve().parents[2] / "examples/stations/keithley_2450_pyvisa_sim.yaml"


@pytest.mark.parametrize(("name", "params"), [
    ("iv-sweep", {"cycles": 3}),
    ("iv-sweep", {"v_set": 0.02, "v_reset": 0.02, "v_read": 0.01}),  # 3 levels, 5 static rows
    ("forming", {}),
    ("forming", {"v_max": 0.06, "read_voltage": 0.05}),
    ("forming", {"mode": "pulsed", "v_start": 1.0, "v_step": 0.5, "v_max": 3.0}),
])
def test_protocols_run_clean_on_stock_pyvisa_sim(name: str, params: dict) -> None:
    with Station.open(PYVISA_SIM) as station:
        runner = Runner(station, get_protocol(name), params)
        result = runner.run()
        errors = station.terminal("TE").driver.errors()
    assert result.status == RunState.COMPLETED, result.message
    assert errors == []  # pyvisa-sim queues an error for any command it does not know
    assert result.figures and all(not f.ok and f.reason == DRY_RUN_REASON
                                  for f in result.figures.values())
    if params.get("mode") == "pulsed":  # the longest branch: every pulse of the ramp
        assert runner.data()["step"].max() == 5
