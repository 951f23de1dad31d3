"""The PI twins (C-887 hexapod, E-712) through the VISA backend, with the real drivers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labsyn.drivers.capabilities import Pose
from labsyn.drivers.pi_e712 import PIE712
from labsyn.drivers.pi_hexapod import PIHexapod
from labsyn.errors import InstrumentReportedError, LimitError
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.pi_e712 import SimPIE712
from labsyn.mock_instruments.pi_hexapod import SimPIHexapod

HEXAPOD = "TCPIP0::192.168.0.10::50000::SOCKET"
E712 = "TCPIP0::192.168.0.20::50000::SOCKET"


@pytest.fixture
def bench() -> Bench:
    return Bench()


@pytest.fixture
def twin(bench: Bench) -> SimPIHexapod:
    return bench.add_instrument(HEXAPOD, SimPIHexapod())


@pytest.fixture
def stage(bench: Bench, twin: SimPIHexapod) -> Iterator[PIHexapod]:
    driver = PIHexapod(HEXAPOD, visa_library=bench.visa_library(), clock=bench.clock)
    yield driver
    driver.adapter.close()


def test_move_before_referencing_gives_error_5_and_nothing_moves(stage: PIHexapod,
                                                                 twin: SimPIHexapod) -> None:
    assert not stage.referenced()
    with pytest.raises(InstrumentReportedError) as info:
        stage.move_to(Pose(x=1.0))
    assert info.value.errors == [(5, info.value.errors[0][1])]
    assert twin.pose()["X"] == 0.0
    assert stage.errors() == []  # ERR? read cleared it


def test_referencing_takes_the_modelled_time(bench: Bench, stage: PIHexapod) -> None:
    start = bench.clock.now()
    stage.reference()
    assert stage.referenced()
    assert bench.clock.now() - start == pytest.approx(10.0, abs=0.6)


def test_move_duration_follows_the_system_velocity(bench: Bench, stage: PIHexapod) -> None:
    stage.reference()
    stage.velocity = 2.0
    start = bench.clock.now()
    reached = stage.move_to(Pose(x=4.0, y=-1.0, u=0.5))
    assert reached == Pose(x=4.0, y=-1.0, u=0.5)
    assert bench.clock.now() - start == pytest.approx(4.0 / 2.0, abs=0.1)


def test_vmo_refuses_a_coupled_pose_and_mov_gives_error_7(stage: PIHexapod,
                                                          twin: SimPIHexapod) -> None:
    stage.reference()
    corner = Pose(x=16.0, y=15.0, z=6.0)  # each axis inside its travel, together not
    assert not stage.reachable(corner)
    with pytest.raises(LimitError, match="VMO"):
        stage.move_to(corner)
    stage.write("MOV X 16 Y 15 Z 6")
    assert stage.errors() == [(7, "Position out of limits")]
    assert twin.pose()["X"] == 0.0


def test_pivot_needs_uvw_zero_and_both_letter_sets_work(stage: PIHexapod,
                                                        twin: SimPIHexapod) -> None:
    stage.reference()
    stage.move_to(Pose(u=0.2))
    with pytest.raises(InstrumentReportedError, match="9, "):
        stage.set_pivot(0.0, 0.0, 20.0)
    stage.move_to(Pose())
    stage.set_pivot(1.0, 2.0, 20.0)
    assert stage.pivot() == (1.0, 2.0, 20.0)
    stage.send("SPI X 0 Y 0 Z 5")
    assert twin.pivot == [0.0, 0.0, 5.0]


def test_x_y_z_pivot_firmware(bench: Bench) -> None:
    twin = bench.add_instrument("TCPIP0::192.168.0.11::50000::SOCKET",
                                SimPIHexapod(pivot_letters="XYZ", referenced=True))
    stage = PIHexapod("TCPIP0::192.168.0.11::50000::SOCKET", visa_library=bench.visa_library(),
                      clock=bench.clock)
    stage.set_pivot(0.0, 0.0, 7.5)
    assert twin.received[-3:-1] == ["SPI?", "SPI X 0 Y 0 Z 7.5"]
    assert stage.pivot() == (0.0, 0.0, 7.5)


def test_abort_mid_move_stops_where_it_is(bench: Bench, stage: PIHexapod,
                                          twin: SimPIHexapod) -> None:
    stage.reference()
    start = bench.clock.now()
    reached = stage.move_to(Pose(x=5.0), should_abort=lambda: bench.clock.now() - start > 1.0)
    assert 0.9 < reached.x < 1.2
    assert not twin.moving()
    assert stage.errors() == []  # the error 10 of #24 was read away


def test_coordinate_system_cannot_be_defined_while_moving(stage: PIHexapod) -> None:
    stage.reference()
    stage.send("MOV X 3")
    with pytest.raises(InstrumentReportedError, match="536"):
        stage.define_coordinate_system("TOOL", Pose(z=10.0))
    stage.safe_off()
    stage.rearm()
    stage.define_coordinate_system("TOOL", Pose(z=10.0))
    stage.enable_coordinate_system("TOOL")
    assert stage.coordinate_system() == "TOOL"


def test_unknown_command_and_err_clears(stage: PIHexapod) -> None:
    stage.write("XYZZY 1")
    assert stage.errors() == [(2, "Unknown command")]
    assert stage.errors() == []


def test_safe_off_halts_and_latches(bench: Bench, stage: PIHexapod,
                                    twin: SimPIHexapod) -> None:
    stage.reference()
    stage.send("MOV X 5")
    bench.clock.sleep(1.0)
    stage.safe_off()
    assert not twin.moving()
    assert twin.pose()["X"] == pytest.approx(1.0, abs=0.05)
    with pytest.raises(Exception, match="rearm"):
        stage.move_to(Pose())


def test_e712_moves_and_refuses_travel(bench: Bench) -> None:
    twin = bench.add_instrument(E712, SimPIE712())
    nano = PIE712(E712, visa_library=bench.visa_library(), clock=bench.clock)
    assert nano.move_to({"1": 20.0, "2": 80.0})["1"] == 20.0
    with pytest.raises(LimitError, match="0 … 100 µm"):
        nano.move_to({"3": 101.0})
    twin.received.clear()
    nano.write("MOV 3 101")
    assert nano.errors() == [(7, "Position out of limits")]
    nano.safe_off()
    assert nano.errors() == []
