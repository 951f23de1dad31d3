"""Command-level tests: the exact exchanges the 33500B driver has with the instrument.

Strings follow reference/instruments.md §2: ``FUNC PULS``, ``FUNC:PULS:WIDT`` (not the 33220A's
``PULS:WIDT``), ``FUNC:PULS:PER``, ``FUNC:PULS:TRAN:BOTH``, ``VOLT:HIGH``/``VOLT:LOW``,
``OUTP<n>:LOAD 50|INF``, ``BURS:MODE TRIG``, ``BURS:NCYC``, ``TRIG<n>:SOUR BUS``, ``*TRG``; chained
headers start with ``:`` (after ``;`` a header is otherwise relative).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.keysight_33500b import Keysight33500B
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import InstrumentError, InstrumentReportedError, LimitError

IDN = "Agilent Technologies,33522B,MY52800000,3.05-1.19-2.00-52-00"
INIT = [("*IDN?", IDN)]
NO_ERROR = '+0,"No error"'
TIMING = (":SOUR1:FUNC PULS;:SOUR1:FUNC:PULS:HOLD WIDT;:SOUR1:FUNC:PULS:TRAN:BOTH 8.4e-09;"
          ":SOUR1:FUNC:PULS:WIDT 1.6e-08;:SOUR1:FUNC:PULS:PER {period};"
          ":SOUR1:FUNC:PULS:WIDT {width};:SOUR1:FUNC:PULS:TRAN:BOTH 8.4e-09")
LEVELS = (":SOUR1:VOLT:UNIT VPP;:SOUR1:VOLT:OFFS 0;:SOUR1:VOLT {span};:SOUR1:VOLT:LOW {low};"
          ":SOUR1:VOLT:HIGH {high}")
BURST = (":OUTP1:POL {pol};:SOUR1:BURS:MODE TRIG;:SOUR1:BURS:NCYC {n};:TRIG1:SOUR BUS;"
         ":TRIG1:DEL 0;:SOUR1:BURS:STAT ON;:OUTP1 ON")


def driver(pairs: list[tuple[str | None, str | None]], idn: str = IDN):  # type: ignore[no-untyped-def]
    return expected_protocol(Keysight33500B, [("*IDN?", idn), *pairs], clock=SimClock())


def burst_config(width: str, period: str, high: str, low: str, n: int, load: str = "50",
                 span: str = "10", pol: str = "NORM") -> str:
    return ";".join([":OUTP1 OFF", f":OUTP1:LOAD {load}",
                     TIMING.format(period=period, width=width),
                     LEVELS.format(span=span, low=low, high=high), BURST.format(pol=pol, n=n),
                     ":SYST:ERR?"])


def train(*args: object, **kwargs: object) -> Sequence:
    return Sequence("TE", (PulseTrain.identical(*args, **kwargs),))  # type: ignore[arg-type]


@pytest.mark.parametrize(("model", "channels"), [("33522B", [1, 2]), ("33511B", [1]),
                                                 ("33612A", [1, 2]), ("33621A", [1])])
def test_the_model_in_idn_sets_the_channels(model: str, channels: list[int]) -> None:
    with driver([], idn=IDN.replace("33522B", model)) as pg:
        assert list(pg.channels_by_number) == channels
        assert sorted(pg.channels) == channels


def test_a_model_outside_the_family_is_refused() -> None:
    with pytest.raises(InstrumentError, match="not a 33500B"):
        with driver([], idn="Agilent Technologies,33220A,MY1,2.0"):
            pass


def test_identical_pulses_are_one_burst_one_trigger_one_completion_check() -> None:
    with driver([("OUTP1:LOAD?", "+5.000000000000000E+01"),
                 (burst_config("1e-06", "1e-05", "1", "0", 1000), NO_ERROR),
                 ("*TRG", None), ("*OPC?", "1"), (":SYST:ERR?", NO_ERROR)]) as pg:
        data = pg.run(train(1.0, 1000, 1e-6, 1e-5, 1e-3))
    assert len(data) == 0 and not data.aborted


def test_pulses_below_the_base_program_the_base_as_high_level_and_invert() -> None:
    with driver([("OUTP1:LOAD?", "+9.900000000000000E+37"),
                 (burst_config("5e-07", "2e-06", "0.2", "-1.3", 5, load="INF", span="20",
                               pol="INV"), NO_ERROR),
                 ("*TRG", None), ("*OPC?", "1"), (":SYST:ERR?", NO_ERROR)]) as pg:
        pg.run(train(-1.3, 5, 0.5e-6, 2e-6, 1e-3, base=0.2))


def test_a_train_longer_than_one_burst_is_retriggered_with_the_rest() -> None:
    with driver([("OUTP1:LOAD?", "50"),
                 (burst_config("1e-06", "1e-05", "1", "0", 99_999), NO_ERROR),
                 ("*TRG", None), ("*OPC?", "1"), ("*TRG", None), ("*OPC?", "1"),
                 (":SOUR1:BURS:NCYC 2;*TRG", None), ("*OPC?", "1"),
                 (":SYST:ERR?", NO_ERROR)]) as pg:
        pg.run(train(1.0, 2 * 99_999 + 2, 1e-6, 1e-5, 1e-3))


def test_different_amplitudes_load_dac_codes_centred_on_the_base_then_one_burst() -> None:
    codes = ", ".join(map(str, [0, 0, 0, 16384, 0, 0, 0, 32767]))
    configure = ";".join([":OUTP1:LOAD 50", ":SOUR1:FUNC:ARB LABSYN1", ":SOUR1:FUNC ARB",
                          ":SOUR1:FUNC:ARB:SRAT 1000000", ":SOUR1:FUNC:ARB:FILT OFF",
                          LEVELS.format(span="10", low="-1", high="1"),
                          BURST.format(pol="NORM", n=1), ":SYST:ERR?"])
    with driver([("OUTP1:LOAD?", "50"), (":OUTP1 OFF;:SOUR1:DATA:VOL:CLE", None),
                 (f"SOUR1:DATA:ARB:DAC LABSYN1, {codes}", None), (configure, NO_ERROR),
                 ("*TRG", None), ("*OPC?", "1"), (":SYST:ERR?", NO_ERROR)]) as pg:
        pg.run(Sequence("TE", (PulseTrain((0.5, 1.0), 1e-6, 4e-6, 1e-3),)))


def test_load_waveform_sends_the_samples_as_dac_codes_and_leaves_the_output_off() -> None:
    samples = np.array([0.0, 0.5, 1.0, 0.5, 0.0, -0.25, -0.5, 0.0])
    codes = "0, 16384, 32767, 16384, 0, -8192, -16384, 0"
    configure = ";".join([":OUTP1:LOAD INF", ":SOUR1:FUNC:ARB SPIKE", ":SOUR1:FUNC ARB",
                          ":SOUR1:FUNC:ARB:SRAT 2000000", ":SOUR1:FUNC:ARB:FILT OFF",
                          LEVELS.format(span="20", low="-1", high="1"), ":SYST:ERR?"])
    with driver([(":OUTP1 OFF;:SOUR1:DATA:VOL:CLE", None),
                 (f"SOUR1:DATA:ARB:DAC SPIKE, {codes}", None), (configure, NO_ERROR),
                 ("SOUR1:FUNC:ARB SPIKE", None)]) as pg:
        pg.ch_1._load = math.inf
        pg.load_waveform("SPIKE", samples, 2e6)
        pg.ch_1.arb_file = "SPIKE"
        with pytest.raises(LimitError, match="load_waveform"):
            pg.ch_1.arb_file = "OTHER"


@pytest.mark.parametrize(("samples", "rate", "match"), [
    (np.zeros(7), 1e6, "points"),
    (np.linspace(0, 1, 70_000), 1e6, "points"),
    (np.linspace(0, 6, 8), 1e6, "high level"),
    (np.linspace(0, 1, 8), 300e6, "sample rate"),
    (np.zeros(8), 1e6, "amplitude"),
])
def test_load_waveform_refuses_before_sending(samples: np.ndarray, rate: float, match: str
                                              ) -> None:
    with driver([]) as pg:
        pg.ch_1._load = 50.0
        with pytest.raises(LimitError, match=match):
            pg.load_waveform("SPIKE", samples, rate)
        with pytest.raises(LimitError, match="name"):
            pg.load_waveform("1st", np.linspace(0, 1, 8), 1e6)


@pytest.mark.parametrize(("segment", "match"), [
    (PulseTrain.identical(1.0, 10, 1e-6, 1e-5, 1e-3, read_level=0.1), "cannot read"),
    (Staircase((0.0, 1.0), 1e-3, 1e-3), "staircase"),
    (PulseTrain.identical(5.5, 10, 1e-6, 1e-5, 1e-3), "high level"),
    (PulseTrain.identical(1.0, 10, 10e-9, 1e-5, 1e-3), "pulse width"),
    (PulseTrain.identical(1.0, 10, 1e-6, 1.01e-6, 1e-3), "period"),
    (PulseTrain.identical(0.0, 10, 1e-6, 1e-5, 1e-3), "amplitude"),
    (PulseTrain((0.5, 1.0) * 50, 1e-6, 1e-3, 1e-3), "arbitrary-waveform points"),
    (PulseTrain((0.5, 1.0), 1e-9 * 17, 1e-9 * 53, 1e-3), "sample rate"),
])
def test_sequences_beyond_the_generator_are_refused_before_sending(segment: object,
                                                                   match: str) -> None:
    with driver([]) as pg:
        pg.ch_1._load = 50.0  # known: nothing is asked
        with pytest.raises(LimitError, match=match):
            pg.check_sequence(Sequence("TE", (segment,)))  # type: ignore[arg-type]


def test_high_z_doubles_the_programmable_level() -> None:
    with driver([("OUTP1:LOAD?", "+9.900000000000000E+37")]) as pg:
        pg.check_sequence(train(8.0, 10, 1e-6, 1e-5, 1e-3))
        with pytest.raises(LimitError, match=r"high-Z"):
            pg.check_sequence(train(10.5, 10, 1e-6, 1e-5, 1e-3))
        assert pg.limits.max_level == 10.0


def test_a_configuration_error_turns_the_output_off_and_names_every_entry() -> None:
    with driver([("OUTP1:LOAD?", "50"),
                 (burst_config("1e-06", "1e-05", "1", "0", 10),
                  '-221,"Settings conflict; pulse width cut"'),
                 (":SYST:ERR?", '-222,"Data out of range"'), (":SYST:ERR?", NO_ERROR),
                 (":OUTP1 OFF", None)]) as pg:
        with pytest.raises(InstrumentReportedError) as info:
            pg.run(train(1.0, 10, 1e-6, 1e-5, 1e-3))
    assert info.value.errors == [(-221, "Settings conflict; pulse width cut"),
                                 (-222, "Data out of range")]


def test_the_second_channel_parks_the_first_on_the_external_trigger() -> None:
    with driver([("OUTP1:LOAD?", "50"), (burst_config("1e-06", "1e-05", "1", "0", 3), NO_ERROR),
                 ("*TRG", None), ("*OPC?", "1"), (":SYST:ERR?", NO_ERROR),
                 ("OUTP2:LOAD?", "50"),
                 (":OUTP2 OFF;:OUTP2:LOAD 50;:SOUR2:FUNC PULS;:SOUR2:FUNC:PULS:HOLD WIDT;"
                  ":SOUR2:FUNC:PULS:TRAN:BOTH 8.4e-09;:SOUR2:FUNC:PULS:WIDT 1.6e-08;"
                  ":SOUR2:FUNC:PULS:PER 1e-05;:SOUR2:FUNC:PULS:WIDT 1e-06;"
                  ":SOUR2:FUNC:PULS:TRAN:BOTH 8.4e-09;:SOUR2:VOLT:UNIT VPP;:SOUR2:VOLT:OFFS 0;"
                  ":SOUR2:VOLT 10;:SOUR2:VOLT:LOW 0;:SOUR2:VOLT:HIGH 1;:OUTP2:POL NORM;"
                  ":SOUR2:BURS:MODE TRIG;:SOUR2:BURS:NCYC 3;:TRIG2:SOUR BUS;:TRIG2:DEL 0;"
                  ":SOUR2:BURS:STAT ON;:TRIG1:SOUR EXT;:OUTP2 ON;:SYST:ERR?", NO_ERROR),
                 ("*TRG", None), ("*OPC?", "1"), (":SYST:ERR?", NO_ERROR)]) as pg:
        pg.ch_1.run(train(1.0, 3, 1e-6, 1e-5, 1e-3))
        pg.ch_2.run(train(1.0, 3, 1e-6, 1e-5, 1e-3))


def test_safe_off_stops_bursts_and_verifies_every_output_is_off() -> None:
    with driver([(":OUTP1 OFF;:OUTP2 OFF", None), (":ABOR", None), ("OUTP1?", "0"),
                 ("OUTP2?", "1")]) as pg:
        with pytest.raises(InstrumentError, match="output still on"):
            pg.safe_off()
    assert pg.safed.is_set()


def test_coupled_setters_check_against_the_other_level_and_the_load() -> None:
    with driver([("SOUR1:VOLT:LOW?", "+0.0E+00"), ("OUTP1:LOAD?", "+5.0E+01"),
                 ("SOUR1:VOLT:HIGH 4.5", None), ("SOUR1:VOLT:LOW?", "+0.0E+00")]) as pg:
        pg.ch_1.voltage_high = 4.5
        with pytest.raises(LimitError, match="high level"):
            pg.ch_1.voltage_high = 7.0  # within ±10 V alone, beyond 5 V into 50 Ω


def test_coupled_timing_setters_keep_a_gap_after_the_pulse() -> None:
    with driver([("SOUR1:FUNC:PULS:PER?", "+1.0E-06"), ("SOUR1:FUNC:PULS:TRAN?", "+8.4E-09"),
                 ("SOUR1:FUNC:PULS:PER?", "+1.0E-06"), ("SOUR1:FUNC:PULS:TRAN?", "+8.4E-09"),
                 ("SOUR1:FUNC:PULS:WIDT 5e-07", None)]) as pg:
        with pytest.raises(LimitError, match="period"):
            pg.ch_1.pulse_width = 0.99e-6
        pg.ch_1.pulse_width = 0.5e-6


def test_load_is_a_strict_choice_read_back_as_ohms_or_infinity() -> None:
    with driver([("OUTP2:LOAD INF", None), ("OUTP2:LOAD?", "+9.900000000000000E+37"),
                 ("OUTP1:LOAD 50", None), ("OUTP1:LOAD?", "+5.000000000000000E+01")]) as pg:
        pg.ch_2.load = math.inf
        assert math.isinf(pg.ch_2.load)
        pg.ch_1.output_load = 50
        assert pg.load == 50.0
        with pytest.raises(LimitError, match="load setting"):
            pg.ch_1.load = 1000.0
