"""Read disturb on the simulated HfOx cell: plain reads below every threshold pass; stress
pulses above the SET threshold fail at the read count where the model's own G moved."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labsyn.engine import RunState
from labsyn.errors import ConfigError, LimitError
from labsyn.protocols import get_protocol
from labsyn.protocols.read_disturb import DISTURB, kept_reads
from labsyn.station import Station
from tests.engine.conftest import open_station

from .conftest import formed_station, run_with_data

READ_NOISE = 0.007  # presets.HFOX.read_noise


class TrueReads:
    """The simulated device's noiseless conductance (I/V at the device) at every read near
    `v_read` the bench takes, for the exact drive the run applied (tests only)."""

    def __init__(self, station: Station, v_read: float = 0.2) -> None:
        self.device = station.bench.timeline.duts[0].device
        self.g: list[float] = []
        original = type(self.device).read_current

        def read_current(v: float) -> float:
            if 0.9 * v_read < v <= v_read:  # the wiring takes a little of the read level
                self.g.append(float(self.device.current(v) / v))
            return original(self.device, v)

        self.device.read_current = read_current

    def array(self) -> np.ndarray:
        return np.asarray(self.g)


def first_exceeding(g: np.ndarray, g0: float, max_drift: float) -> int | None:
    """Read count (1-based) at which the model's R = 1/G first moved beyond max_drift."""
    outside = np.flatnonzero(np.abs(g0 / g - 1.0) > max_drift)
    return int(outside[0]) + 1 if outside.size else None


@pytest.fixture(scope="module")
def station() -> Any:
    with formed_station(0) as opened:
        yield opened


def test_plain_reads_below_thresholds_pass_within_read_noise(station: Station) -> None:
    truth = TrueReads(station)
    result, data = run_with_data(station, "read-disturb", reads=5000, block=2500, settle=100.0)
    assert result.status == RunState.COMPLETED, result.message
    g = truth.array()
    model_drift = g[10] / g[-1] - 1.0  # R after / R before, the model's own
    assert abs(model_drift) < READ_NOISE
    figures = result.figures
    assert figures["passed"].value == 1.0
    assert abs(figures["drift"].value - model_drift) < 3 * READ_NOISE / np.sqrt(3)
    assert not figures["reads_to_fail"].ok and "stayed within" in figures["reads_to_fail"].reason
    assert figures["read_noise"].value == pytest.approx(READ_NOISE, rel=0.6)
    assert figures["r0"].value == pytest.approx(1 / g[:10].mean(), rel=0.01)
    assert (data[data["phase"] == DISTURB]["read"].to_numpy() == np.arange(1, 5001)).all()


def test_stress_above_set_threshold_fails_where_the_model_moved(station: Station) -> None:
    truth = TrueReads(station)
    params = {"reads": 2000, "block": 1000, "settle": 10.0, "program_amplitude": -1.1,
              "program_pulses": 10, "stress_amplitude": 0.83, "max_drift": 0.02}
    result, _ = run_with_data(station, "read-disturb", **params)
    assert result.status == RunState.COMPLETED, result.message
    g = truth.array()[10:]  # after the programming pulses' reads
    g0, disturb = g[:10].mean(), g[10:]
    expected = first_exceeding(disturb, g0, 0.02)
    assert expected is not None and 10 < expected < 1500
    reported = result.figures["reads_to_fail"].value
    assert result.figures["passed"].value == 0.0
    assert abs(reported - expected) <= max(10, 0.2 * expected), (reported, expected)
    assert result.figures["drift"].value == pytest.approx(g0 / disturb[-1] - 1, abs=0.01)


def test_log_record_keeps_labelled_log_spaced_reads(station: Station) -> None:
    params = {"reads": 3000, "block": 1000, "settle": 0.0, "record": "log"}
    result, data = run_with_data(station, "read-disturb", **params)
    rows = data[data["phase"] == DISTURB]["read"].to_numpy()
    keep = kept_reads(get_protocol("read-disturb").parameters(params))
    assert (rows == keep).all() and rows[-1] == 3000 and len(rows) < 120
    assert result.figures["passed"].ok


def test_dead_device_gives_missing_figures_with_reasons() -> None:
    with open_station(device="resistor", resistance=1e13) as dead:
        result = run_with_data(dead, "read-disturb", reads=100, block=100, settle=0.0)[0]
    assert result.status == RunState.COMPLETED, result.message
    for name in ("drift", "passed", "reads_to_fail"):
        assert not result.figures[name].ok and "~0 A" in result.figures[name].reason


def test_check_names_the_parameter(station: Station) -> None:
    protocol = get_protocol("read-disturb")
    with pytest.raises(LimitError, match="pulse generator.*stress_width"):
        protocol.check(protocol.parameters({"stress_amplitude": 0.4, "stress_width": 1e-5}),
                       station)
    with pytest.raises(ConfigError, match="window"):
        protocol.check(protocol.parameters({"reads": 20, "window": 30}), station)
    with pytest.raises(LimitError, match="v_read"):
        protocol.check(protocol.parameters({"compliance": 1.0}), station)
