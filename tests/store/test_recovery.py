"""One status per run: the writer's lock says whether it lives, the run file says how it ended."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labsyn.store import RunWriter, Store, read_run_file
from tests.store.sample import COLUMNS, DEVICE, PARAMETERS, SNAPSHOT, make_block

HOST = socket.gethostname()


def lock_of(store: Store, run_id: str) -> Path:
    return store.runs_dir / f"{run_id}.lock"


def status_row(store: Store, run_id: str) -> dict[str, Any]:
    row = store.catalog.get(run_id)
    assert row is not None
    return row


def unlocked_run(store: Store, run_id: str, pid: int, host: str = HOST, rows: int = 5) -> None:
    """A run file left "running" with no lock (its writer died) and a catalog row naming `pid`."""
    writer = RunWriter(store.runs_dir / f"{run_id}.h5", run_id, "iv", COLUMNS, {}, {}, DEVICE)
    writer.append(make_block(0, rows))
    writer.flush()
    store.catalog.add_run(run_id, "iv", f"runs/{run_id}.h5", writer_pid=pid, writer_host=host)
    writer._file.close()  # like a dead writer: the file is never closed with a status


def test_a_live_writer_holds_its_lock_and_a_second_store_in_its_process_sees_it_running(
        store: Store) -> None:
    writer = store.create_run("iv", COLUMNS, PARAMETERS, SNAPSHOT, DEVICE, block_rows=64)
    writer.append(make_block(0, 100))
    writer.flush()
    assert lock_of(store, writer.run_id).exists()
    again = Store(store.root)
    assert again.runs()["status"].tolist() == ["running"]
    assert lock_of(store, writer.run_id).exists()
    again.rebuild()
    assert again.runs()["status"].tolist() == ["running"]
    assert store.finish(writer, "completed") is True
    assert not lock_of(store, writer.run_id).exists()
    row = Store(store.root).runs().iloc[0]
    assert (row["status"], row["rows"]) == ("completed", 100)


def test_a_run_without_a_live_lock_is_interrupted_whatever_its_pid(store: Store) -> None:
    unlocked_run(store, "reused-by-parent", os.getppid(), rows=5)
    unlocked_run(store, "reused-by-self", os.getpid(), rows=7)
    unlocked_run(store, "other-host", os.getppid(), host=HOST + "-elsewhere")
    (store.runs_dir / "reused-by-self.lock").touch()  # stale: nobody holds it
    reopened = Store(store.root)
    runs = reopened.runs().set_index("run_id")
    assert runs.loc["reused-by-parent", ["status", "rows"]].tolist() == ["interrupted", 5]
    assert runs.loc["reused-by-self", ["status", "rows"]].tolist() == ["interrupted", 7]
    assert f"writer process {os.getpid()} ended without closing" in str(
        runs.loc["reused-by-parent", "message"])
    assert runs.loc["other-host", ["status", "rows"]].tolist() == ["running", 0]
    assert not (store.runs_dir / "reused-by-self.lock").exists()


def test_rebuild_ignores_a_live_pid_without_a_lock(store: Store) -> None:
    writer = RunWriter(store.runs_dir / "orphan.h5", "orphan", "iv", COLUMNS, {}, {}, DEVICE)
    writer.append(make_block(0, 5))
    writer.flush()  # this process (a live pid) writes it, but holds no run lock
    try:
        assert store.rebuild() == 1
        row = store.runs().iloc[0]
        assert (row["status"], row["rows"], row["writer_pid"]) == ("interrupted", 5, os.getpid())
    finally:
        writer.close("completed")


def failing_set_status(store: Store, monkeypatch: pytest.MonkeyPatch, times: int) -> list[Any]:
    """Make the catalog's status update fail with "database is locked" `times` times."""
    calls: list[Any] = []
    real = store.catalog.set_status

    def set_status(*args: Any, **kwargs: Any) -> bool:
        calls.append(kwargs.get("timeout"))
        if len(calls) <= times:
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(store.catalog, "set_status", set_status)
    return calls


def test_a_catalog_update_that_fails_at_close_is_adopted_from_the_file(
        store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    writer = store.create_run("iv", COLUMNS, PARAMETERS, SNAPSHOT, DEVICE, block_rows=64)
    writer.append(make_block(0, 150))
    calls = failing_set_status(store, monkeypatch, times=1000)
    with caplog.at_level(logging.ERROR):
        assert store.finish(writer, "aborted", "abort pressed") is True  # no raise
    assert len(calls) > 1 and all(timeout is not None for timeout in calls)  # retried, briefly
    assert "could not record" in caplog.text and writer.run_id in caplog.text
    assert (writer.status, writer.closed) == ("aborted", True)
    assert status_row(store, writer.run_id)["status"] == "running"
    assert not lock_of(store, writer.run_id).exists()
    monkeypatch.undo()

    reopened = Store(store.root)
    row = status_row(reopened, writer.run_id)
    assert (row["status"], row["message"], row["rows"]) == ("aborted", "abort pressed", 150)
    logged = read_run_file(writer.path, with_data=False).status_log["time"].iloc[-1]
    assert row["ended"] == datetime.fromtimestamp(logged, UTC).isoformat(timespec="microseconds")
    assert reopened.load(writer.run_id).status == "aborted"
    assert store.finish(writer, "completed") is False


def test_a_catalog_update_that_fails_once_is_retried(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store.create_run("iv", COLUMNS, {}, {}, block_rows=64)
    writer.append(make_block(0, 10))
    calls = failing_set_status(store, monkeypatch, times=1)
    assert store.finish(writer, "completed") is True
    assert len(calls) == 2
    row = status_row(store, writer.run_id)
    assert (row["status"], row["rows"]) == ("completed", 10)


def test_a_failed_final_flush_records_failed_and_drops_the_lock(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store.create_run("iv", COLUMNS, {}, {}, block_rows=64)
    writer.append(make_block(0, 10))

    def broken_flush() -> int:
        raise OSError("disk full")

    monkeypatch.setattr(writer, "flush", broken_flush)
    with pytest.raises(OSError, match="disk full"):
        store.finish(writer, "completed")
    row = status_row(store, writer.run_id)
    assert row["status"] == "failed" and "disk full" in row["message"]
    assert not lock_of(store, writer.run_id).exists()
    assert list(read_run_file(writer.path).status_log["status"]) == ["running", "failed"]
    pd.testing.assert_frame_equal(Store(store.root).runs()[["status"]],
                                  pd.DataFrame({"status": ["failed"]}))
