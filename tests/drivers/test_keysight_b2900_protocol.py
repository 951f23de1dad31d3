"""Command-level tests: the exact exchanges the B2900 driver has with the instrument.

Strings follow the B2900 SCPI Command Reference (Ed 2) and User's Guide (Ed 5): channel suffixes
(``:SOUR1``, ``:SENS1:CURR:PROT``), channel lists (``(@1)``), ``:FORM:ELEM:SENS`` with the status
word's compliance bits 1-2, pulse shape with base ``:SOUR:VOLT`` and peak ``:SOUR:VOLT:TRIG``.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.keysight_b2900 import KeysightB2900
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import (
    InstrumentError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
    LimitError,
)

B2902A = [("*IDN?", "Keysight Technologies,B2902A,MY51141234,3.4.2011.5100"),
          (":SYST:LFR?", "50")]
B2901A = [("*IDN?", "AGILENT TECHNOLOGIES,B2901A,12345,SIM"), (":SYST:LFR?", "60")]
NO_ERROR = (":SYST:ERR?", '+0,"No error"')
SENSE = (':SENS{n}:FUNC:ON "VOLT","CURR";:SENS{n}:CURR:NPLC {nplc};{ranging};:SENS{n}:WAIT 0;'
         ":SOUR{n}:WAIT 0;:FORM:ELEM:SENS VOLT,CURR,TIME,STAT,SOUR")
AUTO = ":SENS{n}:CURR:RANG:AUTO 1"


def driver(pairs: list[tuple[str | None, str | None]], init: list[Any] = B2902A):  # type: ignore[no-untyped-def]
    return expected_protocol(KeysightB2900, init + pairs, clock=SimClock())


def rows(*readings: tuple[float, float, float, int, float]) -> str:
    return ",".join(f"{v:+.6E}" for reading in readings for v in reading)


# -- identification and channels --------------------------------------------------------------
def test_a_b2902a_has_two_channels_a_b2901a_one() -> None:
    with driver([]) as smu:
        assert smu.model == "B2902A" and list(smu.channels_by_number) == [1, 2]
        assert smu.channels_by_number[2].name == "Keysight B2900 channel 2"
    with driver([], init=B2901A) as smu:
        assert list(smu.channels_by_number) == [1] and list(smu.channels) == [1]
        assert not hasattr(smu, "ch_2")
        assert smu.line_frequency == 60.0


def test_init_refuses_another_instrument() -> None:
    with pytest.raises(InstrumentError, match="not a B2900"):
        with expected_protocol(KeysightB2900, [("*IDN?", "KEITHLEY INSTRUMENTS,MODEL 2450,1,1")]):
            pass


def test_channel_properties_address_their_own_channel() -> None:
    with driver([(":SOUR2:PULS:WIDT 0.0005", None), (":SENS1:CURR:NPLC?", "+1.000000E-01"),
                 (":OUTP2:OFF:MODE HIZ", None), (":TRIG2:COUN 7", None)]) as smu:
        ch1, ch2 = smu.channels_by_number[1], smu.channels_by_number[2]
        ch2.pulse_width = 5e-4
        assert ch1.current_nplc == 0.1
        ch2.output_off_mode = "high_impedance"
        ch2.trigger_count = 7


# -- spot operation ---------------------------------------------------------------------------
def test_apply_voltage_sets_compliance_before_level_before_output() -> None:
    setup = (":SOUR1:FUNC:MODE VOLT;:SOUR1:FUNC:SHAP DC;:SOUR1:VOLT:MODE FIX;"
             ":SOUR1:VOLT:RANG:AUTO 1;:ARM1:COUN 1;:TRIG1:COUN 1;:OUTP1:PROT 0")
    with driver([(setup, None), (":SENS1:CURR:PROT 0.0001", None), (":SOUR1:VOLT 0.5", None),
                 (":OUTP1 1", None)]) as smu:
        smu.channels_by_number[1].apply_voltage(0.5, 1e-4)


@pytest.mark.parametrize(("status", "limited"), [(0, False), (2, True), (6, True), (1, False),
                                                 (8192, False)])
def test_measure_reads_the_compliance_bits_of_the_status_word(status: int, limited: bool
                                                              ) -> None:
    with driver([(':FORM:ELEM:SENS VOLT,CURR,TIME,STAT,SOUR;:SENS2:FUNC:ON "VOLT","CURR"', None),
                 (":MEAS? (@2)", rows((0.4, 1e-4, 12.5, status, 0.5)))]) as smu:
        reading = smu.channels_by_number[2].measure()
    assert (reading.voltage, reading.current, reading.limited) == (0.4, 1e-4, limited)


@pytest.mark.parametrize(("voltage", "limit"), [(25.0, 0.2), (10.0, 2.0), (5.0, 3.1),
                                                (-211.0, 1e-3)])
def test_power_envelope_is_refused_before_sending(voltage: float, limit: float) -> None:
    with driver([]) as smu:
        with pytest.raises(LimitError):
            smu.channels_by_number[1].apply_voltage(voltage, limit)


def test_shared_supply_asks_the_other_channel_only_for_a_large_limit() -> None:
    """Both at ≤ 6 V: I1 + I2 ≤ 4 A (User's Guide table 2-4); channel 2 holds 5 V at 1.5 A."""
    with driver([(":SOUR2:VOLT?", "+5.000000E+00"), (":SENS2:CURR:PROT?", "+1.500000E+00")]
                ) as smu:
        ch1 = smu.channels_by_number[1]
        with pytest.raises(LimitError, match="I1 \\+ I2 ≤ 4 A"):
            ch1.apply_voltage(5.0, 2.6)


# -- sequences ---------------------------------------------------------------------------------
def staircase_configure(limit: str, nplc: str, points: int, interval: str, delay: str,
                        protect: int = 0) -> str:
    head = (f":SOUR1:FUNC:MODE VOLT;:SENS1:CURR:PROT {limit};:SOUR1:VOLT:RANG:AUTO 1;"
            ":SOUR1:VOLT 0;:SOUR1:VOLT:RANG 2;:SOUR1:FUNC:SHAP DC;:SOUR1:VOLT:MODE SWE;"
            ":SOUR1:SWE:SPAC LIN;:SOUR1:SWE:DIR UP;:SOUR1:VOLT:STAR 0;:SOUR1:VOLT:STOP 1;"
            f":SOUR1:VOLT:POIN {points};")
    return (head + SENSE.format(n=1, nplc=nplc, ranging=AUTO.format(n=1)) +
            f";:ARM1:SOUR AINT;:ARM1:COUN 1;:ARM1:DEL 0;:TRIG1:SOUR TIM;:TRIG1:TIM {interval};"
            f":TRIG1:COUN {points};:TRIG1:TRAN:DEL 0;:TRIG1:ACQ:DEL {delay};"
            f":OUTP1:PROT {protect};:OUTP1 1")


def test_linear_staircase_is_one_configure_one_init_one_fetch() -> None:
    """Timer-paced sweep: the acquire delay puts each reading at the end of its 10 ms step
    (10 ms − 2 ms aperture − 50 µs processing − 10 µs margin)."""
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    data_rows = rows((0, 0, 7.0, 0, 0), (0.25, 2.5e-5, 7.01, 0, 0.25), (0.5, 5e-5, 7.02, 0, 0.5),
                     (0.75, 7.5e-5, 7.03, 0, 0.75), (0.9, 1e-4, 7.04, 2, 1.0))
    with driver([(staircase_configure("0.0001", "0.1", 5, "0.01", "0.00794"), None), NO_ERROR,
                 (":INIT (@1);*OPC?", "1"), (":FETC:ARR? (@1)", data_rows), NO_ERROR]) as smu:
        data = smu.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))
    assert list(data.limited) == [False, False, False, False, True]
    assert data.source[-1] == 0.9 and data.current[-1] == 1e-4
    assert data.time[1] - data.time[0] == pytest.approx(0.01)
    assert data.time[0] == pytest.approx(0.00999)  # end of the first reading after :INIT


