"""`labsyn batch`: a small simulated wafer end to end, the table files it writes, a second
run refused without --resume, --resume on a finished wafer measuring nothing again, and a
recipe error refused before the station is opened."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from labsyn import cli
from labsyn.store import Store

from .test_wafer_runner import STATION, recipe_file

MAP = """\
wafer: C01
dies: [[0, 0], [1, 0]]
devices:
  - {name: D1, pads: {TE: D1.TE, BE: D1.BE}}
  - {name: D2, pads: {TE: D2.TE, BE: D2.BE}}
contact_test: {name: R1, pads: {TE: R1.TE, BE: R1.BE}, resistance: 10000.0}
"""


def test_labsyn_batch_runs_a_wafer_and_resumes_a_finished_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "map.yaml").write_text(MAP)
    command = ["batch", str(recipe_file(tmp_path)), "--station", str(STATION),
               "--map", str(tmp_path / "map.yaml"), "--data", str(tmp_path / "data")]
    assert cli.main(command) == 0
    out = capsys.readouterr().out
    assert "wafer C01: 4 devices (passed 4, failed 0, dead 0, skipped 0); yield 100%" in out
    table = pd.read_csv(tmp_path / "data" / "batches" / "C01_devices.csv")
    assert len(table) == 4 and set(table["status"]) == {"passed"}
    assert table["forming.v_form"].notna().all()
    runs = len(Store(tmp_path / "data").runs())
    assert runs == 16

    assert cli.main(command) == 2  # a ledger exists: refused, nothing measured
    assert "already has a ledger" in capsys.readouterr().err
    assert cli.main([*command, "--resume"]) == 0
    assert len(Store(tmp_path / "data").runs()) == runs


def test_a_misspelled_key_is_refused_before_the_station_opens(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "map.yaml").write_text(MAP)
    recipe = recipe_file(tmp_path)
    recipe.write_text(recipe.read_text().replace("v_max: 4.5", "v_maximum: 4.5"))
    assert cli.main(["batch", str(recipe), "--station", str(STATION), "--map",
                     str(tmp_path / "map.yaml"), "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "step 'forming' (forming)" in err and "v_maximum" in err
    assert not (tmp_path / "data" / "batches").exists()
