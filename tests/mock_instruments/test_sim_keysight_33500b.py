"""Behaviour of the simulated 33500B itself, exercised in its own SCPI on a bench."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.keysight_33500b import SimKeysight33500B
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::10::INSTR"
PULSES = (":SOUR1:FUNC PULS;:SOUR1:FUNC:PULS:TRAN:BOTH 8.4e-9;:SOUR1:FUNC:PULS:WIDT 16e-9;"
          ":SOUR1:FUNC:PULS:PER 1e-5;:SOUR1:FUNC:PULS:WIDT 1e-6;:SOUR1:VOLT:LOW 0;"
          ":SOUR1:VOLT:HIGH 1;:SOUR1:BURS:MODE TRIG;:SOUR1:BURS:NCYC 10;:TRIG1:SOUR BUS;"
          ":SOUR1:BURS:STAT ON;:OUTP1 ON")


@dataclass
class Rig:
    bench: Bench
    sim: SimKeysight33500B
    inst: pyvisa.resources.MessageBasedResource


def make_rig(model: str = "33522B") -> Rig:
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeysight33500B(model=model))
    dut = bench.add_dut("dut", Resistor(1e3), series_resistance=1000.0)
    bench.wire(dut, "TE", sim.channels_by_number[1])
    bench.wire(dut, "BE", "ground")
    rm = pyvisa.ResourceManager(bench.visa_library())
    return Rig(bench, sim, rm.open_resource(ADDRESS, read_termination="\n",
                                            write_termination="\n"))


@pytest.fixture
def rig() -> Rig:
    return make_rig()


def errors(inst: pyvisa.resources.MessageBasedResource) -> list[int]:
    found = []
    while (code := int(inst.query("SYST:ERR?").split(",")[0])) != 0:
        found.append(code)
    return found


def test_the_model_sets_the_channels_and_a_missing_channel_is_header_suffix_out_of_range(
) -> None:
    single = make_rig("33511B")
    assert "33511B" in single.inst.query("*IDN?")
    assert list(single.sim.channels_by_number) == [1]
    single.inst.write("SOUR2:FUNC PULS")
    assert errors(single.inst) == [-114]
    assert list(make_rig("33622A").sim.channels_by_number) == [1, 2]


def test_levels_are_limited_by_the_load_setting_and_a_new_load_keeps_the_voltage(rig: Rig
                                                                                 ) -> None:
    rig.inst.write("SOUR1:VOLT:HIGH 6")
    assert errors(rig.inst) == [-222]
    rig.inst.write("OUTP1:LOAD INF;:SOUR1:VOLT:HIGH 6")
    assert errors(rig.inst) == []
    assert float(rig.inst.query("OUTP1:LOAD?")) == 9.9e37
    rig.inst.write("OUTP1:LOAD 50")
    assert float(rig.inst.query("SOUR1:VOLT:HIGH?")) == pytest.approx(3.0)
    assert float(rig.inst.query("SOUR1:VOLT:LOW?")) == pytest.approx(-0.05)


def test_a_high_level_below_the_low_level_is_a_settings_conflict_and_changes_nothing(
        rig: Rig) -> None:
    rig.inst.write("SOUR1:VOLT:LOW 0.5")
    assert errors(rig.inst) == [-221]
    rig.inst.write("SOUR1:VOLT:HIGH 1;:SOUR1:VOLT:LOW 0.5;:SOUR1:VOLT:HIGH 0.2")
    assert errors(rig.inst) == [-221]
    assert float(rig.inst.query("SOUR1:VOLT:HIGH?")) == pytest.approx(1.0)
    rig.inst.write("SOUR1:VOLT:HIGH 0.5005")  # 0.5 mV above low: below the 1 mV minimum
    assert errors(rig.inst) == [-221]


def test_a_width_leaving_no_gap_is_cut_to_the_period_and_edges_to_the_pulse(rig: Rig) -> None:
    rig.inst.write("SOUR1:FUNC:PULS:PER 1e-6;:SOUR1:FUNC:PULS:WIDT 1e-6")
    assert errors(rig.inst) == [-221, -221]  # the 100 µs default width, then the new one
    assert float(rig.inst.query("SOUR1:FUNC:PULS:WIDT?")) == pytest.approx(1e-6 - 16e-9)
    rig.inst.write("SOUR1:FUNC:PULS:WIDT 100e-9;:SOUR1:FUNC:PULS:TRAN:BOTH 1e-6")
    assert errors(rig.inst) == [-221]
    assert float(rig.inst.query("SOUR1:FUNC:PULS:TRAN?")) == pytest.approx(62.5e-9)
    rig.inst.write("SOUR1:FUNC:PULS:WIDT 1e-9")
    assert errors(rig.inst) == [-222]


def test_a_bus_triggered_burst_has_exact_width_period_and_count_on_the_bench(rig: Rig) -> None:
    rig.inst.write(PULSES)
    assert errors(rig.inst) == []
    channel = rig.sim.channels_by_number[1]
    assert channel.state_at(rig.bench.clock.now()).level == 0.0  # idles at the low level
    rig.inst.write("*TRG")
    start = rig.bench.clock.now()
    end = rig.sim.outputs[1].burst_end
    assert end == pytest.approx(start + 10 * 1e-5)
    for k in range(10):
        t = start + k * 1e-5
        assert channel.state_at(t + 0.5e-6).level == pytest.approx(2.0)  # 50 Ω setting doubles
        assert channel.state_at(t + 1e-6 - 1e-12).level == pytest.approx(2.0)
        assert channel.state_at(t + 1e-6 + 1e-12).level == 0.0
    assert channel.state_at(start + 10e-5 + 0.5e-6).level == 0.0  # no eleventh pulse
    assert rig.inst.query("*OPC?") == "1"
    assert rig.bench.clock.now() >= end


def test_a_trigger_nothing_waits_for_is_ignored(rig: Rig) -> None:
    rig.inst.write("*TRG")
    assert errors(rig.inst) == [-211]


def test_a_running_burst_refuses_changes_and_stops_on_output_off_or_abort(rig: Rig) -> None:
    rig.inst.write(PULSES.replace("NCYC 10", "NCYC 50000"))
    rig.inst.write("*TRG")
    rig.inst.write("SOUR1:FUNC:PULS:WIDT 2e-6")
    assert errors(rig.inst) == [-221]
    rig.inst.write(":ABOR")
    now = rig.bench.clock.now()
    channel = rig.sim.channels_by_number[1]
    assert channel.state_at(now + 1e-3).level == 0.0 and channel.state_at(now + 1e-3).on
    assert rig.inst.query("*OPC?") == "1" and rig.bench.clock.now() < now + 1e-3
    rig.inst.write("*TRG;:OUTP1 OFF")
    assert channel.state_at(rig.bench.clock.now() + 1e-3).floating  # an output that is off is open


def test_inverted_polarity_pulses_down_from_the_high_level(rig: Rig) -> None:
    rig.inst.write(PULSES.replace(":SOUR1:VOLT:LOW 0;:SOUR1:VOLT:HIGH 1",
                                  ":SOUR1:VOLT:LOW -1;:SOUR1:VOLT:HIGH 0;:OUTP1:POL INV"))
    channel = rig.sim.channels_by_number[1]
    assert channel.state_at(rig.bench.clock.now()).level == 0.0
    rig.inst.write("*TRG")
    start = rig.bench.clock.now()
    assert channel.state_at(start + 0.5e-6).level == pytest.approx(-2.0)
    assert channel.state_at(start + 5e-6).level == 0.0


def test_arbitrary_waveform_points_are_held_at_the_sample_rate(rig: Rig) -> None:
    codes = [-32767] * 4 + [32767] * 2 + [0] * 2
    rig.inst.write("SOUR1:DATA:ARB:DAC spike, " + ", ".join(map(str, codes)))
    rig.inst.write(":SOUR1:FUNC:ARB spike;:SOUR1:FUNC ARB;:SOUR1:FUNC:ARB:SRAT 1e6;"
                   ":SOUR1:VOLT:LOW -0.5;:SOUR1:VOLT:HIGH 1;:SOUR1:BURS:NCYC 2;"
                   ":TRIG1:SOUR BUS;:SOUR1:BURS:STAT ON;:OUTP1 ON")
    assert errors(rig.inst) == []
    channel = rig.sim.channels_by_number[1]
    assert channel.state_at(rig.bench.clock.now()).level == pytest.approx(-1.0)  # first sample
    rig.inst.write("*TRG")
    start = rig.bench.clock.now()
    expected = [-1.0] * 4 + [2.0] * 2 + [0.5] * 2  # ×2: the 50 Ω setting
    for cycle in range(2):
        for i, level in enumerate(expected):
            t = start + (cycle * 8 + i + 0.5) * 1e-6
            assert channel.state_at(t).level == pytest.approx(level, abs=1e-4)
    assert rig.sim.outputs[1].burst_end == pytest.approx(start + 16e-6)


def test_arbitrary_waveform_uploads_are_checked(rig: Rig) -> None:
    rig.inst.write("SOUR1:DATA:ARB:DAC big, " + ", ".join(["0"] * 65_537))
    rig.inst.write("SOUR1:DATA:ARB:DAC wild, " + ", ".join(["40000"] * 8))
    rig.inst.write("SOUR1:DATA:ARB:DAC tiny, 0, 1")
    rig.inst.write("SOUR1:DATA:ARB:DAC twice, " + ", ".join(["0"] * 8))
    rig.inst.write("SOUR1:DATA:ARB:DAC twice, " + ", ".join(["0"] * 8))
    rig.inst.write("SOUR1:FUNC:ARB missing")
    rig.inst.write("SOUR1:FUNC:ARB:SRAT 300e6")
    assert errors(rig.inst) == [-223, -222, -222, -221, -224, -222]
    assert rig.inst.query("SOUR1:DATA:VOL:CAT?") == '"twice"'
    rig.inst.write("SOUR1:DATA:VOL:CLE")
    assert rig.inst.query("SOUR1:DATA:VOL:CAT?") == '""'


def test_continuous_pulses_run_without_a_trigger(rig: Rig) -> None:
    rig.inst.write(PULSES.replace(":SOUR1:BURS:STAT ON;", ""))
    now = rig.bench.clock.now()
    channel = rig.sim.channels_by_number[1]
    assert [channel.state_at(now + k * 1e-5 + 0.5e-6).level for k in range(3)] == [
        pytest.approx(2.0)] * 3


def test_load_setting_accepts_ohms_and_infinity_only_within_range(rig: Rig) -> None:
    rig.inst.write("OUTP1:LOAD 0.5")
    assert errors(rig.inst) == [-222]
    rig.inst.write("OUTP1:LOAD 1000")
    assert float(rig.inst.query("OUTP1:LOAD?")) == 1000.0
    rig.inst.write("OUTP1:LOAD INFinity")
    assert rig.inst.query("OUTP1:LOAD?") == "+9.900000000000000E+37"


def test_immediately_triggered_bursts_repeat_at_the_burst_period_for_ever(rig: Rig) -> None:
    rig.inst.write(PULSES.replace("NCYC 10", "NCYC 3").replace("TRIG1:SOUR BUS", "TRIG1:SOUR IMM")
                   + ";:SOUR1:BURS:INT:PER 1e-3")
    channel = rig.sim.channels_by_number[1]
    start = next(p.start for p in channel.pieces if p.state.level > 0)
    rig.bench.clock.sleep(0.5)
    rig.bench.sync()  # the bench has played 500 bursts since
    burst = math.ceil((rig.bench.clock.now() - start) / 1e-3)
    levels = [channel.state_at(start + burst * 1e-3 + j * 1e-5 + 0.5e-6).level for j in range(4)]
    assert levels == [pytest.approx(2.0)] * 3 + [0.0]
