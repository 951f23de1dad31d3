"""Batch recipes: the wafer section, limits no looser than the station's (refused naming the
key), and recipe errors (unknown protocol, misspelled key) naming the step and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from labsyn.batch.batch_recipe import load_batch_recipe, tightened_limits
from labsyn.errors import ConfigError
from labsyn.station import load_station_config

ROOT = Path(__file__).resolve().parents[2]
STATION = load_station_config(ROOT / "examples" / "stations" / "wafer_probe_sim.yaml")
STEPS = "name: r\nsteps:\n  - protocol: forming\n    params: {v_max: 4.0}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_the_example_wafer_recipe_tightens_the_station_limits() -> None:
    batch = load_batch_recipe(ROOT / "examples" / "recipes" / "wafer_recipe.yaml")
    assert [s.protocol for s in batch.recipe.steps] == ["forming", "iv-sweep", "ltp-ltd", "ppf"]
    assert (batch.wafer.min_yield, batch.wafer.yield_after, batch.wafer.retries) == (0.5, 10, 1)
    limits = tightened_limits(batch, STATION)
    assert limits.max_voltage["TE"] == 4.8 and limits.max_current_limit == 5e-4
    assert limits.max_device_voltage == STATION.limits.max_device_voltage


@pytest.mark.parametrize("limits, key", [
    ("{max_current_limit: 2.0e-3}", "wafer.limits.max_current_limit = 0.002 is looser"),
    ("{max_voltage: {TE: 6.0}}", "wafer.limits.max_voltage.TE = 6 V is looser"),
    ("{max_voltage: {gate: 1.0}}", "wafer.limits.max_voltage.gate: no such terminal"),
])
def test_a_limit_looser_than_the_stations_is_refused(tmp_path: Path, limits: str, key: str
                                                     ) -> None:
    batch = load_batch_recipe(write(tmp_path, STEPS + f"wafer:\n  limits: {limits}\n"))
    with pytest.raises(ConfigError, match=key):
        tightened_limits(batch, STATION)


@pytest.mark.parametrize("text, message", [
    (STEPS.replace("forming", "formin"), r"r.yaml:3: steps.0.protocol: unknown protocol "
                                         r"'formin'"),
    (STEPS.replace("v_max", "v_mux"), r"steps.0.params.*step 'forming' \(forming\).*v_mux"),
    (STEPS.replace("params", "parms"), r"r.yaml:4: steps.0.parms: unknown step key"),
    (STEPS + "wafer:\n  min_yeild: 0.5\n", r"r.yaml:6: wafer.min_yeild: unknown key"),
    (STEPS + "wafer:\n  min_yield: 1.5\n", r"wafer.min_yield: 1.5: a fraction"),
    (STEPS + "wafer:\n  limits: {max_volts: 3}\n", r"wafer.limits.max_volts: unknown limit"),
])
def test_recipe_errors_name_the_step_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_batch_recipe(write(tmp_path, text))
