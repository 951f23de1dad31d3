"""Store: run ids, one terminal status, queries with figures, load, rebuild, default root."""

from __future__ import annotations

import logging
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labsyn.errors import ConfigError
from labsyn.store import DeviceId, Store
from tests.store.sample import COLUMNS, DEVICE, PARAMETERS, SNAPSHOT, make_block, run_python
from tests.store.test_catalog import Estimate


def finished_run(store: Store, protocol: str = "iv_sweep", device: DeviceId = DEVICE,
                 rows: int = 100, status: str = "completed") -> str:
    writer = store.create_run(protocol, COLUMNS, PARAMETERS, SNAPSHOT, device, block_rows=64)
    writer.append(make_block(0, rows))
    store.finish(writer, status)
    return writer.run_id


def test_create_run_indexes_a_running_run_with_this_writer(store: Store) -> None:
    writer = store.create_run("iv sweep/fast", COLUMNS, PARAMETERS, SNAPSHOT, DEVICE)
    assert re.fullmatch(r"\d{8}-\d{6}-iv_sweep_fast-[0-9a-f]{6}", writer.run_id)
    assert writer.path == store.root / "runs" / f"{writer.run_id}.h5"
    row = store.runs().iloc[0]
    assert (row["run_id"], row["protocol"], row["status"]) == (writer.run_id, "iv sweep/fast",
                                                               "running")
    assert (row["station"], row["backend"]) == ("bench-a", "labsyn-sim")
    assert (row["wafer"], row["die"], row["device"], row["subsite"]) == ("W07", "D3-4", "R12",
                                                                         "sub1")
    assert row["writer_host"] == socket.gethostname() and row["parameters"] == PARAMETERS
    assert store.load(writer.run_id).status == "running"
    store.finish(writer, "completed")


def test_finish_records_exactly_one_terminal_status(store: Store) -> None:
    writer = store.create_run("iv", COLUMNS, {}, {}, DEVICE, block_rows=64)
    writer.append(make_block(0, 100))
    assert store.finish(writer, "aborted", "abort pressed") is True
    assert store.finish(writer, "completed") is False
    run = store.load(writer.run_id)
    assert run.status == "aborted"
    assert list(run.status_log["status"]) == ["running", "aborted"]
    row = store.runs().iloc[0]
    assert (row["status"], row["message"], row["rows"]) == ("aborted", "abort pressed", 100)
    assert row["ended"] >= row["started"]
    with pytest.raises(ConfigError, match="'done'"):
        store.finish(writer, "done")


def test_a_with_block_that_raises_records_failed_in_the_catalog(store: Store) -> None:
    with pytest.raises(KeyError), store.create_run("iv", COLUMNS, {}, {}) as writer:
        writer.append(make_block(0, 10))
        raise KeyError("boom")
    assert store.runs()["status"].tolist() == ["failed"]
    assert store.finish(writer, "completed") is False
    assert store.load(writer.run_id).status == "failed"


def test_runs_filters_and_shows_figures_as_columns(store: Store) -> None:
    a = finished_run(store, "iv_sweep", DeviceId("W1", "D1", "R1"))
    b = finished_run(store, "ppf", DeviceId("W1", "D2", "R1"), status="aborted")
    c = finished_run(store, "ppf", DeviceId("W2", "D1", "R1"))
    store.set_figures(b, {"ppf_index": Estimate(1.3, 0.1), "tau_1": Estimate(None, None, "s",
                                                                              "no fit")})
    store.set_figures(c, {"ppf_index": Estimate(1.6, 0.1)})
    all_runs = store.runs()
    assert all_runs["run_id"].tolist() == [a, b, c]
    assert all_runs["ppf_index"].tolist()[1:] == [1.3, 1.6]
    assert np.isnan(all_runs["ppf_index"].iloc[0])
    assert all_runs["tau_1"].isna().all()
    assert store.runs(protocol="ppf")["run_id"].tolist() == [b, c]
    assert store.runs(wafer="W1")["run_id"].tolist() == [a, b]
    assert store.runs(wafer="W1", die="D2")["run_id"].tolist() == [b]
    assert store.runs(status="aborted")["run_id"].tolist() == [b]
    assert store.runs(device="R1", protocol="ppf", status="completed")["run_id"].tolist() == [c]
    assert store.runs(protocol="retention").empty
    assert store.catalog.figures(b)["tau_1"]["reason"] == "no fit"
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert store.runs(since=tomorrow).empty
    assert len(store.runs(since=(datetime.now() - timedelta(hours=1)).isoformat())) == 3
    assert len(store.runs(since=datetime.now().date() - timedelta(days=1))) == 3
    with pytest.raises(ConfigError, match="'yesterday'"):
        store.runs(since="yesterday")
    with pytest.raises(ConfigError, match="'finished'"):
        store.runs(status="finished")


