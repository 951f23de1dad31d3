"""Catalog: WAL, schema version, terminal statuses, figures, ending runs, threads."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from labsyn.errors import ConfigError
from labsyn.store import Catalog, DeviceId
from labsyn.store.catalog import SCHEMA_VERSION


@dataclass
class Estimate:
    value: float | None
    uncertainty: float | None = None
    unit: str = ""
    reason: str = ""


def test_wal_journal_mode_and_schema_version(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert catalog.journal_mode() == "wal"
    with sqlite3.connect(tmp_path / "catalog.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Catalog(path)


def test_a_terminal_status_is_final(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_run("r1", "iv", "runs/r1.h5", device=DeviceId("W1"))
    assert catalog.set_status("r1", "paused") is True
    assert catalog.set_status("r1", "aborted", "stop pressed", rows=42) is True
    assert catalog.set_status("r1", "completed") is False
    row = catalog.get("r1")
    assert row is not None
    assert (row["status"], row["message"], row["rows"]) == ("aborted", "stop pressed", 42)
    assert row["ended"] is not None and row["wafer"] == "W1"
    with pytest.raises(ConfigError, match="'finished'"):
        catalog.set_status("r1", "finished")
    with pytest.raises(ConfigError, match="'nope'"):
        catalog.set_status("nope", "failed")
    with pytest.raises(ConfigError, match="'r1'.*already"):
        catalog.add_run("r1", "iv", "runs/r1.h5")


def test_figures_keep_missing_values_with_their_reason(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_run("r1", "ppf", "runs/r1.h5")
    catalog.set_figures("r1", {
        "ppf_index": Estimate(1.42, 0.03, "", ""),
        "tau_1": Estimate(None, None, "s", "no physical data (dry run)"),
        "tau_2": Estimate(float("nan"), None, "s", "fit did not converge"),
        "plain": 3.0,
    })
    figures = catalog.figures("r1")
    assert figures["ppf_index"] == {"value": 1.42, "uncertainty": 0.03, "unit": "",
                                    "reason": ""}
    assert figures["tau_1"] == {"value": None, "uncertainty": None, "unit": "s",
                                "reason": "no physical data (dry run)"}
    assert figures["tau_2"]["value"] is None
    assert figures["tau_2"]["reason"] == "fit did not converge"
    assert figures["plain"]["value"] == 3.0
    catalog.set_figures("r1", {"ppf_index": Estimate(1.5)})
    assert catalog.figures("r1")["ppf_index"]["value"] == 1.5
    with pytest.raises(ConfigError, match="'r2'"):
        catalog.set_figures("r2", {"x": Estimate(1.0)})


def test_end_run_ends_only_runs_not_ended_yet(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_run("live", "iv", "runs/live.h5", started="2025-01-01T00:00:00+00:00")
    catalog.add_run("paused", "iv", "runs/paused.h5", status="paused",
                    started="2025-01-02T00:00:00+00:00")
    catalog.add_run("done", "iv", "runs/done.h5", status="completed", rows=7)
    assert [r["run_id"] for r in catalog.unfinished_runs()] == ["live", "paused"]
    ended = "2025-01-01T01:00:00+00:00"
    assert catalog.end_run("live", "completed", "from the file", ended, rows=12) is True
    row = catalog.get("live")
    assert row is not None
    assert (row["status"], row["message"], row["ended"], row["rows"]) == (
        "completed", "from the file", ended, 12)
    assert catalog.end_run("paused", "interrupted", "writer died", None) is True
    paused = catalog.get("paused")
    assert paused is not None and paused["ended"] is not None and paused["rows"] == 0
    assert catalog.end_run("done", "interrupted", "late", None, rows=1) is False
    assert catalog.end_run("nope", "interrupted", "", None) is False
    assert (catalog.get("done") or {})["rows"] == 7
    assert catalog.unfinished_runs() == []
    with pytest.raises(ConfigError, match="'running'"):
        catalog.end_run("live", "running", "", None)


def test_threads_can_share_one_catalog(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(20):
                run_id = f"t{thread}-{i}"
                catalog.add_run(run_id, "iv", f"runs/{run_id}.h5")
                catalog.set_figures(run_id, {"r_on": Estimate(float(i))})
                catalog.set_status(run_id, "completed", rows=i)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(catalog.query({"status": "completed"})) == 80
    assert len(catalog.all_figures()) == 80


def test_query_refuses_unknown_fields(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'colour'"):
        Catalog(tmp_path / "c.sqlite").query({"colour": "red"})