def test_stop_on_limit_protects_the_output_and_ends_at_the_first_trip() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4, stop_on_limit=True)
    data_rows = rows((0, 0, 1, 0, 0), (0.25, 2e-5, 1.01, 0, 0.25), (0.4, 1e-4, 1.02, 2, 0.5),
                     (0, 0, 1.03, 0, 0.75), (0, 0, 1.04, 0, 1.0))
    with driver([(staircase_configure("0.0001", "1", 5, "0.02006", "0", protect=1), None),
                 NO_ERROR, (":INIT (@1);*OPC?", "1"), (":FETC:ARR? (@1)", data_rows),
                 NO_ERROR]) as smu:
        data = smu.channels_by_number[1].run(Sequence("TE", (step,), nplc=1.0))
    assert len(data) == 3 and data.limited[-1] and not data.limited[:-1].any()


def test_arbitrary_staircase_over_2500_points_is_two_lists() -> None:
    levels = tuple(float(v) for v in [0.1, 0.3, 0.2] * 1000)
    sent: list[str] = []
    readings = {1: 2500, 2: 500}
    with driver([]) as smu:
        ch = smu.channels_by_number[1]
        calls = iter((1, 2))

        def write(command: str, **kwargs: Any) -> None:
            sent.append(command)

        def numbers(command: str, expected: int | None = None) -> list[float]:
            sent.append(command)
            return [0.1, 1e-6, 0.0, 0, 0.1] * readings[next(calls)]

        smu.write, smu.numbers = write, numbers  # type: ignore[method-assign]
        smu.check_errors = lambda command="": None  # type: ignore[method-assign]
        smu.read = lambda **kwargs: "1"  # type: ignore[method-assign]
        data = ch.run(Sequence("TE", (Staircase(levels, 0.0, 1e-3),)))
    lists = [m for m in sent if ":SOUR1:LIST:VOLT " in m]
    assert [m.split(":SOUR1:LIST:VOLT ")[1].split(";")[0].count(",") + 1 for m in lists] == [
        2500, 500]
    assert sent.count(":INIT (@1);*OPC?") == 2 and len(data) == 3000


