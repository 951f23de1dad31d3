"""SNDP on the simulator: ΔG after trains of 1 … n_max pulses matches the model replayed on a
copy of the device."""

from __future__ import annotations

from labsyn.engine import RunState
from tests.engine.conftest import open_station

from .conftest import run_with_data
from .test_ppf import at_rest_in_hrs
from .test_srdp import PARAMS, replay


def test_sndp_matches_the_model_replayed_within_3_percent() -> None:
    with open_station(preset="hfox_slow") as station:
        device = at_rest_in_hrs(station)
        result, _ = run_with_data(station, "sndp", n_max=6, interval=5e-3, repeats=2, **PARAMS)
    assert result.status == RunState.COMPLETED, result.message
    true = replay(device, PARAMS, 6, 5e-3)
    for row in result.details.itertuples():
        assert abs(row.dg_mean - true[row.count - 1]) <= 0.03 * true[row.count - 1]
    gain = result.figures["number_gain"]
    assert abs(gain.value - true[-1] / true[0]) <= 0.05 * gain.value
    assert gain.value > 1.3


def test_sndp_refuses_a_gap_the_smu_cannot_read_in() -> None:
    import pytest

    from labsyn.errors import LimitError

    with open_station(preset="hfox_slow") as station, pytest.raises(LimitError,
                                                                    match="interval"):
        run_with_data(station, "sndp", interval=1e-4)
