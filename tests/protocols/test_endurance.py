"""Endurance on the simulated bench: failure cycle against the model's truth, streaming to the
store, kill -9 mid-run, refusals before output, degenerate devices."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from labsyn.engine import Runner
from labsyn.errors import LimitError
from labsyn.mock_instruments.device_model import HFOX, RRAMDevice
from labsyn.protocols import get_protocol
from labsyn.protocols.endurance import read_cycles
from labsyn.station import Station
from labsyn.store import Store, read_run_file
from tests.engine.conftest import SIM_STATION, open_station
from tests.store.sample import python_env

from .conftest import run, run_with_data, truth

STUCK = replace(HFOX, n_onset=2e3, sigma_ln_n_onset=0.0, closure_per_decade=0.0,
                stuck_decades=0.5, stuck_decades_sigma=0.0)
CLOSING = replace(HFOX, n_onset=500, sigma_ln_n_onset=0.0, closure_per_decade=0.5,
                  stuck_decades=4.0, stuck_decades_sigma=0.0)


def station_with(preset, index: int = 0) -> Station:  # type: ignore[no-untyped-def]
    """The demo station with its device swapped for one of `preset`, formed."""
    station = open_station(device_index=index)
    station.bench.timeline.duts[0].device = RRAMDevice.from_key(preset, 1, (0, 0), index)
    assert run(station, "forming").figures["v_form"].ok
    return station


@pytest.mark.parametrize("index", [0, 1])
def test_stuck_failure_within_one_read_of_the_truth(index: int) -> None:
    station = station_with(STUCK, index)
    result, data = run_with_data(station, "endurance", cycles=20_000, block_cycles=2000)
    real = truth(station)
    n_stuck = int(np.ceil(real.params.n_stuck))
    failure = result.figures["cycles_to_failure"]
    assert real.stuck is not None
    assert abs(failure.value - n_stuck) <= 1 and failure.uncertainty == 1
    assert failure.reason.startswith(f"stuck at {real.stuck}")
    assert len(data) < 20_000 and len(data) % 2000 == 0  # stopped at the failing block
    assert data["cycle"].tolist() == list(range(1, len(data) + 1))
    assert real.cycles == n_stuck  # the device counts no cycle once stuck
    assert result.fits["r_lrs"]["cycle"].tolist() == [failure.value] * 2


def test_log_spaced_reads_date_the_failure_within_the_read_interval() -> None:
    station = station_with(STUCK)
    result, data = run_with_data(station, "endurance", cycles=30_000, block_cycles=5000,
                                 reads="log", reads_per_decade=20, stuck_cycles=1)
    n_stuck = int(np.ceil(truth(station).params.n_stuck))
    failure = result.figures["cycles_to_failure"]
    assert data["log_spaced"].all()
    assert set(data["cycle"]) <= set(read_cycles(30_000, 20).tolist())
    assert failure.value - failure.uncertainty < n_stuck <= failure.value
    assert failure.uncertainty == failure.value - data["cycle"][data["cycle"] < failure.value].max()


def test_window_failure_where_the_window_closure_predicts_it() -> None:
    station = station_with(CLOSING)
    result = run(station, "endurance", cycles=10_000, block_cycles=2500)
    figures = result.figures
    n_onset = truth(station).params.n_onset
    start = figures["window_start"].value
    # window(n) = window0^(1 - c), c = 0.5·log10(n/n_onset), falls below 10 at:
    predicted = n_onset * 10 ** ((1 - np.log(10) / np.log(start)) / 0.5)
    failure = figures["cycles_to_failure"]
    assert failure.reason.startswith("window")
    assert failure.value == pytest.approx(predicted, rel=0.15)
    assert figures["window_end"].value < 10 < start
    assert truth(station).stuck is None


def test_long_run_streams_to_the_store_and_analyses_in_blocks(tmp_path: Path) -> None:
    station = station_with(HFOX)
    store = Store(tmp_path)
    runner = Runner(station, get_protocol("endurance"),
                    {"cycles": 20_000, "block_cycles": 5000, "stop_at_failure": False},
                    store=store)
    result = runner.run()
    assert result.rows == 20_000 and truth(station).cycles == 20_000
    blocks = list(runner.data_blocks(rows=3000))
    assert [len(b) for b in blocks] == [3000] * 6 + [2000]
    whole = get_protocol("endurance").analyse(read_run_file(result.path).data, runner.params)
    assert whole.figures == result.figures
    assert result.figures["window_start"].value == pytest.approx(20, rel=0.15)
    assert not result.figures["cycles_to_failure"].ok  # HfOx onset is at 1e5 cycles
    assert "no failure in 20000 cycles" in result.figures["cycles_to_failure"].reason


def test_unformed_device_reports_no_switching() -> None:
    station = open_station(device_index=2)
    result = run(station, "endurance", cycles=40, block_cycles=20)
    failure = result.figures["cycles_to_failure"]
    assert not failure.ok and "no" in failure.reason and "switch" in failure.reason


def test_refuses_before_output_naming_the_parameter() -> None:
    station = open_station()
    with pytest.raises(LimitError, match=r"(?s)width.*pulse generator.*set by v_set"):
        Runner(station, get_protocol("endurance"), {"width": 1e-6})
    with pytest.raises(LimitError, match="period"):
        Runner(station, get_protocol("endurance"), {"period": 2e-3})
    assert truth(station).peak_current == 0.0


KILLED = """
import sys
from labsyn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_9_mid_run_loses_at_most_the_last_block(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: endure\nsteps:\n  - protocol: forming\n    params: {v_max: 4.0, "
                      "compliance: 1.0e-4}\n  - protocol: endurance\n    params: {cycles: "
                      "100000000, block_cycles: 1000}\n")
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED, "run", str(recipe), "--station", str(SIM_STATION),
         "--data", str(tmp_path)], env=python_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        seen = _wait_for_rows(tmp_path, 3000, process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.wait(timeout=30)
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    store = Store(tmp_path)
    runs = store.runs()
    row = runs[runs["protocol"] == "endurance"].iloc[0]
    assert row["status"] == "interrupted"
    data = store.load(row["run_id"]).data
    assert len(data) >= seen  # nothing flushed was lost
    assert len(data) % 1000 == 0  # whole blocks only
    assert data["cycle"].tolist() == list(range(1, len(data) + 1))
    assert np.isfinite(data["r_lrs"]).all() and (data["r_hrs"] > 10 * data["r_lrs"]).mean() > 0.9


def _wait_for_rows(root: Path, rows: int, process: subprocess.Popen) -> int:  # type: ignore[type-arg]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        for path in (root / "runs").glob("*.h5") if (root / "runs").exists() else ():
            try:
                run_file = read_run_file(path, with_data=False)
            except OSError:
                continue
            if run_file.protocol == "endurance" and run_file.rows >= rows:
                return run_file.rows
        time.sleep(0.05)
    raise AssertionError("the endurance run never reached its third block")


def test_log_reads_need_an_smu_writing_and_pulser_stations_cycle_every_read() -> None:
    from labsyn.errors import ConfigError

    from .truth_checks import STATIONS, open_sim_station

    with open_sim_station(STATIONS / "pulser_smu_sim.yaml") as station:
        with pytest.raises(ConfigError, match="reads = log.*pulse generator"):
            Runner(station, get_protocol("endurance"), {"reads": "log", "width": 1e-6})
        result = run(station, "endurance", cycles=12, block_cycles=6, width=1e-6, period=1e-2,
                     v_set=2.0, v_reset=2.5)
    assert result.rows == 12  # a pristine cell: ~1 GΩ both ways
    assert "never switched" in result.figures["cycles_to_failure"].reason
