"""The per-device wafer table: one row per device (latest attempt), statuses, `<step>.<figure>`
columns with `.err`, the ledger's word over the catalog's, Parquet/CSV round trip."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from labsyn.analysis import Estimate
from labsyn.batch.ledger import Ledger
from labsyn.batch.results import device_table, parse_die
from labsyn.engine import Runner
from labsyn.protocols import get_protocol
from labsyn.report.wafer_table import ID_COLUMNS, write_table
from labsyn.station import Station
from labsyn.station.config import load_station_config
from labsyn.store import Column, DeviceId, Store


def add_run(store: Store, die: str, device: str, protocol: str, status: str = "completed",
            figures: dict[str, Any] | None = None, message: str = "", wafer: str = "W1") -> str:
    writer = store.create_run(protocol, [Column("x", "V")], device=DeviceId(wafer, die, device))
    writer.append({"x": np.arange(2.0)})
    store.finish(writer, status, message)
    store.set_figures(writer.run_id, figures or {})
    return writer.run_id


def full_attempt(store: Store, die: str, device: str, v_form: float) -> list[str]:
    return [add_run(store, die, device, "forming", figures={"v_form": Estimate(v_form, 0.02, "V")}),
            add_run(store, die, device, "iv-sweep", figures={
                "on_off": Estimate(40.0, None, ""), "v_set": Estimate(0.9, 0.01, "V")})]


def test_one_row_per_device_from_its_latest_attempt(tmp_path: Path) -> None:
    store = Store(tmp_path)
    add_run(store, "1,0", "D1", "forming", "interrupted")  # killed: measured again
    full_attempt(store, "1,0", "D1", 2.5)
    add_run(store, "0,0", "D1", "forming", figures={"v_form": Estimate(9.9, 0.1, "V")})
    add_run(store, "0,0", "D1", "iv-sweep", "failed", message="instrument fault")
    full_attempt(store, "0,0", "D1", 2.1)  # the retry
    full_attempt(store, "0,0", "D2", 2.2)
    full_attempt(store, "-1,2", "D2", 2.3)
    add_run(store, "5,5", "D1", "forming", figures={}, wafer="OTHER")
    table = device_table(store, "W1")
    assert list(table.columns) == [*ID_COLUMNS, "forming.v_form", "forming.v_form.err",
                                   "iv-sweep.v_set", "iv-sweep.v_set.err", "iv-sweep.on_off",
                                   "iv-sweep.on_off.err"]
    assert list(zip(table["column"], table["row"], table["device"], strict=True)) == [
        (-1, 2, "D2"), (0, 0, "D1"), (0, 0, "D2"), (1, 0, "D1")]
    assert table["forming.v_form"].tolist() == [2.3, 2.1, 2.2, 2.5]
    assert table["forming.v_form.err"].tolist() == [0.02] * 4
    assert table["iv-sweep.on_off.err"].isna().all()
    assert table["status"].tolist() == ["passed"] * 4
    assert table["remeasured"].tolist() == [False, False, False, True]  # a retry is no remeasure
    assert all(len(runs.split(";")) == 2 for runs in table["runs"])
    assert table.attrs["units"]["forming.v_form"] == "V"


def test_a_failed_step_fails_the_device_with_its_reason(tmp_path: Path) -> None:
    store = Store(tmp_path)
    add_run(store, "0,0", "D1", "forming", figures={"v_form": Estimate(2.0, 0.02, "V")})
    add_run(store, "0,0", "D1", "iv-sweep", "failed", message="compliance never reached")
    table = device_table(store, "W1", skipped=[("3,3", "", "D1", "die on the skip list")])
    failed, skipped = table.iloc[0], table.iloc[1]
    assert failed["status"] == "failed" and failed["reason"] == (
        "iv-sweep failed: compliance never reached")
    assert failed["forming.v_form"] == 2.0  # what was measured stays in the table
    assert (skipped["status"], skipped["column"], skipped["reason"]) == (
        "skipped", 3, "die on the skip list")
    assert np.isnan(skipped["forming.v_form"])


def test_recipe_step_names_tell_two_runs_of_one_protocol_apart(tmp_path: Path) -> None:
    store = Store(tmp_path)
    add_run(store, "0,0", "D1", "iv-sweep", figures={"on_off": Estimate(10.0, 1.0, "")})
    add_run(store, "0,0", "D1", "iv-sweep", figures={"on_off": Estimate(20.0, 1.0, "")})
    named = device_table(store, "W1", steps=[("before", "iv-sweep"), ("after", "iv-sweep")])
    assert (named["before.on_off"].iloc[0], named["after.on_off"].iloc[0]) == (10.0, 20.0)
    plain = device_table(store, "W1")  # without the recipe the second run reads as a retry
    assert plain["iv-sweep.on_off"].tolist() == [20.0] and "iv-sweep#2.on_off" not in plain
    add_run(store, "0,1", "D1", "forming")
    for value in (1.0, 2.0):
        add_run(store, "0,1", "D1", "iv-sweep", figures={"on_off": Estimate(value, None, "")})
    plain = device_table(store, "W1").set_index("row")
    assert (plain.loc[1, "iv-sweep.on_off"], plain.loc[1, "iv-sweep#2.on_off"]) == (1.0, 2.0)


def test_the_ledger_decides_status_remeasured_and_the_attempt(tmp_path: Path) -> None:
    store = Store(tmp_path)
    old = full_attempt(store, "0,0", "D1", 9.0)
    new = full_attempt(store, "0,0", "D1", 2.0)
    dead = add_run(store, "0,1", "D1", "forming", figures={"v_form": Estimate.missing("V", "no")})
    ledger = Ledger.for_wafer(store.root, "W1")
    for key, runs, status, flag in (("0,0", old, "passed", False), ("0,0", new, "passed", True),
                                    ("0,1", [dead], "dead", False)):
        ledger.append("started", wafer="W1", die=key, subsite="", device="D1", remeasured=flag)
        ledger.append("finished", wafer="W1", die=key, subsite="", device="D1", status=status,
                      remeasured=flag, reason="reads open" if status == "dead" else "",
                      runs=runs, steps={"form": runs[0], **({"iv": runs[1]} if len(runs) > 1
                                                             else {})})
    ledger.append("finished", wafer="W1", die="1,1", subsite="", device="D1", status="skipped",
                  remeasured=False, reason="contact test failed", runs=[], steps={})
    ledger.append("started", wafer="W1", die="2,1", subsite="", device="D1", remeasured=False)
    table = device_table(store, "W1").set_index(["column", "row"])
    assert table.loc[(0, 0), "form.v_form"] == 2.0 and bool(table.loc[(0, 0), "remeasured"])
    assert "iv.on_off" in table.columns and "forming.v_form" not in table.columns
    assert (table.loc[(0, 1), "status"], table.loc[(0, 1), "reason"]) == ("dead", "reads open")
    assert table.loc[(1, 1), "status"] == "skipped"
    assert table.loc[(2, 1), "status"] == "failed"
    assert "interrupted" in table.loc[(2, 1), "reason"]


def test_parquet_and_csv_hold_the_same_table(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    full_attempt(store, "0,0", "D1", 2.0)
    add_run(store, "0,1", "D1", "forming", "failed", message="no contact")
    table = device_table(store, "W1")
    parquet, csv = write_table(table, tmp_path / "out" / "W1.csv")
    assert (parquet.name, csv.name) == ("W1.parquet", "W1.csv")
    back = pd.read_parquet(parquet)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    text = pd.read_csv(csv, keep_default_na=False)
    assert list(text.columns) == list(table.columns) and text["status"].tolist() == [
        "passed", "failed"]


def test_parse_die() -> None:
    assert parse_die("3,-2") == (3, -2) and parse_die("(0, 4)") == (0, 4)
    assert parse_die("A7") == (None, None)


@pytest.mark.parametrize("count", [3])
def test_figures_of_real_runs_match_the_simulated_devices(tmp_path: Path, count: int) -> None:
    """Forming runs by the Runner on the simulated demo bench, one device index each: the
    table's V_form is each run's figure and tracks the simulator's true V_form."""
    config = load_station_config(Path(str(files("labsyn.station") / "demo_station.yaml")))
    store = Store(tmp_path)
    truth = {}
    for index in range(count):
        sim = config.sim.model_copy(update={"device_index": index})
        with Station(config.model_copy(update={"sim": sim}), "demo") as station:
            run = Runner(station, get_protocol("forming"),
                         {"v_max": 4.0, "v_step": 0.02, "compliance": 1e-4}, store=store,
                         device=DeviceId("WR", f"{index},0", "D1")).run()
            truth[index] = station.bench.timeline.duts[0].device.truth.v_form
        assert run.figures["v_form"].ok
    table = device_table(store, "WR")
    assert table["column"].tolist() == list(range(count))
    measured = table["forming.v_form"].to_numpy()
    true = np.array([truth[i] for i in range(count)])
    assert np.all(np.abs(measured - true) < 0.1), (measured, true)
    assert (table["status"] == "passed").all()
