"""Every example station: it opens, and `safe_state()` in the middle of a running sweep or burst
leaves every simulated output off — at once, and after the interrupted run returns."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from labsyn.drivers.capabilities import PulseGenerator, SourceMeter
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import LabsynError
from labsyn.station import Station
from labsyn.station.config import load_station_config

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
SIMULATED = sorted(p for p in STATIONS.glob("*_sim.yaml") if "pyvisa" not in p.name)


def drives_a_terminal(path: Path) -> bool:
    """Stations with a source on a DUT terminal (matrices, stages and probers drive none)."""
    return any(w != "ground" for w in load_station_config(path).terminals.values())


SOURCES = [p for p in SIMULATED if drives_a_terminal(p)]
DRY = sorted(STATIONS.glob("*_pyvisa_sim.yaml"))


def outputs_on(station: Station) -> list[str]:
    """The bench's own view: which source channels drive their DUT terminal now."""
    now = station.bench.clock.now()
    return [ch.name for ch in station.bench.timeline.channels if ch.state_at(now).on]


def long_sequence(driver: Any, terminal: str) -> Sequence:
    """Seconds of work on the bench clock that the instrument accepts."""
    if isinstance(driver, SourceMeter):
        ramp = Staircase.ramp(0.0, 0.5, 0.001, 0.01, 1e-4)
        return Sequence(terminal, (ramp,), nplc=0.01)
    assert isinstance(driver, PulseGenerator)
    width = max(driver.limits.min_width, 1e-3)
    return Sequence(terminal, (PulseTrain.identical(0.2, 2000, width, 5 * width, 1e-3),))


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_safe_state_mid_run_turns_every_output_off_and_keeps_it_off(path: Path) -> None:
    config = load_station_config(path)
    config = config.model_copy(update={"clock": "paced", "speedup": 10.0})
    with Station(config, str(path)) as station:
        terminal = next(t for t in config.terminals if not station.terminal(t).grounded)
        driver = station.terminal(terminal).driver
        sequence = long_sequence(driver, terminal)
        driver.check_sequence(sequence)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                driver.run(sequence)
            except LabsynError as exc:  # an interrupted run may end in an instrument error
                errors.append(exc)

        worker = threading.Thread(target=work)
        worker.start()
        deadline = time.monotonic() + 5
        while not outputs_on(station) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outputs_on(station), "the run never turned an output on"
        time.sleep(0.1)
        station.safe_state()
        assert outputs_on(station) == []
        worker.join(30)
        assert not worker.is_alive()
        assert outputs_on(station) == []
        again = driver.run(sequence)  # held off until rearmed: nothing is started
        assert again.aborted and len(again) == 0
        assert outputs_on(station) == []


@pytest.mark.parametrize("path", DRY, ids=[p.stem for p in DRY])
def test_dry_run_stations_open_and_reach_a_safe_state(path: Path) -> None:
    with Station.open(path) as station:
        snapshot = station.snapshot()
        assert all(not str(i["idn"]).startswith("unavailable") for i in
                   snapshot["instruments"].values())
        station.safe_state()
        for driver in station.instruments.values():
            assert driver.errors() == []
