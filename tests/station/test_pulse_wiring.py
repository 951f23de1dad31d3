"""Pulse generators at the station: a declared load setting and a series resistor (or
transistor) are required, and levels are checked at the device."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from labsyn.errors import ConfigError
from labsyn.station.config import load_station_config
from labsyn.station.registry import DRIVERS, DriverEntry
from labsyn.station.station import TerminalBinding

STATION = """\
name: pulse-bench
backend: visa
instruments:
  pg: {driver: test_pulser, address: "GPIB0::10::INSTR"}
  smu: {driver: keithley_2450, address: "GPIB0::24::INSTR"}
terminals:
  TE: {instrument: pg, channel: 1, WIRE}
  BE: {instrument: smu, channel: 1}
"""


@pytest.fixture(autouse=True)
def pulser_family() -> Iterator[None]:
    DRIVERS["test_pulser"] = DriverEntry("x:X", "x:Y", "x.yaml", "PulseGenerator")
    yield
    del DRIVERS["test_pulser"]


def load(tmp_path: Path, wire: str) -> object:
    path = tmp_path / "station.yaml"
    path.write_text(STATION.replace("WIRE", wire))
    return load_station_config(path)


def test_a_pulse_generator_needs_its_load_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":7: terminals\.TE\.load: required for pulse "
                                          r"generator 'pg': 50 or high-z"):
        load(tmp_path, "series_resistance: 1000")


def test_a_pulse_generator_needs_a_series_resistor_or_transistor(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no current limit; declare the series_resistance"):
        load(tmp_path, "load: 50")
    assert load(tmp_path, "load: 50, transistor: true")
    assert load(tmp_path, "load: high-z, series_resistance: 1000")


def test_load_and_transistor_belong_to_pulse_generators(tmp_path: Path) -> None:
    path = tmp_path / "station.yaml"
    path.write_text(STATION.replace("WIRE", "load: 50, series_resistance: 1000")
                    .replace("BE: {instrument: smu, channel: 1}",
                             "BE: {instrument: smu, channel: 1, load: 50}"))
    with pytest.raises(ConfigError, match=r"terminals\.BE: load and transistor apply to a pulse"):
        load_station_config(path)


@pytest.mark.parametrize(("load", "expected"), [(50.0, 2.0), (math.inf, 1.0), (None, 1.0)])
def test_a_50_ohm_setting_doubles_the_level_at_a_high_impedance_device(
        load: float | None, expected: float) -> None:
    binding = TerminalBinding("TE", "pg", None, 1, 5.0, 1000.0, "PulseGenerator", load)
    assert binding.at_device(1.5) == pytest.approx(1.5 * expected)
