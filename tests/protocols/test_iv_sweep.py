"""I-V switching on the simulator: V_set / V_reset within two sweep steps of the crossings the
device recorded in the same loop; R_LRS, R_HRS and on/off per cycle and as statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labsyn.engine import RunSink, RunState

from .conftest import formed_station, run, truth

STEP = 0.02


class CrossingsPerCycle(RunSink):
    """After each loop: how many SET / RESET crossings the device has recorded so far."""

    def __init__(self, station: Any) -> None:
        self.truth = truth(station)
        self.counts = [(len(self.truth.set_crossings), len(self.truth.reset_crossings))]

    def on_progress(self, done: float, total: float, message: str) -> None:
        self.counts.append((len(self.truth.set_crossings), len(self.truth.reset_crossings)))

    def in_cycle(self, cycle: int, kind: str) -> list[float]:
        index = 0 if kind == "set" else 1
        crossings = self.truth.set_crossings if kind == "set" else self.truth.reset_crossings
        return crossings[self.counts[cycle - 1][index]:self.counts[cycle][index]]


@pytest.mark.parametrize("device", [0, 3, 7])
def test_switching_voltages_match_the_crossings_of_the_same_loop(device: int) -> None:
    with formed_station(device) as station:
        crossings = CrossingsPerCycle(station)
        result = run(station, "iv-sweep", sinks=(crossings,), cycles=6, v_step=STEP)
    assert result.status == RunState.COMPLETED
    details = result.details
    checked = 0
    for row in details.itertuples():
        for kind, value in (("set", row.v_set), ("reset", row.v_reset)):
            true = crossings.in_cycle(row.cycle, kind)
            if not true:  # e.g. no SET in loop 1: forming left the cell in LRS
                assert value is None or np.isnan(value)
                continue
            assert abs(value - true[0]) <= 2 * STEP, (kind, row.cycle, value, true)
            checked += 1
    assert checked >= 10
    assert 5 < result.figures["on_off"].value < 100
    assert result.figures["cycles_switched"].value >= 5


def test_resistances_match_the_device_read_at_v_read() -> None:
    with formed_station(4) as station:
        result = run(station, "iv-sweep", cycles=3)
        device = station.bench.timeline.duts[0].device
        r_hrs_now = 0.2 / device.read_current(0.2)  # the loop ends in HRS
    last = result.details.iloc[-1]
    assert last["r_hrs"] == pytest.approx(r_hrs_now, rel=0.1)
    assert 2e3 < result.figures["r_lrs"].value < 5e3  # HfOx preset: ~3 kΩ LRS
    assert 3e4 < result.figures["r_hrs"].value < 1.5e5  # ~60 kΩ HRS


def test_statistics_are_over_the_cycles() -> None:
    with formed_station(5) as station:
        result = run(station, "iv-sweep", cycles=5)
    values = result.details["v_reset"].dropna().to_numpy()
    assert result.figures["v_reset"].value == pytest.approx(values.mean())
    assert result.figures["v_reset"].uncertainty > 0
