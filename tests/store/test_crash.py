"""A writer killed with SIGKILL: the file stays readable, flushed rows survive, the run is
"interrupted" the next time the store is opened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def test_kill_9_keeps_flushed_rows_and_marks_the_run_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], env=python_env(),
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
        live = read_run_file(tmp_path / "runs" / f"{run_id}.h5")
        assert live.status == "running" and live.rows >= committed[-1]
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert committed == [1500, 3000, 4500]

    store = Store(tmp_path)
    row = store.runs().iloc[0]
    assert (row["run_id"], row["status"]) == (run_id, "interrupted")
    assert str(process.pid) in row["message"]
    run = store.load(run_id)
    assert run.status == "interrupted"
    assert run.status_log["status"].iloc[-1] == "running"
    rows = len(run.data)
    assert rows >= committed[-1]
    np.testing.assert_array_equal(run.data["index"], np.arange(rows))
    np.testing.assert_array_equal(run.data["value"], np.arange(rows) * 0.5)
    assert run.parameters == {"n": 1} and run.units == {"index": "", "value": "V"}

    assert store.rebuild() == 1
    assert store.runs()["status"].tolist() == ["interrupted"]
    assert len(store.export(run_id, "csv").read_text().splitlines()) > rows
