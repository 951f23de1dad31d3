"""The command line: `labsyn demo` end to end, `run`, `runs`, `export`, bad input, dry runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from labsyn.analysis import DRY_RUN_REASON
from labsyn.batch import load_recipe
from labsyn.cli import main
from labsyn.demo import demo_recipe_path
from labsyn.store import Store
from tests.engine.served import environment

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "examples" / "stations" / "keithley_2450_sim.yaml"
PYVISA_SIM = ROOT / "examples" / "stations" / "keithley_2450_pyvisa_sim.yaml"


def labsyn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labsyn.cli", *args], capture_output=True,
                          text=True, env=environment(), cwd=cwd, timeout=120)


def installed_labsyn() -> Path | None:
    """The `labsyn` console script of this environment, when the package is installed."""
    script = Path(sys.executable).parent / "labsyn"
    return script if script.exists() else None


def test_demo_forms_a_device_runs_loops_and_leaves_loadable_run_files(tmp_path: Path) -> None:
    script = installed_labsyn()  # as the README runs it; else from the source tree
    if script is not None:
        done = subprocess.run([str(script), "demo", "--data", str(tmp_path / "data")],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
    else:
        done = labsyn("demo", "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    v_form = re.search(r"^\s+v_form\s+([\d.]+) ± ([\d.]+) V", out, re.M)
    assert v_form and 1.5 < float(v_form.group(1)) < 4.0
    for label in ("v_set", "v_reset", "on_off"):
        assert re.search(rf"^\s+{label}\s+-?[\d.]+ ±", out, re.M), label
    store = Store(tmp_path / "data")
    runs = store.runs()
    steps = [step.protocol for step in load_recipe(demo_recipe_path()).steps]
    assert list(runs["protocol"]) == steps
    assert set(runs["status"]) == {"completed"}
    iv = store.load(runs[runs["protocol"] == "iv-sweep"]["run_id"].iloc[0])
    assert isinstance(iv.data, pd.DataFrame) and sorted(iv.data["cycle"].unique()) == [1, 2, 3,
                                                                                     4, 5]
    paths = re.findall(r"^\s+(/\S+\.(?:png|h5|html))$", out, re.M)
    assert any(p.endswith("demo-device-0.png") for p in paths)
    for path in paths:
        assert Path(path).stat().st_size > 1000, path
    assert float(runs[runs["protocol"] == "iv-sweep"]["on_off"].iloc[0]) > 5


def test_run_then_runs_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert main(["run", "forming", "--station", str(SIM), "--set", "v_step=0.05",
                 "--data", data, "--wafer", "W7", "--die", "3,4", "--device", "d12"]) == 0
    assert "v_form" in capsys.readouterr().out
    assert main(["runs", "--data", data]) == 0
    listing = capsys.readouterr().out
    assert "forming" in listing and "completed" in listing and "W7" in listing
    run_id = Store(data).runs()["run_id"].iloc[0]
    for fmt, suffix in (("csv", ".csv"), ("parquet", ".parquet")):
        assert main(["export", run_id[:18], "--format", fmt, "--data", data]) == 0
        path = Path(capsys.readouterr().out.strip())
        assert path.suffix == suffix and path.stat().st_size > 0
    table = pd.read_parquet(path)
    assert len(table) == len(Store(data).load(run_id).data)


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "vmax=3"], r"unknown parameter 'vmax' \(did you mean 'v_max'\?\)"),
    (["--set", "compliance=0"], r"parameter compliance = '0': .*greater than 0"),
    (["--set", "v_max=9"], r"parameter v_max \(.*TE voltage\) = 9\.0 is outside the limit: "
                            r"allowed \|V\| ≤ 5 V at the device"),
    (["--set", "v_max"], r"--set 'v_max': expected key=value"),
])
def test_bad_parameters_are_refused_before_any_run(tmp_path: Path, args: list[str],
                                                   message: str) -> None:
    done = labsyn("run", "forming", "--station", str(SIM), "--data", str(tmp_path), *args,
                  cwd=tmp_path)
    assert done.returncode == 2
    assert re.search(message, done.stderr), done.stderr
    assert Store(tmp_path).runs().empty  # refused before a run (or an output) existed


def test_a_misspelled_station_key_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "station.yaml"
    bad.write_text(SIM.read_text().replace("limits:", "limtis:"))
    done = labsyn("run", "iv-sweep", "--station", str(bad), "--data", str(tmp_path),
                  cwd=tmp_path)
    assert done.returncode == 2
    assert re.search(r"station\.yaml:\d+: limtis: Extra inputs are not permitted", done.stderr)


def test_unknown_protocol_lists_the_known_ones(tmp_path: Path) -> None:
    done = labsyn("run", "formin", "--station", str(SIM), cwd=tmp_path)
    assert done.returncode == 2 and "protocols: forming, iv-sweep" in done.stderr


def test_iv_sweep_dry_run_on_stock_pyvisa_sim(tmp_path: Path) -> None:
    done = labsyn("run", "iv-sweep", "--station", str(PYVISA_SIM), "--data", str(tmp_path),
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for figure in ("v_set", "v_reset", "r_lrs", "r_hrs", "on_off"):
        assert re.search(rf"{figure}\s+— \({re.escape(DRY_RUN_REASON)}\)", done.stdout), figure
    store = Store(tmp_path)
    (run_id,) = store.runs()["run_id"]
    figures = store.load(run_id).figures
    assert figures["v_set"]["reason"] == DRY_RUN_REASON


def test_protocols_lists_parameters_with_units_and_bounds(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    assert main(["protocols", "forming"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"compliance\s+0\.0001\s+A\s+>0 ≤1\s+current limit", out)
