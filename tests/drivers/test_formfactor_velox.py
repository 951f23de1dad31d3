"""Command-level tests: the exact exchanges the Velox driver has with the prober (§5.2)."""

from __future__ import annotations

from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.capabilities import Prober
from labsyn.drivers.formfactor_velox import FormFactorVelox
from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentReportedError, LimitError

INIT = list(FormFactorVelox.init_exchanges)
SEPARATE = ("MoveChuckSeparation 100", "0: 9900.0")
CONTACT = ("MoveChuckContact 100", "0: 10000.0")


def driver(pairs: list[tuple[str | None, str | None]]) -> Any:
    return expected_protocol(FormFactorVelox, INIT + pairs, clock=SimClock())


def test_it_is_a_prober_that_does_not_know_its_height_at_first() -> None:
    with driver([]) as prober:
        assert isinstance(prober, Prober)
        assert prober.id == "FormFactor,Velox,3.2.0"
        assert prober.contact_state() == "unknown"
        with pytest.raises(InstrumentError, match="StepNextDie 1 0 0.*unknown"):
            prober.step_die((1, 0))
        with pytest.raises(InstrumentError, match="contact only from separation or hover"):
            prober.contact()


def test_a_step_in_contact_is_refused_before_sending() -> None:
    with driver([SEPARATE, CONTACT]) as prober:
        prober.separate()
        prober.contact()
        with pytest.raises(InstrumentError, match="StepNextDie 2 1 0.*in contact"):
            prober.step_die((2, 1))
        with pytest.raises(InstrumentError, match="in contact"):
            prober.step_next_die()


def test_separate_step_contact_exchanges_with_velocity() -> None:
    with driver([("MoveChuckSeparation 25", "0: 9900.0"), ("StepFirstDie", "0: 0 0 0 1"),
                 ("MoveChuckAlign 25", "0: 9970.0"), ("MoveChuckContact 25", "0: 10000.0"),
                 ("MoveChuckSeparation 25", "0: 9900.0"), ("StepNextDie", "0: 1 0 0 1"),
                 ("StepNextDie 2 1 0", "0: 2 1 0 1")]) as prober:
        prober.velocity = 25
        prober.separate()
        assert prober.step_first_die() == (0, 0)
        prober.hover()
        prober.contact()
        prober.separate()
        assert prober.step_next_die() == (1, 0)
        assert prober.step_die((2, 1)) == (2, 1)
        assert prober.die() == (2, 1)


def test_end_of_map_703_returns_none() -> None:
    with driver([SEPARATE, ("StepNextDie", "703: End of wafer map reached.")]) as prober:
        prober.separate()
        assert prober.step_next_die() is None


def test_an_error_reply_raises_with_its_code() -> None:
    with driver([SEPARATE, ("StepNextDie 9 9 0", "15: Die is not on the wafer map.")]) as p:
        p.separate()
        with pytest.raises(InstrumentReportedError) as info:
            p.step_die((9, 9))
    assert info.value.errors == [(15, "Die is not on the wafer map.")]


def test_a_reply_without_an_error_field_is_refused() -> None:
    with driver([("ReadMapPosition", "nonsense")]) as prober:
        with pytest.raises(InstrumentReplyError, match="<err>: <values>"):
            prober.die()


@pytest.mark.parametrize("velocity", [0.05, 100.5, float("nan"), "50"])
def test_velocity_outside_pymeasure_range_is_refused(velocity: Any) -> None:
    with driver([]) as prober, pytest.raises(LimitError, match="chuck Z velocity"):
        prober.velocity = velocity


def test_safe_off_separates_and_latches_until_rearm() -> None:
    with driver([SEPARATE, ("StepNextDie 1 0 0", "0: 1 0 0 1")]) as prober:
        prober.safe_off()
        assert prober.contact_state() == "separation"
        with pytest.raises(InstrumentError, match="rearm"):
            prober.contact()
        with pytest.raises(InstrumentError, match="rearm"):
            prober.step_die((1, 0))
        prober.rearm()
        assert prober.step_die((1, 0)) == (1, 0)
