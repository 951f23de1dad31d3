"""Shared fixtures: simulated benches with a Keithley 2450 and its driver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
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