def test_load_returns_data_metadata_and_figures(store: Store) -> None:
    run_id = finished_run(store, rows=300)
    store.set_figures(run_id, {"r_on": Estimate(1e4, 50.0, "Ω")})
    run = store.load(run_id)
    assert (run.run_id, run.protocol, run.status) == (run_id, "iv_sweep", "completed")
    pd.testing.assert_frame_equal(run.data, pd.DataFrame(make_block(0, 300)))
    assert (run.parameters, run.snapshot, run.device) == (PARAMETERS, SNAPSHOT, DEVICE)
    assert run.units["current"] == "A" and run.columns == list(COLUMNS)
    assert run.figures["r_on"] == {"value": 1e4, "uncertainty": 50.0, "unit": "Ω", "reason": ""}
    assert run.path == store.root / "runs" / f"{run_id}.h5"


def test_load_accepts_a_unique_prefix_and_names_unknown_ids(store: Store) -> None:
    first = finished_run(store, "ltp")
    second = finished_run(store, "ltd")
    assert store.load(first[:-3]).run_id == first
    with pytest.raises(ConfigError, match="'2099-no-such-run'") as error:
        store.load("2099-no-such-run")
    assert first in str(error.value) and second in str(error.value)
    common = first[:8]
    with pytest.raises(ConfigError, match="ambiguous"):
        store.load(common)
    with pytest.raises(ConfigError, match="no runs yet"):
        Store(store.root.parent / "empty").load("x")


def test_rebuild_reproduces_the_catalog_from_the_run_files(store: Store,
                                                           caplog: pytest.LogCaptureFixture,
                                                           ) -> None:
    ids = [finished_run(store, "iv_sweep", DeviceId("W1", "D1")),
           finished_run(store, "ppf", DeviceId("W1", "D2"), status="failed"),
           finished_run(store, "ppf", DeviceId("W2", "D1"), status="aborted")]
    live = store.create_run("retention", COLUMNS, PARAMETERS, SNAPSHOT, DEVICE)
    live.append(make_block(0, 10))
    live.flush()
    columns = ["run_id", "protocol", "status", "path", "wafer", "die", "device", "station",
               "backend", "rows", "started"]
    before = store.runs()[columns]
    (store.root / "catalog.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (store.root / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    (store.root / "runs" / "garbage.h5").write_bytes(b"not an hdf5 file")
    reopened = Store(store.root)
    assert reopened.runs().empty
    with caplog.at_level(logging.WARNING):
        count = reopened.rebuild(lambda run: {"rows": Estimate(float(len(run.data)))})
    assert count == 4
    assert "garbage.h5" in caplog.text
    after = reopened.runs()
    assert after["run_id"].tolist() == [*ids, live.run_id]
    pd.testing.assert_frame_equal(after[columns].iloc[:3], before.iloc[:3])
    live_columns = [c for c in columns if c != "rows"]  # the catalog counts rows at close
    pd.testing.assert_frame_equal(after[live_columns], before[live_columns])
    assert after["status"].tolist() == ["completed", "failed", "aborted", "running"]
    assert after["figure:rows"].tolist() == [100.0, 100.0, 100.0, 10.0]
    assert reopened.load(live.run_id).status == "running"
    reopened.finish(live, "completed")


def test_rebuild_marks_a_dead_writers_run_interrupted(store: Store) -> None:
    script = (
        "import os, sys\n"
        "from labsyn.store import RunWriter\n"
        "from tests.store.sample import COLUMNS, DEVICE, make_block\n"
        "writer = RunWriter(sys.argv[1], 'orphan', 'iv', COLUMNS, {}, {}, DEVICE)\n"
        "writer.append(make_block(0, 5))\n"
        "writer.flush()\n"
        "os._exit(0)\n"
    )
    run_python(script, str(store.runs_dir / "orphan.h5"))
    assert store.rebuild() == 1
    row = store.runs().iloc[0]
    assert (row["run_id"], row["status"], row["rows"]) == ("orphan", "interrupted", 5)
    assert "ended without closing" in row["message"]
    pd.testing.assert_frame_equal(store.load("orphan").data, pd.DataFrame(make_block(0, 5)))


def test_default_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("LABSYN_DATA", str(tmp_path / "lab"))
    assert Store.default_root() == tmp_path / "lab"
    monkeypatch.delenv("LABSYN_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Store.default_root() == tmp_path / "xdg" / "labsyn"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert Store.default_root() == Path.home() / ".local" / "share" / "labsyn"


def test_an_empty_protocol_is_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match="protocol"):
        store.create_run("", COLUMNS)
