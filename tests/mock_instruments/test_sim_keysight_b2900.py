"""Behaviour of the simulated B2901A/B2902A itself, exercised in its own SCPI."""

from __future__ import annotations

import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keysight_b2900 import SimKeysightB2900
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::23::INSTR"
Instrument = pyvisa.resources.MessageBasedResource


def open_smu(model: str = "B2902A", resistance: float = 1e3) -> tuple[Bench, Instrument]:
    bench = single_smu_bench(ADDRESS, SimKeysightB2900(model=model), Resistor(resistance))
    rm = pyvisa.ResourceManager(bench.visa_library())
    return bench, rm.open_resource(ADDRESS, read_termination="\n", write_termination="\n")


@pytest.fixture
def smu() -> tuple[Bench, Instrument]:
    return open_smu()


def errors(inst: Instrument) -> list[int]:
    found = []
    while (code := int(inst.query(":SYST:ERR?").split(",")[0])) != 0:
        found.append(code)
    return found


def readings(inst: Instrument, channel: int = 1) -> list[list[float]]:
    """VOLT,CURR,TIME,STAT,SOUR rows of the last acquisition."""
    values = [float(v) for v in inst.query(f":FETC:ARR? (@{channel})").split(",")]
    return [values[i:i + 5] for i in range(0, len(values), 5)]


ELEMENTS = ":FORM:ELEM:SENS VOLT,CURR,TIME,STAT,SOUR;:SENS1:FUNC:ON \"VOLT\",\"CURR\""


def test_idn_names_the_model_and_a_b2901a_has_one_channel() -> None:
    _, inst = open_smu("B2901A")
    assert inst.query("*IDN?").split(",")[1] == "B2901A"
    inst.write(":SOUR2:VOLT 1;:OUTP2 1")
    assert errors(inst) == [-114]


@pytest.mark.parametrize(("command", "code"), [
    (":SOUR1:PULS:WIDT 40e-6", -222),  # pulse width 50 µs .. 100 ks
    (":SOUR1:VOLT 211", -222),
    (":SENS1:CURR:PROT 3.5", -222),
    (":SENS1:CURR:NPLC 0.0001", -222),  # aperture below 8 µs
    (":TRIG1:TIM 10e-6", -222),  # B2901A/02A timer ≥ 20 µs
    (":TRIG1:COUN 100001", -222),
    (":SOUR1:LIST:VOLT " + ",".join(["0.1"] * 2501), -223),
    (":SOUR1:VOLT 30;:SENS1:CURR:PROT 0.5", -221),  # 105 mA above 21 V
    (":SOUR1:VOLT 10;:SENS1:CURR:PROT 2", -221),  # 1.515 A above 6 V
    (":SOUR3:VOLT 1", -114),
    (":SOUR1:VOLT:BOGUS 1", -113),
])
def test_limits_and_errors(smu: tuple[Bench, Instrument], command: str, code: int) -> None:
    _, inst = smu
    inst.write(command)
    assert errors(inst) == [code]


def test_the_two_channels_share_one_supply(smu: tuple[Bench, Instrument]) -> None:
    _, inst = smu
    inst.write(":SENS1:CURR:PROT 2.5;:SOUR1:VOLT 5")
    inst.write(":SENS2:CURR:PROT 1")
    assert errors(inst) == []
    inst.write(":SENS2:CURR:PROT 2")  # I1 + I2 ≤ 4 A with both channels ≤ 6 V
    assert errors(inst) == [-221]


def test_spot_measurement_time_follows_nplc(smu: tuple[Bench, Instrument]) -> None:
    bench, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-2;:SOUR1:VOLT 1;:OUTP1 1;" + ELEMENTS)
    durations = {}
    for nplc in (0.1, 1.0, 10.0):
        inst.write(f":SENS1:CURR:NPLC {nplc}")
        start = bench.clock.now()
        voltage, current, _, status, source = (float(v) for v in inst.query(":MEAS? (@1)")
                                               .split(","))
        durations[nplc] = bench.clock.now() - start
    assert current == pytest.approx(1e-3, rel=1e-3) and status == 0 and source == 1.0
    assert voltage == pytest.approx(1.0, abs=1e-3)
    assert durations[10.0] - durations[1.0] == pytest.approx(9 / 50, rel=0.01)


def test_a_function_not_measured_reads_as_nan(smu: tuple[Bench, Instrument]) -> None:
    _, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-2;:SOUR1:VOLT 1;:OUTP1 1;:FORM:ELEM:SENS VOLT,CURR;"
               ":SENS1:FUNC:OFF:ALL;"
               ":SENS1:FUNC:ON \"CURR\"")
    voltage, current = (float(v) for v in inst.query(":MEAS? (@1)").split(","))
    assert voltage == 9.91e37 and current == pytest.approx(1e-3, rel=1e-3)


