"""Command-level tests: the exact exchanges the 2450 driver has with the instrument.

Strings follow the 2450 Reference Manual (2450-901-01) §6: source-side limit
``:SOUR:VOLT:ILIM``, ``:SOUR:SWE:VOLT:LIN <start>,<stop>,<points>,<delay>,<count>,<rangeType>,
<failAbort>,<dual>,<buffer>``, ``:TRAC:ACT?`` and ``:TRAC:DATA? <start>,<end>,<buffer>,<elems>``.
"""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.drivers.sequence import Sequence, Staircase
from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentReportedError

INIT = [("*LANG?", "SCPI")]
NO_ERROR = (":SYST:ERR?", '0,"No error"')
SETUP = (":SOUR:FUNC VOLT;:SOUR:VOLT:DEL:AUTO 0;:SOUR:VOLT:DEL 0;:SOUR:VOLT:ILIM {lim};"
         ':SOUR:VOLT:READ:BACK 1;:SENS:FUNC "CURR";:SENS:CURR:NPLC {nplc};:SENS:CURR:AZER 1;'
         ":SENS:CURR:RANG:AUTO 1")


def driver(pairs: list[tuple[str | None, str | None]]):  # type: ignore[no-untyped-def]
    return expected_protocol(Keithley2450, INIT + pairs, clock=SimClock())


def test_init_refuses_a_2450_in_tsp_mode() -> None:
    with pytest.raises(InstrumentError, match=r"\*LANG SCPI"):
        with expected_protocol(Keithley2450, [("*LANG?", "TSP")]):
            pass


def test_apply_voltage_sets_the_limit_before_the_level_before_the_output() -> None:
    with driver([(":SOUR:FUNC VOLT;:SOUR:VOLT:RANG:AUTO 1", None),
                 (":SOUR:VOLT:ILIM 0.0001", None), (":SOUR:VOLT 0.5", None),
                 (":OUTP ON", None)]) as smu:
        smu.apply_voltage(0.5, 1e-4)


def test_measure_reads_current_source_readback_and_limit_flag() -> None:
    with driver([(':SENS:FUNC "CURR"', None),
                 (':READ? "defbuffer1", READ, SOUR, SOURSTAT', "1.0E-04,4.0E-01,160")]) as smu:
        reading = smu.measure()
    assert reading.current == 1e-4 and reading.voltage == 0.4 and reading.limited


def configure(*commands: str) -> tuple[str, str]:
    """The driver's one configuration message, closed by the error count."""
    return ";".join([*commands, ":SYST:ERR:COUN?"]), "0"


def poll(count: int) -> tuple[str, str]:
    """Trigger state and buffer count in one query."""
    return ':TRIG:STAT?;:TRAC:ACT? "defbuffer1"', f"IDLE;IDLE;6;{count}"


def test_linear_staircase_is_one_sweep_command_one_trigger_one_buffer_read() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    rows = "0,0,0,128,1e-5,0.25,0.01,128,2e-5,0.5,0.02,128,3e-5,0.75,0.03,128,1e-4,0.9,0.04,160"
    with driver([(":SYST:LFR?", "50"),
                 configure(SETUP.format(lim="0.0001", nplc="0.1"), ':TRAC:CLE "defbuffer1"',
                           ':SOUR:SWE:VOLT:LIN 0, 1, 5, 0.00575, 1, BEST, OFF, OFF, '
                           '"defbuffer1"'),
                 (":INIT", None), poll(5),
                 (':TRAC:DATA? 1, 5, "defbuffer1", READ, SOUR, REL, SOURSTAT', rows),
                 NO_ERROR]) as smu:
        data = smu.run(Sequence("TE", (step,), nplc=0.1))
    assert list(data.limited) == [False, False, False, False, True]
    assert data.current[-1] == 1e-4 and data.source[-1] == 0.9


def test_arbitrary_staircase_is_sent_as_lists_of_at_most_100_values() -> None:
    levels = tuple(float(v) for v in [0.1, 0.3, 0.2] * 50)
    step = Staircase(levels, 0.0, 1e-3)
    first = ":SOUR:LIST:VOLT " + ", ".join(f"{v:.9g}" for v in levels[:100])
    rest = ":SOUR:LIST:VOLT:APP " + ", ".join(f"{v:.9g}" for v in levels[100:])
    rows = ",".join("1e-6,0.1,0.0,128" for _ in levels)
    with driver([(":SYST:LFR?", "50"),
                 configure(SETUP.format(lim="0.001", nplc="1"), ':TRAC:CLE "defbuffer1"',
                           first, rest, ':SOUR:SWE:VOLT:LIST 1, 0, 1, OFF, "defbuffer1"'),
                 (":INIT", None), poll(150),
                 (':TRAC:DATA? 1, 150, "defbuffer1", READ, SOUR, REL, SOURSTAT', rows),
                 NO_ERROR]) as smu:
        assert len(smu.run(Sequence("TE", (step,)))) == 150


