"""Command-level tests: the exact exchanges the SENTIO driver has with the prober (§5.1)."""

from __future__ import annotations

from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.capabilities import Prober
from labsyn.drivers.mpi_sentio import MpiSentio, parse_reply
from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentReportedError, LimitError

INIT = list(MpiSentio.init_exchanges)
HEIGHTS = ("get_chuck_site_heights Wafer", "0,0,10000.0,100.0,0.0,30.0")
SEPARATED = [HEIGHTS, ("get_chuck_z Z", "0,0,9900.0")]
CONTACT = ("move_chuck_contact", "0,0,10000.0")
SEPARATE = ("move_chuck_separation", "0,0,9900.0")


def driver(pairs: list[tuple[str | None, str | None]]) -> Any:
    return expected_protocol(MpiSentio, INIT + pairs, clock=SimClock())


def test_reply_fields_split_error_status_and_message() -> None:
    assert parse_reply("p", "c", "1035,0,End of route.") == (11, 1, "End of route.")
    assert parse_reply("p", "c", "0,0,3,4,0") == (0, 0, "3,4,0")
    with pytest.raises(InstrumentReplyError, match="errc,cmd_id,message"):
        parse_reply("p", "c", "garbage")


def test_it_is_a_prober() -> None:
    with driver([]) as prober:
        assert isinstance(prober, Prober)
        assert prober.id == "MPI Corporation,SENTIO,25.2.0.1234"
        assert prober.errors() == []


@pytest.mark.parametrize(("z", "state"), [("9900.0", "separation"), ("9970.0", "hover"),
                                          ("9985.0", "contact"), ("10010.0", "contact")])
def test_the_height_is_asked_when_unknown(z: str, state: str) -> None:
    with driver([HEIGHTS, ("get_chuck_z Z", f"0,0,{z}")]) as prober:
        assert prober.contact_state() == state
        assert prober.contact_state() == state  # remembered: asked once


def test_a_step_in_contact_is_refused_before_sending() -> None:
    with driver([*SEPARATED, CONTACT]) as prober:
        prober.contact()
        with pytest.raises(InstrumentError, match=r"map:step_die 1, 0, 0.*in contact"):
            prober.step_die((1, 0))
        with pytest.raises(InstrumentError, match="map:step_next_die.*in contact"):
            prober.step_next_die()
        with pytest.raises(InstrumentError, match="contact only from separation or hover"):
            prober.contact()


def test_separate_step_contact_exchanges() -> None:
    with driver([SEPARATE, ("map:step_die 2, 1, 0", "0,0,2,1,0"), CONTACT, SEPARATE,
                 ("map:step_next_die", "0,0,3,1,0"), ("map:step_first_die 0", "0,0,0,0,0"),
                 ("map:die:get_current_index", "0,0,0,0,0")]) as prober:
        prober.separate()
        assert prober.step_die((2, 1)) == (2, 1)
        prober.contact()
        prober.separate()
        assert prober.step_next_die() == (3, 1)
        assert prober.step_first_die() == (0, 0)
        assert prober.die() == (0, 0)


@pytest.mark.parametrize("reply", ["1035,0,End of route.", "11,0,End of route.", "1024,0,"])
def test_end_of_route_returns_none(reply: str) -> None:
    with driver([SEPARATE, ("map:step_next_die", reply)]) as prober:
        prober.separate()
        assert prober.step_next_die() is None


def test_an_error_reply_raises_with_sentio_code_and_message() -> None:
    with driver([SEPARATE, ("map:step_die 9, 9, 0", "8,0,Argument out of bounds.")]) as prober:
        prober.separate()
        with pytest.raises(InstrumentReportedError) as info:
            prober.step_die((9, 9))
    assert info.value.errors == [(8, "Argument out of bounds.")]


@pytest.mark.parametrize(("die", "subsite"), [((1.5, 0), 0), ((0, 0), -1), (("a", 0), 0),
                                              ((20000, 0), 0)])
def test_bad_die_or_subsite_is_refused_before_sending(die: Any, subsite: int) -> None:
    with driver([]) as prober, pytest.raises(LimitError, match="allowed"):
        prober.step_die(die, subsite)


def test_safe_off_separates_and_latches_until_rearm() -> None:
    with driver([SEPARATE, SEPARATE, ("map:step_die 1, 0, 0", "0,0,1,0,0")]) as prober:
        prober.safe_off()
        assert prober.contact_state() == "separation"
        for action in (prober.contact, prober.hover, lambda: prober.step_die((1, 0))):
            with pytest.raises(InstrumentError, match="rearm"):
                action()
        prober.separate()  # always allowed
        prober.rearm()
        assert prober.step_die((1, 0)) == (1, 0)


def test_move_timeout_is_strict() -> None:
    with driver([]) as prober:
        prober.move_timeout = 120.0
        assert prober.move_timeout == 120.0
        with pytest.raises(LimitError, match="move timeout"):
            prober.move_timeout = 0.5
