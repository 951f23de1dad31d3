"""The B1500 driver on its simulated twin: physics through the bench, limits, timing, aborts,
faults, safe state, and what a sequence costs in transactions (writes; each reply is read
without another write)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.keysight_b1500 import B1500SMU, KeysightB1500
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase, bipolar_loop
from labsyn.errors import (
    InstrumentCommunicationError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
)
from labsyn.mock_instruments import presets
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.keysight_b1500 import SimKeysightB1500
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::17::INSTR"


@dataclass
class Rig:
    bench: Bench
    sim: SimKeysightB1500
    analyzer: KeysightB1500
    smu: B1500SMU
    device: Any


def make_rig(device: Any, slot: int = 1, series_resistance: float = 0.0,
             **bench_options: Any) -> Rig:
    bench = Bench(**bench_options)
    sim = bench.add_instrument(ADDRESS, SimKeysightB1500())
    dut = bench.add_dut("dut", device, series_resistance)
    bench.wire(dut, "TE", sim.channels_by_number[slot])
    bench.wire(dut, "BE", "ground")
    analyzer = KeysightB1500(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    return Rig(bench, sim, analyzer, analyzer.channels_by_number[slot], device)


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = make_rig(Resistor(10e3))
    yield made
    made.analyzer.adapter.close()


@pytest.fixture
def rram() -> Iterator[Rig]:
    made = make_rig(RRAMDevice.from_key(presets.HFOX, 1, (0, 0), 1), series_resistance=100.0)
    yield made
    made.analyzer.adapter.close()


def count_writes(rig: Rig, action: Any) -> tuple[int, Any]:
    sent: list[str] = []
    adapter = rig.analyzer.adapter
    original = adapter.write
    adapter.write = lambda command, **kw: (sent.append(command), original(command, **kw))[1]
    try:
        result = action()
    finally:
        adapter.write = original
    return len(sent), result


def reads_train(amplitudes: tuple[float, ...]) -> Sequence:
    return Sequence("TE", (PulseTrain(amplitudes, 1e-3, 16e-3, 1e-3, read_level=0.1,
                                      read_delay=4e-3),))


# -- physics through the bench -----------------------------------------------------------------
def test_staircase_on_a_resistor_follows_ohm_and_the_limit(rig: Rig) -> None:
    data = rig.smu.run(Sequence("TE", (Staircase.ramp(0.0, 2.0, 0.1, 0.005, 1.5e-4),), 0.1))
    free = data.source <= 1.5
    assert np.allclose(data.current[free], data.source[free] / 10e3, rtol=1e-3, atol=1e-9)
    assert np.all(data.limited == (data.source > 1.5 + 1e-9))
    assert np.allclose(data.current[~free], 1.5e-4)


def test_spot_reading_in_compliance_shows_the_limit_and_the_real_voltage(rig: Rig) -> None:
    rig.smu.apply_voltage(5.0, 1e-4)
    reading = rig.smu.measure()
    assert reading.limited and reading.current == pytest.approx(1e-4)
    assert reading.voltage == pytest.approx(1.0, rel=1e-3)  # 100 µA × 10 kΩ, not 5 V


def test_forming_ramp_stops_instrument_side_at_the_trip(rram: Rig) -> None:
    ramp = Staircase.ramp(0.0, 4.0, 0.02, 0.01, 1e-4, "forming", stop_on_limit=True)
    data = rram.smu.run(Sequence("TE", (ramp,), nplc=0.1))
    truth = rram.device.truth.forming_voltage
    assert truth is not None
    assert bool(data.limited[-1]) and data.limited.sum() == 1
    assert abs(data.source[-1] - truth) <= 0.02 + 1e-9
    assert rram.sim.smus[1].channel.state_at(rram.bench.clock.now()).level == 0.0  # start value


def test_bipolar_loop_sets_and_resets_a_formed_cell(rram: Rig) -> None:
    rram.smu.run(Sequence("TE", (Staircase.ramp(0.0, 4.0, 0.02, 0.01, 1e-4,
                                                 stop_on_limit=True),), 0.1))
    data = rram.smu.run(bipolar_loop(1.5, 1.6, 0.02, 0.01, 5e-4, 1e-3, nplc=0.1))
    truth = rram.device.truth
    assert data.labels == ["SET", "RESET"]
    assert len(data) == 151 + 161  # up and back down: two linear sweeps per branch
    assert truth.reset_crossings, "the RESET branch switched the cell"
    read = np.flatnonzero(np.isclose(data.source, -0.2))  # going down, then coming back
    assert abs(data.current[read[0]]) > 3 * abs(data.current[read[-1]])  # LRS, then HRS


def test_pulse_pairs_read_after_every_pulse_at_the_train_period(rig: Rig) -> None:
    data = rig.smu.run(reads_train((1.0,) * 50))
    assert len(data) == 50
    assert np.allclose(data.current, 0.1 / 10e3, rtol=1e-3)
    assert np.allclose(np.diff(data.time), 16e-3)
    assert np.all(data.source == 0.1)


# -- transactions ------------------------------------------------------------------------------
def test_1000_identical_write_read_pulses_cost_at_most_5_plus_n_over_100(rig: Rig) -> None:
    train = PulseTrain.identical(1.0, 1000, 1e-3, 16e-3, 1e-3, read_level=0.1, read_delay=4e-3)
    writes, data = count_writes(rig, lambda: rig.smu.run(Sequence("TE", (train,))))
    assert len(data) == 1000 and not data.aborted
    assert writes <= 5 + math.ceil(1000 / 100)  # setup, 13 × 83 XE, ERRX?: 15
    assert writes == 15


def test_source_only_train_and_linear_staircase_cost_three(rig: Rig) -> None:
    train = Sequence("TE", (PulseTrain.identical(1.0, 1000, 1e-3, 10e-3, 1e-3),))
    ramp = Sequence("TE", (Staircase.ramp(0.0, 2.0, 0.01, 0.001, 1e-3),), nplc=0.01)
    assert count_writes(rig, lambda: rig.smu.run(train))[0] == 3
    writes, data = count_writes(rig, lambda: rig.smu.run(ramp))
    assert len(data) == 201 and writes == 3


def test_varying_amplitudes_cost_a_pulsed_sweep_command_each(rig: Rig) -> None:
    amplitudes = tuple(0.5 + 0.001 * i for i in range(100))
    writes, data = count_writes(rig, lambda: rig.smu.run(reads_train(amplitudes)))
    assert len(data) == 100
    assert writes <= 2 + math.ceil(100 / 5)  # "PWV …;XE" ≈ 45 characters, 5 per message


# -- aborts and safe state ---------------------------------------------------------------------
def abort_after(rig: Rig, seconds: float) -> Any:
    start = rig.bench.clock.now()
    return lambda: rig.bench.clock.now() - start > seconds


def test_abort_mid_staircase_keeps_what_was_measured_and_stops_the_source(rig: Rig) -> None:
    ramp = Staircase.ramp(0.0, 1.0, 0.001, 0.01, 1e-3)  # 1001 steps, 10 s
    data = rig.smu.run(Sequence("TE", (ramp,), 0.1), should_abort=abort_after(rig, 0.5))
    assert data.aborted and 40 < len(data) < 60
    assert np.allclose(data.current, data.source / 10e3, rtol=1e-3, atol=1e-9)
    now = rig.bench.clock.now()
    assert now < 0.7  # the abort landed within 100 ms of clock time
    assert rig.sim.smus[1].channel.state_at(now + 1.0).level == 0.0  # back to the start value
    assert rig.analyzer.errors() == []


def test_abort_mid_pulse_pairs_returns_earlier_batches_then_runs_again(rig: Rig) -> None:
    data = rig.smu.run(reads_train((1.0,) * 500), should_abort=abort_after(rig, 2.0))
    assert data.aborted and len(data) == 83  # the first batch; the second was device-cleared
    assert len(rig.smu.run(reads_train((1.0,) * 5))) == 5  # the buffer was cleared (BC)


def test_emergency_safe_off_from_another_thread_stops_the_run_and_every_channel() -> None:
    paced = make_rig(Resistor(10e3), clock_mode="paced", speedup=50.0)
    paced.analyzer.channels_by_number[2].apply_voltage(1.0, 1e-3)
    ramp = Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.01, 0.05, 1e-3),), 0.1)  # 5 s
    result: list[Any] = []
    start = paced.bench.clock.now()
    worker = threading.Thread(target=lambda: result.append(paced.smu.run(ramp)))
    worker.start()
    while paced.bench.clock.now() < start + 1.0:
        time.sleep(0.002)
    paced.analyzer.safe_off()  # the engine's emergency stop: abort flag, then the lock
    worker.join(5.0)
    (data,) = result
    assert data.aborted and 10 < len(data) < 40  # what was measured before the abort
    now = paced.bench.clock.now()
    assert now < start + 2.0
    assert all(not smu.channel.state_at(now).on for smu in paced.sim.smus.values())
    assert paced.analyzer.ask("*LRN? 0").strip() == "CL"
    assert paced.bench.status()[ADDRESS]["output"] == "OFF"
    paced.analyzer.adapter.close()


def test_safe_off_inside_a_wait_still_returns_cleanly(rig: Rig) -> None:
    def stop_midway() -> bool:
        if rig.bench.clock.now() > 0.5:
            rig.analyzer.safe_off()
        return False

    ramp = Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.01, 0.05, 1e-3),), 0.1)
    assert rig.smu.run(ramp, should_abort=stop_midway).aborted
    assert rig.analyzer.errors() == []
    again = Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.5, 0.01, 1e-3),))
    assert rig.smu.run(again).aborted  # held off after safe_off() ...
    rig.analyzer.rearm()
    assert len(rig.smu.run(again)) == 3  # ... until rearmed


# -- errors and faults -------------------------------------------------------------------------
def test_instrument_errors_surface_with_code_and_text(rig: Rig) -> None:
    rig.analyzer.write("DV 3,0,1,0.001")  # slot 3 holds the CMU
    with pytest.raises(InstrumentReportedError) as info:
        rig.analyzer.check_errors()
    ((code, text),) = info.value.errors
    assert code == 150 and "slot 3 holds B1520A" in text


def test_a_setup_refused_by_the_instrument_stops_before_the_trigger(rig: Rig) -> None:
    smu = rig.sim.smus[1]
    smu.module = replace(smu.module, envelope=((100.0, 1e-4),))  # a twin stricter than the driver
    with pytest.raises(InstrumentReportedError, match="120, Parameter value out of range"):
        rig.smu.run(Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.1, 0.01, 1e-3),), 0.1))
    assert not rig.sim.runs and rig.bench.clock.now() < 0.01  # no sweep was triggered
    assert rig.analyzer.errors() == []


def test_timeout_and_garbled_replies_name_the_instrument(rig: Rig) -> None:
    rig.smu.apply_voltage(0.5, 1e-3)
    rig.analyzer.adapter.connection.timeout = 100
    rig.bench.faults.inject(ADDRESS, "TI 1", "timeout")
    with pytest.raises(InstrumentTimeout, match="Keysight B1500A"):
        rig.smu.measure()
    rig.analyzer.clear_interface()
    rig.bench.faults.inject(ADDRESS, "TI 1", "garbled")
    with pytest.raises(InstrumentReplyError):
        rig.smu.measure()
    rig.analyzer.clear_interface()
    assert rig.smu.measure().current == pytest.approx(5e-5, rel=1e-3)


def test_lost_connection_is_a_communication_error(rig: Rig) -> None:
    rig.bench.faults.lost.add(ADDRESS)
    with pytest.raises(InstrumentCommunicationError, match="Keysight B1500A"):
        rig.smu.apply_voltage(0.5, 1e-3)
