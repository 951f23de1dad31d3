"""A writer killed with SIGKILL: the file stays readable, flushed rows survive, the run is
"interrupted" the next time the store is opened."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labsyn.store import Store, read_run_file
from tests.store.sample import python_env

WRITER = """
import sys, time
import numpy as np
from labsyn.store import Column, Store

store = Store(sys.argv[1])
columns = [Column("index", "", "i8"), Column("value", "V", "f8")]
writer = store.create_run("crash_test", columns, {"n": 1}, {"station": "s"}, block_rows=1000)
print("run", writer.run_id, flush=True)
start = 0
while True:
    index = np.arange(start, start + 1500)
    writer.append({"index": index, "value": index * 0.5})
    start += 1500
    print("committed", writer.flush(), flush=True)
    time.sleep(0.01)
"""


def kill_a_writer(root: Path) -> tuple[str, int, list[int]]:
    """Start a writer in a child process, let it commit 3 blocks, kill -9 it.

    Returns the run id, the writer's pid and the rows committed after each block.
    """
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], env=python_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    try:
        first = process.stdout.readline().split()
        assert first[:1] == ["run"], process.stderr.read()
        run_id = first[1]
        committed: list[int] = []
        while len(committed) < 3:
            line = process.stdout.readline()
            assert line, f"writer ended early: {process.stderr.read()}"
            committed.append(int(line.split()[1]))
        live = read_run_file(root / "runs" / f"{run_id}.h5")
        assert live.status == "running" and live.rows >= committed[-1]
        assert (root / "runs" / f"{run_id}.lock").exists()
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert committed == [1500, 3000, 4500]
    return run_id, process.pid, committed


def test_kill_9_keeps_flushed_rows_and_marks_the_run_interrupted(tmp_path: Path) -> None:
    run_id, pid, committed = kill_a_writer(tmp_path)
    store = Store(tmp_path)
    row = store.runs().iloc[0]
    assert (row["run_id"], row["status"]) == (run_id, "interrupted")
    assert str(pid) in row["message"]
    assert not (tmp_path / "runs" / f"{run_id}.lock").exists()
    run = store.load(run_id)
    assert run.status == "interrupted"
    assert run.status_log["status"].iloc[-1] == "running"
    rows = len(run.data)
    assert rows >= committed[-1]
    assert row["rows"] == rows  # counted from the file, not left at 0
    np.testing.assert_array_equal(run.data["index"], np.arange(rows))
    np.testing.assert_array_equal(run.data["value"], np.arange(rows) * 0.5)
    assert run.parameters == {"n": 1} and run.units == {"index": "", "value": "V"}

    assert store.rebuild() == 1
    assert store.runs()["status"].tolist() == ["interrupted"]
    assert store.runs()["rows"].tolist() == [rows]
    assert len(store.export(run_id, "csv").read_text().splitlines()) > rows


@pytest.mark.parametrize("reused", ["parent", "self"])
def test_a_reused_pid_does_not_keep_a_killed_writers_run_running(tmp_path: Path,
                                                                 reused: str) -> None:
    """Containers reuse pids: the recorded pid may now be a live unrelated process, or us."""
    run_id, pid, committed = kill_a_writer(tmp_path)
    live_pid = os.getppid() if reused == "parent" else os.getpid()
    with sqlite3.connect(tmp_path / "catalog.sqlite") as db:
        db.execute("UPDATE runs SET writer_pid = ? WHERE run_id = ?", (live_pid, run_id))
    db.close()
    row = Store(tmp_path).runs().iloc[0]
    assert (row["run_id"], row["status"], row["writer_pid"]) == (run_id, "interrupted", live_pid)
    assert f"writer process {pid} " in row["message"]  # the pid the file recorded
    assert row["rows"] >= committed[-1]
