"""Reading a run file back, also while its writer is live or after the writer was killed.

A file a writer never closed keeps HDF5's "open for write" flag: only a SWMR read opens it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from labsyn.store.schema import Column, DeviceId, columns_from_json

STATUS_DTYPE = np.dtype([("time", "f8"), ("status", "S32"), ("message", "S512")])


@dataclass
class RunFile:
    """Everything a run file holds, read into memory."""

    path: Path
    run_id: str
    protocol: str
    parameters: dict[str, Any]
    snapshot: dict[str, Any]
    device: DeviceId
    version: str
    created: str
    columns: list[Column]
    data: pd.DataFrame
    rows: int
    status_log: pd.DataFrame
    status: str
    writer_pid: int | None
    writer_host: str

    @property
    def units(self) -> dict[str, str]:
        return {c.name: c.unit for c in self.columns}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_run_file(path: str | Path, *, with_data: bool = True) -> RunFile:
    """Read a run file (SWMR read: works while a writer is live or after it was killed).

    Rows are cut to the shortest column, so a writer that died between columns never yields
    ragged data. With ``with_data=False`` the data frame is empty and only `rows` is counted.
    """
    path = Path(path)
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        attrs = {key: f.attrs[key] for key in f.attrs}
        columns = columns_from_json(_text(attrs["columns"]))
        datasets = [f["data"][c.name] for c in columns]
        rows = min(d.shape[0] for d in datasets)
        frame = {c.name: (d[:rows] if with_data else np.empty(0, dtype=c.numpy_dtype))
                 for c, d in zip(columns, datasets, strict=True)}
        log = f["status"][:]
    status_log = pd.DataFrame({
        "time": log["time"].astype("f8"),
        "status": [_text(s) for s in log["status"]],
        "message": [_text(m) for m in log["message"]],
    })
    pid = attrs.get("writer_pid")
    return RunFile(
        path=path,
        run_id=_text(attrs["run_id"]),
        protocol=_text(attrs["protocol"]),
        parameters=json.loads(_text(attrs["parameters"])),
        snapshot=json.loads(_text(attrs["snapshot"])),
        device=DeviceId(**{k: _text(attrs.get(k, "")) for k in ("wafer", "die", "device",
                                                                 "subsite")}),
        version=_text(attrs.get("labsyn_version", "")),
        created=_text(attrs.get("created", "")),
        columns=columns,
        data=pd.DataFrame(frame, columns=[c.name for c in columns]),
        rows=int(rows),
        status_log=status_log,
        status=status_log["status"].iloc[-1] if len(status_log) else "running",
        writer_pid=int(pid) if pid is not None else None,
        writer_host=_text(attrs.get("writer_host", "")),
    )
