"""The 2600B driver on the simulated bench: the same code path as on a real 2636B.

TE is smua and BE is smub (or ground): the device sees V_TE − V_BE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytest

from labsyn.drivers.keithley_2600 import Keithley2600
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase, bipolar_loop
from labsyn.errors import (
    InstrumentCommunicationError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
)
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.keithley_2600 import SimKeithley2600
from labsyn.mock_instruments.presets import HFOX
from labsyn.mock_instruments.resistor import Resistor
from tests.conftest import (
    COMPLIANCE,
    assert_bipolar_loops_switch_at_the_device_thresholds,
    forming_ramp,
    hfox_cell,
)

ADDRESS = "GPIB0::26::INSTR"


@dataclass
class Rig:
    bench: Bench
    sim: SimKeithley2600
    device: Any
    smu: Keithley2600

    def on(self, channel: int) -> bool:
        self.bench.sync()
        return self.sim.channels_by_number[channel].state_at(self.bench.clock.now()).on


def make_rig(device: Any, be: Literal["smub", "ground"] = "smub",
             series_resistance: float = 0.0) -> Rig:
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeithley2600())
    dut = bench.add_dut("dut", device, series_resistance)
    bench.wire(dut, "TE", sim.channels_by_number[1])
    bench.wire(dut, "BE", sim.channels_by_number[2] if be == "smub" else "ground")
    smu = Keithley2600(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    return Rig(bench, sim, device, smu)


def count_transactions(smu: Keithley2600) -> list[str]:
    """Every write the driver makes (a query is one write and its reads)."""
    sent: list[str] = []
    write = smu.adapter.write
    smu.adapter.write = lambda command, **kw: (sent.append(command), write(command, **kw))[1]
    return sent


@pytest.fixture
def rram_rig() -> Rig:
    return make_rig(hfox_cell(), series_resistance=100.0)


@pytest.fixture
def resistor_rig() -> Rig:
    return make_rig(Resistor(10e3))


def form(rig: Rig) -> Any:
    return rig.smu.smua.run(forming_ramp())


def test_forming_ramp_stops_at_the_first_reading_in_compliance(rram_rig: Rig) -> None:
    data = form(rram_rig)
    truth = rram_rig.device.truth
    assert rram_rig.device.formed
    assert data.limited[-1] and not data.limited[:-1].any()
    programmed = np.linspace(0.0, 4.0, 201)[:len(data)]
    assert abs(programmed[-1] - truth.forming_voltage) <= 0.02
    assert np.all(np.abs(data.current[:-1]) < 0.01 * COMPLIANCE)
    assert data.current[-1] == pytest.approx(COMPLIANCE, rel=1e-9)
    assert data.source[-1] < programmed[-1]  # the source sags in compliance
    assert rram_rig.on(1)
    assert rram_rig.smu.smua.source_voltage == 0.0  # the script ends at 0 V


def test_bipolar_loops_switch_at_the_device_thresholds(rram_rig: Rig) -> None:
    form(rram_rig)
    data = assert_bipolar_loops_switch_at_the_device_thresholds(rram_rig.smu.smua.run,
                                                                rram_rig.device, rel=1e-9)
    assert len(data) == 2 * 151


@pytest.mark.parametrize("nplc", [0.01, 0.1])  # trigger model; Lua loop (pulse < aperture)
def test_pulse_train_reads_after_every_pulse_and_potentiates(rram_rig: Rig, nplc: float
                                                             ) -> None:
    form(rram_rig)
    rram_rig.smu.smua.run(Sequence("TE", (Staircase.ramp(0.0, -1.6, 0.02, 0.01, 1e-2),)))
    train = PulseTrain.identical(0.85, 40, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)
    data = rram_rig.smu.smua.run(Sequence("TE", (train,), nplc=nplc))
    assert len(data) == 40
    assert np.allclose(np.diff(data.time), 5e-3, atol=2e-6)
    assert np.allclose(data.source, 0.1, atol=1e-4)
    assert data.current[-10:].mean() > 1.2 * data.current[:10].mean()
    assert rram_rig.smu.errors() == []


def test_a_voltage_on_smub_is_seen_by_the_device_as_minus_v(resistor_rig: Rig) -> None:
    te, be = resistor_rig.smu.channels_by_number[1], resistor_rig.smu.channels_by_number[2]
    te.apply_voltage(0.0, 1e-3)
    be.apply_voltage(0.5, 1e-3)
    assert te.measure().current == pytest.approx(-0.5 / 10e3, rel=1e-3)
    assert be.measure().current == pytest.approx(+0.5 / 10e3, rel=1e-3)
    assert resistor_rig.bench.timeline.duts[0].last_v_device == pytest.approx(-0.5)


def test_a_set_driven_from_the_bottom_electrode_needs_a_negative_smub(rram_rig: Rig) -> None:
    form(rram_rig)
    rram_rig.smu.smua.run(Sequence("TE", (Staircase.ramp(0.0, -1.6, 0.02, 0.01, 1e-2),)))
    before = len(rram_rig.device.truth.set_crossings)
    rram_rig.smu.smua.apply_voltage(0.0, 1e-2)  # TE held at 0 V
    down = Staircase.ramp(0.0, -1.5, 0.02, 0.01, 5 * COMPLIANCE)
    data = rram_rig.smu.smub.run(Sequence("BE", (down,), nplc=0.1))
    assert len(rram_rig.device.truth.set_crossings) == before + 1  # V_TE − V_BE > 0: SET
    assert data.limited.any()  # smub's limit holds the SET current (flowing into smub: < 0)
    assert np.all(data.current[data.limited] == pytest.approx(-5 * COMPLIANCE, rel=1e-9))


def test_iv_sweep_with_be_on_smub_at_zero_equals_be_on_ground() -> None:
    sweeps = []
    for be in ("smub", "ground"):
        rig = make_rig(RRAMDevice.from_key(HFOX, 7, (0, 0), 3), be=be, series_resistance=100.0)
        if be == "smub":
            rig.smu.smub.apply_voltage(0.0, 1e-3)
        form(rig)
        sweeps.append(rig.smu.smua.run(bipolar_loop(1.5, 1.5, 0.05, 0.01, 5 * COMPLIANCE,
                                                    1e-2, nplc=0.1)))
    assert np.allclose(sweeps[0].current, sweeps[1].current, rtol=1e-3, atol=1e-9)


def test_thousand_identical_pulses_cost_at_most_five_transactions(resistor_rig: Rig) -> None:
    train = PulseTrain.identical(1.0, 1000, 1e-3, 5e-3, 1e-3, read_level=0.1,
                                 read_delay=0.5e-3)
    sequence = Sequence("TE", (train,), nplc=0.01)
    sent = count_transactions(resistor_rig.smu)
    resistor_rig.smu.smua.check_sequence(sequence)  # the protocol's check: line frequency
    data = resistor_rig.smu.smua.run(sequence)
    assert len(data) == 1000 and np.allclose(data.current, 1e-5, rtol=1e-3)
    assert len(sent) <= 5, sent
    run_only = sent[1:]  # load, run, read (one query that waits), error count
    assert [m.split("\n")[0] for m in run_only] == ["loadscript labsynSeq" + run_only[1][9:-2],
                                                    run_only[1], "waitcomplete()",
                                                    "print(errorqueue.count)"]
    assert "format.REAL32" in run_only[2]  # 2000 readings come back as float32


def test_a_thousand_point_staircase_is_one_script_run_and_read(resistor_rig: Rig) -> None:
    step = Staircase.ramp(-1.0, 1.0, 2.0 / 999, 0.0, 1e-3)
    sent = count_transactions(resistor_rig.smu)
    data = resistor_rig.smu.smua.run(Sequence("TE", (step,), nplc=0.01))
    assert len(data) == 1000 and len(sent) == 5  # + line frequency, asked once
    assert np.allclose(data.current, data.source / 10e3, rtol=1e-3, atol=1e-9)


def test_abort_mid_forming_ramp_stops_the_script_and_keeps_what_was_measured(
        resistor_rig: Rig) -> None:
    checks = iter(range(1000))
    ramp = Staircase.ramp(0.0, 1.0, 0.005, 0.01, 1e-2, stop_on_limit=True)  # never trips
    data = resistor_rig.smu.smua.run(Sequence("TE", (ramp,), nplc=0.1),
                                     should_abort=lambda: next(checks) >= 10)
    assert data.aborted and 0 < len(data) < 201
    taken = len(resistor_rig.sim.smua.buffers[0].readings)
    resistor_rig.bench.clock.sleep(3.0)
    resistor_rig.bench.sync()
    assert len(resistor_rig.sim.smua.buffers[0].readings) == taken  # the loop is gone
    assert not resistor_rig.sim.busy


def test_abort_mid_pulse_train_returns_partial_data_then_safe_off(resistor_rig: Rig) -> None:
    checks = iter(range(1000))
    train = PulseTrain.identical(1.0, 200, 1e-3, 10e-3, 1e-3, read_level=0.1)
    data = resistor_rig.smu.smua.run(Sequence("TE", (train,), nplc=0.01),
                                     should_abort=lambda: next(checks) >= 10)
    assert data.aborted and 0 < len(data) < 200
    assert not resistor_rig.sim.smua.running
    resistor_rig.smu.safe_off()
    assert not resistor_rig.on(1) and not resistor_rig.on(2)


def test_safe_off_mid_script_clears_it_and_switches_both_outputs_off(resistor_rig: Rig
                                                                     ) -> None:
    smu, sim = resistor_rig.smu, resistor_rig.sim
    smu.smub.apply_voltage(0.0, 1e-3)
    smu.write("loadscript slow\nsmua.source.limiti = 1e-3 smua.source.output = 1\n"
              "for k = 1, 200 do smua.source.levelv = k / 200 delay(0.01) "
              "smua.measure.i(smua.nvbuffer1) end\nendscript\nslow()")
    resistor_rig.bench.clock.sleep(0.5)
    smu.safe_off()
    taken = len(sim.smua.buffers[0].readings)
    assert 0 < taken < 200 and not sim.busy
    assert not resistor_rig.on(1) and not resistor_rig.on(2)
    resistor_rig.bench.clock.sleep(5.0)
    resistor_rig.bench.sync()
    assert len(sim.smua.buffers[0].readings) == taken
    assert resistor_rig.bench.timeline.duts[0].last_current == 0.0


def test_safe_off_mid_sweep_aborts_the_trigger_model(resistor_rig: Rig) -> None:
    smu, sim = resistor_rig.smu, resistor_rig.sim
    smu.write("smua.source.limiti = 1e-3 smua.measure.delay = 0.01 smua.trigger.source."
              "linearv(0, 1, 200) smua.trigger.source.action = 1 smua.trigger.count = 200 "
              "smua.source.output = 1 smua.trigger.initiate()")
    resistor_rig.bench.clock.sleep(0.5)
    smu.safe_off()
    assert not sim.smua.running and not resistor_rig.on(1)
    assert smu.errors() == []


def test_instrument_errors_surface_with_code_and_text(resistor_rig: Rig) -> None:
    resistor_rig.smu.write("smua.source.levelv = 500")
    resistor_rig.smu.write("smua.trigger.source.listv(nothing)")
    assert [code for code, _ in resistor_rig.smu.errors()] == [-222, -286]
    resistor_rig.bench.faults.inject(ADDRESS, "labsynSeq", "error",
                                     error=(-286, "TSP Runtime error at line 9: injected"))
    with pytest.raises(InstrumentReportedError, match="-286.*injected"):
        resistor_rig.smu.smua.run(Sequence("TE", (Staircase.ramp(0, 1, 0.1, 0.0, 1e-3),)))


def test_timeout_names_instrument_and_command_and_clear_recovers(resistor_rig: Rig) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, "print(smua.source.levelv)", "timeout")
    with pytest.raises(InstrumentTimeout) as info:
        _ = resistor_rig.smu.smua.source_voltage
    assert info.value.instrument == "Keithley 2636B"
    assert info.value.command == "print(smua.source.levelv)"
    resistor_rig.smu.clear_interface()
    assert resistor_rig.smu.smua.source_voltage == 0.0


@pytest.mark.filterwarnings("ignore:read string doesn't end with termination characters")
def test_garbled_and_truncated_replies_are_reply_errors(resistor_rig: Rig) -> None:
    resistor_rig.smu.smua.apply_voltage(0.5, 1e-3)
    resistor_rig.smu.smub.apply_voltage(0.0, 1e-3)
    for kind in ("garbled", "truncated"):
        resistor_rig.bench.faults.inject(ADDRESS, "measure.iv()", kind)  # type: ignore[arg-type]
        with pytest.raises(InstrumentReplyError, match="measure.iv"):
            resistor_rig.smu.smua.measure()
    assert resistor_rig.smu.smua.measure().current == pytest.approx(5e-5, rel=1e-3)


def test_lost_connection_names_the_instrument(resistor_rig: Rig) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, "OUTPUT_ON", "disconnect")
    with pytest.raises(InstrumentCommunicationError, match="Keithley 2636B.*lost"):
        resistor_rig.smu.smua.apply_voltage(0.5, 1e-3)
