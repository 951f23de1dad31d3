"""Write-verify on the simulated HfOx cell: it lands within its tolerance of the target, in the
device's own conductance as well as in what it reports."""

from __future__ import annotations

from typing import Any

import pytest

from labsyn.engine import RunState
from labsyn.errors import ConfigError, LimitError
from labsyn.protocols import get_protocol
from labsyn.station import Station
from tests.engine.conftest import open_station

from .conftest import formed_station, run_with_data
from .test_dry_run import PYVISA_SIM
from .truth_checks import assert_dry_run_clean

READ_NOISE = 0.007  # presets.HFOX.read_noise
SERIES = 100.0  # Ω, the demo station's TE wiring


@pytest.fixture(scope="module")
def station() -> Any:
    with formed_station(1) as opened:
        yield opened


def device_read_conductance(station: Station, v_read: float = 0.2) -> float:
    """The device's own (noiseless) conductance I/V_dev at the read, as the analysis frames it."""
    device = station.bench.timeline.duts[0].device
    v_dev = v_read
    for _ in range(20):  # the read divides between the wiring and the device
        v_dev = v_read - float(device.current(v_dev)) * SERIES
    return float(device.current(v_dev)) / v_dev


@pytest.mark.parametrize("target", [8e3, 20e3, 5e3])
def test_converges_within_tolerance_of_the_target(station: Station, target: float) -> None:
    result, data = run_with_data(station, "write-verify", target_resistance=target)
    assert result.status == RunState.COMPLETED, result.message
    figures = result.figures
    assert figures["converged"].value == 1.0
    assert abs(figures["error"].value) <= 0.05
    assert figures["g_final"].value == pytest.approx(1 / target, rel=0.05)
    own = device_read_conductance(station)
    assert own == pytest.approx(1 / target, rel=0.05 + 3 * READ_NOISE)
    assert own == pytest.approx(figures["g_final"].value, rel=3 * READ_NOISE)
    assert figures["pulses"].value == data["pulse"].max() >= 1
    assert (data["v_program"].abs().max() <= 1.2 + 1e-9)


def test_gives_up_after_max_pulses(station: Station) -> None:
    result, data = run_with_data(station, "write-verify", target_resistance=None,
                                 target_conductance=1e-6, max_pulses=4)
    assert result.figures["converged"].value == 0.0
    assert result.figures["pulses"].value == 4 == data["pulse"].max()
    assert list(data[data["pulse"] > 0]["v_program"]) == pytest.approx([-0.9, -0.91, -0.92, -0.93])


def test_overshoot_flips_polarity_and_counts_reversals(station: Station) -> None:
    result, data = run_with_data(station, "write-verify", target_resistance=7e3,
                                 tolerance=0.001, max_reversals=2, v_step=0.05, max_pulses=300)
    assert result.figures["reversals"].value == 2  # a third flip would be needed: it stops
    assert result.figures["converged"].value == 0.0
    assert data["pulse"].max() < 300


def test_dead_device_gives_missing_figures_with_reasons() -> None:
    with open_station(device="resistor", resistance=1e13) as dead:
        result = run_with_data(dead, "write-verify", max_pulses=3)[0]
    assert result.status == RunState.COMPLETED, result.message
    for name in ("g_final", "error", "converged"):
        assert not result.figures[name].ok and "~0 A" in result.figures[name].reason
    assert result.figures["pulses"].value == 3


def test_check_refuses_bad_parameters(station: Station) -> None:
    protocol = get_protocol("write-verify")
    with pytest.raises(ConfigError, match="exactly one"):
        protocol.check(protocol.parameters({"target_conductance": 1e-4}), station)
    with pytest.raises(ConfigError, match="v_start, v_max"):
        protocol.check(protocol.parameters({"v_start": 1.1}), station)
    with pytest.raises(LimitError, match="pulse generator.*pulse_width"):
        protocol.check(protocol.parameters({"pulse_width": 1e-6}), station)
    with pytest.raises(LimitError, match="compliance"):
        protocol.check(protocol.parameters({"compliance": 2e-3}), station)


def test_dry_run_takes_every_pulse() -> None:
    runner = assert_dry_run_clean(PYVISA_SIM, "write-verify", {"max_pulses": 6})
    assert runner.data()["pulse"].max() == 6  # never stops on static replies
