"""The simulated 81150A/81160A on its own: command language, limits, error codes and timing on
the bench clock, driven with raw SCPI over the simulated VISA bus."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.keysight_81160a import SimKeysight81160A
from labsyn.mock_instruments.resistor import Resistor
from labsyn.mock_instruments.timeline import Measurement

ADDRESS = "GPIB0::10::INSTR"
NO_ERROR = '0,"No error"'


@dataclass
class Twin:
    bench: Bench
    sim: SimKeysight81160A
    io: Any

    def errors(self) -> list[int]:
        found = []
        while (reply := self.io.query(":SYST:ERR?").strip()) != NO_ERROR:
            found.append(int(reply.split(",")[0]))
        return found

    def level_at(self, t: float, output: int = 1) -> float:
        state = self.sim.channels_by_number[output].state_at(t)
        return state.level if state.on else 0.0

    def measure(self, times: list[float], output: int = 1) -> list[Measurement]:
        seen: list[Measurement] = []
        for t in times:
            self.bench.timeline.measure_at(t, self.sim.channels_by_number[output], seen.append)
        self.bench.run_until(max(times))
        return seen


def make_twin(model: str = "81160A", outputs: int = 2) -> Twin:
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeysight81160A(model=model, outputs=outputs))
    dut = bench.add_dut("dut", Resistor(10e3), series_resistance=1000.0)
    bench.wire(dut, "TE", sim.channels_by_number[1])
    bench.wire(dut, "BE", "ground")
    io = pyvisa.ResourceManager(bench.visa_library()).open_resource(
        ADDRESS, read_termination="\n", write_termination="\n")
    return Twin(bench, sim, io)


@pytest.fixture
def twin() -> Iterator[Twin]:
    twin = make_twin()
    yield twin
    twin.io.close()


PULSE_SETUP = (":OUTP1:LOAD 50;:FUNC1 PULS;:VOLT1:HIGH 1;:VOLT1:LOW 0;:PULS:PER1 1e-5;"
               ":PULS:WIDT1 2e-6;:ARM:SOUR1 MAN;:BURS1:NCYC 5;:BURS1:STAT ON;:OUTP1 ON")


def test_identity_options_and_reset(twin: Twin) -> None:
    assert twin.io.query("*IDN?").strip() == "Agilent Technologies,81160A,DE00000000,1.0.0.0"
    assert twin.io.query("*OPT?").strip() == "002"
    twin.io.write(PULSE_SETUP)
    twin.io.write("*RST")
    assert twin.io.query(":OUTP1?").strip() == "0"
    assert twin.io.query(":FUNC1?").strip() == "SIN"
    assert twin.errors() == []
    single = make_twin("81150A", outputs=1)
    assert single.io.query("*OPT?").strip() == "001"
    single.io.write(":OUTP2 ON")
    assert single.errors() == [-114]


def test_a_triggered_burst_has_exact_width_period_and_count_at_twice_the_level(twin: Twin
                                                                                ) -> None:
    twin.io.write(PULSE_SETUP)
    t0 = twin.bench.clock.now()
    assert twin.level_at(t0) == 0.0  # idle at the low level
    twin.io.write("*TRG")
    start = twin.bench.clock.now()  # the trigger ran at this instant (no trigger latency)
    for k in range(5):  # inspected before the bench integrates past them
        t = start + k * 1e-5
        assert twin.level_at(t) == 2.0 and twin.level_at(t + 2e-6 - 1e-12) == 2.0
        assert twin.level_at(t + 2e-6) == 0.0
        assert k == 0 or twin.level_at(t - 1e-12) == 0.0
    assert twin.level_at(start + 5e-5) == 0.0
    state = twin.sim.channels_by_number[1].state_at(start)
    assert state.impedance == 50.0 and state.limit is None and state.mode == "V"
    mid = twin.measure([start + 1e-6, start + 5e-6])
    assert twin.io.query("*OPC?").strip() == "1"
    assert twin.bench.clock.now() >= start + 4 * 1e-5 + 2e-6  # *OPC? waits for the last pulse
    assert mid[0].current == pytest.approx(2.0 / 11050.0, rel=1e-12)
    assert mid[1].current == pytest.approx(0.0, abs=1e-18)
    assert twin.errors() == []


def test_high_z_levels_equal_the_open_circuit_voltage_and_the_load_keeps_the_output(
        twin: Twin) -> None:
    twin.io.write(PULSE_SETUP + ";:OUTP1:LOAD INF")
    assert float(twin.io.query(":VOLT1:HIGH?")) == pytest.approx(2.0)
    assert float(twin.io.query(":OUTP1:LOAD?")) == pytest.approx(9.9e37)
    twin.io.write(":VOLT1:HIGH 8")
    twin.io.write("*TRG")
    assert twin.level_at(twin.bench.clock.now()) == pytest.approx(8.0)
    assert twin.errors() == []


def test_inverted_polarity_idles_at_the_high_level(twin: Twin) -> None:
    twin.io.write(PULSE_SETUP + ";:OUTP1:POL INV;:VOLT1:LOW -1.3;:VOLT1:HIGH 0")
    now = twin.bench.clock.now()
    assert twin.level_at(now) == 0.0
    twin.io.write("*TRG")
    assert twin.level_at(twin.bench.clock.now()) == pytest.approx(-2.6)
    assert twin.errors() == []


@pytest.mark.parametrize(("command", "code"), [
    (":PULS:PER1 1.5e-6", -221),  # < width 2 µs
    (":PULS:WIDT1 9.999e-6", -221),  # 10 µs < 9.999 µs + 1.6 × 1 ns
    (":PULS:TRAN1 5.1e-6", -221),  # 10 µs < 2 µs + 1.6 × 5.1 µs
    (":PULS:PER1 2e-9", -222),  # below 3.03 ns
    (":VOLT1:HIGH 6", -222),  # beyond ±5 V into 50 Ω
    (":VOLT1:LOW 0.98", -221),  # amplitude 20 mV < 50 mV
    (":VOLT1 5.5", -222),  # amplitude beyond 5 V into 50 Ω
    (":VOLT1:OFFS 4.8", -221),  # high would be 5.3 V
    (":BURS1:NCYC 1", -222),
    (":ARM:SOUR1 BUS", -224),
    (":OUTP3 ON", -114),
    (":PULS:BOGUS1 1", -113),
])
def test_refused_settings_name_the_scpi_error_and_keep_the_old_value(twin: Twin, command: str,
                                                                     code: int) -> None:
    twin.io.write(PULSE_SETUP)
    before = twin.sim.outputs[1]
    twin.io.write(command)
    assert twin.errors() == [code]
    assert twin.sim.outputs[1] == before


def test_an_execution_error_does_not_stop_the_rest_of_the_message(twin: Twin) -> None:
    twin.io.write(":PULS:PER1 1e-9;:PULS:WIDT1 3e-7")
    assert twin.errors() == [-222]
    assert float(twin.io.query(":PULS:WIDT1?")) == pytest.approx(3e-7)


def test_edges_enter_the_coupled_rule_and_the_trailing_edge_follows(twin: Twin) -> None:
    twin.io.write(":PULS:PER1 1e-5;:PULS:WIDT1 5e-6;:PULS:TRAN1 3e-6")
    assert float(twin.io.query(":PULS:TRAN1:TRA?")) == pytest.approx(3e-6)
    twin.io.write(":PULS:TRAN1 3.2e-6")  # 5 + 1.6 × 3.2 = 10.12 µs > 10 µs
    assert twin.errors() == [-221]
    twin.io.write(":PULS:TRAN1:TRA 1e-6;:PULS:TRAN1 4e-6")  # 5 + 0.8 × (4 + 1) = 9 µs
    assert twin.errors() == []
    assert float(twin.io.query(":PULS:TRAN1:TRA?")) == pytest.approx(1e-6)


def test_trigger_count_is_the_short_form_of_a_burst(twin: Twin) -> None:
    twin.io.write(PULSE_SETUP + ";:TRIG1:COUN 3")
    assert twin.io.query(":BURS1:NCYC?").strip() == "3"
    assert twin.io.query(":BURS1:STAT?").strip() == "1"
    twin.io.write(":TRIG1:COUN 1")
    assert twin.io.query(":BURS1:STAT?").strip() == "0"
    twin.io.write("*TRG")
    start = twin.bench.clock.now()
    assert twin.level_at(start) == 2.0 and twin.level_at(start + 1e-5) == 0.0
    assert twin.errors() == []


def test_trg_starts_every_output_armed_manually(twin: Twin) -> None:
    twin.io.write(PULSE_SETUP + ";" + PULSE_SETUP.replace("1 ", "2 ").replace("1:", "2:"))
    twin.io.write(":ARM:SOUR2 EXT")
    twin.io.write("*TRG")
    now = twin.bench.clock.now()
    assert twin.level_at(now, 1) == 2.0 and twin.level_at(now, 2) == 0.0
    twin.io.query("*OPC?")
    twin.io.write(":ARM:SOUR2 MAN;*TRG")
    now = twin.bench.clock.now()
    assert twin.level_at(now, 1) == 2.0 and twin.level_at(now, 2) == 2.0
    assert twin.errors() == []


def test_output_off_stops_a_running_burst_and_settings_wait_for_its_end(twin: Twin) -> None:
    twin.io.write(PULSE_SETUP + ";:BURS1:NCYC 1000")
    twin.io.write("*TRG")
    twin.io.write(":VOLT1:HIGH 2")
    assert twin.errors() == [-221]
    twin.io.write("*TRG")  # ignored while the burst runs
    twin.bench.clock.sleep(2e-3)
    twin.io.write(":OUTP1 OFF")
    stopped = twin.bench.clock.now()
    assert twin.io.query("*OPC?").strip() == "1"
    assert twin.bench.clock.now() < stopped + 1e-3
    assert twin.level_at(stopped + 1e-5 * 10 + 1e-6) == 0.0
    assert not twin.sim.channels_by_number[1].state_at(stopped + 1e-4).on
    assert twin.errors() == []


def test_free_running_modes_pulse_without_a_trigger(twin: Twin) -> None:
    twin.io.write(PULSE_SETUP.replace(":ARM:SOUR1 MAN", ":ARM:SOUR1 IMM"))
    start = twin.bench.clock.now()
    seen = twin.measure([start + k * 1e-5 + 1e-6 for k in range(100)])
    assert all(m.source == 2.0 for m in seen)
    twin.bench.clock.sleep(0.5)
    twin.io.query("*OPC?")  # a message extends the schedule
    later = twin.bench.clock.now()
    highs = [twin.level_at(later + k * 1e-6) for k in range(20)]
    assert 2.0 in highs and 0.0 in highs
    twin.io.write(":ARM:SOUR1 INT2;:BURS1:INT:PER 1e-3")
    origin = twin.bench.clock.now()
    assert [twin.level_at(origin + 1e-3 + k * 1e-5 + 1e-6) for k in range(6)] == [2.0] * 5 + [0.0]
    twin.io.write(":ARM:SOUR1 EXT")
    assert twin.level_at(twin.bench.clock.now() + 1e-3 + 1e-6) == 0.0
    assert twin.errors() == []


def test_level_limits_refuse_levels_beyond_them(twin: Twin) -> None:
    twin.io.write(":VOLT1:LIM:HIGH 1;:VOLT1:LIM:LOW -1;:VOLT1:LIM:STAT ON;:VOLT1:HIGH 1.5")
    assert twin.errors() == [-221]
    twin.io.write(":VOLT1:HIGH 0.9")
    assert twin.errors() == []


def test_status_reports_each_output(twin: Twin) -> None:
    twin.io.write(PULSE_SETUP)
    state = twin.bench.status()[ADDRESS]
    assert state["output1"]["on"] is True and state["output2"]["on"] is False
    assert state["output1"]["load"] == 50.0 and not math.isinf(state["output1"]["load"])
