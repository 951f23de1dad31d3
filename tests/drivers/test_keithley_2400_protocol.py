"""Command-level tests: the exact exchanges the 2400 driver has with the instrument.

Strings follow the 2400 manual (2400S-900-01 §18): compliance on the sense side
(``:SENS:CURR:PROT``), sweeps with ``:SOUR:VOLT:MODE SWE|LIST``, ``:SOUR:SWE:CAB``, the arm and
trigger layers, the buffer (``:TRAC``) and the idle bit of ``:STAT:OPER:COND?``. The simple settings
reuse pymeasure's Keithley2400 command strings: the last tests compare the two drivers.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymeasure.instruments.keithley import Keithley2400 as PymeasureKeithley2400
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.keithley_2400 import IDN, SPOT_SETUP, Keithley2400
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import (
    InstrumentError,
    InstrumentReplyError,
    InstrumentReportedError,
    LimitError,
)

INIT = [("*IDN?", IDN)]
NO_ERROR = (":SYST:ERR?", '0,"No error"')
IDLE = (":STAT:OPER:COND?", "1024")
LFR = (":SYST:LFR?", "50")


def setup(limit: str, delay: str, nplc: str, functions: str = "'VOLT:DC','CURR:DC'") -> str:
    concurrent = "ON" if "," in functions else "OFF"
    return (f":TRAC:FEED:CONT NEV;:SOUR:FUNC VOLT;:SOUR:DEL:AUTO OFF;:SOUR:DEL {delay};"
            f":SENS:CURR:PROT {limit};:SENS:FUNC:OFF:ALL;:SENS:FUNC:CONC {concurrent};"
            f":SENS:FUNC {functions};:SENS:CURR:RANG:AUTO ON;:SENS:CURR:NPLC {nplc};"
            ":SYST:AZER ONCE;:FORM:ELEM VOLT,CURR,TIME,STAT")


def counts(points: int) -> str:
    return (f":ARM:SOUR IMM;:ARM:COUN 1;:TRIG:SOUR IMM;:TRIG:DEL 0;:TRIG:COUN {points};"
            f":TRAC:CLE;:TRAC:POIN {points};:TRAC:FEED SENS;:TRAC:FEED:CONT NEXT")


def final(mode: str, abort: str = "NEV") -> str:
    return f":SOUR:VOLT:MODE {mode};:SOUR:SWE:RANG BEST;:SOUR:SWE:DIR UP;:SOUR:SWE:CAB {abort}" \
           ";:OUTP ON"


def buffer(*readings: tuple[float, float, float, int]) -> str:
    return ",".join(f"{v:+.6E}" for reading in readings for v in reading)


def driver(pairs: list[tuple[str | None, str | None]]):  # type: ignore[no-untyped-def]
    return expected_protocol(Keithley2400, INIT + pairs, clock=SimClock())


def test_init_refuses_another_2400_series_model() -> None:
    with pytest.raises(InstrumentError, match="MODEL 2401.*not a Keithley MODEL 2400"):
        with expected_protocol(Keithley2400, [("*IDN?", IDN.replace("2400", "2401", 1))]):
            pass


def test_apply_voltage_sets_the_compliance_before_the_level_before_the_output() -> None:
    with driver([(":SOUR:FUNC VOLT;:SOUR:VOLT:MODE FIX;:SOUR:VOLT:RANG:AUTO 1", None),
                 (":SENS:CURR:PROT 0.0001", None), (":SOUR:VOLT 0.5", None),
                 (":OUTP ON", None)]) as smu:
        smu.apply_voltage(0.5, 1e-4)


def test_measure_reads_voltage_current_and_the_compliance_bit() -> None:
    with driver([("OUTPUT?", "1"), (SPOT_SETUP, None),
                 (":READ?", "+4.000000E-01,+1.000000E-04,+1.2E+01,+2.2540E+04"),
                 (":READ?", "+5.000000E-01,+5.000000E-05,+1.3E+01,+2.2532E+04")]) as smu:
        first, second = smu.measure(), smu.measure()
    assert (first.voltage, first.current, first.limited) == (0.4, 1e-4, True)
    assert (second.voltage, second.current, second.limited) == (0.5, 5e-5, False)


def test_measure_with_the_output_off_is_refused_before_read() -> None:
    with driver([("OUTPUT?", "0")]) as smu:
        with pytest.raises(InstrumentError, match="output is off.*803"):
            smu.measure()


def test_linear_staircase_is_one_configure_one_init_one_buffer_read() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    rows = buffer((0, 1e-7, 0, 22532), (0.25, 1e-5, 0.01, 22532), (0.5, 2e-5, 0.02, 22532),
                  (0.75, 3e-5, 0.03, 22532), (0.9, 1e-4, 0.04, 22540))
    sweep = ":SOUR:SWE:SPAC LIN;:SOUR:VOLT:STAR 0;:SOUR:VOLT:STOP 1;:SOUR:SWE:POIN 5"
    with driver([LFR, (";".join([setup("0.0001", "0.0057", "0.1"), counts(5), sweep,
                                 final("SWE")]), None),
                 NO_ERROR, (":INIT", None), IDLE, (":TRAC:DATA?", rows), NO_ERROR]) as smu:
        data = smu.run(Sequence("TE", (step,), nplc=0.1))
    assert list(data.limited) == [False, False, False, False, True]
    assert data.current[-1] == 1e-4 and data.source[-1] == 0.9
    assert data.time[1] - data.time[0] == pytest.approx(0.01)


def test_arbitrary_staircase_is_sent_as_lists_of_at_most_100_values() -> None:
    levels = tuple(float(v) for v in [0.1, 0.3, 0.2] * 50)
    first = ":SOUR:LIST:VOLT " + ",".join(f"{v:g}" for v in levels[:100])
    rest = ":SOUR:LIST:VOLT:APP " + ",".join(f"{v:g}" for v in levels[100:])
    rows = buffer(*[(0.1, 1e-6, 0.0, 22532)] * 150)
    with driver([LFR, (";".join([setup("0.001", "0", "1"), counts(150), first, rest,
                                 final("LIST")]), None),
                 NO_ERROR, (":INIT", None), IDLE, (":TRAC:DATA?", rows), NO_ERROR]) as smu:
        assert len(smu.run(Sequence("TE", (Staircase(levels, 0.0, 1e-3),)))) == 150


def test_stop_on_limit_uses_compliance_abort_and_accepts_the_shorter_buffer() -> None:
    ramp = Staircase.ramp(0.0, 2.0, 0.5, 0.0, 1e-4, stop_on_limit=True)
    sweep = ":SOUR:SWE:SPAC LIN;:SOUR:VOLT:STAR 0;:SOUR:VOLT:STOP 2;:SOUR:SWE:POIN 5"
    rows = buffer((0, 1e-9, 0, 22532), (0.5, 2e-6, 0.005, 22532), (0.8, 1e-4, 0.01, 22540))
    with driver([LFR, (";".join([setup("0.0001", "0", "1"), counts(5), sweep,
                                 final("SWE", "LATE")]), None),
                 NO_ERROR, (":INIT", None), IDLE, (":TRAC:DATA?", rows), NO_ERROR]) as smu:
        data = smu.run(Sequence("TE", (ramp,)))
    assert len(data) == 3 and data.limited[-1] and not data.limited[:-1].any()


def test_pulse_train_is_a_timer_armed_pattern_reporting_the_reads() -> None:
    train = PulseTrain.identical(1.0, 3, 2e-3, 10e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)
    layers = (":ARM:SOUR TIM;:ARM:TIM 0.01;:TRIG:COUN 1;:ARM:COUN 3;:TRIG:SOUR IMM;"
              ":TRIG:DEL 0.001;:TRIG:COUN 3;:TRAC:CLE;:TRAC:POIN 9;:TRAC:FEED SENS;"
              ":TRAC:FEED:CONT NEXT")
    rows = buffer(*[r for k in range(3) for r in (
        (1.0, 1e-4, 0.01 * k, 20484), (0.1, 1e-5 * (k + 1), 0.01 * k + 0.002, 20484),
        (0.0, 0.0, 0.01 * k + 0.004, 20484))])
    with driver([LFR, (";".join([setup("0.001", "0.0005", "0.01", "'CURR:DC'"), layers,
                                 ":SOUR:LIST:VOLT 1,0.1,0", final("LIST")]), None),
                 NO_ERROR, (":INIT", None), IDLE, (":TRAC:DATA?", rows), NO_ERROR]) as smu:
        data = smu.run(Sequence("TE", (train,), nplc=0.01))
    assert data.current.tolist() == [1e-5, 2e-5, 3e-5] and data.source.tolist() == [0.1] * 3
    assert data.time[1] - data.time[0] == pytest.approx(0.01)


def test_short_buffer_is_a_reply_error_naming_the_segment() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.5, 0.0, 1e-4, label="SET")
    sweep = ":SOUR:SWE:SPAC LIN;:SOUR:VOLT:STAR 0;:SOUR:VOLT:STOP 1;:SOUR:SWE:POIN 3"
    with driver([LFR, (";".join([setup("0.0001", "0", "1"), counts(3), sweep, final("SWE")]),
                       None), NO_ERROR, (":INIT", None), IDLE,
                 (":TRAC:DATA?", buffer((0, 0, 0, 0), (1, 1, 1, 0)))]) as smu:
        with pytest.raises(InstrumentReplyError, match="segment SET stored 2 readings"):
            smu.run(Sequence("TE", (step,)))


def test_configuration_error_stops_the_run_before_init() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.5, 0.0, 1e-4)
    sweep = ":SOUR:SWE:SPAC LIN;:SOUR:VOLT:STAR 0;:SOUR:VOLT:STOP 1;:SOUR:SWE:POIN 3"
    with driver([LFR, (";".join([setup("0.0001", "0", "1"), counts(3), sweep, final("SWE")]),
                       None), (":SYST:ERR?", '-221,"Settings conflict"'), NO_ERROR]) as smu:
        with pytest.raises(InstrumentReportedError, match=r"Keithley 2400.*-221"):
            smu.run(Sequence("TE", (step,)))


def test_safe_off_aborts_zeroes_and_switches_off_then_verifies() -> None:
    with driver([(":ABOR", None), (":SOUR:VOLT:MODE FIX;:SOUR:VOLT 0;:SOUR:CURR 0", None),
                 (":OUTP OFF", None), ("OUTPUT?", "0")]) as smu:
        smu.safe_off()
        with pytest.raises(InstrumentError, match="safe_off"):
            smu.apply_voltage(0.1, 1e-4)  # held off until rearm()


def test_safe_off_reports_an_output_that_stays_on() -> None:
    with driver([(":ABOR", None), (":SOUR:VOLT:MODE FIX;:SOUR:VOLT 0;:SOUR:CURR 0", None),
                 (":OUTP OFF", None), ("OUTPUT?", "1")]) as smu:
        with pytest.raises(InstrumentError, match="output still on"):
            smu.safe_off()


def test_power_envelope_is_checked_against_the_present_level_before_sending() -> None:
    with driver([(":SOURCE:VOLTAGE?", "+3.000000E+01")]) as smu:
        with pytest.raises(LimitError, match="0.105 A above 21 V"):
            smu.current_limit = 0.5
        with pytest.raises(LimitError, match="0.105 A above 21 V"):
            smu.apply_voltage(25.0, 0.2)
        with pytest.raises(LimitError, match="0.105 A above 21 V"):
            smu.check_sequence(Sequence("TE", (Staircase((0.0, 30.0), 0.01, 0.5),)))


@pytest.mark.parametrize(("train", "nplc", "match"), [
    (PulseTrain.identical(1.0, 10, 0.5e-3, 10e-3, 1e-3), 0.01, "pulse width.*0.001"),
    (PulseTrain.identical(1.0, 10, 2e-3, 10e-3, 1e-3), 0.1, r"pulse width.*≥ 0.0023 s"),
    (PulseTrain.identical(1.0, 10, 1e-3, 10e-3, 1e-3, read_level=0.1, read_delay=0.8e-3), 0.01,
     r"read delay = '0.0008 s'.*0 … 0.0005 s or 0.001 s"),
    (PulseTrain.identical(1.0, 10, 2e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.5e-3), 0.01,
     r"period.*0.0065"),
    (PulseTrain.identical(1.0, 10, 1e-3, 4e-3, 1e-3, read_level=0.1, read_delay=1e-3), 0.01,
     r"period.*0.0045"),  # pulse, settle, read, base: four cycles of one width
])
def test_pulse_trains_beyond_the_2400_are_refused_before_sending(train: PulseTrain, nplc: float,
                                                                 match: str) -> None:
    pairs = [] if train.width < 1e-3 else [LFR]
    with driver(pairs) as smu:
        with pytest.raises(LimitError, match=match):
            smu.check_sequence(Sequence("TE", (train,), nplc=nplc))


# -- the settings reuse pymeasure's command strings --------------------------------------------
PYMEASURE_INIT = [(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)]
SAME_COMMANDS: list[tuple[str, Any, str, Any, str]] = [
    ("output_enabled", True, "source_enabled", True, "OUTPUT 1"),
    ("source_function", "current", "source_mode", "current", ":SOURCE:FUNCTION CURR"),
    ("source_delay", 0.25, "source_delay", 0.25, ":SOURCE:DELAY 0.25"),
    ("current_nplc", 0.5, "current_nplc", 0.5, ":SENSE:CURRENT:NPLCYCLES 0.5"),
    ("current_range", 1e-6, "current_range", 1e-6, ":SENSE:CURRENT:RANGE 1e-06"),
    ("output_off_mode", "high_impedance", "output_off_state", "disconnected",
     ":OUTPUT:SMODE HIMP"),
    ("autozero", False, "auto_zero_enabled", False, ":SYSTEM:AZERO:STATE 0"),
    ("wires", 4, "wires", 4, ":SYSTEM:RSENSE 1"),
    ("front_terminals", False, "front_terminals_enabled", False, ":ROUTE:TERMINALS REAR"),
    ("arm_timer", 0.01, "arm_timer", 0.01, ":ARM:TIMER 0.01"),
]


@pytest.mark.parametrize(("ours", "value", "theirs", "their_value", "command"), SAME_COMMANDS,
                         ids=[case[0] for case in SAME_COMMANDS])
def test_settings_send_what_pymeasure_sends(ours: str, value: Any, theirs: str,
                                            their_value: Any, command: str) -> None:
    with expected_protocol(PymeasureKeithley2400, [*PYMEASURE_INIT, (command, None)]) as inst:
        setattr(inst, theirs, their_value)
    with driver([(command, None)]) as smu:
        setattr(smu, ours, value)


def test_coupled_settings_send_pymeasure_strings_after_the_envelope_check() -> None:
    with driver([(":SENSE:CURRENT:PROTECTION?", "+1.000000E-03"), (":SOURCE:VOLTAGE 25", None),
                 (":SOURCE:CURRENT?", "+0.0E+00"), (":SENSE:VOLTAGE:PROTECTION 5", None),
                 (":SOURCE:CURRENT 0.5", None)]) as smu:
        smu.source_voltage = 25.0  # 1 mA compliance: within the envelope
        smu.voltage_limit = 5.0
        smu.source_current = 0.5  # 0.5 A at up to 5 V
        with pytest.raises(LimitError, match="0.105 A above 21 V"):
            smu.voltage_limit = 30.0


def test_values_keep_their_digits_where_pymeasure_rounds_them_out_of_range() -> None:
    with expected_protocol(PymeasureKeithley2400, [*PYMEASURE_INIT, (":TRIGGER:DELAY 1000", None)]
                           ) as inst:
        inst.trigger_delay = 999.9999  # %g: 6 digits, then the 2400 refuses 1000 s (-222)
    with driver([(":TRIGGER:DELAY 999.9999", None)]) as smu:
        smu.trigger_delay = 999.9999


def test_buffer_size_is_strict_where_pymeasure_truncates() -> None:
    with expected_protocol(PymeasureKeithley2400, [*PYMEASURE_INIT, (":TRAC:POIN 1024", None)]
                           ) as inst:
        inst.buffer_points = 2500  # pymeasure clamps silently to its (wrong) 1024
    with driver([(":TRAC:POIN 2500", None)]) as smu:
        smu.buffer_points = 2500
        with pytest.raises(LimitError, match="buffer points"):
            smu.buffer_points = 3000
