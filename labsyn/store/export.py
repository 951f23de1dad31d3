"""Export a loaded run to CSV, Parquet or a QCoDeS database, units and parameters included."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import labsyn
from labsyn.errors import ConfigError
from labsyn.store.schema import to_json

if TYPE_CHECKING:
    from labsyn.store.store import LoadedRun

EXPORT_FORMATS = ("csv", "parquet", "qcodes")
SUFFIXES = {"csv": "csv", "parquet": "parquet", "qcodes": "db"}
QCODES_CHUNK_ROWS = 100_000


def check_format(fmt: str) -> str:
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"export format {fmt!r} is unknown; allowed: {', '.join(EXPORT_FORMATS)}")
    return fmt


def _metadata(run: LoadedRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "protocol": run.protocol,
        "status": run.status,
        "device": run.device.as_dict(),
        "parameters": run.parameters,
        "snapshot": run.snapshot,
        "units": {c.name: c.unit for c in run.columns},
        "dtypes": {c.name: c.dtype for c in run.columns},
        "version": labsyn.__version__,
    }


def write_csv(run: LoadedRun, dest: Path) -> Path:
    """CSV with a '#'-commented header; read back with ``pd.read_csv(path, comment="#")``."""
    meta = _metadata(run)
    header = [
        "labsyn run export",
        f"run_id: {run.run_id}",
        f"protocol: {run.protocol}",
        f"status: {run.status}",
        f"device: {json.dumps(meta['device'])}",
        f"parameters: {to_json(run.parameters)}",
        f"snapshot: {to_json(run.snapshot)}",
        "units: " + ",".join(f"{name}={unit}" for name, unit in meta["units"].items()),
        "dtypes: " + ",".join(f"{name}={dtype}" for name, dtype in meta["dtypes"].items()),
    ]
    with dest.open("w", encoding="utf-8", newline="") as f:
        f.writelines(f"# {line}\n" for line in header)
        run.data.to_csv(f, index=False, lineterminator="\n")
    return dest


def write_parquet(run: LoadedRun, dest: Path) -> Path:
    """Parquet (pyarrow); units per field and ``labsyn.*`` keys in the schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(run.data, preserve_index=False)
    fields = [field.with_metadata({"unit": column.unit, "help": column.help})
              for field, column in zip(table.schema, run.columns, strict=True)]
    metadata = dict(table.schema.metadata or {})
    for key, value in _metadata(run).items():
        metadata[f"labsyn.{key}".encode()] = json.dumps(value, default=str).encode()
    schema = pa.schema(fields, metadata=metadata)
    pq.write_table(table.cast(schema), dest)
    return dest


def qcodes_name(column: str) -> str:
    """A column name QCoDeS accepts as a parameter name (a Python identifier)."""
    name = re.sub(r"\W", "_", column)
    return name if name.isidentifier() else f"c_{name}"


def write_qcodes(run: LoadedRun, dest: Path) -> Path:
    """Add the run as one dataset to a QCoDeS SQLite database (created if missing).

    Every column is an independent "array" parameter (bool stored as uint8) written in chunks of
    arrays, which round-trips through ``to_pandas_dataframe()`` with dtypes kept; per-point
    "numeric" parameters are ~40x slower and lose integer dtypes.
    """
    try:
        import qcodes.dataset as qd
    except ImportError as error:
        raise ConfigError('exporting to QCoDeS needs qcodes: pip install "labsyn[qcodes]"') \
            from error
    names = {c.name: qcodes_name(c.name) for c in run.columns}
    if len(set(names.values())) < len(names):
        raise ConfigError(f"columns {list(names)} map to clashing QCoDeS names "
                          f"{list(names.values())}; rename the columns")
    sample = "/".join(part for part in run.device.as_dict().values() if part) or "unknown"
    conn = qd.connect(str(dest))
    try:
        experiment = qd.load_or_create_experiment(run.protocol, sample_name=sample, conn=conn)
        measurement = qd.Measurement(exp=experiment, name=run.run_id)
        for column in run.columns:
            measurement.register_custom_parameter(names[column.name], label=column.help or None,
                                                  unit=column.unit, paramtype="array")
        arrays = {}
        for column in run.columns:
            values = run.data[column.name].to_numpy()
            arrays[names[column.name]] = values.astype("u1") if values.dtype == bool else values
        with measurement.run(write_in_background=False) as saver:
            for start in range(0, len(run.data), QCODES_CHUNK_ROWS):
                stop = start + QCODES_CHUNK_ROWS
                saver.add_result(*((name, a[start:stop]) for name, a in arrays.items()))
            dataset = saver.dataset
        meta = _metadata(run)
        dataset.add_snapshot(json.dumps({"station": run.snapshot}, default=str), overwrite=True)
        meta["columns"] = names
        for key, value in meta.items():
            if key != "snapshot":
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                dataset.add_metadata(f"labsyn_{key}", text)
    finally:
        conn.close()
    return dest


WRITERS = {"csv": write_csv, "parquet": write_parquet, "qcodes": write_qcodes}


def export_run(run: LoadedRun, fmt: str, dest: Path) -> Path:
    """Write `run` as `fmt` to `dest` (parent folders created); return `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return WRITERS[check_format(fmt)](run, dest)


def default_export_path(root: Path, run_id: str, fmt: str, dest: str | Path | None) -> Path:
    """`dest`, or ``root/exports/<run_id>.<ext>``; a folder `dest` gets that file name in it."""
    name = f"{run_id}.{SUFFIXES[check_format(fmt)]}"
    if dest is None:
        return root / "exports" / name
    path = Path(dest).expanduser()
    return path / name if path.is_dir() else path
