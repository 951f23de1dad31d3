"""Every exit path ends with the served 2450's output off, one terminal status in the catalog
and a closed run file — the instrument runs in another process and outlives the run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from labsyn.engine import Runner, RunState
from labsyn.protocols import get_protocol
from labsyn.station import Station
from labsyn.store import Store

from .conftest import SweepProtocol
from .served import ServedBench, environment

LONG_SWEEP = {"cycles": 50, "dwell": 0.005, "nplc": 0.01}  # minutes at real speed


def assert_closed_with_one_status(store: Store, run_id: str, status: str) -> None:
    runs = store.runs()
    row = runs[runs["run_id"] == run_id]
    assert list(row["status"]) == [status]
    loaded = store.load(run_id)
    terminal = [s for s in loaded.status_log["status"] if s != "running" and s != "paused"]
    assert terminal == [status]
    with h5py.File(loaded.path, "r"):  # a file a writer still holds cannot be opened plainly
        pass


def test_abort_mid_sweep(served_bench: ServedBench, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    with Station.open(served_bench.station_file(tmp_path)) as station:
        runner = Runner(station, get_protocol("iv-sweep"), LONG_SWEEP, store=store)
        runner.start()
        time.sleep(1.0)
        assert served_bench.output() == "ON"
        runner.abort("operator abort")
        result = runner.wait(30)
    assert result is not None and result.status == RunState.ABORTED
    assert served_bench.output() == "OFF"
    assert_closed_with_one_status(store, result.run_id, "aborted")
    assert len(store.load(result.run_id).data) > 0


def test_injected_timeout_fails_the_run_safely(served_bench: ServedBench, tmp_path: Path
                                               ) -> None:
    store = Store(tmp_path / "data")
    served_bench.inject("timeout", ":TRAC:ACT?")
    with Station.open(served_bench.station_file(tmp_path, timeout_ms=500)) as station:
        result = Runner(station, get_protocol("iv-sweep"), {"cycles": 2, "dwell": 0.001,
                                                            "nplc": 0.01}, store=store).run()
    assert result.status == RunState.FAILED
    assert "InstrumentTimeout" in result.message and ":TRAC:ACT?" in result.message
    assert served_bench.output() == "OFF"
    assert_closed_with_one_status(store, result.run_id, "failed")


def test_exception_in_a_protocol(served_bench: ServedBench, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    with Station.open(served_bench.station_file(tmp_path)) as station:
        result = Runner(station, SweepProtocol(), {"blocks": 3, "points": 20, "dwell": 0.001,
                                                   "fail_in_block": 2}, store=store).run()
    assert result.status == RunState.FAILED and "protocol bug" in result.message
    assert served_bench.output() == "OFF"
    assert_closed_with_one_status(store, result.run_id, "failed")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_a_labsyn_run_process(served_bench: ServedBench, tmp_path: Path,
                                        signum: int) -> None:
    store_root = tmp_path / "data"
    command = [sys.executable, "-m", "labsyn.cli", "run", "iv-sweep",
               "--station", str(served_bench.station_file(tmp_path)), "--data", str(store_root)]
    for key, value in LONG_SWEEP.items():
        command += ["--set", f"{key}={value}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=environment())
    deadline = time.monotonic() + 30
    while served_bench.output() != "ON" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served_bench.output() == "ON", "the run never turned the output on"
    time.sleep(0.5)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum, stderr
    assert served_bench.output() == "OFF"
    store = Store(store_root)
    (run_id,) = store.runs()["run_id"]
    assert_closed_with_one_status(store, run_id, "aborted")
    assert f"{signal.Signals(signum).name} received" in store.runs()["message"].iloc[0]


