"""Shutdown in a real `labsyn gui` process: closed mid-run it exits 0 without Qt's thread
warning and the run is recorded aborted; SIGTERM against a served bench leaves its output off."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from labsyn.gui.protocol_dock import ProtocolDock
from labsyn.store import Store
from tests.engine.served import ServedBench, environment, served_bench  # noqa: F401

THREAD_WARNING = "QThread: Destroyed while thread is still running"


def seed_last_job(qtbot: Any, name: str, values: dict[str, Any]) -> None:
    """Leave `name` with `values` as the protocol dock's last pick (in the tmp settings file
    the GUI process reads too), so `--start` runs it."""
    dock = ProtocolDock(restore=False)
    qtbot.addWidget(dock)
    assert dock.select("protocol", name)
    dock.form.set_values(values)
    dock.save_state()


def gui_command(station: Path, data: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "labsyn.cli", "gui", "--station", str(station),
            "--data", str(data), *flags]


def gui_environment() -> dict[str, str]:
    env = environment()  # PYTHONPATH to this checkout; LABSYN_GUI_SETTINGS is inherited
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def test_closed_mid_run_exits_0_and_records_the_abort(qtbot: Any, tmp_path: Path,
                                                      paced_station_file: Path) -> None:
    seed_last_job(qtbot, "iv-sweep", {"cycles": 60})
    data = tmp_path / "data"
    process = subprocess.run(gui_command(paced_station_file, data, "--close-after-start"),
                             capture_output=True, text=True, env=gui_environment(), timeout=60)
    assert process.returncode == 0, process.stderr
    assert THREAD_WARNING not in process.stderr
    runs = Store(data).runs()
    assert list(runs["protocol"]) == ["iv-sweep"]
    assert list(runs["status"]) == ["aborted"]  # it was closed mid-run, not after the end
    assert "closing" in runs["message"].iloc[0]


def test_sigterm_to_a_gui_on_a_served_bench_leaves_the_output_off(
        qtbot: Any, tmp_path: Path, served_bench: ServedBench) -> None:  # noqa: F811
    seed_last_job(qtbot, "iv-sweep", {"cycles": 50, "dwell": 0.005, "nplc": 0.01})
    data = tmp_path / "data"
    station = served_bench.station_file(tmp_path)
    process = subprocess.Popen(gui_command(station, data, "--start"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=gui_environment())
    try:
        deadline = time.monotonic() + 40
        while served_bench.output() != "ON" and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.05)
        assert served_bench.output() == "ON", "the GUI never turned the output on"
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    assert process.returncode == 0, stderr
    assert THREAD_WARNING not in stderr
    assert served_bench.output() == "OFF"
    runs = Store(data).runs()
    assert list(runs["status"]) == ["aborted"]
    assert "SIGTERM received" in runs["message"].iloc[0]