def test_compliance_sets_the_status_bits_and_limits_the_current(smu: tuple[Bench, Instrument]
                                                                ) -> None:
    _, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-4;:SOUR1:VOLT 1;:OUTP1 1;" + ELEMENTS)
    voltage, current, _, status, _ = (float(v) for v in inst.query(":MEAS? (@1)").split(","))
    assert int(status) & 0b110 and current == pytest.approx(1e-4, rel=1e-9)
    assert voltage == pytest.approx(0.1, rel=1e-3)
    assert inst.query(":SENS1:CURR:PROT:TRIP?") == "1"


def test_timer_paced_sweep_measures_at_the_end_of_each_step(smu: tuple[Bench, Instrument]
                                                            ) -> None:
    bench, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-2;:SOUR1:VOLT:MODE SWE;:SOUR1:VOLT:STAR 0;"
               ":SOUR1:VOLT:STOP 1;:SOUR1:VOLT:POIN 5;:TRIG1:SOUR TIM;:TRIG1:TIM 0.01;"
               ":TRIG1:COUN 5;:TRIG1:ACQ:DEL 0.0075;:SENS1:CURR:NPLC 0.1;:OUTP1 1;" + ELEMENTS)
    start = bench.clock.now()
    inst.write(":INIT (@1)")
    assert inst.query("*OPC?") == "1"
    assert bench.clock.now() - start == pytest.approx(0.05 - 0.01 + 0.0075 + 0.00205, abs=1e-3)
    rows = readings(inst)
    assert [r[4] for r in rows] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert [r[1] for r in rows] == pytest.approx([0, 2.5e-4, 5e-4, 7.5e-4, 1e-3], abs=1e-6)
    assert [r[2] - rows[0][2] for r in rows] == pytest.approx([0, 0.01, 0.02, 0.03, 0.04])


def test_a_pending_opc_reply_is_announced_by_mav_only_when_the_run_ends(
        smu: tuple[Bench, Instrument]) -> None:
    bench, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-2;:SOUR1:VOLT:TRIG 0.5;:TRIG1:SOUR TIM;:TRIG1:TIM 0.01;"
               ":TRIG1:COUN 20;:SENS1:CURR:NPLC 0.1;:OUTP1 1;" + ELEMENTS + ";:INIT (@1);*OPC?")
    assert not inst.read_stb() & 16  # serial poll: the reply does not exist yet
    bench.clock.sleep(0.25)
    assert inst.read_stb() & 16
    assert inst.read() == "1" and len(readings(inst)) == 20


def test_pulses_return_to_the_base_and_acquisitions_land_where_delayed(smu: tuple[Bench,
                                                                               Instrument]
                                                                        ) -> None:
    _, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-2;:SOUR1:FUNC:SHAP PULS;:SOUR1:VOLT 0.2;"
               ":SOUR1:VOLT:TRIG 1.0;:SOUR1:PULS:WIDT 1e-3;:SOUR1:PULS:DEL 0;"
               ":SENS1:CURR:NPLC 0.01;:TRIG1:SOUR TIM;:TRIG1:TIM 5e-3;:TRIG1:COUN 4;"
               ":TRIG1:ACQ:DEL 0.5e-3;:OUTP1 1;" + ELEMENTS)
    inst.write(":INIT (@1)")
    assert inst.query("*OPC?") == "1"
    assert [r[1] for r in readings(inst)] == pytest.approx([1e-3] * 4, rel=1e-3)  # in the pulse
    inst.write(":TRIG1:ACQ:DEL 2e-3;:INIT (@1)")
    assert inst.query("*OPC?") == "1"
    assert [r[1] for r in readings(inst)] == pytest.approx([2e-4] * 4, rel=1e-3)  # at base


def test_arm_layer_paces_pulse_read_pairs(smu: tuple[Bench, Instrument]) -> None:
    _, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-2;:SOUR1:FUNC:SHAP PULS;:SOUR1:VOLT 0;"
               ":SOUR1:VOLT:MODE LIST;:SOUR1:LIST:VOLT 1,0.1,2,0.1,3,0.1;:SOUR1:PULS:WIDT 1e-3;"
               ":SENS1:CURR:NPLC 0.01;:ARM1:SOUR TIM;:ARM1:TIM 10e-3;:ARM1:COUN 3;"
               ":TRIG1:TRAN:SOUR TIM;:TRIG1:TRAN:TIM 2e-3;:TRIG1:TRAN:COUN 2;"
               ":TRIG1:ACQ:SOUR TIM;:TRIG1:ACQ:COUN 1;:TRIG1:ACQ:DEL 2.5e-3;:OUTP1 1;" + ELEMENTS)
    inst.write(":INIT (@1)")
    assert inst.query("*OPC?") == "1"
    rows = readings(inst)
    assert [r[4] for r in rows] == [0.1] * 3  # each reading sits in a read pulse
    assert [r[2] - rows[0][2] for r in rows] == pytest.approx([0, 0.01, 0.02])


