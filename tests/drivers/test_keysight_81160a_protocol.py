"""Command-level tests: the exact exchanges the 81150A/81160A driver has with the instrument.

Strings follow the 81150A/81160A User's Guide remote reference as far as labsyn's reference
confirms it (``:PULS:PER<n>``, ``:PULS:WIDT<n>``, ``:VOLT<n>:HIGH/LOW``, ``:OUTP<n>:LOAD``,
``:BURS<n>:STAT``, ``:BURS<n>:NCYC``, ``:ARM:SOUR<n>``, ``:TRIG<n>:COUN``); the choices for the
unconfirmed ones (``:PULS:TRAN<n>``, ``:OUTP<n> ON|OFF``, ``:OUTP<n>:POL``) are in the driver.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.capabilities import PulseGenerator
from labsyn.drivers.keysight_81160a import Keysight81160A
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import InstrumentError, InstrumentReportedError, LimitError

IDN_81160A = "Agilent Technologies,81160A,DE00000000,1.0.0.0"
IDN_81150A = "Agilent Technologies,81150A,MY00000000,1.0.0.0"
INIT = [("*IDN?", IDN_81160A), ("*OPT?", "002")]
NO_ERROR = (":SYST:ERR?", '0,"No error"')
LOAD_50 = (":OUTP1:LOAD 50", None)


def driver(pairs: list[tuple[str | None, str | None]], init: list[Any] | None = None) -> Any:
    return expected_protocol(Keysight81160A, (INIT if init is None else init) + pairs,
                             clock=SimClock())


def train(amplitude: float, count: int, width: float = 1e-6, period: float = 10e-6,
          **kwargs: Any) -> Sequence:
    return Sequence("TE", (PulseTrain.identical(amplitude, count, width, period, 1e-3,
                                                **kwargs),))


def configure(*commands: str) -> tuple[str, str]:
    """The one configuration message, closed by the error query."""
    return ";".join([*commands, ":SYST:ERR?"]), '0,"No error"'


# *TRG starts every output armed manually: the other output is disarmed first.
HEAD_1 = (":ARM:SOUR2 EXT", ":OUTP1 OFF", ":ARM:SOUR1 MAN", ":FUNC1 PULS")
HEAD_2 = (":ARM:SOUR1 EXT", ":OUTP2 OFF", ":ARM:SOUR2 MAN", ":FUNC2 PULS")
TIMING = (":PULS:TRAN1 1e-09", ":PULS:WIDT1 1.5e-09", ":PULS:PER1 1e-05", ":PULS:WIDT1 1e-06")


def test_init_reads_the_model_and_the_channel_count() -> None:
    with driver([(":OUTP2:LOAD?", "50")]) as pg:  # isinstance() reads `load` (a property)
        assert set(pg.channels_by_number) == {1, 2}
        assert isinstance(pg.channels_by_number[2], PulseGenerator)
        assert pg.channels_by_number[1].model.min_period == 3.03e-9
    with driver([], init=[("*IDN?", IDN_81150A), ("*OPT?", "001")]) as pg:
        assert set(pg.channels_by_number) == {1}
        assert pg.model.min_period == 8.33e-9


def test_init_refuses_another_instrument() -> None:
    with pytest.raises(InstrumentError, match="not an 81150A or 81160A"):
        with expected_protocol(Keysight81160A, [("*IDN?", "Agilent Technologies,33522B,1,1")]):
            pass


def test_load_is_a_strict_choice_read_once_and_remembered() -> None:
    with driver([(":OUTP1:LOAD?", "9.900000E+37"), (":OUTP2:LOAD INF", None),
                 (":OUTP2:LOAD 50", None)]) as pg:
        one, two = pg.channels_by_number[1], pg.channels_by_number[2]
        assert one.load == math.inf
        assert one.load == math.inf  # no second query
        assert one.limits.max_level == 10.0
        two.load = math.inf
        two.load = 50
        assert two.limits.max_level == 5.0
        with pytest.raises(LimitError, match="output-load setting"):
            two.load = 75.0


def test_levels_follow_the_load_setting() -> None:
    with driver([LOAD_50, (":VOLT1:HIGH 4.5", None), (":OUTP1:LOAD INF", None),
                 (":VOLT1:HIGH 9", None)]) as pg:
        channel = pg.channels_by_number[1]
        channel.load = 50.0
        channel.voltage_high = 4.5
        with pytest.raises(LimitError, match=r"high level = '9.0 V'.*-5 V … 5 V"):
            channel.voltage_high = 9.0
        channel.load = math.inf
        channel.voltage_high = 9.0


def test_identical_pulses_are_one_burst_configured_triggered_and_confirmed() -> None:
    with driver([LOAD_50,
                 configure(*HEAD_1, ":OUTP1:POL NORM",
                           ":VOLT1 0.05", ":VOLT1:OFFS 0.55", ":VOLT1 1.1", *TIMING,
                           ":BURS1:NCYC 1000", ":BURS1:STAT ON"),
                 (":OUTP1 ON;*TRG", None), ("*OPC?", "1"), NO_ERROR]) as pg:
        channel = pg.channels_by_number[1]
        channel.load = 50.0
        data = channel.run(train(1.1, 1000))
    assert len(data) == 0 and not data.aborted


def test_negative_pulses_idle_at_the_high_level_with_inverted_polarity() -> None:
    with driver([LOAD_50,
                 configure(*HEAD_1, ":OUTP1:POL INV",
                           ":VOLT1 0.05", ":VOLT1:OFFS -0.55", ":VOLT1 1.3", *TIMING,
                           ":BURS1:NCYC 20", ":BURS1:STAT ON"),
                 (":OUTP1 ON;*TRG", None), ("*OPC?", "1"), NO_ERROR]) as pg:
        channel = pg.channels_by_number[1]
        channel.load = 50.0
        channel.run(train(-1.2, 20, base=0.1))


def test_one_pulse_is_a_triggered_pulse_with_burst_off_and_a_slower_edge_is_sent_last() -> None:
    timing = (":PULS:TRAN2 1e-09", ":PULS:WIDT2 1.5e-09", ":PULS:PER2 0.001",
              ":PULS:WIDT2 1e-05", ":PULS:TRAN2 1e-07")
    with driver([(":OUTP2:LOAD INF", None),
                 configure(*HEAD_2, ":OUTP2:POL NORM",
                           ":VOLT2 0.1", ":VOLT2:OFFS 4", ":VOLT2 8", *timing,
                           ":BURS2:STAT OFF", ":TRIG2:COUN 1"),
                 (":OUTP2 ON;*TRG", None), ("*OPC?", "1"), NO_ERROR]) as pg:
        channel = pg.channels_by_number[2]
        channel.load = math.inf
        channel.train_edge = 100e-9
        channel.run(train(8.0, 1, width=10e-6, period=1e-3))


@pytest.mark.parametrize(("sequence", "match"), [
    (train(1.0, 10, read_level=0.1), "a pulse generator cannot read; wire an SMU for the reads"),
    (Sequence("TE", (PulseTrain((1.0, 1.1), 1e-6, 1e-5, 1e-3),)), "identical amplitudes"),
    (Sequence("TE", (Staircase((0.0, 1.0), 1e-3, 1e-3),)), "pulse trains only"),
    (train(0.0, 10), "different from the base"),
    (train(5.5, 10), "high level"),
    (train(0.02, 10), "amplitude"),
    (train(1.0, 10, width=1e-9), "pulse width"),
    (train(1.0, 10, width=1e-6, period=1.0001e-6), r"period \(≥ width \+ 1.6 × edge"),
    (train(1.0, 10, width=1e-6, period=2e6), "period"),
])
def test_trains_the_generator_cannot_run_are_refused_before_sending(sequence: Sequence,
                                                                    match: str) -> None:
    with driver([LOAD_50]) as pg:
        channel = pg.channels_by_number[1]
        channel.load = 50.0
        with pytest.raises(LimitError, match=match):
            channel.check_sequence(sequence)
        with pytest.raises(LimitError, match=match):
            channel.run(sequence)


def test_the_coupled_rule_uses_the_edge_run_programs() -> None:
    with driver([LOAD_50]) as pg:
        channel = pg.channels_by_number[1]
        channel.load = 50.0
        channel.check_sequence(train(1.0, 10, width=1e-6, period=1.2e-6))
        channel.train_edge = 200e-9  # 1 µs + 1.6 × 200 ns = 1.32 µs
        with pytest.raises(LimitError, match="1.2e-06 s"):
            channel.check_sequence(train(1.0, 10, width=1e-6, period=1.2e-6))
        with pytest.raises(LimitError, match="train edge time"):
            channel.train_edge = 0.5e-9


def test_the_81150a_is_slower_than_the_81160a() -> None:
    fast = train(1.0, 10, width=2e-9, period=6e-9)
    with driver([LOAD_50]) as pg:
        pg.channels_by_number[1].load = 50.0
        pg.channels_by_number[1].check_sequence(fast)
    with driver([LOAD_50], init=[("*IDN?", IDN_81150A), ("*OPT?", "002")]) as pg:
        pg.channels_by_number[1].load = 50.0
        with pytest.raises(LimitError, match="pulse width"):
            pg.channels_by_number[1].check_sequence(fast)
        with pytest.raises(LimitError, match="pulse period"):
            pg.channels_by_number[1].pulse_period = 5e-9


def test_a_refused_configuration_surfaces_every_error_and_is_not_triggered() -> None:
    message, _ = configure(*HEAD_1, ":OUTP1:POL NORM",
                           ":VOLT1 0.05", ":VOLT1:OFFS 0.5", ":VOLT1 1", *TIMING,
                           ":BURS1:NCYC 5", ":BURS1:STAT ON")
    with driver([LOAD_50, (message, '-221,"Settings conflict"'),
                 (":SYST:ERR?", '-222,"Data out of range"'), NO_ERROR]) as pg:
        channel = pg.channels_by_number[1]
        channel.load = 50.0
        with pytest.raises(InstrumentReportedError) as info:
            channel.run(train(1.0, 5))
    assert info.value.errors == [(-221, "Settings conflict"), (-222, "Data out of range")]


def test_abort_switches_the_output_off_during_the_burst() -> None:
    message, reply = configure(*HEAD_1, ":OUTP1:POL NORM",
                               ":VOLT1 0.05", ":VOLT1:OFFS 0.5", ":VOLT1 1", *TIMING,
                               ":BURS1:NCYC 1000", ":BURS1:STAT ON")
    with driver([LOAD_50, (message, reply), (":OUTP1 ON;*TRG", None),
                 (":OUTP1 OFF", None)]) as pg:
        channel = pg.channels_by_number[1]
        channel.load = 50.0
        data = channel.run(train(1.0, 1000), should_abort=lambda: True)
    assert data.aborted and len(data) == 0


def test_safe_off_switches_every_output_off_and_verifies() -> None:
    with driver([(":OUTP1 OFF;:ARM:SOUR1 MAN", None), (":OUTP1?", "0"),
                 (":OUTP2 OFF;:ARM:SOUR2 MAN", None), (":OUTP2?", "0"),
                 (":OUTP2 OFF;:ARM:SOUR2 MAN", None), (":OUTP2?", "1")]) as pg:
        pg.safe_off()
        with pytest.raises(InstrumentError, match="output still on"):
            pg.channels_by_number[2].safe_off()


def test_a_missing_output_cannot_run() -> None:
    with driver([], init=[("*IDN?", IDN_81160A), ("*OPT?", "001")]) as pg:
        with pytest.raises(LimitError, match="channel"):
            pg.channels[2].run(train(1.0, 10))
