"""The wafer runner on the simulated wafer (examples/stations/wafer_probe_sim.yaml): V_form per
device against the simulator's truth, dead devices, contact checks, faults and retries, the
yield stop, refusals before the prober moves, and the station left safe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labsyn.batch import WaferRun, load_batch_recipe, parse_wafer_map
from labsyn.batch import wafer_runner as runner_module
from labsyn.batch.ledger import Ledger
from labsyn.errors import ConfigError, InstrumentTimeout, LimitError
from labsyn.mock_instruments.bench import Bench
from labsyn.station import Station, load_station_config
from labsyn.store import Store

ROOT = Path(__file__).resolve().parents[2]
STATION = ROOT / "examples" / "stations" / "wafer_probe_sim.yaml"
SITES = ("D1", "D2")  # the station's sim.sites: wafer device index = position here
SMALL_RECIPE = """\
name: small-wafer
steps:
  - protocol: forming
    params: {v_max: 4.5, v_step: 0.02, compliance: 1.0e-4}
    require: {v_form: ok}
  - protocol: iv-sweep
    params: {cycles: 2, v_step: 0.05, set_compliance: 5.0e-4, reset_compliance: 5.0e-4}
    on_fail: continue
  - protocol: ltp-ltd
    params: {pulses: 10, cycles: 1, compliance: 5.0e-4}
    on_fail: continue
  - protocol: ppf
    params: {points: 4, repeats: 1, compliance: 5.0e-4}
wafer:
  retries: 1
  limits: {max_voltage: {TE: 4.8}, max_current_limit: 5.0e-4}
