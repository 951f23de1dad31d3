"""Command-level tests: the exact exchanges of the Keithley 707B/708B driver (TSP).

Strings: ``channel.close/open("1A01,…")``, ``channel.open("allslots")``,
``print(channel.getclose("slot1"))`` → ``1A01;1B02`` or ``nil`` (✔ in labsyn's reference); the
error queue as on the 2600 ("?" for the 707B).
"""

from __future__ import annotations

from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.capabilities import SwitchMatrix
from labsyn.drivers.keithley_707b import Keithley707B
from labsyn.errors import InstrumentError, InstrumentReportedError, LimitError

INIT = [("print(localnode.model)", "707B")]
GETCLOSE = 'print(channel.getclose("slot1"))'
NO_ERRORS = ("print(errorqueue.count)", "0.00000e+00")


def driver(pairs: list[tuple[str | None, str | None]], model: str = "707B",
           **kwargs: Any) -> Any:
    return expected_protocol(Keithley707B, [("print(localnode.model)", model), *pairs],
                             clock=SimClock(), **kwargs)


def test_is_a_switch_matrix_and_reads_closed_crosspoints() -> None:
    with driver([(GETCLOSE, "1A01;1H12;1C05")]) as matrix:
        assert isinstance(matrix, SwitchMatrix)
        assert matrix.closed() == {(1, 1), (8, 12), (3, 5)}
    with driver([(GETCLOSE, "nil")]) as matrix:
        assert matrix.closed() == set()


def test_route_opens_then_closes_in_one_message_and_reads_back_in_four_transactions() -> None:
    pairs = [(GETCLOSE, "1A01;1B02"),
             ('channel.open("1A01")\nchannel.close("1A03,1C04")', None),
             (GETCLOSE, "1A03;1B02;1C04"), NO_ERRORS]
    with driver(pairs) as matrix:
        assert matrix.route({(1, 3), (2, 2), (3, 4)}) == {(1, 3), (2, 2), (3, 4)}


def test_route_to_what_is_closed_switches_nothing() -> None:
    with driver([(GETCLOSE, "1B02"), (GETCLOSE, "1B02"), NO_ERRORS]) as matrix:
        assert matrix.route({(2, 2)}) == {(2, 2)}


def test_route_names_channels_on_the_configured_slot() -> None:
    pairs = [('print(channel.getclose("slot3"))', "nil"), ('channel.close("3H12")', None),
             ('print(channel.getclose("slot3"))', "3H12"), NO_ERRORS]
    with expected_protocol(Keithley707B, [*INIT, *pairs], clock=SimClock(), slot=3) as matrix:
        assert matrix.route({(8, 12)}) == {(8, 12)}


def test_two_inputs_on_one_output_are_refused_before_anything_is_sent() -> None:
    with driver([]) as matrix, pytest.raises(LimitError) as info:
        matrix.route({(1, 5), (3, 5), (2, 6)})
    assert "output 5" in str(info.value) and "1 and 3" in str(info.value)


@pytest.mark.parametrize("point", [(0, 1), (9, 1), (1, 0), (1, 13), (1.0, 2), ("A", 1), (1,)])
def test_crosspoints_outside_the_card_are_refused_before_sending(point: Any) -> None:
    with driver([]) as matrix, pytest.raises(LimitError, match="allowed"):
        matrix.route({point})


def test_instrument_error_during_route_is_reported_with_its_code() -> None:
    message = "TSP Runtime error at line 1: bad argument"
    pairs = [(GETCLOSE, "nil"), ('channel.close("1A01")', None), (GETCLOSE, "nil"),
             ("print(errorqueue.count)", "1.00000e+00"),
             ("print(errorqueue.next())", f"-2.86000e+02\t{message}\t2.0e+01\t1.0e+00"),
             ("print(errorqueue.count)", "0.00000e+00")]
    with driver(pairs) as matrix, pytest.raises(InstrumentReportedError) as info:
        matrix.route({(1, 1)})
    assert info.value.errors == [(-286, message)]


def test_read_back_that_differs_raises() -> None:
    pairs = [(GETCLOSE, "nil"), ('channel.close("1A01")', None), (GETCLOSE, "1A02"), NO_ERRORS]
    with driver(pairs) as matrix, pytest.raises(InstrumentError, match="wanted 1A01"):
        matrix.route({(1, 1)})


def test_unparseable_read_back_raises() -> None:
    with driver([(GETCLOSE, "1Z01")]) as matrix, pytest.raises(InstrumentError, match="1Z01"):
        matrix.closed()


def test_safe_off_opens_all_slots_verifies_and_latches() -> None:
    pairs = [('channel.open("allslots")', None), ('print(channel.getclose("allslots"))', "nil")]
    with driver(pairs) as matrix:
        matrix.safe_off()
        with pytest.raises(InstrumentError, match="rearm"):
            matrix.route({(1, 1)})
        matrix.rearm()


def test_safe_off_raises_if_relays_stay_closed() -> None:
    pairs = [('channel.open("allslots")', None), ('print(channel.getclose("allslots"))', "2A01")]
    with driver(pairs) as matrix, pytest.raises(InstrumentError, match="still closed"):
        matrix.safe_off()


def test_slot_limits_follow_the_model() -> None:
    with driver([], model="708B") as matrix:
        with pytest.raises(LimitError, match="slot"):
            matrix.slot = 2
        matrix.slot = 1
    with driver([]) as matrix:
        matrix.slot = 6
        assert matrix.slot == 6
        with pytest.raises(LimitError, match="slot"):
            matrix.slot = 7


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(InstrumentError, match="2636B"), driver([], model="2636B"):
        pass
