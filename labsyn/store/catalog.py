"""The run catalog: an SQLite (WAL) index of runs and their figures of merit."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from numbers import Real
from pathlib import Path
from typing import Any

from labsyn.errors import ConfigError
from labsyn.store.schema import (
    NO_DEVICE,
    TERMINAL_STATUSES,
    DeviceId,
    check_status,
    optional_float,
    to_json,
)

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 30.0  # seconds a statement waits for another connection's lock
RUN_FIELDS = ("run_id", "protocol", "path", "status", "message", "started", "ended", "wafer",
              "die", "device", "subsite", "station", "backend", "parameters", "writer_pid",
              "writer_host", "rows")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, protocol TEXT NOT NULL, path TEXT NOT NULL,
    status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', started TEXT NOT NULL, ended TEXT,
    wafer TEXT NOT NULL DEFAULT '', die TEXT NOT NULL DEFAULT '', device TEXT NOT NULL DEFAULT '',
    subsite TEXT NOT NULL DEFAULT '', station TEXT NOT NULL DEFAULT '',
    backend TEXT NOT NULL DEFAULT '', parameters TEXT NOT NULL DEFAULT '{}',
    writer_pid INTEGER, writer_host TEXT, rows INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS runs_protocol ON runs (protocol);
CREATE INDEX IF NOT EXISTS runs_device ON runs (wafer, die, device);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE TABLE IF NOT EXISTS figures (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE, name TEXT NOT NULL,
    value REAL, uncertainty REAL, unit TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, name));
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _figure_fields(figure: Any) -> tuple[float | None, float | None, str, str]:
    """(value, uncertainty, unit, reason) of an Estimate-like object, a mapping or a number."""
    if isinstance(figure, Real) or figure is None:
        return optional_float(figure), None, "", ""
    get = figure.get if isinstance(figure, Mapping) else lambda key: getattr(figure, key, None)
    return (optional_float(get("value")), optional_float(get("uncertainty")),
            str(get("unit") or ""), str(get("reason") or ""))


class Catalog:
    """Runs and figures of merit in SQLite; safe to share between threads and processes."""

    def __init__(self, path: str | Path, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)
        self._lock = threading.RLock()
        with self._connect() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(f"catalog {self.path} has schema version {version}; this labsyn "
                                  f"reads up to {SCHEMA_VERSION}: upgrade labsyn or rebuild it")
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _connect(self, timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        """A connection for one call, committed on success, rolled back on error, closed.

        `timeout` (default `busy_timeout`) is SQLite's busy timeout: how long a statement waits
        for another connection's lock before it fails with "database is locked".
        """
        with self._lock:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout if timeout is None
                                 else timeout)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            # WAL + NORMAL: a commit survives the process dying (kill -9), not a power cut; the
            # run files hold the truth and `Store.rebuild()` restores the catalog from them.
            db.execute("PRAGMA synchronous = NORMAL")
            try:
                yield db
                db.commit()
            except BaseException:
                db.rollback()
                raise
            finally:
                db.close()

    def journal_mode(self) -> str:
        with self._connect() as db:
            return str(db.execute("PRAGMA journal_mode").fetchone()[0])

    def reset(self) -> None:
        """Drop every run and figure (used by a rebuild from the run files)."""
        with self._connect() as db:
            db.execute("DROP TABLE IF EXISTS figures")
            db.execute("DROP TABLE IF EXISTS runs")
            db.executescript(_SCHEMA)

    def add_run(self, run_id: str, protocol: str, path: str, *, started: str | None = None,
                device: DeviceId = NO_DEVICE, station: str = "", backend: str = "",
                parameters: Mapping[str, Any] | None = None, writer_pid: int | None = None,
                writer_host: str | None = None, status: str = "running", message: str = "",
                ended: str | None = None, rows: int = 0) -> None:
        """Index a run; `path` is relative to the store root."""
        check_status(status)
        with self._connect() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise ConfigError(f"run id {run_id!r} is in the catalog already")
            db.execute(
                f"INSERT INTO runs ({', '.join(RUN_FIELDS)}) VALUES "
                f"({', '.join('?' * len(RUN_FIELDS))})",
                (run_id, protocol, path, status, message, started or now_iso(), ended,
                 device.wafer, device.die, device.device, device.subsite, station, backend,
                 to_json(parameters), writer_pid, writer_host, int(rows)))

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return dict(row) if row else None

    def _require(self, db: sqlite3.Connection, run_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise ConfigError(f"run id {run_id!r} is not in the catalog {self.path}")
        return row

    def set_status(self, run_id: str, status: str, message: str = "",
                   rows: int | None = None, *, timeout: float | None = None) -> bool:
        """Record a status; a terminal status is final: changing it returns False, does nothing.

        `timeout` overrides the busy timeout for this call.
        """
        check_status(status)
        with self._connect(timeout) as db:
            row = self._require(db, run_id)
            if row["status"] in TERMINAL_STATUSES:
                return False
            ended = now_iso() if status in TERMINAL_STATUSES else None
            db.execute("UPDATE runs SET status = ?, message = ?, ended = ?, "
                       "rows = COALESCE(?, rows) WHERE run_id = ?",
                       (status, message, ended, rows, run_id))
        return True

    def set_figures(self, run_id: str, figures: Mapping[str, Any]) -> None:
        """Store figures of merit (objects with value, uncertainty, unit, reason) for a run."""
        rows = [(run_id, str(name), *_figure_fields(figure)) for name, figure in figures.items()]
        with self._connect() as db:
            self._require(db, run_id)
            db.executemany(
                "INSERT INTO figures (run_id, name, value, uncertainty, unit, reason) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET "
                "value = excluded.value, uncertainty = excluded.uncertainty, "
                "unit = excluded.unit, reason = excluded.reason", rows)

    def figures(self, run_id: str) -> dict[str, dict[str, Any]]:
        """{name: {value, uncertainty, unit, reason}} of one run (value None when missing)."""
        with self._connect() as db:
            self._require(db, run_id)
            found = db.execute("SELECT name, value, uncertainty, unit, reason FROM figures "
                               "WHERE run_id = ? ORDER BY name", (run_id,)).fetchall()
        return {r["name"]: {k: r[k] for k in ("value", "uncertainty", "unit", "reason")}
                for r in found}

    def all_figures(self, run_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Rows (run_id, name, value, ...) of the figures of `run_ids` (all runs if None)."""
        with self._connect() as db:
            found = db.execute("SELECT * FROM figures ORDER BY run_id, name").fetchall()
        wanted = None if run_ids is None else set(run_ids)
        return [dict(r) for r in found if wanted is None or r["run_id"] in wanted]

    def query(self, where: Mapping[str, Any] | None = None,
              since: str | None = None) -> list[dict[str, Any]]:
        """Runs whose fields equal `where` (and started at or after `since`), oldest first."""
        clauses, values = [], []
        for field, value in (where or {}).items():
            if field not in RUN_FIELDS:
                raise ConfigError(f"runs cannot be filtered by {field!r}; "
                                  f"fields: {', '.join(RUN_FIELDS)}")
            clauses.append(f"{field} = ?")
            values.append(value)
        if since is not None:
            clauses.append("started >= ?")
            values.append(since)
        sql = "SELECT * FROM runs" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        with self._connect() as db:
            found = db.execute(sql + " ORDER BY started, run_id", values).fetchall()
        return [dict(r) for r in found]

    def ids_like(self, prefix: str) -> list[str]:
        """Run ids starting with `prefix`."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._connect() as db:
            found = db.execute("SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' "
                               "ORDER BY started, run_id", (escaped + "%",)).fetchall()
        return [r[0] for r in found if r[0].startswith(prefix)]

    def latest_ids(self, count: int = 5) -> list[str]:
        with self._connect() as db:
            found = db.execute("SELECT run_id FROM runs ORDER BY started DESC, run_id DESC "
                               "LIMIT ?", (count,)).fetchall()
        return [r[0] for r in found]

    def unfinished_runs(self) -> list[dict[str, Any]]:
        """Runs whose catalog status is not terminal ("running", "paused"), oldest first."""
        with self._connect() as db:
            found = db.execute("SELECT * FROM runs WHERE status NOT IN (?, ?, ?, ?) "
                               "ORDER BY started, run_id", TERMINAL_STATUSES).fetchall()
        return [dict(r) for r in found]

    def end_run(self, run_id: str, status: str, message: str, ended: str | None,
                rows: int | None = None) -> bool:
        """Give a run not yet ended its terminal status, end time and (if given) row count.

        Returns False, changing nothing, when the run is unknown or has a terminal status already
        (its writer may have recorded one meanwhile).
        """
        check_status(status, TERMINAL_STATUSES)
        with self._connect() as db:
            done = db.execute("UPDATE runs SET status = ?, message = ?, ended = ?, "
                              "rows = COALESCE(?, rows) WHERE run_id = ? "
                              "AND status NOT IN (?, ?, ?, ?)",
                              (status, message, ended or now_iso(), rows, run_id,
                               *TERMINAL_STATUSES))
            return done.rowcount == 1