@pytest.mark.parametrize(("setup", "why"), [
    (":SOUR1:FUNC:SHAP PULS;:SOUR1:PULS:WIDT 2e-3;:TRIG1:SOUR TIM;:TRIG1:TIM 1e-3;"
     ":TRIG1:COUN 3", "pulse longer than the trigger interval"),
    (":SENS1:CURR:NPLC 1;:TRIG1:SOUR TIM;:TRIG1:TIM 1e-3;:TRIG1:COUN 3",
     "measurement longer than the trigger interval"),
    (":ARM1:SOUR TIM;:ARM1:TIM 1e-3;:ARM1:COUN 2;:TRIG1:SOUR TIM;:TRIG1:TIM 1e-3;"
     ":TRIG1:COUN 3;:SENS1:CURR:NPLC 0.01", "arm timer shorter than its trigger layer"),
    (":TRIG1:SOUR BUS", "bus triggers are not simulated"),
    (":SOUR1:VOLT:MODE LIST", "an empty list"),
])
def test_timings_the_twin_cannot_run_are_refused_at_init(smu: tuple[Bench, Instrument],
                                                          setup: str, why: str) -> None:
    _, inst = smu
    inst.write(setup)
    assert errors(inst) == []
    inst.write(":INIT (@1)")
    assert errors(inst) == [-221], why


def test_output_protection_switches_the_output_off_at_the_first_compliance(
        smu: tuple[Bench, Instrument]) -> None:
    bench, inst = smu
    inst.write(":SENS1:CURR:PROT 5e-4;:OUTP1:PROT 1;:SOUR1:VOLT:MODE SWE;:SOUR1:VOLT:STAR 0;"
               ":SOUR1:VOLT:STOP 1;:SOUR1:VOLT:POIN 11;:TRIG1:SOUR TIM;:TRIG1:TIM 0.01;"
               ":TRIG1:COUN 11;:SENS1:CURR:NPLC 0.1;:OUTP1 1;" + ELEMENTS)
    inst.write(":INIT (@1)")
    assert inst.query("*OPC?") == "1"
    limited = [bool(int(r[3]) & 0b110) for r in readings(inst)]
    assert limited.index(True) == 6 and limited.count(True) == 1  # 0.6 V > 0.5 mA · 1 kΩ
    assert [r[1] for r in readings(inst)][7:] == pytest.approx([0.0] * 4, abs=1e-8)
    assert inst.query(":OUTP1?") == "0" and inst.query(":STAT:QUES:COND?") == "4"
    assert bench.timeline.duts[0].last_current == 0.0


def test_abort_stops_the_run_and_fetch_returns_what_was_taken(smu: tuple[Bench, Instrument]
                                                              ) -> None:
    bench, inst = smu
    inst.write(":SENS1:CURR:PROT 1e-2;:SOUR1:VOLT:TRIG 0.5;:TRIG1:SOUR TIM;:TRIG1:TIM 0.01;"
               ":TRIG1:COUN 100;:SENS1:CURR:NPLC 0.1;:OUTP1 1;" + ELEMENTS)
    inst.write(":ABOR (@1)")  # nothing running: no error
    assert errors(inst) == []
    inst.write(":INIT (@1)")
    bench.clock.sleep(0.2)
    inst.write(":ABOR (@1)")
    taken = len(readings(inst))
    bench.clock.sleep(1.0)
    assert 10 <= taken <= 21 and len(readings(inst)) == taken
    assert inst.query("*OPC?") == "1" and errors(inst) == []


def test_fetch_without_readings_is_an_error(smu: tuple[Bench, Instrument]) -> None:
    _, inst = smu
    inst.write(":FETC:ARR? (@1)")
    inst.timeout = 100
    with pytest.raises(pyvisa.errors.VisaIOError):
        inst.read()
    assert errors(inst) == [-230, -420]  # no data, then a read with nothing to say


def test_reset_returns_to_defaults(smu: tuple[Bench, Instrument]) -> None:
    _, inst = smu
    inst.write(":SOUR2:VOLT 1.5;:OUTP2 1;:SENS2:CURR:NPLC 0.5;*RST")
    assert inst.query(":OUTP2?") == "0" and float(inst.query(":SOUR2:VOLT?")) == 0.0
    assert float(inst.query(":SENS2:CURR:NPLC?")) == 1.0
