"""Multistate on the simulated HfOx cell: the number of distinguishable states matches the
model's own levels separated by the same kσ rule, σ = read_noise·G."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labsyn.analysis.states import separated_states
from labsyn.engine import RunState
from labsyn.errors import ConfigError, LimitError
from labsyn.protocols import get_protocol
from labsyn.protocols.multistate import READS
from labsyn.station import Station
from labsyn.station.config import load_station_config
from tests.engine.conftest import SIM_STATION, open_station

from .conftest import formed_station, run_with_data
from .test_read_disturb import TrueReads

READ_NOISE = 0.007  # presets.HFOX.read_noise


@pytest.fixture(scope="module")
def station() -> Any:
    with formed_station(2) as opened:
        yield opened


def model_states(truth: TrueReads, data: Any, k: float) -> int:
    """States of the model's noiseless levels (its G at each step's reads), σ = read_noise·G."""
    g = truth.array()
    assert g.size == len(data)  # one true read per emitted row
    rows = (data["phase"] == READS).to_numpy()
    steps = data["step"].to_numpy()[rows]
    levels = np.array([g[rows][steps == s].mean() for s in np.unique(steps)])
    return len(separated_states(levels, READ_NOISE * levels, k))


@pytest.mark.parametrize("params", [
    {},
    {"mode": "count", "amplitude": 0.88, "steps": 30, "k": 2.0},
])
def test_state_count_matches_the_model(station: Station, params: dict) -> None:
    truth = TrueReads(station)
    result, data = run_with_data(station, "multistate", **params)
    assert result.status == RunState.COMPLETED, result.message
    expected = model_states(truth, data, params.get("k", 3.0))
    reported = result.figures["n_states"].value
    assert expected >= 5
    assert abs(reported - expected) <= max(1, 0.1 * expected), (reported, expected)
    states = result.details
    assert len(states) == reported
    assert (states["lower"].to_numpy()[1:] > states["upper"].to_numpy()[:-1]).all()
    assert result.figures["relative_sigma"].value == pytest.approx(READ_NOISE, rel=0.3)
    assert result.figures["g_lowest"].value < result.figures["g_highest"].value
    assert len(result.fits["levels"]) == reported


def test_dead_device_gives_missing_figures_with_reasons() -> None:
    with open_station(device="resistor", resistance=1e13) as dead:
        result = run_with_data(dead, "multistate", v_stop=0.85)[0]
    assert result.status == RunState.COMPLETED, result.message
    for name in ("n_states", "g_lowest", "g_highest"):
        assert not result.figures[name].ok and "~0 A" in result.figures[name].reason


def test_check_refuses_bad_parameters(station: Station) -> None:
    protocol = get_protocol("multistate")
    with pytest.raises(LimitError, match="pulse generator.*pulse_width"):
        protocol.check(protocol.parameters({"pulse_width": 1e-6}), station)
    with pytest.raises(ConfigError, match="steps"):
        protocol.check(protocol.parameters({"v_start": -5.0, "v_stop": 5.0, "v_step": 1e-4}),
                       station)
    with pytest.raises(LimitError, match="reset_amplitude"), low_limit_station() as low:
        protocol.check(protocol.parameters({"reset_amplitude": -3.0}), low)


def low_limit_station() -> Station:
    """The demo station with |V| ≤ 2 V on TE and across the device."""
    config = load_station_config(SIM_STATION)
    limits = config.limits.model_copy(update={"max_voltage": {"TE": 2.0},
                                              "max_device_voltage": 2.0})
    return Station(config.model_copy(update={"limits": limits}), str(SIM_STATION))
