"""The batch wafer station (examples/stations/wafer_probe_sim.yaml): the SMU reaches the site the
matrix routes to it on the die in contact, an open circuit otherwise; two sites of a die are two
devices; the contact-test resistor reads its resistance; the prober takes any die within the
wafer radius; a fresh station with the same seed meets the same, pristine devices."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labsyn.errors import ConfigError, LabsynError
from labsyn.mock_instruments.wafer import OpenCircuit
from labsyn.station import Station, load_station_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STATION = EXAMPLES / "stations" / "wafer_probe_sim.yaml"
DRY = EXAMPLES / "stations" / "wafer_probe_pyvisa_sim.yaml"
MAP = EXAMPLES / "wafer_maps" / "demo_wafer.yaml"
SERIES = 100.0  # Ω, the TE terminal's declared series resistance


@pytest.fixture
def station() -> Iterator[Station]:
    with Station.open(STATION) as opened:
        yield opened


def with_sim(**update: Any) -> Station:
    config = load_station_config(STATION)
    return Station(config.model_copy(update={"sim": config.sim.model_copy(update=update)}),
                   str(STATION))


def read(station: Station, volts: float = 0.2) -> float:
    smu = station.terminal("TE").driver
    smu.rearm()
    smu.apply_voltage(volts, 1e-4)
    current = smu.measure().current
    smu.safe_off()
    return current


def land(station: Station, die: tuple[int, int], subsite: int = 0) -> None:
    station.prober.separate()
    assert station.prober.step_die(die, subsite) == die
    station.prober.contact()


def route(station: Station, site: str, be: bool = True) -> None:
    station.route({f"{site}.TE": "smu.1", **({f"{site}.BE": "gnd"} if be else {})})


def form(station: Station, v_form: float) -> None:
    smu = station.terminal("TE").driver
    smu.rearm()
    smu.apply_voltage(min(v_form + 0.8, 4.5), 1e-4)
    smu.measure()
    smu.safe_off()


def alive_die(station: Station, *sites: str) -> tuple[int, int]:
    wafer = station.bench.wafer
    return next(d for d in ((c, r) for r in range(-3, 4) for c in range(-3, 4))
                if not any(wafer.is_dead(d, s) for s in sites))


def under_probes(station: Station) -> Any:
    return station.bench.timeline.duts[0].device.under_probes()


def test_nothing_routed_or_separated_reads_open(station: Station) -> None:
    die = alive_die(station, "D1")
    route(station, "D1")
    assert abs(read(station)) < 1e-12  # routed, but the chuck is separated
    land(station, die)
    station.route({})
    assert abs(read(station)) < 1e-12  # in contact, nothing routed
    route(station, "D1", be=False)
    assert abs(read(station)) < 1e-12  # BE floating
    route(station, "D1")
    assert read(station) > 1e-11  # the pristine device (~1 GΩ) conducts
    station.prober.separate()
    assert abs(read(station)) < 1e-12


def test_the_contact_test_reads_its_resistance(station: Station) -> None:
    land(station, (2, -3))
    route(station, "R1")
    assert 0.1 / read(station, 0.1) == pytest.approx(1e4 + SERIES, rel=0.01)


def test_the_two_sites_of_a_die_are_different_devices(station: Station) -> None:
    wafer = station.bench.wafer
    die = alive_die(station, "D1", "D2")
    land(station, die)
    route(station, "D1")
    d1 = under_probes(station)
    route(station, "D2")
    d2 = under_probes(station)
    assert d1 is wafer.device(die, 0) and d2 is wafer.device(die, 1)
    assert d1.truth.params != d2.truth.params
    assert d2.truth.v_form == wafer.true_forming_voltage(die, "D2")
    form(station, d2.truth.v_form)
    assert d2.formed and not d1.formed
    formed = read(station)
    assert formed > 1e-6
    route(station, "D1")
    assert read(station) < 1e-8  # D1 is still pristine
    route(station, "D2")
    assert read(station) == pytest.approx(formed, rel=0.3)


def test_the_prober_takes_any_die_within_the_wafer(station: Station) -> None:
    sim = station.bench.instrument_at(station.config.instruments["prober"].address)
    assert len(sim.chuck.dies) == 69  # radius 4.5
    land(station, (4, 2))  # r = 4.47
    with pytest.raises(LabsynError, match="not on the wafer map"):
        station.prober.separate()
        station.prober.step_die((4, 3))  # r = 5
    assert station.prober.die() == (4, 2)


def test_subsites_hold_their_own_devices() -> None:
    with with_sim(subsites=2) as station:
        wafer = station.bench.wafer
        land(station, (1, 1), 1)
        route(station, "D2")
        assert under_probes(station) is wafer.device((1, 1), wafer.index("D2", 1))
        assert wafer.index("D2", 1) == 4  # 3 sites per subsite (R1 included)
        land(station, (1, 1), 0)
        assert under_probes(station) is wafer.device((1, 1), 1)


def test_a_dead_site_reads_open(station: Station) -> None:
    wafer = station.bench.wafer
    die, site = next((d, s) for d in ((c, r) for r in range(-4, 5) for c in range(-4, 5))
                     for s in ("D1", "D2") if math.hypot(*d) <= 4 and wafer.is_dead(d, s))
    land(station, die)
    route(station, site)
    assert isinstance(under_probes(station), OpenCircuit)
    form(station, 3.2)
    assert abs(read(station)) < 1e-12


def test_the_same_seed_meets_the_same_devices_pristine_again() -> None:
    truth, v_form = [], []
    for _ in range(2):
        with Station.open(STATION) as fresh:
            die = alive_die(fresh, "D2")
            land(fresh, die)
            route(fresh, "D2")
            device = under_probes(fresh)
            assert not device.formed  # formed in the first station, fresh in the second
            truth.append(device.truth.params)
            v_form.append(fresh.bench.wafer.true_forming_voltage(die, "D2"))
            form(fresh, device.truth.v_form)
            assert device.formed
    assert truth[0] == truth[1] and v_form[0] == v_form[1]


def test_the_station_gradient_reaches_the_wafer(station: Station) -> None:
    wafer = station.bench.wafer
    sim = station.config.sim
    assert wafer.gradient.v_form_edge == sim.gradient.v_form_edge == 0.15
    assert wafer.gradient.radius_dies == sim.wafer_radius_dies
    f_edge = wafer.gradient.factors((0, 4), sim.wafer_seed)[0]
    assert wafer.preset_at((0, 4)).v_form_scale == pytest.approx(
        wafer.preset.v_form_scale * f_edge)


def test_sites_without_pads_or_bad_pad_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="'D3.TE'"):
        with_sim(sites=["D1", "D3"])
    config = load_station_config(STATION).model_dump()
    config["matrix"]["pads"]["D1.XX"] = 9
    with pytest.raises(ValueError, match=r"matrix.pads.D1.XX: not a terminal"):
        type(load_station_config(STATION)).model_validate(config)


def test_the_demo_map_and_the_dry_run_station_fit_the_simulated_wafer() -> None:
    demo = yaml.safe_load(MAP.read_text())
    grid = demo["dies"]["grid"]
    dies = [(c, r) for c in range(grid["columns"][0], grid["columns"][1] + 1)
            for r in range(grid["rows"][0], grid["rows"][1] + 1)
            if math.hypot(c, r) <= demo["dies"]["within_radius"]]
    assert len(dies) == 49
    config = load_station_config(STATION)
    assert all(math.hypot(*d) <= config.sim.wafer_radius_dies for d in dies)
    assert [d["name"] for d in demo["devices"]] == config.sim.sites
    assert demo["contact_test"]["name"] == config.sim.contact_test.site
    pads = {p for d in [*demo["devices"], demo["contact_test"]] for p in d["pads"].values()}
    assert pads == set(config.matrix.pads)
    dry = load_station_config(DRY)
    assert (dry.matrix, dry.limits, dry.terminals) == (config.matrix, config.limits,
                                                        config.terminals)
    assert {n: i.address for n, i in dry.instruments.items()} == {
        n: i.address for n, i in config.instruments.items()}
    with Station(dry, str(DRY)) as station:
        assert station.dry_run
        station.route({"D1.TE": "smu.1", "D1.BE": "gnd"})
