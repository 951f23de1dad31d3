"""Export: CSV, Parquet and QCoDeS round trips keep values, dtypes, units and parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labsyn.errors import ConfigError
from labsyn.store import Store
from tests.store.sample import COLUMNS, DEVICE, PARAMETERS, SNAPSHOT, make_block

ROWS = 250_123  # not a multiple of any chunk size


@pytest.fixture
def run_id(store: Store) -> str:
    writer = store.create_run("ltp_ltd", COLUMNS, PARAMETERS, SNAPSHOT, DEVICE)
    writer.append(make_block(0, ROWS))
    store.finish(writer, "completed")
    return writer.run_id


def expected() -> pd.DataFrame:
    return pd.DataFrame(make_block(0, ROWS))


def test_csv_round_trip_with_commented_header(store: Store, run_id: str) -> None:
    path = store.export(run_id, "csv")
    assert path == store.root / "exports" / f"{run_id}.csv"
    header = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.startswith("# "):
                break
            key, _, value = line[2:].rstrip("\n").partition(": ")
            header[key] = value
    assert header["run_id"] == run_id and header["protocol"] == "ltp_ltd"
    assert json.loads(header["parameters"]) == PARAMETERS
    assert json.loads(header["device"])["die"] == "D3-4"
    assert header["units"] == "time=s,source=V,current=A,segment=,limited="
    dtypes = dict(entry.split("=") for entry in header["dtypes"].split(","))
    assert dtypes == {c.name: c.dtype for c in COLUMNS}
    pd.testing.assert_frame_equal(pd.read_csv(path, comment="#"), expected(), check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(path, comment="#", dtype=dtypes), expected())


def test_parquet_round_trip_keeps_dtypes_units_and_parameters(store: Store, run_id: str,
                                                              tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = store.export(run_id[:12], "parquet", tmp_path / "out" / "run.parquet")
    assert path == tmp_path / "out" / "run.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), expected())
    schema = pq.read_schema(path)
    assert schema.field("current").metadata[b"unit"] == b"A"
    assert json.loads(schema.metadata[b"labsyn.units"])["source"] == "V"
    assert json.loads(schema.metadata[b"labsyn.parameters"]) == PARAMETERS
    assert json.loads(schema.metadata[b"labsyn.run_id"]) == run_id


def test_export_into_a_folder_uses_the_run_id(store: Store, run_id: str, tmp_path: Path) -> None:
    assert store.export(run_id, "csv", tmp_path) == tmp_path / f"{run_id}.csv"


def test_qcodes_round_trip(store: Store, run_id: str) -> None:
    qd = pytest.importorskip("qcodes.dataset")
    path = store.export(run_id, "qcodes")
    assert path == store.root / "exports" / f"{run_id}.db"
    conn = qd.connect(str(path))
    try:
        dataset = qd.load_by_run_spec(captured_run_id=1, conn=conn)
        assert dataset.name == run_id
        frame = dataset.to_pandas_dataframe()[[c.name for c in COLUMNS]]
        want = expected()
        want["limited"] = want["limited"].astype("u1")
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), want)
        units = {p.name: p.unit for p in dataset.get_parameters()}
        assert units == {"time": "s", "source": "V", "current": "A", "segment": "",
                         "limited": ""}
        assert json.loads(dataset.metadata["labsyn_parameters"]) == PARAMETERS
        assert dataset.metadata["labsyn_run_id"] == run_id
        assert json.loads(dataset.snapshot_raw)["station"] == SNAPSHOT
    finally:
        conn.close()


def test_unknown_format_is_refused_before_anything_is_written(store: Store, run_id: str) -> None:
    with pytest.raises(ConfigError, match=r"'xlsx'.*csv, parquet, qcodes"):
        store.export(run_id, "xlsx")
    assert not (store.root / "exports").exists()


def test_exporting_an_unknown_run_names_it(store: Store, run_id: str) -> None:
    with pytest.raises(ConfigError, match="'nope'") as error:
        store.export("nope", "csv")
    assert run_id in str(error.value)
