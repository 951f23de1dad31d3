"""A whole simulated probe station: roles, the order of the safe state, the stage envelope from
the station file, and the chuck rules — through the station, as scripts use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labsyn.drivers.capabilities import Pose, Positioner6D, Prober, SwitchMatrix
from labsyn.errors import LabsynError, LimitError
from labsyn.station import Station

STATION = Path(__file__).resolve().parents[2] / "examples" / "stations" / "probe_station_sim.yaml"


@pytest.fixture
def station() -> Iterator[Station]:
    with Station.open(STATION) as opened:
        yield opened


def test_shared_instruments_by_role(station: Station) -> None:
    assert isinstance(station.matrix, SwitchMatrix)
    assert isinstance(station.prober, Prober)
    assert isinstance(station.stage, Positioner6D)


def test_safe_state_turns_the_source_off_before_relays_chuck_and_stage(station: Station) -> None:
    order: list[str] = []
    for name, driver in station.instruments.items():
        original = driver.safe_off
        driver.safe_off = lambda name=name, original=original: (order.append(name), original())
    station.safe_state()
    assert order == ["smu", "matrix", "prober", "stage"]
    assert station.prober.contact_state() == "separation"
    assert station.matrix.closed() == set()


def test_the_station_envelope_reaches_the_stage_and_refuses_before_moving(station: Station
                                                                           ) -> None:
    stage = station.stage
    stage.reference()
    before = stage.position()
    with pytest.raises(LimitError, match=r"X = 6\.0 .*allowed -5 … 5 mm \(station envelope\)"):
        stage.move_to(Pose(x=6.0))  # inside the hexapod's travel, outside the station envelope
    assert stage.position() == before
    assert stage.move_to(Pose(x=1.0)).x == pytest.approx(1.0, abs=1e-3)


def test_stepping_in_contact_is_refused_and_nothing_moves(station: Station) -> None:
    prober = station.prober
    die = prober.die()
    prober.contact()
    with pytest.raises(LabsynError, match="contact"):
        prober.step_die((die[0] + 1, die[1]))
    assert prober.die() == die and prober.contact_state() == "contact"
