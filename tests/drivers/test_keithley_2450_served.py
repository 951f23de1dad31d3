"""The same driver code drives the served simulator through pyvisa-py over loopback TCP."""

from __future__ import annotations

import numpy as np
import pytest

from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.drivers.sequence import Sequence, Staircase
from labsyn.mock_instruments.bench import single_smu_bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.resistor import Resistor
from labsyn.mock_instruments.server import serve_bench


@pytest.fixture
def served_smu():  # type: ignore[no-untyped-def]
    sim = SimKeithley2450()
    bench = single_smu_bench("GPIB0::24::INSTR", sim, Resistor(10e3), clock_mode="real")
    with serve_bench(bench) as server:
        (_, socket_address), = server.addresses
        smu = Keithley2450(socket_address, visa_library="@py")
        yield smu, sim, bench
        smu.adapter.close()


def test_driver_over_pyvisa_py_sources_measures_sweeps_and_switches_off(served_smu) -> None:  # type: ignore[no-untyped-def]
    smu, sim, bench = served_smu
    assert smu.id.startswith("KEITHLEY INSTRUMENTS,MODEL 2450")
    smu.apply_voltage(1.0, 1e-5)
    reading = smu.measure()
    assert reading.limited and reading.current == pytest.approx(1e-5, rel=1e-12)
    data = smu.run(Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.1, 0.0, 1e-3),), nplc=0.01))
    assert np.allclose(data.current, data.source / 10e3, rtol=1e-3, atol=1e-9)
    smu.write(":ABOR;:SOUR:VOLT 0;:OUTP OFF")
    assert smu.ask(":OUTP?") == "0"
    assert not sim.channel.state_at(bench.clock.now()).on
