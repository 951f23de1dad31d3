"""Simulated ATS: first-order response in virtual time, refusals, and the device following it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from labsyn.station import Station

STATION = Path(__file__).resolve().parents[2] / "examples" / "stations" / "thermal_sim.yaml"


@pytest.fixture
def station() -> Station:
    with Station.open(STATION) as opened:
        yield opened


def test_first_order_response_with_tau_and_the_device_follows(station: Station) -> None:
    head = station.thermal
    twin = station.bench.instrument_at("GPIB0::5::INSTR")
    device = station.bench.timeline.duts[0].device
    assert head.temperature() == pytest.approx(300.0, abs=0.06)
    head.set_temperature(360.0)
    start = station.clock.now()
    station.clock.sleep(twin.tau_s)
    expected = 360.0 + (300.0 - 360.0) * math.exp(-(station.clock.now() - start) / twin.tau_s)
    assert head.temperature() == pytest.approx(expected, abs=0.1)
    station.bench.sync()
    assert device.temperature_k == pytest.approx(expected, abs=0.3)
    settled = head.wait_settled(360.0, 0.2, 10.0, 1000.0)
    assert abs(settled - 360.0) <= 0.2
    assert twin.commands[-1] == "TEMP?"


def test_out_of_range_and_unknown_commands_change_nothing(station: Station) -> None:
    twin = station.bench.instrument_at("GPIB0::5::INSTR")
    head = station.thermal
    head.write("SETP 300.0")
    head.write("BOGUS 1")
    assert twin.rejected == ["SETP 300.0", "BOGUS 1"]
    assert head.number("SETP?") == 25.0
    assert head.ask("*ESR?").strip() == str(16 | 32)


def test_safe_state_stops_the_flow_and_the_head_drifts_back_to_ambient(station: Station
                                                                       ) -> None:
    head = station.thermal
    twin = station.bench.instrument_at("GPIB0::5::INSTR")
    head.set_temperature(380.0)
    station.clock.sleep(300.0)
    station.safe_state()
    assert not twin.flow and not twin.remote
    station.clock.sleep(20 * twin.tau_off_s)
    assert head.temperature() == pytest.approx(300.0, abs=0.1)


def test_injected_faults_reach_the_driver(station: Station) -> None:
    twin = station.bench.instrument_at("GPIB0::5::INSTR")
    twin.inject("error", (8, ""))
    assert station.thermal.errors() == [(8, "LOW_FLOW")]
    assert twin.fault == 0
