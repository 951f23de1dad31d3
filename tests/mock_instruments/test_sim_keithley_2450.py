"""Behaviour of the simulated 2450 itself, exercised in its own SCPI."""

from __future__ import annotations

import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::24::INSTR"


@pytest.fixture
def smu() -> tuple[Bench, pyvisa.resources.MessageBasedResource]:
    bench = single_smu_bench(ADDRESS, SimKeithley2450(), Resistor(1e3))
    rm = pyvisa.ResourceManager(bench.visa_library())
    return bench, rm.open_resource(ADDRESS, read_termination="\n", write_termination="\n")


def errors(inst: pyvisa.resources.MessageBasedResource) -> list[int]:
    found = []
    while (code := int(inst.query(":SYST:ERR?").split(",")[0])) != 0:
        found.append(code)
    return found


def test_source_list_takes_at_most_100_values_per_command(smu) -> None:  # type: ignore[no-untyped-def]
    _, inst = smu
    inst.write(":SOUR:LIST:VOLT " + ",".join(["0.1"] * 101))
    assert errors(inst) == [-223]
    inst.write(":SOUR:LIST:VOLT " + ",".join(["0.1"] * 100))
    inst.write(":SOUR:LIST:VOLT:APP " + ",".join(["0.2"] * 100))
    assert inst.query(":SOUR:LIST:VOLT:POIN?") == "200"
    assert errors(inst) == []


def test_coupled_limit_refuses_more_than_105_ma_above_21_v(smu) -> None:  # type: ignore[no-untyped-def]
    _, inst = smu
    inst.write(":SOUR:VOLT:ILIM 0.5;:SOUR:VOLT 25")
    assert errors(inst) == [-222]
    assert float(inst.query(":SOUR:VOLT?")) == 0.0


@pytest.mark.parametrize(("fail_abort", "expected"), [("ON", 4), ("OFF", 11)])
def test_fail_abort_stops_a_sweep_at_the_first_limited_point(smu, fail_abort: str,  # type: ignore[no-untyped-def]
                                                             expected: int) -> None:
    _, inst = smu
    inst.write(f":SOUR:VOLT:ILIM 2.5e-4;:SOUR:SWE:VOLT:LIN 0, 1, 11, 0, 1, BEST, {fail_abort}, "
               "OFF, 'defbuffer1'")
    inst.write(":INIT")
    assert inst.query("*OPC?") == "1"
    assert int(inst.query(":TRAC:ACT?")) == expected


def test_measurement_time_follows_nplc_and_line_frequency(smu) -> None:  # type: ignore[no-untyped-def]
    bench, inst = smu
    inst.write(":OUTP ON;:SENS:CURR:AZER OFF")
    durations = {}
    for nplc in (0.1, 1.0, 10.0):
        inst.write(f":SENS:CURR:NPLC {nplc}")
        start = bench.clock.now()
        inst.query(":MEAS:CURR?")
        durations[nplc] = bench.clock.now() - start
    assert durations[10.0] - durations[1.0] == pytest.approx(9 / 50, rel=0.01)
    assert durations[1.0] - durations[0.1] == pytest.approx(0.9 / 50, rel=0.01)


def test_binary_buffer_transfer_is_an_indefinite_block(smu) -> None:  # type: ignore[no-untyped-def]
    import struct

    _, inst = smu
    inst.write(":SOUR:VOLT:ILIM 1e-2;:SOUR:SWE:VOLT:LIN 0, 1, 5, 0, 1, BEST, OFF, OFF, "
               "'defbuffer1';:INIT;*WAI;:FORM REAL")
    inst.write(":TRAC:DATA? 1, 5, 'defbuffer1', READ, SOUR")
    raw = inst.read_bytes(2 + 8 * 10 + 1)
    assert raw[:2] == b"#0" and raw[-1:] == b"\n"
    values = struct.unpack("<10d", raw[2:-1])
    assert values[8:] == pytest.approx((1e-3, 1.0), rel=1e-3)
    inst.write(":TRAC:DATA? 1, 5, 'defbuffer1', READ, SOURSTAT")
    inst.clear()
    assert errors(inst) == [1133]


def test_output_off_high_impedance_floats_the_dut(smu) -> None:  # type: ignore[no-untyped-def]
    _, inst = smu
    inst.write(":OUTP:SMOD HIMP;:SOUR:VOLT:ILIM 1e-2;:SOUR:VOLT 1;:OUTP ON")
    assert float(inst.query(":MEAS:CURR?")) == pytest.approx(1e-3, rel=1e-3)
    inst.write(":OUTP OFF")
    assert abs(float(inst.query(":MEAS:CURR?"))) < 1e-9


