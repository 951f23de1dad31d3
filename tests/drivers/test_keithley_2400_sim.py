"""The 2400 driver on the simulated bench: the same code path as on a real instrument."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.keithley_2400 import Keithley2400
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import (
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentReportedError,
    InstrumentTimeout,
)
from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keithley_2400 import SimKeithley2400
from labsyn.mock_instruments.resistor import Resistor
from tests.conftest import (
    COMPLIANCE,
    assert_bipolar_loops_switch_at_the_device_thresholds,
    assert_spot_compliance_reads_the_limit,
    forming_ramp,
    hfox_cell,
)

ADDRESS = "GPIB0::24::INSTR"


@dataclass
class Rig:
    bench: Bench
    sim: SimKeithley2400
    device: Any
    smu: Keithley2400
    sent: list[str]

    def output_is_off(self) -> bool:
        return not self.sim.channel.state_at(self.bench.clock.now()).on and not self.sim.running


def make_rig(device: Any, series_resistance: float = 0.0) -> Rig:
    """A 2400 on the TE of `device`; `sent` records every transaction (each starts with a write)."""
    sim = SimKeithley2400()
    bench = single_smu_bench(ADDRESS, sim, device, series_resistance)
    smu = Keithley2400(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    sent: list[str] = []
    write = smu.adapter.write
    smu.adapter.write = lambda command, **kw: (sent.append(command), write(command, **kw))[1]
    return Rig(bench, sim, device, smu, sent)


@pytest.fixture
def rram() -> Rig:
    return make_rig(hfox_cell(), series_resistance=100.0)


@pytest.fixture
def resistor() -> Iterator[Rig]:
    """A 2400 sourcing into a 10 kΩ resistor."""
    rig = make_rig(Resistor(10e3))
    yield rig
    rig.smu.adapter.close()


def form(rig: Rig) -> Any:
    return rig.smu.run(forming_ramp())


def test_forming_ramp_stops_at_the_first_reading_in_compliance(rram: Rig) -> None:
    data = form(rram)
    truth = rram.device.truth
    assert rram.device.formed
    assert data.limited[-1] and not data.limited[:-1].any()  # :SOUR:SWE:CAB LATE
    programmed = np.linspace(0.0, 4.0, 201)
    assert abs(programmed[len(data) - 1] - truth.forming_voltage) <= 0.02
    assert data.current[-1] == pytest.approx(COMPLIANCE, rel=1e-12)
    assert np.all(np.abs(data.current[:-1]) < 0.01 * COMPLIANCE)
    assert data.source[-1] < programmed[len(data) - 1]  # measured voltage sags in compliance
    assert np.allclose(np.diff(data.time), 0.01, rtol=1e-6)


def test_bipolar_loops_switch_at_the_device_thresholds(rram: Rig) -> None:
    form(rram)
    data = assert_bipolar_loops_switch_at_the_device_thresholds(rram.smu.run, rram.device)
    assert len(data) == 302


def test_pulse_train_reads_after_every_pulse_and_potentiates(rram: Rig) -> None:
    form(rram)
    rram.smu.run(Sequence("TE", (Staircase.ramp(0.0, -1.6, 0.02, 0.01, 1e-2),)))
    train = PulseTrain.identical(0.85, 40, 2e-3, 10e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)
    data = rram.smu.run(Sequence("TE", (train,), nplc=0.01))
    assert len(data) == 40
    assert np.allclose(np.diff(data.time), 10e-3, atol=1e-9)
    assert np.allclose(data.source, 0.1)
    assert data.current[-10:].mean() > 1.2 * data.current[:10].mean()


@pytest.mark.parametrize(("width", "read_delay", "read_cycles"), [
    (1e-3, 0.3e-3, 1), (2.5e-3, 0.3e-3, 1), (1e-3, 1e-3, 2), (1e-3, 2.2e-3, 3)])
def test_the_device_sees_pulses_of_the_programmed_width(resistor: Rig, width: float,
                                                        read_delay: float, read_cycles: int
                                                        ) -> None:
    train = PulseTrain.identical(1.0, 10, width, 20e-3, 1e-3, read_level=0.1,
                                 read_delay=read_delay)
    before = resistor.device.energy_j
    data = resistor.smu.run(Sequence("TE", (train,), nplc=0.01))
    energy = resistor.device.energy_j - before
    # the pulse, then the read level for `read_cycles` widths (the last one measured), base 0 V
    per_pulse = (1.0**2 + read_cycles * 0.1**2) / 10e3 * width
    assert energy == pytest.approx(10 * per_pulse, rel=1e-6)
    assert len(data) == 10 and np.allclose(data.current, 1e-5, rtol=1e-3)


def test_stepped_amplitudes_go_as_lists_and_a_write_only_train_reports_nothing(resistor: Rig
                                                                               ) -> None:
    amplitudes = tuple(np.linspace(0.5, 0.9, 150))
    train = PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.2e-3)
    data = resistor.smu.run(Sequence("TE", (train,), nplc=0.01))
    assert len(data) == 150 and np.allclose(data.current, 1e-5, rtol=1e-3)
    assert sum(m.count(":SOUR:LIST:VOLT") for m in resistor.sent) == 5  # 450 values, 100 each
    assert resistor.sim.lists["VOLT"][:3] == [0.5, 0.1, 0.0]
    before = resistor.device.energy_j
    silent = PulseTrain.identical(-1.0, 20, 1e-3, 3e-3, 1e-3)
    assert len(resistor.smu.run(Sequence("TE", (silent,), nplc=0.01))) == 0
    assert resistor.device.energy_j - before == pytest.approx(20 * 1e-3 / 10e3, rel=1e-6)


def transactions(rig: Rig, run: Any) -> int:
    start = len(rig.sent)
    run()
    return len(rig.sent) - start


def test_thousand_pulse_train_costs_at_most_5_plus_n_over_100_transactions(resistor: Rig
                                                                          ) -> None:
    train = PulseTrain.identical(1.0, 1000, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.2e-3)
    data: list[Any] = []
    count = transactions(resistor, lambda: data.append(
        resistor.smu.run(Sequence("TE", (train,), nplc=0.01))))
    assert len(data[0]) == 1000 and np.allclose(data[0].current, 1e-5, rtol=1e-3)
    assert count <= 5 + math.ceil(1000 / 100)
    assert sum(c == ":INIT" for c in resistor.sent) == 2  # 2500 readings per run: 833 + 167
    intervals = np.diff(data[0].time)
    assert np.allclose(np.delete(intervals, 832), 5e-3, atol=1e-9)
    assert intervals[832] >= 5e-3  # the buffer read between the two runs: never sooner


def test_thousand_point_staircase_is_one_init_and_one_buffer_read(resistor: Rig) -> None:
    resistor.smu.line_frequency  # noqa: B018 - asked once per driver, not per run
    step = Staircase.ramp(-1.0, 1.0, 2.0 / 999, 0.0, 1e-3)
    data: list[Any] = []
    count = transactions(resistor, lambda: data.append(
        resistor.smu.run(Sequence("TE", (step,), nplc=0.01))))
    assert len(data[0]) == 1000 and count == 6  # configure, errors, INIT, idle?, data, errors
    assert np.allclose(data[0].current, data[0].source / 10e3, rtol=1e-3, atol=1e-9)


def test_staircases_longer_than_the_buffer_run_in_pieces(resistor: Rig) -> None:
    levels = tuple(np.tile([0.1, 0.2, 0.3], 1000))
    data = resistor.smu.run(Sequence("TE", (Staircase(levels, 0.0, 1e-3),), nplc=0.01))
    assert len(data) == 3000 and np.allclose(data.source, levels)
    assert sum(c == ":INIT" for c in resistor.sent) == 2


def test_spot_compliance_on_a_resistor_reads_the_limit_and_the_real_voltage(resistor: Rig
                                                                            ) -> None:
    assert_spot_compliance_reads_the_limit(resistor.smu)
    resistor.smu.apply_voltage(0.5, 1e-3)
    assert resistor.smu.measure().current == pytest.approx(5e-5, rel=1e-3)


def test_measure_after_a_sweep_reads_at_the_bias_level(resistor: Rig) -> None:
    resistor.smu.apply_voltage(0.2, 1e-3)
    resistor.smu.run(Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.1, 0.001, 1e-3),), nplc=0.01))
    reading = resistor.smu.measure()
    assert reading.voltage == pytest.approx(0.2) and not reading.limited


def test_timeout_surfaces_naming_instrument_and_command_and_clear_recovers(resistor: Rig
                                                                          ) -> None:
    resistor.bench.faults.inject(ADDRESS, ":SOURCE:VOLTAGE?", "timeout")
    with pytest.raises(InstrumentTimeout) as info:
        _ = resistor.smu.source_voltage
    assert info.value.instrument == "Keithley 2400" and info.value.command == ":SOURCE:VOLTAGE?"
    resistor.smu.clear_interface()
    assert resistor.smu.source_voltage == 0.0


def test_lost_connection_names_the_instrument(resistor: Rig) -> None:
    resistor.bench.faults.inject(ADDRESS, ":OUTP ON", "disconnect")
    with pytest.raises(InstrumentCommunicationError, match="Keithley 2400.*:OUTP ON.*lost"):
        resistor.smu.apply_voltage(0.5, 1e-3)


def test_instrument_error_during_configuration_stops_the_run(resistor: Rig) -> None:
    resistor.bench.faults.inject(ADDRESS, ":SOUR:SWE:POIN", "error",
                                 error=(-221, "Settings conflict"))
    with pytest.raises(InstrumentReportedError, match="-221"):
        resistor.smu.run(Sequence("TE", (Staircase.ramp(0, 1, 0.1, 0.0, 1e-3),)))
    assert ":INIT" not in resistor.sent and not resistor.sim.running


def test_safe_off_from_idle_holds_the_output_off_until_rearmed(resistor: Rig) -> None:
    resistor.smu.apply_voltage(0.8, 1e-3)
    resistor.smu.safe_off()
    assert resistor.output_is_off()
    with pytest.raises(InstrumentError, match="rearm"):
        resistor.smu.apply_voltage(0.8, 1e-3)
    resistor.smu.rearm()
    resistor.smu.apply_voltage(0.8, 1e-3)
    assert resistor.sim.channel.state_at(resistor.bench.clock.now()).on


def test_safe_off_mid_sweep_stops_the_output_and_keeps_what_was_measured(resistor: Rig
                                                                         ) -> None:
    smu, sim = resistor.smu, resistor.sim
    smu.write(":SENS:CURR:PROT 1e-3;:SOUR:VOLT:STAR 0;:SOUR:VOLT:STOP 1;:SOUR:SWE:POIN 200;"
              ":SOUR:VOLT:MODE SWE;:SOUR:DEL 0.01;:TRIG:COUN 200;:TRAC:CLE;:TRAC:POIN 200;"
              ":TRAC:FEED:CONT NEXT;:OUTP ON;:INIT")
    resistor.bench.clock.sleep(0.5)
    smu.safe_off()
    taken = len(sim.trace.readings)
    assert 0 < taken < 200 and resistor.output_is_off()
    resistor.bench.clock.sleep(5.0)
    resistor.bench.sync()
    assert len(sim.trace.readings) == taken
    assert resistor.bench.timeline.duts[0].last_current == 0.0


def test_abort_mid_pulse_train_returns_partial_data_then_safe_off(resistor: Rig) -> None:
    checks = iter(range(1000))
    train = PulseTrain.identical(1.0, 200, 1e-3, 10e-3, 1e-3, read_level=0.1,
                                 read_delay=0.2e-3)
    data = resistor.smu.run(Sequence("TE", (train,), nplc=0.01),
                            should_abort=lambda: next(checks) >= 10)
    assert data.aborted and 0 < len(data) < 200
    assert np.allclose(data.current, 1e-5, rtol=1e-3)
    resistor.smu.safe_off()
    assert resistor.output_is_off()
