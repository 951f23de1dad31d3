"""Recipes: validation errors that name the step and key, hand-on of figures, conditions that
stop the rest, dry runs that take every branch, and `labsyn run RECIPE.yaml`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from labsyn.batch import check_recipe, load_recipe, parse_recipe, run_recipe
from labsyn.errors import ConfigError, LimitError
from labsyn.station import Station
from labsyn.store import Store
from tests.engine.conftest import ROOT, open_station

FORM_AND_CYCLE = ROOT / "examples" / "recipes" / "form_and_cycle.yaml"
DRY_STATION = ROOT / "examples" / "stations" / "keithley_2450_pyvisa_sim.yaml"


def recipe_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ("steps:\n  - protocol: formin\n", r"recipe.yaml:2: steps.0.protocol: unknown protocol "
     r"'formin'; protocols: forming"),
    ("steps:\n  - protocol: forming\n    params: {v_maxx: 3}\n",
     r"recipe.yaml:3: steps.0.params.v_maxx: step 'forming' \(forming\): .*unknown "
     r"parameter 'v_maxx' \(did you mean 'v_max'\?\)"),
    ("steps:\n  - protocol: forming\n  - protocol: iv-sweep\n    params:\n"
     "      v_set: ${seek.v_set_threshold}\n",
     r"recipe.yaml:5: steps.1.params.v_set: \$\{seek.v_set_threshold\}: no earlier step named "
     r"'seek'; earlier steps: forming"),
    ("steps:\n  - protocol: forming\n  - protocol: iv-sweep\n    params:\n"
     "      v_set: ${forming.v_sett}\n", r"step 'forming' \(forming\) has no figure 'v_sett'; "
     r"its figures: v_form"),
    ("steps:\n  - protocol: forming\n    require: {v_form: big}\n",
     r"recipe.yaml:3: steps.0.require.v_form: 'big': allowed ok, missing, or a comparison"),
    ("steps:\n  - protocol: forming\n    when: always\n",
     r"recipe.yaml:3: steps.0.when: unknown step key; allowed: name, protocol, params"),
    ("steps:\n  - protocol: forming\n  - protocol: forming\n",
     r"steps.1.name: step name 'forming' is used twice"),
])
def test_a_bad_recipe_is_refused_naming_the_line_step_and_key(tmp_path: Path, text: str,
                                                               expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_recipe(recipe_file(tmp_path, text))


def test_a_voltage_above_the_station_limit_is_refused_before_any_run(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, "steps:\n  - protocol: iv-sweep\n  - protocol: "
                                     "forming\n    params: {v_max: 9.0}\n"))
    store = Store(tmp_path / "data")
    with open_station() as station:
        sent = spy_on_writes(station)
        with pytest.raises(LimitError, match=r"recipe.yaml:3: step 'forming' \(forming\): "
                                             r"forming parameter v_max.*allowed \|V\| ≤ 5"):
            run_recipe(recipe, station, store=store)
    assert store.runs().empty  # not even the first, valid, step ran
    assert not [c for c in sent if "OUTP ON" in c.upper()]


def spy_on_writes(station: Station) -> list[str]:
    sent: list[str] = []
    driver = station.terminal("TE").driver
    original = driver.write
    driver.write = lambda command, **kw: (sent.append(command), original(command, **kw))[1]
    return sent


def test_figures_are_handed_on_and_the_steps_are_stored_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    with open_station(device_index=2) as station:
        result = run_recipe(load_recipe(FORM_AND_CYCLE), station, store=store)
    assert result.passed, [(o.step, o.status, o.reason) for o in result.outcomes]
    forming, cycling = (o.result for o in result.outcomes)
    assert forming is not None and cycling is not None
    i_form = forming.figures["i_form"].value
    stored = store.load(cycling.run_id).parameters
    assert stored["set_compliance"] == pytest.approx(5 * i_form)
    assert list(store.runs()["protocol"]) == ["forming", "iv-sweep"]


def unformable(on_fail: str = "stop") -> Any:
    return parse_recipe(yaml.safe_load(f"""
steps:
  - protocol: forming
    params: {{v_max: 1.0}}
    require: {{v_form: ok}}
    on_fail: {on_fail}
  - protocol: iv-sweep
    params: {{cycles: 1}}
"""))


def test_a_failed_condition_skips_the_rest_and_says_why() -> None:
    with open_station() as station:
        result = run_recipe(unformable(), station)
    forming, cycling = result.outcomes
    assert forming.status == "completed" and not forming.passed
    assert forming.reason.startswith("requires v_form ok: missing (")
    assert cycling.status == "skipped"
    assert cycling.reason.startswith("step 'forming' failed: requires v_form ok")
    assert not result.passed


def test_on_fail_continue_runs_the_next_step() -> None:
    with open_station() as station:
        result = run_recipe(unformable("continue"), station)
    assert [o.status for o in result.outcomes] == ["completed", "completed"]


def test_a_missing_figure_cannot_be_handed_on_outside_a_dry_run() -> None:
    recipe = parse_recipe(yaml.safe_load("""
steps:
  - {protocol: forming, params: {v_max: 1.0}, on_fail: continue}
  - {protocol: iv-sweep, params: {set_compliance: "${forming.i_form * 5}"}}
"""))
    with open_station() as station:
        result = run_recipe(recipe, station)
    assert result.outcomes[1].status == "failed"
    assert "refused before it ran: step 'iv-sweep': parameter set_compliance = " \
           "${forming.i_form * 5}: forming.i_form is missing" in result.outcomes[1].reason


def test_a_dry_run_takes_every_branch_with_defaults_for_what_it_cannot_measure() -> None:
    with Station.open(DRY_STATION) as station:
        check_recipe(load_recipe(FORM_AND_CYCLE), station)
        result = run_recipe(load_recipe(FORM_AND_CYCLE), station)
    assert [o.status for o in result.outcomes] == ["completed", "completed"]
    assert result.passed


def test_the_cli_runs_a_recipe_file(tmp_path: Path) -> None:
    station = ROOT / "examples" / "stations" / "keithley_2450_sim.yaml"
    done = subprocess.run([sys.executable, "-m", "labsyn.cli", "run", str(FORM_AND_CYCLE),
                           "--station", str(station), "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "step forming (forming): completed" in done.stdout
    assert "recipe form-and-cycle: passed" in done.stdout
    assert len(Store(tmp_path).runs()) == 2
