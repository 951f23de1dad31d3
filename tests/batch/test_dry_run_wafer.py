"""A wafer dry run on stock pyvisa-sim: it completes, walks labsyn's own map, and its duration
estimate matches the virtual time the physics simulator takes for the same wafer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labsyn.batch.estimate import as_config, estimate_wafer, wafer_run
from labsyn.batch.wafer_map import load_wafer_map, parse_wafer_map
from labsyn.cli import main
from labsyn.station.config import StationConfig

ROOT = Path(__file__).resolve().parents[2]
DRY_STATION = ROOT / "examples" / "stations" / "wafer_probe_pyvisa_sim.yaml"
SIM_STATION = ROOT / "examples" / "stations" / "wafer_probe_sim.yaml"
MAP = ROOT / "examples" / "wafer_maps" / "demo_wafer.yaml"
RECIPE = ROOT / "examples" / "recipes" / "wafer_recipe.yaml"
DIES = 3


def small_map_data() -> dict:
    data = yaml.safe_load(MAP.read_text())
    data["dies"] = [list(d) for d in load_wafer_map(MAP).probed_dies[:DIES]]
    data.pop("skip", None)
    return data


@pytest.fixture
def small_map(tmp_path: Path) -> Path:
    path = tmp_path / "small_wafer.yaml"
    path.write_text(yaml.safe_dump(small_map_data()))
    return path


def live_wafer() -> StationConfig:
    """The simulated wafer with no dead devices: every device takes the recipe's full branch,
    as the dry run assumes."""
    data = as_config(SIM_STATION).model_dump(by_alias=True)
    data["sim"]["dead_fraction"] = 0.0
    return StationConfig.model_validate(data)


def test_dry_run_walks_the_map_and_every_command_is_accepted() -> None:
    wafer_map = parse_wafer_map(small_map_data())
    stepped: list[tuple[int, int]] = []

    def spy(station) -> None:  # type: ignore[no-untyped-def]
        assert station.dry_run
        original = station.prober.step_die

        def step_die(die, subsite=0):  # type: ignore[no-untyped-def]
            stepped.append(tuple(die))
            return original(die, subsite)
        station.prober.step_die = step_die

    estimate, result = wafer_run(DRY_STATION, wafer_map, RECIPE, "pyvisa-sim", on_station=spy)
    assert stepped == list(wafer_map.probed_dies)  # labsyn's map, each die once, in order
    assert len(result.outcomes) == DIES * len(wafer_map.devices) == estimate.devices
    for outcome in result.outcomes:  # an error reply or a limit would fail the device
        assert outcome.status == "passed", (outcome.device, outcome.reason)
        assert [o.status for o in outcome.recipe.outcomes] == ["completed"] * 4
    assert not result.stopped
    assert estimate.prober_s > 0 and estimate.relay_s > 0 and estimate.messages > 100


def test_dry_run_estimate_within_20_percent_of_the_simulated_wafer() -> None:
    wafer_map = parse_wafer_map(small_map_data())
    estimate = estimate_wafer(DRY_STATION, wafer_map, RECIPE)
    truth, result = wafer_run(live_wafer(), wafer_map, RECIPE, "labsyn-sim")
    assert [o.status for o in result.outcomes] == ["passed"] * DIES * 2
    assert truth.seconds == pytest.approx(result.elapsed_virtual_s, rel=1e-3)
    assert truth.seconds > 60.0
    error = abs(estimate.seconds - truth.seconds) / truth.seconds
    assert error < 0.20, (estimate.summary(), truth.seconds)
    for step, seconds in truth.steps.items():
        assert estimate.steps[step] == pytest.approx(seconds, rel=0.2), step
    # the stepping, contact checks and routing between runs are accounted too
    assert estimate.between_runs_s == pytest.approx(truth.between_runs_s, rel=0.5)


def test_cli_dry_run_prints_the_estimate_and_keeps_the_data_dir_clean(
        small_map: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code = main(["batch", str(RECIPE), "--station", str(DRY_STATION), "--map", str(small_map),
                 "--dry-run", "--data", str(data)])
    out = capsys.readouterr().out
    assert code == 0
    assert "estimated wall time of the real run" in out and "ppf" in out
    assert not (data / "batches").exists()  # a later real run must not find a ledger


def test_cli_sim_runs_the_simulated_wafer(small_map: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["batch", str(RECIPE), "--station", str(SIM_STATION), "--map", str(small_map),
                 "--sim", "--data", str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert code == 0
    assert "simulated wafer: 3 die(s), 6 device(s)" in out and "virtual" in out
    assert (tmp_path / "data" / "batches").exists()  # --sim keeps its runs where asked