def test_pulse_train_read_away_from_base_is_a_list_of_pulse_read_pairs_paced_by_arm() -> None:
    train = PulseTrain.identical(1.5, 3, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)
    configure = (":SOUR2:FUNC:MODE VOLT;:SENS2:CURR:PROT 0.001;:SOUR2:VOLT:RANG:AUTO 1;"
                 ":SOUR2:VOLT 0;:SOUR2:VOLT:RANG 2;:SOUR2:FUNC:SHAP PULS;:SOUR2:PULS:DEL 0;"
                 ":SOUR2:PULS:WIDT 0.001;:SOUR2:VOLT:MODE LIST;"
                 ":SOUR2:LIST:VOLT 1.5,0.1,1.5,0.1,1.5,0.1;" +
                 SENSE.format(n=2, nplc="0.01",
                              ranging=":SENS2:CURR:RANG:AUTO 0;:SENS2:CURR:RANG 0.001") +
                 ";:ARM2:SOUR TIM;:ARM2:TIM 0.005;:ARM2:COUN 3;:ARM2:DEL 0;:TRIG2:TRAN:SOUR TIM;"
                 ":TRIG2:TRAN:TIM 0.0015;:TRIG2:TRAN:COUN 2;:TRIG2:TRAN:DEL 0;"
                 ":TRIG2:ACQ:SOUR TIM;:TRIG2:ACQ:TIM 0.0015;:TRIG2:ACQ:COUN 1;"
                 ":TRIG2:ACQ:DEL 0.00224;:OUTP2:PROT 0;:OUTP2 1")
    data_rows = rows(*((0.1, 1e-5, 3.0 + 0.005 * k, 0, 0.1) for k in range(3)))
    with driver([(configure, None), NO_ERROR, (":INIT (@2);*OPC?", "1"),
                 (":FETC:ARR? (@2)", data_rows), NO_ERROR]) as smu:
        data = smu.channels_by_number[2].run(Sequence("BE", (train,), nplc=0.01))
    assert len(data) == 3 and list(data.source) == [0.1] * 3


def test_identical_pulses_read_at_base_need_no_list() -> None:
    train = PulseTrain.identical(1.5, 1000, 1e-3, 5e-3, 1e-3, read_delay=0.5e-3, read_level=0.0)
    sent: list[str] = []
    with driver([]) as smu:
        smu.write = lambda command, **kw: sent.append(command)  # type: ignore[method-assign]
        smu.check_errors = lambda command="": None  # type: ignore[method-assign]
        smu.read = lambda **kwargs: "1"  # type: ignore[method-assign]
        smu.numbers = lambda command, expected=None: [0.0, 1e-9, 0, 0, 0] * 1000  # type: ignore[method-assign]
        smu.channels_by_number[1].run(Sequence("TE", (train,), nplc=0.01))
    pieces = sent[0].split(";")
    assert ":SOUR1:VOLT:MODE FIX" in pieces and ":SOUR1:VOLT:TRIG 1.5" in pieces
    assert ":SOUR1:VOLT 0" in pieces and ":TRIG1:COUN 1000" in pieces
    assert ":TRIG1:ACQ:DEL 0.0015" in pieces  # read_delay after the pulse ends, at the base
    assert not any("LIST" in p for p in pieces)


@pytest.mark.parametrize(("train", "nplc", "match"), [
    (PulseTrain.identical(1.0, 10, 40e-6, 1e-3, 1e-3), 0.01, "pulse width"),
    (PulseTrain.identical(1.0, 10, 1e-3, 5e-3, 1e-3, read_level=0.1), 0.1, "read aperture"),
    (PulseTrain.identical(1.0, 10, 1e-3, 2.2e-3, 1e-3, read_level=0.1, read_delay=0.5e-3),
     0.01, "period"),
    (PulseTrain.identical(30.0, 10, 1e-3, 5e-3, 0.5), 0.01, "current limit"),
])
def test_trains_beyond_the_b2900_are_refused_before_sending(train: PulseTrain, nplc: float,
                                                            match: str) -> None:
    with driver([]) as smu:
        with pytest.raises(LimitError, match=match):
            smu.channels_by_number[1].run(Sequence("TE", (train,), nplc=nplc))


