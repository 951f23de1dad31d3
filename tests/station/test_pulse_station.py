"""A pulse generator on a station: its declared load setting is programmed, levels are checked
at the device (a 50 Ω setting doubles), and a write that a short would turn into more than the
station's current limit is refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from labsyn.drivers.capabilities import PulseGenerator
from labsyn.errors import LimitError
from labsyn.station import Station
from labsyn.station.config import load_station_config

ROOT = Path(__file__).resolve().parents[2]
PG_STATION = ROOT / "examples" / "stations" / "keysight_81160a_sim.yaml"


def open_with(**wire: object) -> Station:
    config = load_station_config(PG_STATION)
    te = config.terminals["TE"].model_copy(update=wire)
    return Station(config.model_copy(update={"terminals": {**config.terminals, "TE": te}}))


def test_the_declared_load_setting_is_programmed() -> None:
    with open_with(load="high-z") as station:
        binding = station.terminal("TE")
        assert binding.kind == "PulseGenerator"
        assert isinstance(binding.driver, PulseGenerator)
        assert binding.driver.load == math.inf
        assert float(binding.driver.ask(":OUTP1:LOAD?")) >= 9.9e37  # the instrument says INF


@pytest.mark.parametrize(("load", "level", "refused"), [
    (50, 2.4, False), (50, 2.6, True), ("high-z", 4.9, False), ("high-z", 5.1, True)])
def test_levels_are_checked_at_the_device(load: object, level: float, refused: bool) -> None:
    with open_with(load=load) as station:
        if refused:
            with pytest.raises(LimitError, match="at the device"):
                station.check_voltage("TE", level)
        else:
            station.check_voltage("TE", level)


def test_a_write_a_short_would_overload_is_refused() -> None:
    with open_with(series_resistance=100.0) as station:  # 4 V / 150 Ω = 27 mA > 10 mA
        with pytest.raises(LimitError, match=r"pulse current into a short .* through 100 Ω"):
            station.check_voltage("TE", 2.0)
    with open_with(series_resistance=100.0, transistor=True) as station:
        station.check_voltage("TE", 2.0)  # the transistor limits the current
