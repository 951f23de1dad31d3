"""A simulated wafer under the prober, through the station as a batch script uses it: the SMU
sees the device of the die the prober is on only in contact, devices keep their state between
visits, and a fresh station with the same seed meets the same devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labsyn.errors import InstrumentReportedError, LabsynError
from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.presets import HFOX
from labsyn.mock_instruments.wafer import OpenCircuit
from labsyn.station import Station, load_station_config

STATION = (Path(__file__).resolve().parents[2] / "examples" / "stations"
           / "wafer_probe_single_sim.yaml")
SEED = 7  # the station file's sim.wafer_seed


@pytest.fixture
def station() -> Iterator[Station]:
    with Station.open(STATION) as opened:
        yield opened


def probed(station: Station) -> Any:
    return station.bench.timeline.duts[0].device


def read(station: Station, volts: float = 0.2) -> float:
    smu = station.terminal("TE").driver
    smu.apply_voltage(volts, 1e-4)
    current = smu.measure().current
    smu.safe_off()
    smu.rearm()
    return current


def visit(station: Station, die: tuple[int, int]) -> None:
    station.prober.separate()
    assert station.prober.step_die(die) == die
    station.prober.contact()


def form(station: Station) -> None:
    device = probed(station).under_probes()
    smu = station.terminal("TE").driver
    smu.apply_voltage(min(device.truth.v_form + 0.8, 4.5), 1e-4)
    smu.measure()
    smu.safe_off()
    smu.rearm()
    assert device.formed


def test_in_separation_the_smu_reads_an_open_circuit(station: Station) -> None:
    assert station.prober.contact_state() == "separation"
    assert abs(read(station)) < 1e-12
    station.prober.hover()
    assert abs(read(station)) < 1e-12
    assert probed(station).wafer.devices == {}  # the probes never touched a device


def test_in_contact_the_smu_reads_the_pristine_device_of_the_die(station: Station) -> None:
    station.prober.contact()
    device = probed(station).under_probes()
    assert device.truth.params == RRAMDevice.from_key(HFOX, SEED, (0, 0), 0).truth.params
    assert read(station) == pytest.approx(device.current(0.2), rel=0.1)
    assert 1e-11 < read(station) < 1e-8  # pristine, ~1 GΩ


def test_another_die_holds_another_device(station: Station) -> None:
    station.prober.contact()
    first = probed(station).under_probes()
    visit(station, (2, 1))
    second = probed(station).under_probes()
    assert second is not first
    assert second.truth.params == RRAMDevice.from_key(HFOX, SEED, (2, 1), 0).truth.params
    assert second.truth.v_form != first.truth.v_form


def test_a_device_formed_on_one_die_is_still_formed_when_the_prober_returns(
        station: Station) -> None:
    station.prober.contact()
    form(station)
    formed_reading = read(station)
    assert formed_reading > 1e-6
    visit(station, (1, 0))
    assert read(station) < 1e-8  # die B is pristine
    visit(station, (0, 0))
    assert probed(station).under_probes().formed
    assert read(station) == pytest.approx(formed_reading, rel=0.3)


def test_the_same_seed_gives_the_same_devices_in_a_fresh_station() -> None:
    drawn = []
    for _ in range(2):
        with Station.open(STATION) as fresh:
            visit(fresh, (1, 1))
            drawn.append(probed(fresh).under_probes().truth.params)
    assert drawn[0] == drawn[1]


def test_a_dead_device_reads_open_in_contact() -> None:
    config = load_station_config(STATION)
    config = config.model_copy(update={"sim": config.sim.model_copy(
        update={"dead_fraction": 1.0})})
    with Station(config, str(STATION)) as dead:
        dead.prober.contact()
        assert isinstance(probed(dead).under_probes(), OpenCircuit)
        assert abs(read(dead)) < 1e-12
        smu = dead.terminal("TE").driver
        smu.apply_voltage(4.0, 1e-4)  # nothing to form
        assert abs(smu.measure().current) < 1e-12
        smu.safe_off()


def test_stepping_in_contact_is_refused_and_the_dut_stays(station: Station) -> None:
    station.prober.contact()
    before = probed(station).under_probes()
    with pytest.raises(LabsynError, match="contact"):
        station.prober.step_die((1, 0))
    assert station.prober.die() == (0, 0)
    assert probed(station).under_probes() is before
    with pytest.raises(InstrumentReportedError, match="38"):  # the twin refuses it too
        station.prober.command("map:step_die 1, 0")
    sim = station.bench.instrument_at(station.config.instruments["prober"].address)
    assert sim.chuck.visited == []  # the twin never moved
    assert probed(station).under_probes() is before
    assert read(station) == pytest.approx(before.current(0.2), rel=0.1)
