"""PIHexapod command-level tests: the exact GCS exchanges (pymeasure's expected_protocol)."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.capabilities import Pose, Positioner6D
from labsyn.drivers.pi_hexapod import PIHexapod
from labsyn.errors import InstrumentError, InstrumentReportedError, LimitError

INIT = PIHexapod.init_exchanges
ZERO = "X=0.000000 \nY=0.000000 \nZ=0.000000 \nU=0.000000 \nV=0.000000 \nW=0.000000"
AT_1 = "X=1.000000 \nY=0.500000 \nZ=0.000000 \nU=0.000000 \nV=0.000000 \nW=0.000000"
ONT = "X=1 \nY=1 \nZ=1 \nU=1 \nV=1 \nW=1"
TARGET = Pose(x=1.0, y=0.5)
VMO = "VMO? X 1 Y 0.5 Z 0 U 0 V 0 W 0"
MOV = "MOV X 1 Y 0.5 Z 0 U 0 V 0 W 0"


def test_connect_reads_travel_and_velocity() -> None:
    with expected_protocol(PIHexapod, INIT, clock=SimClock()) as stage:
        assert isinstance(stage, Positioner6D)
        assert stage.travel["Z"] == (-6.5, 6.5)
        assert stage.velocity == 5.0


def test_move_checks_reachability_moves_and_waits_on_target() -> None:
    pairs = [*INIT, (VMO, "1"), ("POS?", ZERO), (MOV, None), ("ERR?", "0"), ("\x05", "0"),
             ("ONT?", ONT), ("POS?", AT_1)]
    clock = SimClock()
    with expected_protocol(PIHexapod, pairs, clock=clock) as stage:
        assert stage.move_to(TARGET) == TARGET
        assert clock.now() == pytest.approx(1.0 / 5.0)  # max |Δ| / VLS before polling #5
        assert stage.moves == 1


def test_polls_motion_status_until_still() -> None:
    pairs = [*INIT, (VMO, "1"), ("POS?", ZERO), (MOV, None), ("ERR?", "0"), ("\x05", "3F"),
             ("\x05", "0"), ("ONT?", ONT), ("POS?", AT_1)]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        stage.move_to(TARGET)


@pytest.mark.parametrize(("target", "match"), [
    (Pose(x=17.5), "X = 17.5 .*-17 … 17 mm \\(travel range"),
    (Pose(w=-22.0), "W = -22.0 .*deg"),
    (Pose(z=float("nan")), "finite"),
])
def test_targets_outside_travel_are_refused_before_sending(target: Pose, match: str) -> None:
    with expected_protocol(PIHexapod, INIT, clock=SimClock()) as stage:
        with pytest.raises(LimitError, match=match):
            stage.move_to(target)


def test_station_envelope_is_refused_before_sending() -> None:
    with expected_protocol(PIHexapod, INIT, clock=SimClock(),
                           envelope={"x": (-1.0, 0.5)}) as stage:
        with pytest.raises(LimitError, match="X = 1.0 .*station envelope"):
            stage.move_to(TARGET)


def test_unreachable_target_per_vmo_is_refused_before_moving() -> None:
    with expected_protocol(PIHexapod, [*INIT, (VMO, "0")], clock=SimClock()) as stage:
        with pytest.raises(LimitError, match="VMO"):
            stage.move_to(TARGET)


def test_unreferenced_move_surfaces_pi_error_5() -> None:
    pairs = [*INIT, (VMO, "1"), ("POS?", ZERO), (MOV, None), ("ERR?", "5")]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        with pytest.raises(InstrumentReportedError) as info:
            stage.move_to(TARGET)
    assert info.value.errors[0][0] == 5
    assert "unreferenced" in info.value.errors[0][1]


def test_abort_stops_all_and_reads_error_10_away() -> None:
    pairs = [*INIT, (VMO, "1"), ("POS?", ZERO), (MOV, None), ("ERR?", "0"), ("\x18", None),
             ("ERR?", "10"), ("POS?", ZERO)]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        assert stage.move_to(TARGET, should_abort=lambda: True) == Pose()


@pytest.mark.parametrize(("reply", "sent"), [
    ("R=0.000000 \nS=0.000000 \nT=0.000000", "SPI R 0 S 0 T 12.5"),
    ("X=0.000000 \nY=0.000000 \nZ=0.000000", "SPI X 0 Y 0 Z 12.5"),
])
def test_pivot_uses_the_letters_spi_answers(reply: str, sent: str) -> None:
    pairs = [*INIT, ("SPI?", reply), (sent, None), ("ERR?", "0")]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        stage.set_pivot(0.0, 0.0, 12.5)


def test_reference_polls_frf_until_done() -> None:
    pairs = [*INIT, ("FRF", None), ("ERR?", "0"), ("FRF?", "X=0 \nY=0 \nZ=0 \nU=0 \nV=0 \nW=0"),
             ("FRF?", ONT)]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        stage.reference()


def test_coordinate_systems_and_soft_limits() -> None:
    pairs = [*INIT, ("KSD TOOL X 0 Y 0 Z 10 U 0 V 0 W 0", None), ("ERR?", "0"),
             ("KEN TOOL", None), ("ERR?", "0"), ("KEN?", "TOOL"),
             ("NLM X -5", None), ("ERR?", "0"), ("PLM X 5", None), ("ERR?", "0")]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        stage.define_coordinate_system("TOOL", Pose(z=10.0))
        stage.enable_coordinate_system("TOOL")
        assert stage.coordinate_system() == "TOOL"
        stage.set_soft_limits("x", -5.0, 5.0)
        with pytest.raises(LimitError, match="soft limit X high"):
            stage.set_soft_limits("x", -5.0, 18.0)


def test_safe_off_stops_all_and_latches() -> None:
    pairs = [*INIT, ("\x18", None), ("ERR?", "10")]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        stage.safe_off()
        with pytest.raises(InstrumentError, match="rearm"):
            stage.move_to(TARGET)


def test_velocity_is_checked_then_sent() -> None:
    pairs = [*INIT, ("VLS 2.5", None), ("ERR?", "0")]
    with expected_protocol(PIHexapod, pairs, clock=SimClock()) as stage:
        stage.velocity = 2.5
        with pytest.raises(LimitError, match="allowed"):
            stage.velocity = 25.0
        assert stage.velocity == 2.5
