"""Forming on the simulator: V_form is the device's forming voltage within one ramp step."""

from __future__ import annotations

import pytest

from labsyn.engine import RunState
from labsyn.errors import ConfigError
from tests.engine.conftest import open_station

from .conftest import run, run_with_data
from .truth_checks import assert_forming_recovers_truth

DEVICES = range(6)


@pytest.mark.parametrize("device", DEVICES)
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_station(device_index=device) as station:
        result, _ = assert_forming_recovers_truth(station, v_step=0.02)
    assert result.figures["v_form"].uncertainty == pytest.approx(0.02)


def test_the_ramp_stops_at_the_first_compliance_trip() -> None:
    with open_station(device_index=1) as station:
        _, data = run_with_data(station, "forming")
    ramp = data[data["phase"] == 1]
    assert ramp["limited"].sum() == 1 and bool(ramp["limited"].iloc[-1])
    assert ramp["v_program"].max() < 4.0


def test_pulsed_forming_stops_below_the_resistance_threshold() -> None:
    with open_station(device_index=2) as station:
        result, _ = assert_forming_recovers_truth(station, v_step=0.1, mode="pulsed", v_start=1.0,
                                                  v_max=5.0, pulse_width=1e-3, r_threshold=100e3)
    assert result.figures["r_after"].value < 100e3


def test_a_device_that_does_not_form_says_so() -> None:
    with open_station(device_index=0) as station:
        result = run(station, "forming", v_max=1.0)
    assert result.status == RunState.COMPLETED
    assert not result.figures["v_form"].ok
    assert result.figures["v_form"].reason


def test_pulsed_forming_stops_at_the_sudden_drop_trip() -> None:
    """No R threshold: the ArC2 trip (R below 20 % of the pristine read) detects forming at
    the device's true forming voltage, and the ramp stops at that pulse."""
    with open_station(device_index=2) as station:
        result, data = assert_forming_recovers_truth(
            station, v_step=0.1, mode="pulsed", v_start=1.0, v_max=5.0, r_threshold=None,
            trip_percent=20.0)
    assert result.details["criterion"].iloc[0] == "trip"
    ramp = data[data["phase"] == 1]
    formed_at = int(result.details["index"].iloc[0])
    assert ramp["step"].max() == formed_at + 1  # steps count from 1; nothing after the trip
    assert result.figures["r_after"].value < 0.2 * result.figures["r_before"].value


def test_pulsed_forming_without_any_criterion_is_refused() -> None:
    with open_station() as station:
        with pytest.raises(ConfigError, match="trip_percent"):
            run(station, "forming", mode="pulsed", r_threshold=None)
