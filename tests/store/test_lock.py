"""Run locks: a writer is alive while it holds runs/<run_id>.lock, whatever its pid says."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labsyn.errors import ConfigError
from labsyn.store.lock import RunLock, lock_path, writer_dead
from tests.store.sample import python_env

HOST = socket.gethostname()
HOLDER = """
import sys, time
from labsyn.store.lock import RunLock
lock = RunLock(sys.argv[1])
print("held", flush=True)
time.sleep(120)
"""


def test_a_held_lock_counts_alive_also_in_its_own_process(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "r1")
    assert path == tmp_path / "r1.lock"
    lock = RunLock(path)
    assert path.exists() and lock.held
    assert writer_dead(path, HOST) is False  # a new open file description: the lock is held
    assert path.exists()
    with pytest.raises(ConfigError, match="held by another writer"):
        RunLock(path)
    lock.release()
    lock.release()
    assert not path.exists() and not lock.held
    assert writer_dead(path, HOST) is True


def test_a_free_lock_file_means_dead_and_is_removed(tmp_path: Path) -> None:
    stale = tmp_path / "stale.lock"
    stale.touch()
    assert writer_dead(stale, HOST) is True
    assert not stale.exists()
    assert writer_dead(tmp_path / "missing.lock", HOST) is True


def test_runs_of_another_or_an_unknown_host_are_never_judged_dead(tmp_path: Path) -> None:
    stale = tmp_path / "stale.lock"
    stale.touch()
    for host in (HOST + "-elsewhere", "", None):
        assert writer_dead(stale, host) is False
        assert writer_dead(tmp_path / "missing.lock", host) is False
    assert stale.exists()


def test_a_lock_held_by_another_process_is_freed_when_it_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "child.lock"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], env=python_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    try:
        assert process.stdout.readline().strip() == "held", process.stderr.read()
        assert writer_dead(path, HOST) is False
        os.kill(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not writer_dead(path, HOST):  # a zombie (not waited for yet) holds no lock
            assert time.monotonic() < deadline, "the killed child's lock was never freed"
            time.sleep(0.01)
        assert not path.exists()
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
