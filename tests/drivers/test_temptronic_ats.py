"""Temptronic ATS driver: expected exchanges, strict limits before sending, safe state."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.capabilities import Thermal
from labsyn.drivers.temptronic_ats import TemptronicATS
from labsyn.errors import InstrumentError, LimitError

INIT = TemptronicATS.init_exchanges


def test_set_temperature_selects_the_set_writes_and_reads_back() -> None:
    with expected_protocol(TemptronicATS, [*INIT, ("%RM", None), ("FLOW 1", None),
                                           ("SETN 0", None), ("SETP 76.9", None),
                                           ("SETP?", "76.9")], clock=SimClock()) as head:
        assert isinstance(head, Thermal)
        head.set_temperature(350.05)


def test_a_refused_setpoint_that_does_not_read_back_raises() -> None:
    with expected_protocol(TemptronicATS, [*INIT, ("%RM", None), ("FLOW 1", None),
                                           ("SETN 2", None), ("SETP -10.0", None),
                                           ("SETP?", "25.0")], clock=SimClock()) as head:
        with pytest.raises(InstrumentError, match="reads back 25"):
            head.set_temperature(263.15)


@pytest.mark.parametrize("kelvin", [600.0, 150.0, float("nan")])
def test_setpoints_beyond_the_head_are_refused_before_sending(kelvin: float) -> None:
    with expected_protocol(TemptronicATS, INIT, clock=SimClock()) as head:
        with pytest.raises(LimitError):
            head.set_temperature(kelvin)


def test_station_limits_are_refused_before_sending() -> None:
    with expected_protocol(TemptronicATS, INIT, clock=SimClock(),
                           temperature_limits_k=(273.15, 373.15)) as head:
        with pytest.raises(LimitError, match="limits.temperature_k"):
            head.set_temperature(400.0)  # inside the head's own range, outside the station's


def test_safe_off_goes_ambient_stops_flow_and_holds_until_rearmed() -> None:
    with expected_protocol(TemptronicATS, [*INIT, ("SETN 1", None), ("SETP 25.0", None),
                                           ("FLOW 0", None), ("%GL", None)],
                           clock=SimClock()) as head:
        head.safe_off()
        with pytest.raises(InstrumentError, match="rearm"):
            head.set_temperature(350.0)


def test_wait_settled_polls_on_the_clock_and_times_out() -> None:
    clock = SimClock()
    replies = [("TEMP?", "26.9")] * 4
    with expected_protocol(TemptronicATS, [*INIT, *replies], clock=clock, poll_s=10.0) as head:
        with pytest.raises(InstrumentError, match="not within"):
            head.wait_settled(350.0, 0.5, 0.0, 25.0)
    assert clock.now() == pytest.approx(30.0)


def test_errors_decode_the_fault_register_and_clear_it() -> None:
    with expected_protocol(TemptronicATS, [*INIT, ("EROR?", "9"), ("CLER", None)],
                           clock=SimClock()) as head:
        assert head.errors() == [(1, "OVERHEAT"), (8, "LOW_FLOW")]
