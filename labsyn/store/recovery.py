"""Keeping one status per run: the run file's status log is the record, the catalog follows it.

A writer records its end twice: in its file (the status log, flushed before the file closes)
and then in the catalog. If the catalog update fails (say "database is locked") or the writer
dies, the catalog row stays "running". When the writer is known dead (see
:mod:`labsyn.store.lock`), :func:`recover` reads the file: a terminal status there is adopted
with its message and time; otherwise the run is "interrupted". Either way the catalog gets the
file's row count.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labsyn.errors import ConfigError
from labsyn.store.catalog import Catalog, now_iso
from labsyn.store.lock import lock_path, writer_dead
from labsyn.store.reader import RunFile, read_run_file
from labsyn.store.schema import STATUSES, TERMINAL_STATUSES

if TYPE_CHECKING:
    from labsyn.store.run_file import RunWriter

log = logging.getLogger(__name__)

# Busy timeout (s) of each attempt to record a closed run in the catalog; with the pauses
# between attempts about 2 s in all. After that the next Store open adopts the file's status.
RECORD_TIMEOUTS = (0.2, 0.3, 0.5, 0.7)
RECORD_PAUSE = 0.05  # doubled after each failed attempt

End = tuple[str, str, str | None]  # status, message, ended (ISO time, None while live)


def _busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def record_end(catalog: Catalog, writer: RunWriter) -> bool:
    """Record a closed writer's status and rows in the catalog; never raises.

    Retries briefly while the catalog is locked or busy. On failure logs an error and returns
    False: the file holds the status, and :func:`recover` brings it to the catalog later.
    """
    if writer.status not in TERMINAL_STATUSES:
        log.error("run %s closed without a terminal status in its file; the next Store open "
                  "marks it interrupted", writer.run_id)
        return False
    failure: Exception | None = None
    for attempt, timeout in enumerate(RECORD_TIMEOUTS):
        try:
            catalog.set_status(writer.run_id, writer.status, writer.message,
                               rows=writer.rows_committed, timeout=timeout)
            return True
        except ConfigError:  # not indexed: create_run failed before the catalog row existed
            return False
        except sqlite3.OperationalError as error:
            failure = error
            if not _busy(error) or attempt == len(RECORD_TIMEOUTS) - 1:
                break
            time.sleep(RECORD_PAUSE * 2 ** attempt)
        except Exception as error:
            failure = error
            break
    log.error("run %s ended %r (recorded in its file %s), but the catalog could not record it: "
              "%s; the next Store open on this host adopts the file's status",
              writer.run_id, writer.status, writer.path, failure)
    return False


def file_end(run: RunFile) -> End | None:
    """The terminal status, message and time of the last status-log entry, if terminal."""
    if run.status not in TERMINAL_STATUSES or not len(run.status_log):
        return None
    last = run.status_log.iloc[-1]
    ended = datetime.fromtimestamp(float(last["time"]), UTC).isoformat(timespec="microseconds")
    return run.status, str(last["message"]), ended


def interrupted_end(pid: Any, detail: str = "") -> End:
    return "interrupted", f"writer process {pid} ended without closing the run{detail}", now_iso()


def status_of(run: RunFile, runs_dir: Path) -> End:
    """A run's status judged from its file alone (for a rebuild of the catalog)."""
    end = file_end(run)
    if end is not None:
        return end
    if writer_dead(lock_path(runs_dir, run.run_id), run.writer_host):
        return interrupted_end(run.writer_pid)
    message = str(run.status_log["message"].iloc[-1]) if len(run.status_log) else ""
    return (run.status if run.status in STATUSES else "running"), message, None


def _end_from_file(path: Path, pid: Any) -> tuple[End, int | None]:
    try:
        run = read_run_file(path, with_data=False)
    except Exception as error:
        return interrupted_end(pid, f"; its file {path} could not be read ({error})"), None
    return file_end(run) or interrupted_end(run.writer_pid), run.rows


def recover(catalog: Catalog, root: Path, runs_dir: Path) -> tuple[list[str], list[str]]:
    """End every unfinished catalog run whose writer on this host is dead.

    Returns the ids of the runs marked "interrupted" and of those whose terminal status was
    adopted from their file. Runs written on other hosts are left as they are.
    """
    interrupted: list[str] = []
    adopted: list[str] = []
    for row in catalog.unfinished_runs():
        run_id = row["run_id"]
        if not writer_dead(lock_path(runs_dir, run_id), row["writer_host"]):
            continue
        (status, message, ended), rows = _end_from_file(root / row["path"], row["writer_pid"])
        if catalog.end_run(run_id, status, message, ended, rows):
            (interrupted if status == "interrupted" else adopted).append(run_id)
    return interrupted, adopted
