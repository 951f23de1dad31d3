"""Behaviour of the simulated 2400 itself, exercised in its own SCPI (2400S-900-01 §18)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keithley_2400 import SimKeithley2400
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::24::INSTR"
Instrument = pyvisa.resources.MessageBasedResource


class Rig(NamedTuple):
    bench: Bench
    sim: SimKeithley2400
    inst: Instrument


@pytest.fixture
def rig() -> Rig:
    """The simulated 2400 on a 1 kΩ resistor, spoken to through the labsyn VISA backend."""
    sim = SimKeithley2400()
    bench = single_smu_bench(ADDRESS, sim, Resistor(1e3))
    rm = pyvisa.ResourceManager(bench.visa_library())
    return Rig(bench, sim, rm.open_resource(ADDRESS, read_termination="\n",
                                            write_termination="\n"))


def errors(inst: Instrument) -> list[int]:
    found = []
    while (code := int(inst.query(":SYST:ERR?").split(",")[0])) != 0:
        found.append(code)
    return found


def rows(inst: Instrument) -> np.ndarray:
    """The buffer as rows of VOLT, CURR, TIME, STAT."""
    return np.array(inst.query(":TRAC:DATA?").split(","), dtype=float).reshape(-1, 4)


def sweep(inst: Instrument, points: int, stored: int | None = None) -> None:
    """Trigger `points` SDM cycles per arm pass into a buffer of `stored` (default `points`)."""
    inst.write(f":FORM:ELEM VOLT,CURR,TIME,STAT;:SENS:FUNC 'VOLT','CURR';:TRIG:COUN {points};"
               f":TRAC:CLE;:TRAC:POIN {stored or points};:TRAC:FEED:CONT NEXT;:OUTP ON;:INIT")
    assert inst.query("*OPC?") == "1"


def test_identity_and_reset_defaults(rig: Rig) -> None:
    _, _, inst = rig
    assert inst.query("*IDN?").startswith("KEITHLEY INSTRUMENTS INC.,MODEL 2400,")
    inst.write(":SOUR:FUNC CURR;:SENS:CURR:PROT 0.01;*RST")
    assert inst.query(":SOUR:FUNC?") == "VOLT"
    assert float(inst.query(":SENS:CURR:PROT?")) == pytest.approx(105e-6)
    assert inst.query("OUTPUT?") == "0" and errors(inst) == []


def test_read_with_the_output_off_is_error_803_without_a_reply(rig: Rig) -> None:
    _, _, inst = rig
    inst.write(":READ?")
    assert inst.query(":SYST:ERR?") == '803,"Not permitted with OUTPUT off"'
    inst.write(":OUTP ON;:SENS:CURR:PROT 0.01;:SOUR:VOLT 0.5;:FORM:ELEM VOLT,CURR")
    volts, amps = map(float, inst.query(":READ?").split(","))
    assert volts == 0.5 and amps == pytest.approx(0.5e-3, rel=1e-3)


def test_source_list_takes_at_most_100_values_per_command_and_2500_in_all(rig: Rig) -> None:
    _, _, inst = rig
    inst.write(":SOUR:LIST:VOLT " + ",".join(["0.1"] * 101))
    assert errors(inst) == [-223]
    inst.write(":SOUR:LIST:VOLT " + ",".join(["0.1"] * 100))
    for _ in range(24):
        inst.write(":SOUR:LIST:VOLT:APP " + ",".join(["0.2"] * 100))
    assert inst.query(":SOUR:LIST:VOLT:POIN?") == "2500" and errors(inst) == []
    inst.write(":SOUR:LIST:VOLT:APP 0.3")
    assert errors(inst) == [-223]


@pytest.mark.parametrize(("abort", "stored"), [("NEV", 11), ("LATE", 4), ("EARL", 3)])
def test_compliance_abort_ends_the_sweep_at_the_first_point_in_compliance(
        rig: Rig, abort: str, stored: int) -> None:
    _, sim, inst = rig
    inst.write(f":SENS:CURR:PROT 2.5e-4;:SOUR:VOLT:STAR 0;:SOUR:VOLT:STOP 1;:SOUR:SWE:POIN 11;"
               f":SOUR:VOLT:MODE SWE;:SOUR:SWE:CAB {abort}")
    sweep(inst, 11)
    data = rows(inst)
    assert len(data) == stored
    limited = (data[:, 3].astype(int) & 8) > 0
    assert limited.tolist() == [False] * 3 + [True] * (stored - 3)
    assert np.all(data[limited, 1] == pytest.approx(2.5e-4, rel=1e-12))
    assert np.all(data[limited, 0] < [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0][:stored - 3])
    assert sim.channel.state_at(sim.now).level == 0.0  # back at the bias level
    assert errors(inst) == []


def test_the_envelope_refuses_more_than_105_ma_above_21_v(rig: Rig) -> None:
    _, _, inst = rig
    inst.write(":SENS:CURR:PROT 0.5;:SOUR:VOLT 25")
    assert errors(inst) == [-222]
    assert float(inst.query(":SOUR:VOLT?")) == 0.0
    inst.write(":SENS:CURR:PROT 0.1;:SOUR:VOLT 25;:SENS:CURR:PROT 0.2")
    assert errors(inst) == [-222]
    assert float(inst.query(":SENS:CURR:PROT?")) == pytest.approx(0.1)


@pytest.mark.parametrize(("setup", "step"), [
    (":SYST:AZER OFF;:SOUR:DEL 0.002", 0.002 + 2 * 0.02 + 0.3e-3),
    (":SYST:AZER ON;:SOUR:DEL 0.002", 0.002 + 3 * 2 * 0.02 + 0.3e-3),
    (":SYST:AZER OFF;:SOUR:DEL 0.01;:TRIG:DEL 0.005", 0.005 + 0.01 + 2 * 0.02 + 0.3e-3),
])
def test_sdm_cycle_is_trigger_delay_source_delay_and_a_conversion_per_function(
        rig: Rig, setup: str, step: float) -> None:
    _, _, inst = rig
    inst.write(f"{setup};:SENS:CURR:NPLC 1;:SOUR:LIST:VOLT 0.1,0.2,0.3,0.4;:SOUR:VOLT:MODE LIST")
    sweep(inst, 4)
    data = rows(inst)
    assert data[0, 2] == 0.0  # buffer timestamps count from the first reading
    assert np.allclose(np.diff(data[:, 2]), step, rtol=1e-9)


def test_the_arm_timer_paces_patterns_and_the_list_runs_on_across_arm_passes(rig: Rig) -> None:
    _, _, inst = rig
    inst.write(":SOUR:LIST:VOLT 0.1,0.2,0.3,0.4,0.5,0.6;:SOUR:VOLT:MODE LIST;:SYST:AZER OFF;"
               ":SENS:CURR:PROT 0.01;:SENS:CURR:NPLC 0.01;:ARM:SOUR TIM;:ARM:TIM 0.1;:ARM:COUN 3")
    sweep(inst, 2, stored=6)  # trigger count 2 per arm pass
    data = rows(inst)
    assert data[:, 0].tolist() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert np.allclose(data[::2, 2], [0.0, 0.1, 0.2])
    inst.write(":SOUR:LIST:VOLT 1,2;:ARM:COUN 3")  # a list shorter than the run wraps
    sweep(inst, 2, stored=6)
    assert rows(inst)[:, 0].tolist() == [1, 2, 1, 2, 1, 2]


def test_arm_count_times_trigger_count_is_at_most_2500(rig: Rig) -> None:
    _, _, inst = rig
    inst.write(":TRIG:COUN 2500;:ARM:COUN 2")
    assert errors(inst) == [-221]
    assert inst.query(":ARM:COUN?") == "1"


def test_storage_stops_when_the_buffer_is_full_and_is_locked_while_storing(rig: Rig) -> None:
    inst = rig.inst
    inst.write(":TRAC:POIN 3;:TRAC:FEED:CONT NEXT;:TRIG:COUN 5;:OUTP ON;:INIT")
    inst.write(":TRAC:CLE")
    assert errors(inst) == [800]
    assert inst.query("*OPC?") == "1"
    assert inst.query(":TRAC:POIN:ACT?") == "3" and inst.query(":TRAC:FEED:CONT?") == "NEV"
    assert int(inst.query(":STAT:OPER:COND?")) & 1024


def test_abort_mid_sweep_returns_to_the_bias_and_stops_storing(rig: Rig) -> None:
    bench, sim, inst = rig
    inst.write(":SOUR:VOLT 0.05;:SOUR:VOLT:STAR 0.5;:SOUR:VOLT:STOP 1;:SOUR:SWE:POIN 100;"
               ":SOUR:VOLT:MODE SWE;:SOUR:DEL 0.01;:TRIG:COUN 100;:TRAC:POIN 100;"
               ":TRAC:FEED:CONT NEXT;:OUTP ON;:INIT")
    bench.clock.sleep(0.3)
    assert int(inst.query(":STAT:OPER:COND?")) == 8  # sweeping
    inst.write(":ABOR")
    taken = int(inst.query(":TRAC:POIN:ACT?"))
    bench.clock.sleep(5.0)
    assert 0 < taken < 100 and int(inst.query(":TRAC:POIN:ACT?")) == taken
    assert sim.channel.state_at(bench.clock.now()).level == 0.05
    assert bench.timeline.duts[0].last_current == pytest.approx(0.05e-3)


def test_output_off_and_the_high_impedance_off_state(rig: Rig) -> None:
    bench, _, inst = rig
    inst.write(":SOUR:VOLT 1;:OUTP ON;:OUTP:SMOD HIMP;:OUTP OFF")
    bench.clock.sleep(0.01)
    bench.sync()
    assert bench.timeline.duts[0].last_current == 0.0
    assert inst.query(":OUTP:SMOD?") == "HIMP" and errors(inst) == []


def test_status_word_and_unmeasured_elements(rig: Rig) -> None:
    _, _, inst = rig
    inst.write(":SENS:FUNC:CONC OFF;:SENS:FUNC 'CURR';:SENS:CURR:PROT 1e-4;:SOUR:VOLT 1;"
               ":OUTP ON;:FORM:ELEM VOLT,CURR,RES,STAT")
    volts, amps, ohms, status = map(float, inst.query(":READ?").split(","))
    assert volts == 1.0  # not measured: the programmed level
    assert amps == pytest.approx(1e-4, rel=1e-12) and ohms == 9.91e37
    assert int(status) & 8 and int(status) & 4096 and not int(status) & 2048
