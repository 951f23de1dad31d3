"""What a run's data looks like: columns with units, device ids, run statuses."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

import numpy as np

from labsyn.errors import ConfigError

DTYPES = ("f8", "f4", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "bool")
TERMINAL_STATUSES = ("completed", "aborted", "failed", "interrupted")
LIVE_STATUSES = ("running", "paused")
STATUSES = LIVE_STATUSES + TERMINAL_STATUSES


@dataclass(frozen=True)
class Column:
    """One data column of a run: name, SI unit, numpy dtype string, help text."""

    name: str
    unit: str
    dtype: str = "f8"
    help: str = ""

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        return np.dtype(self.dtype)


@dataclass(frozen=True)
class DeviceId:
    """Where the device under test sits: wafer, die, device, subsite (empty when unknown)."""

    wafer: str = ""
    die: str = ""
    device: str = ""
    subsite: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


NO_DEVICE = DeviceId()


def check_columns(columns: Sequence[Column]) -> tuple[Column, ...]:
    """Return the columns as a tuple, or raise ConfigError naming the bad one."""
    columns = tuple(columns)
    if not columns:
        raise ConfigError("a run needs at least one column; got none")
    seen: set[str] = set()
    for column in columns:
        if not isinstance(column, Column):
            raise ConfigError(f"column {column!r} is not a labsyn.store.Column")
        if not column.name or "/" in column.name or column.name in (".", ".."):
            raise ConfigError(f"column name {column.name!r} is invalid: use a non-empty name "
                              "without '/'")
        if column.name in seen:
            raise ConfigError(f"column name {column.name!r} appears twice; names must be unique")
        if column.dtype not in DTYPES:
            raise ConfigError(f"column {column.name!r} has dtype {column.dtype!r}; "
                              f"allowed: {', '.join(DTYPES)}")
        seen.add(column.name)
    return columns


def check_status(status: str, allowed: Sequence[str] = STATUSES) -> str:
    """Return `status` if it is one of `allowed`, else raise ConfigError."""
    if status not in allowed:
        raise ConfigError(f"run status {status!r} is unknown; allowed: {', '.join(allowed)}")
    return status


def columns_to_json(columns: Sequence[Column]) -> str:
    return json.dumps([asdict(c) for c in columns])


def columns_from_json(text: str) -> list[Column]:
    return [Column(**entry) for entry in json.loads(text)]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if hasattr(value, "model_dump"):  # pydantic models
        return value.model_dump(mode="json")
    return repr(value)


def to_json(value: Mapping[str, Any] | None) -> str:
    """JSON for parameters and snapshots; numpy values, paths and dates become plain JSON."""
    return json.dumps(dict(value or {}), default=_json_default)


def optional_float(value: Any) -> float | None:
    """`value` as a float, or None when it is None or NaN (a missing figure of merit)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
