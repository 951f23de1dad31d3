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


def test_routing_turns_sources_off_then_closes_exactly_the_route(station: Station) -> None:
    smu = station.terminal("TE").driver
    smu.apply_voltage(0.5, 1e-4)
    closed = station.route({"TE": "smu.1"})
    assert closed == {(1, 3)} == station.matrix.closed()  # input 1 (smu.1) onto output 3 (TE)
    assert smu.ask(":OUTP?").strip() == "0"  # switched cold
    assert station.route({}) == set()


@pytest.mark.parametrize(("connections", "match"), [
    ({"BE": "smu.1"}, "pad 'BE' is not cabled"),
    ({"TE": "smu.2"}, "'smu.2': not cabled"),
])
def test_routes_the_cabling_cannot_make_are_refused(station: Station, connections: dict,
                                                    match: str) -> None:
    with pytest.raises(LabsynError, match=match):
        station.route(connections)
    assert station.matrix.closed() == set()


@pytest.mark.parametrize(("old", "new", "match"), [
    ("  instrument: matrix\n", "  instrument: smu\n", r"matrix\.instrument 'smu' is not a switch"),
    ("  pads: {TE: 3}", "  pads: {TE: 3, BE: 3}", "two entries share one matrix output"),
    ("  inputs: {smu.1: 1}", "  inputs: {smu1: 1}", r"matrix\.inputs\.smu1: expected"),
])
def test_bad_matrix_cabling_is_refused_with_its_key(tmp_path: Path, old: str, new: str,
                                                    match: str) -> None:
    from labsyn.errors import ConfigError
    from labsyn.station.config import load_station_config

    text = STATION.read_text()
    assert old in text
    path = tmp_path / "station.yaml"
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError, match=match):
        load_station_config(path)


def test_a_relay_is_not_switched_while_a_source_may_be_on(station: Station) -> None:
    from labsyn.errors import InstrumentError

    station.arm()
    station.terminal("TE").driver.apply_voltage(0.5, 1e-4)
    with pytest.raises(InstrumentError, match=r"relays switch cold only: source\(s\) smu"):
        station.matrix.route({(1, 3)})
    assert station.matrix.closed() == set()  # nothing closed
    assert station.route({"TE": "smu.1"}) == {(1, 3)}  # the station turns the source off first
