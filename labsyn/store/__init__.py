"""Run storage: one HDF5 (SWMR) file per run, an SQLite catalog, CSV/Parquet/QCoDeS export.

    store = Store(Store.default_root())
    with store.create_run("iv_sweep", columns, parameters, snapshot, device) as run:
        run.append({"time": t, "voltage": v, "current": i})
    store.runs(protocol="iv_sweep")          # pandas DataFrame, one row per run
    store.load(run_id).data                  # pandas DataFrame, one column per Column
"""

from __future__ import annotations

from labsyn.store.catalog import Catalog
from labsyn.store.run_file import RunFile, RunWriter, read_run_file
from labsyn.store.schema import TERMINAL_STATUSES, Column, DeviceId
from labsyn.store.store import LoadedRun, Store

__all__ = [
    "TERMINAL_STATUSES",
    "Catalog",
    "Column",
    "DeviceId",
    "LoadedRun",
    "RunFile",
    "RunWriter",
    "Store",
    "read_run_file",
]
