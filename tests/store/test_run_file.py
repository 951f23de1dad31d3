"""RunWriter / read_run_file: round trip, block buffering, SWMR reading, bad input."""

from __future__ import annotations

import contextlib
import json
import threading
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

import labsyn
from labsyn.errors import ConfigError
from labsyn.store import Column, DeviceId, RunWriter, read_run_file
from labsyn.store.run_file import MESSAGE_BYTES
from tests.store.sample import COLUMNS, DEVICE, PARAMETERS, SNAPSHOT, make_block


def new_writer(path: Path, block_rows: int = 1000, columns: tuple[Column, ...] = COLUMNS,
               ) -> RunWriter:
    return RunWriter(path, "run-1", "iv_sweep", columns, PARAMETERS, SNAPSHOT, DEVICE, block_rows)


def expected_frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(make_block(0, rows))


def test_round_trip_keeps_metadata_dtypes_units_and_status_log(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    with new_writer(path) as writer:
        writer.append(make_block(0, 2500))
        writer.log_status("paused", "operator pause")
        writer.log_status("running")
    run = read_run_file(path)
    assert (run.run_id, run.protocol, run.version) == ("run-1", "iv_sweep", labsyn.__version__)
    assert run.parameters == PARAMETERS
    assert run.snapshot == SNAPSHOT
    assert run.device == DEVICE
    assert run.columns == list(COLUMNS)
    assert run.units == {"time": "s", "source": "V", "current": "A", "segment": "",
                         "limited": ""}
    assert list(run.data.columns) == [c.name for c in COLUMNS]
    assert [str(t) for t in run.data.dtypes] == ["float64", "float64", "float32", "int32", "bool"]
    pd.testing.assert_frame_equal(run.data, expected_frame(2500))
    assert list(run.status_log["status"]) == ["running", "paused", "running", "completed"]
    assert run.status_log["message"].iloc[1] == "operator pause"
    assert run.status == "completed"
    assert run.status_log["time"].is_monotonic_increasing
    with h5py.File(path, "r") as f:
        assert f["data/current"].attrs["unit"] == "A"
        assert f["data/limited"].attrs["help"] == "compliance reached"
        assert json.loads(f.attrs["parameters"]) == PARAMETERS


def test_many_small_blocks_and_one_big_block_give_the_same_data(tmp_path: Path) -> None:
    rows = 12_345
    with new_writer(tmp_path / "small.h5", block_rows=1000) as writer:
        for start in range(0, rows, 37):
            writer.append(make_block(start, min(37, rows - start)))
    with new_writer(tmp_path / "big.h5", block_rows=1000) as writer:
        writer.append(make_block(0, 10))
        writer.append(make_block(10, rows - 10))
        assert writer.rows_committed == 12_000 and writer.rows_buffered == 345
    small = read_run_file(tmp_path / "small.h5").data
    big = read_run_file(tmp_path / "big.h5").data
    pd.testing.assert_frame_equal(small, big)
    pd.testing.assert_frame_equal(big, expected_frame(rows))


def test_rows_are_committed_per_full_block_and_by_flush(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "run.h5", block_rows=100)
    writer.append(make_block(0, 250))
    assert (writer.rows_committed, writer.rows_buffered) == (200, 50)
    assert writer.flush() == 250
    assert writer.rows_committed == 250 and writer.rows_buffered == 0
    writer.append(make_block(250, 0))
    assert writer.close("aborted", "user abort") is True
    assert read_run_file(tmp_path / "run.h5").status == "aborted"


def test_a_live_swmr_reader_sees_rows_after_each_flush(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    writer = new_writer(path, block_rows=1000)
    writer.append(make_block(0, 300))
    writer.flush()
    with h5py.File(path, "r", libver="latest", swmr=True) as reader:
        current = reader["data/current"]
        assert current.shape == (300,)
        writer.append(make_block(300, 1700))
        current.refresh()
        assert current.shape == (writer.rows_committed,) == (1300,)
        assert writer.flush() == 2000
        current.refresh()
        assert current.shape == (2000,)
        np.testing.assert_array_equal(current[:], make_block(0, 2000)["current"])
        status = reader["status"]
        status.refresh()
        assert status[-1]["status"] == b"running"
        live = read_run_file(path)
        assert live.status == "running" and live.rows == 2000
    writer.close("completed")


def test_close_is_idempotent_and_the_first_terminal_status_stays(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "run.h5")
    assert writer.close("aborted", "abort pressed") is True
    assert writer.close("completed") is False
    run = read_run_file(tmp_path / "run.h5")
    assert list(run.status_log["status"]) == ["running", "aborted"]
    with pytest.raises(ConfigError, match="closed"):
        writer.append(make_block(0, 1))


def test_an_exception_in_the_with_block_closes_the_run_as_failed(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), new_writer(tmp_path / "run.h5") as writer:
        writer.append(make_block(0, 10))
        raise RuntimeError("compliance tripped")
    run = read_run_file(tmp_path / "run.h5")
    assert run.status == "failed"
    assert "RuntimeError: compliance tripped" in run.status_log["message"].iloc[-1]
    assert len(run.data) == 10


def test_long_messages_are_truncated_not_refused(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "run.h5")
    writer.close("failed", "é" * 1000)
    message = read_run_file(tmp_path / "run.h5").status_log["message"].iloc[-1]
    assert message == "é" * (MESSAGE_BYTES // 2)


def test_a_huge_block_is_written_through_without_buffering_it(tmp_path: Path) -> None:
    rows, block_rows = 2_000_000, 65536
    columns = (Column("x", "V", "f8"), Column("n", "", "i4"))
    block = {"x": np.arange(rows, dtype="f8"), "n": np.arange(rows, dtype="i8")}
    writer = new_writer(tmp_path / "run.h5", block_rows, columns)
    tracemalloc.start()
    try:
        writer.append(block)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    writer.close("completed")
    assert peak < 4 * block_rows * 8, f"append of {rows} rows allocated {peak} bytes at peak"
    data = read_run_file(tmp_path / "run.h5").data
    np.testing.assert_array_equal(data["n"], np.arange(rows, dtype="i4"))


def test_metadata_only_read_counts_rows(tmp_path: Path) -> None:
    with new_writer(tmp_path / "run.h5") as writer:
        writer.append(make_block(0, 1234))
    run = read_run_file(tmp_path / "run.h5", with_data=False)
    assert run.rows == 1234 and len(run.data) == 0
    assert list(run.data.columns) == [c.name for c in COLUMNS]


@pytest.mark.parametrize(
    ("block", "named"),
    [
        ({**make_block(0, 5), "voltage": np.zeros(5)}, "'voltage'"),
        ({k: v for k, v in make_block(0, 5).items() if k != "segment"}, "'segment'"),
        ({**make_block(0, 5), "current": np.zeros(4)}, "current=4"),
        ({**make_block(0, 5), "time": np.zeros((5, 2))}, "'time'"),
    ],
    ids=["unknown column", "missing column", "unequal lengths", "2-D column"],
)
def test_bad_blocks_are_refused_naming_the_column(tmp_path: Path, block: dict[str, np.ndarray],
                                                  named: str) -> None:
    writer = new_writer(tmp_path / "run.h5")
    with pytest.raises(ConfigError, match=named):
        writer.append(block)
    writer.append(make_block(0, 5))
    writer.close("completed")
    assert read_run_file(tmp_path / "run.h5").rows == 5


@pytest.mark.parametrize(
    ("columns", "named"),
    [
        ((Column("a", "V", "f16"),), "'f16'"),
        ((Column("a", "V"), Column("a", "A")), "'a'"),
        ((Column("a/b", "V"),), "'a/b'"),
        ((), "at least one column"),
    ],
)
def test_bad_columns_are_refused(tmp_path: Path, columns: tuple[Column, ...], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        new_writer(tmp_path / "run.h5", columns=columns)
    assert not (tmp_path / "run.h5").exists()


def test_bad_statuses_are_refused(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "run.h5")
    with pytest.raises(ConfigError, match="'done'.*completed"):
        writer.close("done")
    assert not writer.closed
    writer.close("completed")


def test_an_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    new_writer(tmp_path / "run.h5").close("completed")
    with pytest.raises(ConfigError, match="exists"):
        RunWriter(tmp_path / "run.h5", "run-2", "p", COLUMNS, {}, {}, DeviceId())
    assert read_run_file(tmp_path / "run.h5").run_id == "run-1"


def test_log_status_refuses_terminal_statuses(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "run.h5")
    with pytest.raises(ConfigError, match=r"'completed'.*close"):
        writer.log_status("completed")
    writer.close("aborted")
    assert list(read_run_file(tmp_path / "run.h5").status_log["status"]) == ["running", "aborted"]


def test_another_thread_can_close_the_run_while_a_worker_appends(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "run.h5", block_rows=100)
    appended: list[int] = []
    started = threading.Event()

    def worker() -> None:
        start = 0
        with contextlib.suppress(ConfigError):
            while True:
                writer.append(make_block(start, 37))
                start += 37
                appended.append(start)
                started.set()

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(10)
    assert writer.close("aborted", "stop from the main thread") is True
    thread.join(10)
    run = read_run_file(tmp_path / "run.h5")
    assert run.status == "aborted" and run.rows == appended[-1] == writer.rows_committed
    pd.testing.assert_frame_equal(run.data, expected_frame(run.rows))
