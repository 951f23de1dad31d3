"""Shared fixtures: simulated benches with a Keithley 2450 and its driver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.drivers.sequence import Sequence, Staircase, bipolar_loop
from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.presets import HFOX
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::24::INSTR"


@dataclass
class Rig:
    bench: Bench
    sim: SimKeithley2450
    device: Any
    smu: Keithley2450


def make_rig(device: Any, series_resistance: float = 0.0, **bench_kwargs: Any) -> Rig:
    sim = SimKeithley2450()
    bench = single_smu_bench(ADDRESS, sim, device, series_resistance, **bench_kwargs)
    smu = Keithley2450(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    return Rig(bench, sim, device, smu)


@pytest.fixture
def resistor_rig() -> Iterator[Rig]:
    """A 2450 sourcing into a 10 kΩ resistor."""
    rig = make_rig(Resistor(10e3))
    yield rig
    rig.smu.adapter.close()


# -- what the driver-on-bench tests (tests/drivers/test_*_sim.py) share -------------------------
COMPLIANCE = 1e-4  # the forming current limit


def hfox_cell() -> RRAMDevice:
    """The pristine HfOx cell the SMU driver tests form and switch."""
    return RRAMDevice.from_key(HFOX, 7, (0, 0), 3)


def forming_ramp(stop_on_limit: bool = True) -> Sequence:
    """0 → 4 V in 20 mV steps of 10 ms at 100 µA compliance, by default stopping at the trip."""
    ramp = Staircase.ramp(0.0, 4.0, 0.02, 0.01, COMPLIANCE, label="forming",
                          stop_on_limit=stop_on_limit)
    return Sequence("TE", (ramp,), nplc=0.1)


def assert_bipolar_loops_switch_at_the_device_thresholds(
        run: Callable[[Sequence], Any], device: RRAMDevice, rel: float = 1e-12) -> Any:
    """Two ±1.5 V bipolar loops on a formed cell: the device SETs and RESETs at its thresholds,
    the SET branch reaches its 5 × COMPLIANCE limit and never exceeds it. The second loop's data."""
    loop = bipolar_loop(1.5, 1.5, 0.02, 0.01, 5 * COMPLIANCE, 1e-2, nplc=0.1)
    run(loop)
    data = run(loop)
    truth = device.truth
    assert truth.set_crossings and truth.reset_crossings
    assert 0.6 <= truth.set_crossings[-1] <= 1.5
    assert -1.5 <= truth.reset_crossings[-1] <= -0.6
    set_part = data.segment == 0
    assert data.limited[set_part].any()
    assert np.all(data.current[set_part] <= 5 * COMPLIANCE * (1 + rel))
    assert np.unique(data.segment).tolist() == [0, 1]
    return data


def assert_spot_compliance_reads_the_limit(smu: Any, rel: float = 1e-6) -> None:
    """1 V at a 10 µA limit into 10 kΩ: the reading is limited at 10 µA and gives the real 0.1 V
    across the resistor, not the programmed 1 V."""
    smu.apply_voltage(1.0, 1e-5)
    reading = smu.measure()
    assert reading.limited and reading.current == pytest.approx(1e-5, rel=1e-12)
    assert reading.voltage == pytest.approx(0.1, rel=rel)