def test_short_fetch_is_a_reply_error_naming_the_segment() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4, label="SET")
    with driver([(staircase_configure("0.0001", "0.1", 5, "0.01", "0.00794"), None), NO_ERROR,
                 (":INIT (@1);*OPC?", "1"),
                 (":FETC:ARR? (@1)", rows((0, 0, 0, 0, 0), (1, 1e-6, 0.01, 0, 1)))]) as smu:
        with pytest.raises(InstrumentReplyError, match="segment SET returned 2 readings"):
            smu.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))


def test_configuration_error_stops_before_init() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    with driver([(staircase_configure("0.0001", "0.1", 5, "0.01", "0.00794"), None),
                 (":SYST:ERR?", '-221,"Settings conflict"'), NO_ERROR]) as smu:
        with pytest.raises(InstrumentReportedError, match=r"Keysight B2900.*-221"):
            smu.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))


def test_abort_before_the_first_reading_drops_the_pending_reply_and_aborts() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    with driver([(staircase_configure("0.0001", "0.1", 5, "0.01", "0.00794"), None), NO_ERROR,
                 (":INIT (@1);*OPC?", None), (":ABOR (@1)", None)]) as smu:
        checks = iter((False, True))
        data = smu.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1),
                                             should_abort=lambda: next(checks))
        assert smu.adapter.connection.clear.called  # the *OPC? reply is dropped, not read
    assert data.aborted and len(data) == 0


def test_a_run_that_overruns_its_timing_is_aborted_and_reported() -> None:
    """The serial poll never shows MAV (the *OPC? reply never comes): 10 s after the expected
    end the channel is aborted and the timeout names the command."""
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    pairs = [*B2902A, (staircase_configure("0.0001", "0.1", 5, "0.01", "0.00794"), None),
             NO_ERROR, (":INIT (@1);*OPC?", None), (":ABOR (@1)", None)]
    with expected_protocol(KeysightB2900, pairs, connection_methods={"read_stb": 0},
                           clock=SimClock()) as smu:
        with pytest.raises(InstrumentTimeout, match=r"\*OPC\?.*not completed 10 s"):
            smu.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))
        assert smu.clock.now() == pytest.approx(0.05 + 10.0, abs=0.02)


# -- safe state --------------------------------------------------------------------------------
OFF = [(":ABOR (@1,2)", None),
       (":SOUR1:VOLT:MODE FIX;:SOUR1:FUNC:SHAP DC;:SOUR1:VOLT 0", None), (":OUTP1 0", None),
       (":SOUR2:VOLT:MODE FIX;:SOUR2:FUNC:SHAP DC;:SOUR2:VOLT 0", None), (":OUTP2 0", None)]


def test_safe_off_stops_zeroes_and_switches_off_every_channel_then_verifies() -> None:
    with driver([*OFF, (":OUTP1?", "0"), (":OUTP2?", "0")]) as smu:
        smu.safe_off()
        with pytest.raises(InstrumentError, match="held off"):
            smu.channels_by_number[1].apply_voltage(0.1, 1e-3)


def test_safe_off_reports_an_output_that_stays_on() -> None:
    with driver([*OFF, (":OUTP1?", "0"), (":OUTP2?", "1")]) as smu:
        with pytest.raises(InstrumentError, match="output still on"):
            smu.safe_off()


def test_channel_safe_off_ramps_down_from_high_voltage() -> None:
    ramp = [(f":SOUR2:VOLT {v}", None) for v in (25, 20, 15, 10, 5)]
    with driver([(":SOUR2:FUNC:MODE VOLT;:SOUR2:FUNC:SHAP DC;:SOUR2:VOLT:MODE FIX;"
                  ":SOUR2:VOLT:RANG:AUTO 1;:ARM2:COUN 1;:TRIG2:COUN 1;:OUTP2:PROT 0", None),
                 (":SENS2:CURR:PROT 0.01", None), (":SOUR2:VOLT 30", None), (":OUTP2 1", None),
                 (":ABOR (@2)", None), *ramp,
                 (":SOUR2:VOLT:MODE FIX;:SOUR2:FUNC:SHAP DC;:SOUR2:VOLT 0", None),
                 (":OUTP2 0", None), (":OUTP2?", "0")]) as smu:
        ch2 = smu.channels_by_number[2]
        ch2.apply_voltage(30.0, 0.01)
        ch2.safe_off()


def test_error_queue_entries_raise_naming_instrument_and_codes() -> None:
    with driver([(":SYST:ERR?", '-222,"Data out of range"'),
                 (":SYST:ERR?", '-114,"Header suffix out of range"'), NO_ERROR]) as smu:
        with pytest.raises(InstrumentReportedError) as info:
            smu.channels_by_number[1].parent.check_errors(":SOUR3:VOLT 1")
    assert [code for code, _ in info.value.errors] == [-222, -114]
