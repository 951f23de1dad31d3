"""Command-level tests: the exact exchanges of the Keysight B2200A/B2201A driver (SCPI, card 0).

Strings: ``:CLOS (@cIIOO,…)``, ``:OPEN (@…)``, ``:OPEN:CARD 0``, ``:CLOS:CARD? 0``,
``:CONN:RULE 0,…``, ``:CONN:SEQ 0,…``, ``:SYST:ERR?`` (✔ in labsyn's reference); the rule and
sequence queries are "?".
"""

from __future__ import annotations

from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.capabilities import SwitchMatrix
from labsyn.drivers.keysight_b2200a import KeysightB2200A
from labsyn.errors import InstrumentError, InstrumentReportedError, LimitError

IDN = "Agilent Technologies,B2201A,MY00000001,1.0"
CARD = ":CLOS:CARD? 0"
NO_ERROR = (":SYST:ERR?", '0,"No error"')


def driver(pairs: list[tuple[str | None, str | None]], idn: str = IDN) -> Any:
    return expected_protocol(KeysightB2200A, [("*IDN?", idn), *pairs], clock=SimClock())


def test_is_a_switch_matrix_and_reads_closed_crosspoints() -> None:
    with driver([(CARD, "(@00101,01448,00212)"), (CARD, "(@)")]) as matrix:
        assert isinstance(matrix, SwitchMatrix)
        assert matrix.closed() == {(1, 1), (14, 48), (2, 12)}
        assert matrix.closed() == set()


def test_route_opens_then_closes_in_one_message_and_reads_back_in_four_transactions() -> None:
    pairs = [(CARD, "(@00101,00202)"), (":OPEN (@00101);:CLOS (@00103,01448)", None),
             (CARD, "(@00103,00202,01448)"), NO_ERROR]
    with driver(pairs) as matrix:
        assert matrix.route({(1, 3), (2, 2), (14, 48)}) == {(1, 3), (2, 2), (14, 48)}


def test_route_to_nothing_opens_everything_closed() -> None:
    pairs = [(CARD, "(@00101)"), (":OPEN (@00101)", None), (CARD, "(@)"), NO_ERROR]
    with driver(pairs) as matrix:
        assert matrix.route(set()) == set()


def test_two_inputs_on_one_output_are_refused_before_anything_is_sent() -> None:
    with driver([]) as matrix, pytest.raises(LimitError) as info:
        matrix.route({(4, 10), (7, 10)})
    assert "output 10" in str(info.value) and "4 and 7" in str(info.value)


@pytest.mark.parametrize("point", [(0, 1), (15, 1), (1, 0), (1, 49), (True, 1)])
def test_crosspoints_outside_the_matrix_are_refused_before_sending(point: Any) -> None:
    with driver([]) as matrix, pytest.raises(LimitError, match="allowed"):
        matrix.route({point})


def test_a_refused_close_is_reported_with_its_code() -> None:
    text = "Settings conflict; single route: output 03 already connected to input 01"
    pairs = [(CARD, "(@00103)"), (":CLOS (@00104)", None), (CARD, "(@00103)"),
             (":SYST:ERR?", f'-221,"{text}"'), NO_ERROR]
    with driver(pairs) as matrix, pytest.raises(InstrumentReportedError) as info:
        matrix.route({(1, 3), (1, 4)})
    assert info.value.errors == [(-221, text)]


def test_read_back_that_differs_raises() -> None:
    pairs = [(CARD, "(@)"), (":CLOS (@00101)", None), (CARD, "(@)"), NO_ERROR]
    with driver(pairs) as matrix, pytest.raises(InstrumentError, match="wanted"):
        matrix.route({(1, 1)})


@pytest.mark.parametrize("reply", ["00101", "(@0101)", "(@00101,abcde)"])
def test_unparseable_read_back_raises(reply: str) -> None:
    with driver([(CARD, reply)]) as matrix, pytest.raises(InstrumentError, match="channel"):
        matrix.closed()


def test_connection_rule_and_sequence() -> None:
    pairs = [(":CONN:RULE 0,SROU", None), (":CONN:RULE? 0", "SROU"),
             (":CONN:SEQ 0,MBBR", None), (":CONN:SEQ? 0", "MBBR")]
    with driver(pairs) as matrix:
        matrix.connection_rule = "SROU"
        assert matrix.connection_rule == "SROU"
        matrix.connection_sequence = "MBBR"
        assert matrix.connection_sequence == "MBBR"
        with pytest.raises(LimitError):
            matrix.connection_rule = "SINGLE"


def test_safe_off_opens_the_card_verifies_and_latches() -> None:
    with driver([(":OPEN:CARD 0", None), (CARD, "(@)")]) as matrix:
        matrix.safe_off()
        with pytest.raises(InstrumentError, match="rearm"):
            matrix.route({(1, 1)})


def test_safe_off_raises_if_relays_stay_closed() -> None:
    with driver([(":OPEN:CARD 0", None), (CARD, "(@00101)")]) as matrix:
        with pytest.raises(InstrumentError, match="still closed"):
            matrix.safe_off()


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(InstrumentError, match="B2200A"), driver([], idn="Agilent,E5250A,0,1"):
        pass
