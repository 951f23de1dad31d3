"""I-V switching on the simulator: V_set / V_reset within two sweep steps of the crossings the
device recorded in the same loop; R_LRS, R_HRS and on/off per cycle and as statistics."""

from __future__ import annotations

import pytest

from .conftest import formed_station, run
from .truth_checks import assert_iv_sweep_recovers_truth


@pytest.mark.parametrize("device", [0, 3, 7])
def test_switching_voltages_match_the_crossings_of_the_same_loop(device: int) -> None:
    with formed_station(device) as station:
        result = assert_iv_sweep_recovers_truth(station, cycles=6, at_least=10)
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