def test_short_buffer_is_a_reply_error_naming_the_segment() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.5, 0.0, 1e-4, label="SET")
    with driver([(":SYST:LFR?", "50"),
                 configure(SETUP.format(lim="0.0001", nplc="1"), ':TRAC:CLE "defbuffer1"',
                           ':SOUR:SWE:VOLT:LIN 0, 1, 3, 0, 1, BEST, OFF, OFF, "defbuffer1"'),
                 (":INIT", None), poll(2),
                 (':TRAC:DATA? 1, 2, "defbuffer1", READ, SOUR, REL, SOURSTAT',
                  "0,0,0,128,1,1,1,128")]) as smu:
        with pytest.raises(InstrumentReplyError, match="segment SET stored 2 readings"):
            smu.run(Sequence("TE", (step,)))


def test_error_queue_entries_raise_naming_instrument_and_errors() -> None:
    with driver([(":SYST:ERR?", '-222,"Data out of range"'), NO_ERROR]) as smu:
        with pytest.raises(InstrumentReportedError, match=r"Keithley 2450.*-222"):
            smu.check_errors(":SOUR:VOLT 300")


def test_garbled_number_is_a_reply_error() -> None:
    with driver([(":SOUR:VOLT?", "7#k@!~%")]) as smu:
        with pytest.raises(InstrumentReplyError, match=r":SOUR:VOLT\?"):
            _ = smu.source_voltage


def test_safe_off_aborts_zeroes_and_switches_off_then_verifies() -> None:
    with driver([(":ABOR", None), (":SOUR:VOLT 0;:SOUR:CURR 0", None), (":OUTP OFF", None),
                 (":OUTP?", "0")]) as smu:
        smu.safe_off()


def test_safe_off_reports_an_output_that_stays_on() -> None:
    with driver([(":ABOR", None), (":SOUR:VOLT 0;:SOUR:CURR 0", None), (":OUTP OFF", None),
                 (":OUTP?", "1")]) as smu:
        with pytest.raises(InstrumentError, match="output still on"):
            smu.safe_off()


@pytest.mark.parametrize(("name", "value", "command"), [
    ("current_nplc", 0.5, ":SENS:CURR:NPLC 0.5"),
    ("current_range", 1e-6, ":SENS:CURR:RANG 1e-06"),
    ("output_off_mode", "high_impedance", ":OUTP:SMOD HIMP"),
    ("source_function", "current", ":SOUR:FUNC CURR"),
    ("output_enabled", False, ":OUTP 0"),
    ("sense_count", 5, ":SENS:COUN 5"),
])
def test_in_range_settings_send_one_command(name: str, value: object, command: str) -> None:
    with driver([(command, None)]) as smu:
        setattr(smu, name, value)


def sampled_blocks(width: float, nplc: float = 0.01) -> list[str]:
    from labsyn.drivers.keithley_2450_program import pulse_train_commands
    from labsyn.drivers.sequence import PulseTrain

    train = PulseTrain.identical(1.0, 3, width, 5e-3, 1e-3, read_level=0.1, read_delay=1e-3,
                                 measure_pulse=True)
    return pulse_train_commands(train, nplc, ("W", "R"), 50.0)[-1].split(";")


def test_pulse_top_sampling_measures_inside_the_pulse_which_keeps_its_width() -> None:
    measure = 0.01 / 50 + 250e-6  # NPLC 0.01 at 50 Hz, no autozero, plus processing
    blocks = sampled_blocks(2e-3)
    start = blocks.index(":TRIG:BLOC:WAIT 6, TIM1")
    assert blocks[start:start + 8] == [
        ":TRIG:BLOC:WAIT 6, TIM1", ':TRIG:BLOC:CONF:REC 7, "W", 1',
        f":TRIG:BLOC:DEL:CONS 8, {2e-3 - measure:.9g}", ':TRIG:BLOC:MEAS 9, "defbuffer1"',
        ':TRIG:BLOC:CONF:REC 10, "R", 1', ":TRIG:BLOC:DEL:CONS 11, 0.001",
        ':TRIG:BLOC:MEAS 12, "defbuffer1"', ':TRIG:BLOC:CONF:REC 13, "R", 2']
    assert ":TRIG:BLOC:BRAN:COUN 14, 3, 6" in blocks


def test_a_pulse_shorter_than_its_pulse_top_reading_is_refused_before_sending() -> None:
    from labsyn.drivers.sequence import PulseTrain
    from labsyn.errors import LimitError

    train = PulseTrain.identical(1.0, 3, 1e-3, 10e-3, 1e-3, read_level=0.1, measure_pulse=True)
    with driver([(":SYST:LFR?", "50")]) as smu:  # nothing else may be sent
        with pytest.raises(LimitError, match=r"pulse width = '0\.001 s'.*≥ 0\.00225 s.*NPLC 0\.1"):
            smu.run(Sequence("TE", (train,), nplc=0.1))
