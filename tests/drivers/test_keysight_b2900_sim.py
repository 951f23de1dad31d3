"""The B2900 driver on the simulated bench: the same code path as on a real instrument."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.keysight_b2900 import B2900Channel, KeysightB2900
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import (
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
)
from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keysight_b2900 import SimKeysightB2900
from labsyn.mock_instruments.resistor import Resistor
from labsyn.mock_instruments.timeline import Piece
from tests.conftest import (
    COMPLIANCE,
    assert_bipolar_loops_switch_at_the_device_thresholds,
    assert_spot_compliance_reads_the_limit,
    forming_ramp,
    hfox_cell,
)

ADDRESS = "GPIB0::23::INSTR"


@dataclass
class Rig:
    bench: Bench
    sim: SimKeysightB2900
    device: Any
    driver: KeysightB2900

    @property
    def smu(self) -> B2900Channel:
        return self.driver.channels_by_number[1]


def make_rig(device: Any, series_resistance: float = 0.0, model: str = "B2902A") -> Rig:
    sim = SimKeysightB2900(model=model)
    bench = single_smu_bench(ADDRESS, sim, device, series_resistance)
    driver = KeysightB2900(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    return Rig(bench, sim, device, driver)


class Transactions:
    """Counts writes (each is one transaction: a lone write or the write of a query)."""

    def __init__(self, driver: KeysightB2900) -> None:
        self.sent: list[str] = []
        self.reads = 0
        adapter = driver.adapter
        write, read = adapter.write, adapter.read

        def counting_write(command: str, **kwargs: Any) -> None:
            self.sent.append(command)
            write(command, **kwargs)

        def counting_read(**kwargs: Any) -> str:
            self.reads += 1
            return read(**kwargs)

        adapter.write, adapter.read = counting_write, counting_read

    @property
    def count(self) -> int:
        return len(self.sent)


@pytest.fixture
def resistor_rig() -> Rig:
    return make_rig(Resistor(10e3))


@pytest.fixture
def rram_rig() -> Rig:
    return make_rig(hfox_cell(), series_resistance=100.0)


def form(rig: Rig) -> Any:
    return rig.smu.run(forming_ramp())


def scheduled(rig: Rig) -> list[Piece]:
    """Every drive piece the twin schedules on channel 1 from now on."""
    pieces: list[Piece] = []
    output = rig.sim.channels_by_number[1]
    schedule = output.schedule

    def recording(new: list[Piece], after: Any, now: float) -> None:
        pieces.extend(new)
        schedule(new, after, now)

    output.schedule = recording  # type: ignore[method-assign]
    return pieces


# -- sweeps ------------------------------------------------------------------------------------
def test_forming_ramp_stops_at_the_trip_and_the_output_protection_switches_off(rram_rig: Rig
                                                                              ) -> None:
    data = form(rram_rig)
    truth = rram_rig.device.truth
    assert rram_rig.device.formed and data.limited[-1] and not data.limited[:-1].any()
    programmed = np.linspace(0.0, 4.0, 201)
    assert abs(programmed[len(data) - 1] - truth.forming_voltage) <= 0.02
    assert data.current[-1] == pytest.approx(COMPLIANCE, rel=1e-12)
    assert data.source[-1] < programmed[len(data) - 1]  # the output sags under compliance
    assert not rram_rig.sim.channels_by_number[1].state_at(rram_rig.bench.clock.now()).on
    assert rram_rig.driver.ask(":STAT:QUES:COND?").strip() == "4"  # Ch1 output protection


def test_bipolar_loops_switch_at_the_device_thresholds(rram_rig: Rig) -> None:
    form(rram_rig)
    assert_bipolar_loops_switch_at_the_device_thresholds(rram_rig.smu.run, rram_rig.device)


def test_staircase_is_five_transactions_and_reads_the_ohmic_current(resistor_rig: Rig) -> None:
    counter = Transactions(resistor_rig.driver)
    step = Staircase.ramp(-1.0, 1.0, 2.0 / 999, 0.0, 1e-3)
    data = resistor_rig.smu.run(Sequence("TE", (step,), nplc=0.01))
    assert len(data) == 1000 and counter.count == 5 and counter.reads == 4
    assert np.allclose(data.current, data.source / 10e3, rtol=1e-3, atol=1e-9)
    assert np.allclose(np.diff(data.time), 0.2e-3 + 50e-6 + 10e-6, rtol=1e-6)


# -- pulse trains ------------------------------------------------------------------------------
def test_thousand_identical_pulses_with_reads_cost_five_transactions(resistor_rig: Rig) -> None:
    counter = Transactions(resistor_rig.driver)
    train = PulseTrain.identical(1.0, 1000, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)
    data = resistor_rig.smu.run(Sequence("TE", (train,), nplc=0.01))
    assert counter.count <= 5 and counter.reads == 4
    assert len(data) == 1000 and np.allclose(data.current, 0.1 / 10e3, rtol=1e-2)
    assert np.allclose(np.diff(data.time), 5e-3, atol=1e-9)


def test_long_varied_train_is_chunked_within_the_bound(resistor_rig: Rig) -> None:
    counter = Transactions(resistor_rig.driver)
    amplitudes = tuple(0.5 + 0.5 * (i % 3) for i in range(3000))
    train = PulseTrain(amplitudes, 1e-3, 4e-3, 1e-3, read_level=0.1, read_delay=0.2e-3)
    data = resistor_rig.smu.run(Sequence("TE", (train,), nplc=0.01))
    assert len(data) == 3000
    assert counter.count <= 5 + math.ceil(3000 / 100)
    assert sum(m.startswith(":INIT") for m in counter.sent) == 3  # 1250 pairs per 2500-list


def test_pulse_peak_width_period_and_read_pulse_reach_the_dut(resistor_rig: Rig) -> None:
    pieces = scheduled(resistor_rig)
    train = PulseTrain((1.2, 0.8), 1e-3, 6e-3, 1e-3, read_level=0.15, read_delay=0.4e-3)
    data = resistor_rig.smu.run(Sequence("TE", (train,), nplc=0.01))
    on = [p for p in pieces if p.state.on and p.state.level != 0.0]
    assert [p.state.level for p in on] == [1.2, 0.15, 0.8, 0.15]
    assert [round(p.end - p.start, 9) for p in on] == [1e-3] * 4
    assert on[1].start - on[0].end == pytest.approx(0.4e-3)  # read_delay after the pulse
    assert on[2].start - on[0].start == pytest.approx(6e-3)  # the period
    assert all(p.state.limit == 1e-3 for p in on)
    assert np.allclose(data.source, 0.15, atol=1e-4) and len(data) == 2


def test_read_at_base_pulses_are_read_after_each_pulse(resistor_rig: Rig) -> None:
    pieces = scheduled(resistor_rig)
    train = PulseTrain.identical(2.0, 4, 0.2e-3, 2e-3, 1e-3, base=0.1, read_level=0.1,
                                 read_delay=0.1e-3)
    data = resistor_rig.smu.run(Sequence("TE", (train,), nplc=0.01))
    peaks = [p for p in pieces if p.state.level == 2.0]
    assert len(peaks) == 4 and all(round(p.end - p.start, 9) == 0.2e-3 for p in peaks)
    assert np.allclose(data.current, 0.1 / 10e3, rtol=1e-2)


def test_pulse_train_reads_after_every_pulse_and_potentiates(rram_rig: Rig) -> None:
    form(rram_rig)
    rram_rig.smu.run(Sequence("TE", (Staircase.ramp(0.0, -1.6, 0.02, 0.01, 1e-2),)))
    train = PulseTrain.identical(0.85, 40, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)
    data = rram_rig.smu.run(Sequence("TE", (train,), nplc=0.02))
    assert len(data) == 40 and np.allclose(data.source, 0.1, atol=1e-3)
    assert data.current[-10:].mean() > 1.2 * data.current[:10].mean()


# -- spot operation, channels, faults ----------------------------------------------------------
def test_spot_compliance_on_a_resistor_reads_the_limit_and_the_real_voltage(resistor_rig: Rig
                                                                            ) -> None:
    assert_spot_compliance_reads_the_limit(resistor_rig.smu, rel=1e-3)
    assert resistor_rig.smu.current_limit_tripped


def test_two_channels_drive_both_electrodes() -> None:
    sim = SimKeysightB2900()
    bench = Bench()
    bench.add_instrument(ADDRESS, sim)
    dut = bench.add_dut("dut", Resistor(1e3))
    bench.wire(dut, "TE", sim.channels_by_number[1])
    bench.wire(dut, "BE", sim.channels_by_number[2])
    driver = KeysightB2900(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    te, be = driver.channels_by_number[1], driver.channels_by_number[2]
    be.apply_voltage(0.5, 1e-2)
    data = te.run(Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-2),), nplc=0.01))
    assert np.allclose(data.current, (data.source - 0.5) / 1e3, rtol=1e-3, atol=1e-7)
    assert be.measure().current == pytest.approx(-(1.0 - 0.5) / 1e3, rel=1e-3)
    driver.safe_off()
    assert not any(o.state_at(bench.clock.now()).on for o in sim.channels_by_number.values())


def test_a_b2901a_has_no_second_channel() -> None:
    rig = make_rig(Resistor(1e3), model="B2901A")
    assert list(rig.driver.channels_by_number) == [1]
    rig.driver.write(":SOUR2:VOLT 1")
    assert [code for code, _ in rig.driver.errors()] == [-114]


def test_timeout_surfaces_naming_instrument_and_command_and_clear_recovers(resistor_rig: Rig
                                                                          ) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, ":SOUR1:VOLT?", "timeout")
    with pytest.raises(InstrumentTimeout) as info:
        _ = resistor_rig.smu.source_voltage
    assert info.value.instrument == "Keysight B2900" and info.value.command == ":SOUR1:VOLT?"
    resistor_rig.driver.clear_interface()
    assert resistor_rig.smu.source_voltage == 0.0


def test_garbled_fetch_is_a_reply_error(resistor_rig: Rig) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, ":FETC:ARR?", "garbled")
    with pytest.raises(InstrumentReplyError, match=":FETC:ARR"):
        resistor_rig.smu.run(Sequence("TE", (Staircase.ramp(0, 1, 0.5, 0.01, 1e-3),)))


def test_lost_connection_names_the_instrument(resistor_rig: Rig) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, ":OUTP1 1", "disconnect")
    with pytest.raises(InstrumentCommunicationError, match="Keysight B2900.*lost"):
        resistor_rig.smu.apply_voltage(0.5, 1e-3)


def test_instrument_error_during_configuration_stops_the_run(resistor_rig: Rig) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, ":SOUR1:VOLT:MODE SWE", "error",
                                     error=(-221, "Settings conflict"))
    with pytest.raises(InstrumentReportedError, match="-221"):
        resistor_rig.smu.run(Sequence("TE", (Staircase.ramp(0, 1, 0.1, 0.01, 1e-3),)))
    assert not resistor_rig.sim.running(resistor_rig.sim.sim_channel(1))


# -- safe state and abort ----------------------------------------------------------------------
def output_is_off(rig: Rig) -> bool:
    now = rig.bench.clock.now()
    return not any(o.state_at(now).on for o in rig.sim.channels_by_number.values()) and not any(
        rig.sim.running(c) for c in rig.sim.sim_channels.values())


def test_safe_off_mid_sweep_stops_the_output_and_keeps_what_was_measured(resistor_rig: Rig
                                                                         ) -> None:
    driver, sim = resistor_rig.driver, resistor_rig.sim
    driver.write(":SENS1:CURR:PROT 1e-3;:SOUR1:VOLT:MODE SWE;:SOUR1:VOLT:STAR 0;"
                 ":SOUR1:VOLT:STOP 1;:SOUR1:VOLT:POIN 200;:TRIG1:SOUR TIM;:TRIG1:TIM 0.01;"
                 ":TRIG1:COUN 200;:SENS1:CURR:NPLC 0.1;:OUTP1 1;:INIT (@1)")
    resistor_rig.bench.clock.sleep(0.5)
    driver.safe_off()
    taken = len(sim.sim_channel(1).readings)
    assert 0 < taken < 200 and output_is_off(resistor_rig)
    resistor_rig.bench.clock.sleep(5.0)
    resistor_rig.bench.sync()
    assert len(sim.sim_channel(1).readings) == taken
    assert resistor_rig.bench.timeline.duts[0].last_current == 0.0


def test_abort_mid_pulse_train_returns_partial_data_then_safe_off(resistor_rig: Rig) -> None:
    checks = iter(range(1000))
    train = PulseTrain.identical(1.0, 200, 1e-3, 10e-3, 1e-3, read_level=0.1)
    data = resistor_rig.smu.run(Sequence("TE", (train,), nplc=0.01),
                                should_abort=lambda: next(checks) >= 10)
    assert data.aborted and 0 < len(data) < 200
    assert resistor_rig.driver.errors() == []  # the pending *OPC? reply was dropped cleanly
    resistor_rig.smu.safe_off()
    assert output_is_off(resistor_rig)


def test_emergency_safe_off_from_another_thread_stops_a_running_sweep() -> None:
    """Paced clock (virtual time 20× real): the worker waits inside run(), the main thread
    latches the safe state; the run returns aborted within a slice, both outputs off."""
    sim = SimKeysightB2900()
    bench = single_smu_bench(ADDRESS, sim, Resistor(10e3), clock_mode="paced", speedup=20.0)
    driver = KeysightB2900(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    rig = Rig(bench, sim, None, driver)
    result: list[Any] = []
    step = Staircase.ramp(0.0, 1.0, 0.01, 0.05, 1e-3)  # 101 steps of 50 ms: 5 s virtual
    worker = threading.Thread(target=lambda: result.append(rig.smu.run(Sequence("TE", (step,)))))
    worker.start()
    while not sim.running(sim.sim_channel(1)):
        time.sleep(0.002)
    time.sleep(0.02)
    stopped_at = bench.clock.now()
    driver.safe_off()
    worker.join(timeout=5.0)
    assert not worker.is_alive() and result[0].aborted
    assert bench.clock.now() - stopped_at < 0.5
    assert 0 < len(result[0]) < 101 and output_is_off(rig)


def test_outputs_stay_off_after_safe_off_until_rearmed(resistor_rig: Rig) -> None:
    resistor_rig.smu.apply_voltage(0.5, 1e-3)
    resistor_rig.driver.safe_off()
    with pytest.raises(InstrumentError, match="held off"):
        resistor_rig.smu.apply_voltage(0.5, 1e-3)
    data = resistor_rig.smu.run(Sequence("TE", (Staircase.ramp(0, 1, 0.5, 0.01, 1e-3),)))
    assert data.aborted and len(data) == 0 and output_is_off(resistor_rig)
    resistor_rig.driver.rearm()
    resistor_rig.smu.apply_voltage(0.5, 1e-3)
    assert resistor_rig.smu.measure().current == pytest.approx(5e-5, rel=1e-3)