def test_trigger_model_pulse_train_from_the_reference_recipe(smu) -> None:  # type: ignore[no-untyped-def]
    _, inst = smu
    for command in [
        ":SOUR:FUNC VOLT;:SOUR:VOLT:ILIM 1e-2;:SOUR:VOLT:DEL:AUTO OFF;:SOUR:VOLT:DEL 0",
        ":SENS:CURR:NPLC 0.01;:SENS:CURR:AZER OFF",
        ':SOUR:CONF:LIST:CRE "PT"', ':SOUR:VOLT 0.8;:SOUR:CONF:LIST:STOR "PT"',
        ':SOUR:VOLT 0.1;:SOUR:CONF:LIST:STOR "PT"', ':SOUR:VOLT 0;:SOUR:CONF:LIST:STOR "PT"',
        ":TRIG:TIM1:STAT OFF;:TRIG:TIM1:DEL 0.01;:TRIG:TIM1:COUN 5;:TRIG:TIM1:STAR:STIM NOT1",
        ":TRIG:TIM1:STAR:GEN OFF;:TRIG:TIM1:STAT ON", ':TRIG:LOAD "Empty"',
        ':TRIG:BLOC:BUFF:CLE 1, "defbuffer1";:TRIG:BLOC:CONF:REC 2, "PT", 3',
        ":TRIG:BLOC:SOUR:STAT 3, ON;:TRIG:BLOC:NOT 4, 1;:TRIG:BLOC:WAIT 5, TIM1",
        ':TRIG:BLOC:CONF:REC 6, "PT", 1;:TRIG:BLOC:DEL:CONS 7, 0.002',
        ':TRIG:BLOC:CONF:REC 8, "PT", 2;:TRIG:BLOC:DEL:CONS 9, 0.001',
        ':TRIG:BLOC:MEAS 10, "defbuffer1";:TRIG:BLOC:CONF:REC 11, "PT", 3',
        ":TRIG:BLOC:BRAN:COUN 12, 5, 5;:TRIG:BLOC:SOUR:STAT 13, OFF", ":INIT"]:
        inst.write(command)
    assert inst.query("*OPC?") == "1"
    assert errors(inst) == []
    data = [float(v) for v in inst.query(":TRAC:DATA? 1, 5, 'defbuffer1', READ, SOUR, REL")
            .split(",")]
    assert data[0::3] == pytest.approx([1e-4] * 5, rel=1e-3)
    assert data[1::3] == pytest.approx([0.1] * 5)
    assert [round(b - a, 6) for a, b in zip(data[2:-3:3], data[5::3], strict=True)] == [0.01] * 4
    assert inst.query(":OUTP?") == "0"


def test_a_measure_block_inside_a_pulse_reads_the_current_at_the_pulse_level(smu) -> None:  # type: ignore[no-untyped-def]
    """Pulse-top sampling: DELAY then MEASURE fill the pulse; the reading ends with it."""
    _, inst = smu
    for command in [
        ":SOUR:FUNC VOLT;:SOUR:VOLT:ILIM 1e-2;:SOUR:VOLT:DEL:AUTO OFF;:SOUR:VOLT:DEL 0",
        ":SENS:CURR:NPLC 0.01;:SENS:CURR:AZER OFF",
        ':SOUR:CONF:LIST:CRE "PT"', ':SOUR:VOLT 0.8;:SOUR:CONF:LIST:STOR "PT"',
        ':SOUR:VOLT 0.1;:SOUR:CONF:LIST:STOR "PT"', ':SOUR:VOLT 0;:SOUR:CONF:LIST:STOR "PT"',
        ":TRIG:TIM1:STAT OFF;:TRIG:TIM1:DEL 0.01;:TRIG:TIM1:COUN 3;:TRIG:TIM1:STAR:STIM NOT1",
        ":TRIG:TIM1:STAR:GEN OFF;:TRIG:TIM1:STAT ON", ':TRIG:LOAD "Empty"',
        ':TRIG:BLOC:BUFF:CLE 1, "defbuffer1";:TRIG:BLOC:CONF:REC 2, "PT", 3',
        ":TRIG:BLOC:SOUR:STAT 3, ON;:TRIG:BLOC:NOT 4, 1;:TRIG:BLOC:WAIT 5, TIM1",
        ':TRIG:BLOC:CONF:REC 6, "PT", 1;:TRIG:BLOC:DEL:CONS 7, 0.00155',
        ':TRIG:BLOC:MEAS 8, "defbuffer1";:TRIG:BLOC:CONF:REC 9, "PT", 2',
        ':TRIG:BLOC:DEL:CONS 10, 0.001;:TRIG:BLOC:MEAS 11, "defbuffer1"',
        ':TRIG:BLOC:CONF:REC 12, "PT", 3;:TRIG:BLOC:BRAN:COUN 13, 3, 5',
        ":TRIG:BLOC:SOUR:STAT 14, OFF", ":INIT"]:
        inst.write(command)
    assert inst.query("*OPC?") == "1"
    assert errors(inst) == []
    data = [float(v) for v in inst.query(":TRAC:DATA? 1, 6, 'defbuffer1', READ, SOUR, REL")
            .split(",")]
    assert data[0::6] == pytest.approx([0.8e-3] * 3, rel=1e-3)  # 0.8 V on 1 kΩ
    assert data[1::6] == pytest.approx([0.8] * 3)
    assert data[3::6] == pytest.approx([0.1e-3] * 3, rel=1e-3)
    pulse_end = [t - 0.01 * k for k, t in enumerate(data[2::6])]  # 2 ms after each timer event
    assert pulse_end == pytest.approx([pulse_end[0]] * 3, abs=1e-9)
    assert [b - a for a, b in zip(data[2::6], data[5::6], strict=True)] == pytest.approx(
        [1e-3 + 0.01 / 50 + 250e-6] * 3, abs=1e-9)
