"""Dry runs on stock pyvisa-sim: every command accepted, longest branch, no physical numbers."""

from __future__ import annotations

import pytest

from .truth_checks import STATIONS, assert_dry_run_clean

PYVISA_SIM = STATIONS / "keithley_2450_pyvisa_sim.yaml"


@pytest.mark.parametrize(("name", "params"), [
    ("iv-sweep", {"cycles": 3}),
    ("iv-sweep", {"v_set": 0.02, "v_reset": 0.02, "v_read": 0.01}),  # 3 levels, 5 static rows
    ("forming", {}),
    ("forming", {"v_max": 0.06, "read_voltage": 0.05}),
    ("forming", {"mode": "pulsed", "v_start": 1.0, "v_step": 0.5, "v_max": 3.0}),
    ("retention", {"points": 4, "t_max": 100.0}),  # no thermal head: nominal temperature
    ("ltp-ltd", {"pulses": 10, "cycles": 2}),
    ("forming", {"mode": "pulsed", "v_start": 1.0, "v_step": 0.5, "v_max": 3.0,
                 "r_threshold": None, "trip_percent": 20.0}),
    ("switch-seeker", {"v_start": 0.5, "v_max": 1.0, "v_step": 0.25}),
    ("ppf", {"points": 3, "repeats": 1, "interval_max": 0.05}),
    ("srdp", {"points": 2, "repeats": 1, "pulses": 3, "interval_max": 0.05}),
    ("sndp", {"n_max": 3, "repeats": 1, "rest": 0.1}),
    ("volatility", {"t_max": 0.5, "stop_change": 0.5}),  # a dry run never stops early
    ("stdp", {"points": 3}),
    ("read-disturb", {"reads": 30, "block": 10}),
    ("read-disturb", {"reads": 30, "block": 10, "stress_amplitude": 0.4,
                      "program_amplitude": -1.0, "program_pulses": 3}),
    ("write-verify", {"max_pulses": 5}),
    ("multistate", {"v_stop": 0.85}),
    ("endurance", {"cycles": 6, "block_cycles": 3}),
    ("endurance", {"cycles": 30, "block_cycles": 5, "reads": "log", "reads_per_decade": 2}),
])
def test_protocols_run_clean_on_stock_pyvisa_sim(name: str, params: dict) -> None:
    runner = assert_dry_run_clean(PYVISA_SIM, name, params)
    if params.get("mode") == "pulsed":  # the longest branch: every pulse of the ramp
        assert runner.data()["step"].max() == 5
