"""Protocol runs on the simulated demo bench, with the simulator's ground truth at hand."""

from __future__ import annotations

from typing import Any

import pandas as pd

from labsyn.engine import Runner, RunResult, RunSink
from labsyn.protocols import get_protocol
from labsyn.station import Station
from tests.engine.conftest import open_station


def truth(station: Station) -> Any:
    """What the simulated device really did (tests only: protocols never see this)."""
    return station.bench.timeline.duts[0].device.truth


def run(station: Station, name: str, sinks: tuple[RunSink, ...] = (), store: Any = None,
        **params: Any) -> RunResult:
    return Runner(station, get_protocol(name), params, sinks=sinks, store=store).run()


def run_with_data(station: Station, name: str, **params: Any) -> tuple[RunResult, pd.DataFrame]:
    runner = Runner(station, get_protocol(name), params)
    return runner.run(), runner.data()


def formed_station(device: int) -> Station:
    station = open_station(device_index=device)
    result = run(station, "forming")
    assert result.figures["v_form"].ok, result.figures["v_form"].reason
    return station


class WriteSpy:
    """Every command the driver on TE sends."""

    def __init__(self, station: Station) -> None:
        self.sent: list[str] = []
        driver = station.terminal("TE").driver
        original = driver.write

        def write(command: str, **kwargs: Any) -> None:
            self.sent.append(command)
            original(command, **kwargs)

        driver.write = write

    def output_commands(self) -> list[str]:
        return [c for c in self.sent if "OUTP ON" in c.upper() or ":INIT" in c.upper()
                or c.upper().startswith(":SOUR:VOLT ")]