"""


def wafer_map(dies: list[list[int]], wafer: str = "T01", resistance: float = 1e4) -> Any:
    return parse_wafer_map({
        "wafer": wafer, "dies": dies,
        "devices": [{"name": s, "pads": {"TE": f"{s}.TE", "BE": f"{s}.BE"}} for s in SITES],
        "contact_test": {"name": "R1", "pads": {"TE": "R1.TE", "BE": "R1.BE"},
                         "resistance": resistance, "tolerance": 0.3, "read_voltage": 0.1}})


def recipe_file(directory: Path, text: str = SMALL_RECIPE, name: str = "recipe.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def open_station(**sim: Any) -> Station:
    config = load_station_config(STATION)
    if sim:
        config = config.model_copy(update={"sim": config.sim.model_copy(update=sim)})
    return Station(config, str(STATION))


def wafer_of(station: Station) -> Any:
    return station.bench.timeline.duts[0].device.wafer


def chuck_of(station: Station) -> Any:
    return station.bench.instrument_at(station.config.instruments["prober"].address).chuck


def assert_safe(station: Station) -> None:
    """Chuck separated (the twin says so), SMU output off, every relay open."""
    assert chuck_of(station).state == "separation"
    status = station.bench.status()
    smu = status[station.config.instruments["smu"].address]
    assert smu["output"] in ("OFF", False, 0), smu
    assert not station.matrix.closed()


TWELVE_DIES = [[0, 0], [1, 0], [2, 0], [-1, 0], [-2, 0], [0, 1], [1, 1], [-1, 1], [0, -1],
               [1, -1], [-1, -1], [0, 2]]


@pytest.fixture(scope="module")
def twelve_die_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    """One 12-die × 2-device run, shared by the assertions below (~8 s)."""
    tmp = tmp_path_factory.mktemp("wafer")
    store = Store(tmp / "data")
    with open_station(dead_fraction=0.15) as station:
        result = WaferRun(station, wafer_map(TWELVE_DIES), load_batch_recipe(
            recipe_file(tmp)), store, progress=False).run()
        yield station, result, store


def test_vform_per_device_tracks_the_simulators_truth(twelve_die_run: tuple[Any, ...]) -> None:
    station, result, _store = twelve_die_run
    wafer = wafer_of(station)
    reported, truth = [], []
    for outcome in result.outcomes:
        if outcome.status != "passed":
            continue
        estimate = outcome.recipe.figures()["forming.v_form"]
        reported.append(estimate.value)
        truth.append(wafer.device(outcome.die, SITES.index(outcome.device)).truth.v_form)
    assert len(reported) >= 16
    r = np.corrcoef(reported, truth)[0, 1]
    assert r >= 0.95, r
    assert np.max(np.abs(np.subtract(reported, truth))) < 0.1


def test_dead_devices_are_reported_dead_never_as_data(twelve_die_run: tuple[Any, ...]) -> None:
    station, result, _store = twelve_die_run
    wafer = wafer_of(station)
    dead = {(o.die, o.device) for o in result.outcomes if o.status == "dead"}
    truly_dead = {(tuple(d), s) for d in TWELVE_DIES for i, s in enumerate(SITES)
                  if wafer.is_dead(tuple(d), i)}
    assert truly_dead and dead == truly_dead
    table = result.table()
    rows = table[table["status"] == "dead"]
    assert len(rows) == len(dead)
    assert rows["forming.v_form"].isna().all()
    assert len(table) == 24 and not table.duplicated(["column", "row", "device"]).any()


def test_every_device_is_in_the_ledger_once_and_the_station_ends_safe(
        twelve_die_run: tuple[Any, ...]) -> None:
    station, _result, store = twelve_die_run
    ledger = Ledger.for_wafer(store.root, "T01")
    finished = [e for e in ledger.events() if e["event"] == "finished"]
    assert len(finished) == 24 == len(ledger.devices())
    passed = [e for e in finished if e["status"] == "passed"]
    assert all(len(e["runs"]) == 4 for e in passed)
    runs = store.runs(wafer="T01")
    assert set(runs["die"]) == {f"{c},{r}" for c, r in TWELVE_DIES}
    assert set(runs["device"]) == set(SITES)
    assert chuck_of(station).visited == [tuple(d) for d in TWELVE_DIES]
    assert_safe(station)


def test_a_die_failing_its_contact_check_is_skipped(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    with open_station() as station:  # the map expects 50 kΩ; the structure is 10 kΩ
        result = WaferRun(station, wafer_map([[0, 0], [1, 0]], resistance=5e4),
                          load_batch_recipe(recipe_file(tmp_path)), store,
                          progress=False).run()
        assert_safe(station)
    assert [o.status for o in result.outcomes] == ["skipped"] * 4
    assert "contact check R1: read 1" in result.outcomes[0].reason
    assert "expected 5e+04 Ω" in result.outcomes[0].reason
    assert store.runs().empty


def test_an_instrument_fault_is_retried_once_then_the_device_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = runner_module.run_recipe

    def faulty(recipe: Any, station: Any, store: Any, device: Any, **kwargs: Any) -> Any:
        calls.append(device.device)
        if device.device == "D1":
            raise InstrumentTimeout("smu", ":READ?", "timed out")
        return real(recipe, station, store, device, **kwargs)

    monkeypatch.setattr(runner_module, "run_recipe", faulty)
    safe_states = []
    with open_station() as station:
        monkeypatch.setattr(station, "safe_state", lambda real=station.safe_state: (
            safe_states.append(1), real())[1])
        result = WaferRun(station, wafer_map([[0, 0]]), load_batch_recipe(
            recipe_file(tmp_path)), Store(tmp_path / "data"), progress=False).run()
        assert_safe(station)
    d1, d2 = result.outcomes
    assert calls == ["D1", "D1", "D2"]
    assert (d1.status, d1.attempts, d1.remeasured) == ("failed", 2, True)
    assert "instrument fault" in d1.reason and "timed out" in d1.reason
    assert d2.status == "passed"
    assert len(safe_states) >= 3  # after each fault, and at the end


def test_the_wafer_stops_when_the_running_yield_drops(tmp_path: Path) -> None:
    strict = SMALL_RECIPE.replace("require: {v_form: ok}", "require: {v_form: '< 0.5'}")
    strict = strict.replace("wafer:\n", "wafer:\n  min_yield: 0.5\n  yield_after: 3\n")
    store = Store(tmp_path / "data")
    with open_station() as station:
        result = WaferRun(station, wafer_map([[0, 0], [1, 0], [2, 0]]), load_batch_recipe(
            recipe_file(tmp_path, strict)), store, progress=False).run()
        assert_safe(station)
    statuses = [o.status for o in result.outcomes]
    assert statuses == ["failed"] * 3 + ["skipped"] * 3
    assert "below min_yield 50%" in result.stopped
    assert chuck_of(station).visited == [(0, 0), (1, 0)]  # the third die was never probed


@pytest.mark.parametrize("change, named", [
    (("v_max: 4.5", "v_max: 4.9"), "step 'forming' (forming): forming parameter v_max"),
    (("v_max: 4.5", "v_max: 5.5"), "step 'forming' (forming): forming parameter v_max"),
    (("max_current_limit: 5.0e-4}", "max_current_limit: 2.0e-3}"), "max_current_limit"),
])
def test_refused_before_the_prober_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         change: tuple[str, str], named: str) -> None:
    sent: list[str] = []
    deliver = Bench.deliver
    monkeypatch.setattr(Bench, "deliver", lambda self, inst, addresses, data: (
        sent.append(data.decode()), deliver(self, inst, addresses, data))[1])
    batch = load_batch_recipe(recipe_file(tmp_path, SMALL_RECIPE.replace(*change)))
    with open_station() as station:
        sent.clear()  # what opening the station sent (identification) is not a move
        with pytest.raises((LimitError, ConfigError), match=re.escape(named)):
            WaferRun(station, wafer_map([[0, 0]]), batch, Store(tmp_path / "data"),
                     progress=False).run()
        before_safe = sent[:sent.index("move_chuck_separation\n")] if (
            "move_chuck_separation\n" in sent) else sent
        assert chuck_of(station).visited == []
    assert not [c for c in before_safe if c.startswith(("map:", "move_chuck_contact"))]
    assert not [c for c in sent if c.startswith(("map:step", "move_chuck_contact"))]
    assert not Ledger.for_wafer(tmp_path / "data", "T01").exists


@pytest.mark.slow
def test_a_fifty_die_wafer_vform_tracks_the_truth(tmp_path: Path) -> None:
    """The issue's figure: ≥ 50 dies × 2 devices, forming → iv-sweep → ltp-ltd → ppf (~40 s)."""
    big = parse_wafer_map({
        "wafer": "T50", "dies": {"grid": {"columns": [-4, 4], "rows": [-4, 4]},
                                 "within_radius": 4.3},
        "devices": [{"name": s, "pads": {"TE": f"{s}.TE", "BE": f"{s}.BE"}} for s in SITES],
        "contact_test": {"name": "R1", "pads": {"TE": "R1.TE", "BE": "R1.BE"}}})
    assert len(big.probed_dies) >= 50
    with open_station() as station:
        result = WaferRun(station, big, load_batch_recipe(recipe_file(tmp_path)),
                          Store(tmp_path / "data"), progress=False).run()
        wafer = wafer_of(station)
        pairs = [(o.recipe.figures()["forming.v_form"].value,
                  wafer.device(o.die, SITES.index(o.device)).truth.v_form)
                 for o in result.outcomes if o.status == "passed"]
        dead = {(o.die, o.device) for o in result.outcomes if o.status == "dead"}
        assert dead == {(d, s) for d in big.probed_dies for i, s in enumerate(SITES)
                        if wafer.is_dead(d, i)}
    assert len(pairs) >= 80
    assert np.corrcoef(*zip(*pairs, strict=True))[0, 1] >= 0.95
