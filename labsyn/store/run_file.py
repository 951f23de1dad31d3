"""One self-describing HDF5 file per run, appended in blocks under SWMR.

Every group, dataset and attribute is created before ``swmr_mode = True``: SWMR allows no new
objects or attributes afterwards (HDF5 2.0 does not always refuse them; it just is not safe).
After that only datasets grow. A crash (even kill -9) loses at most the rows not yet flushed and
leaves a file that :func:`read_run_file` opens with ``swmr=True``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

import labsyn
from labsyn.errors import ConfigError
from labsyn.store.reader import STATUS_DTYPE, RunFile, read_run_file
from labsyn.store.schema import (
    TERMINAL_STATUSES,
    Column,
    DeviceId,
    check_columns,
    check_status,
    columns_to_json,
    to_json,
)

__all__ = ["RunFile", "RunWriter", "read_run_file"]

FORMAT_VERSION = 1
MESSAGE_BYTES = STATUS_DTYPE["message"].itemsize
MAX_CHUNK_ROWS = 65536


def _truncate(text: str, limit: int) -> bytes:
    """UTF-8 bytes of `text`, cut to `limit` bytes without splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore").encode("utf-8")


class RunWriter:
    """Writes one run file: columns appended in blocks, a status log, metadata as attributes.

    Rows are buffered in preallocated arrays of `block_rows` rows; a full buffer is written and
    flushed, so memory stays flat however long the run is. Use as a context manager: leaving the
    block normally closes the run as "completed", with an exception as "failed". Methods hold a
    lock, so a signal handler or another thread may close the run while a worker appends.
    """

    def __init__(
        self,
        path: str | Path,
        run_id: str,
        protocol: str,
        columns: Sequence[Column],
        parameters: Mapping[str, Any],
        snapshot: Mapping[str, Any],
        device: DeviceId,
        block_rows: int = 65536,
        *,
        on_close: Callable[[RunWriter], None] | None = None,
    ) -> None:
        if int(block_rows) < 1:
            raise ConfigError(f"block_rows = {block_rows!r} is invalid: use a positive integer")
        self.path = Path(path)
        self.run_id = run_id
        self.protocol = protocol
        self.columns = check_columns(columns)
        self.device = device
        self.block_rows = int(block_rows)
        self._on_close = on_close
        self._lock = threading.RLock()
        self._names = [c.name for c in self.columns]
        self._buffers = [np.empty(self.block_rows, dtype=c.numpy_dtype) for c in self.columns]
        self._buffered = 0
        self._committed = 0
        self._closed = False
        self._status = ""
        self._message = ""
        self.created = datetime.now(UTC).isoformat(timespec="microseconds")
        try:
            self._file = h5py.File(self.path, "x", libver="latest")
        except FileExistsError as error:
            raise ConfigError(f"run file {self.path} exists already; pick a new run id") from error
        try:
            self._create_layout(parameters, snapshot)
            self._file.swmr_mode = True
        except BaseException:
            self._file.close()
            self.path.unlink(missing_ok=True)
            raise
        self._log("running", "")

    def _create_layout(self, parameters: Mapping[str, Any], snapshot: Mapping[str, Any]) -> None:
        f = self._file
        attrs = {
            "labsyn_store_format": FORMAT_VERSION,
            "run_id": self.run_id,
            "protocol": self.protocol,
            "parameters": to_json(parameters),
            "snapshot": to_json(snapshot),
            "labsyn_version": labsyn.__version__,
            "created": self.created,
            "columns": columns_to_json(self.columns),
            "writer_pid": os.getpid(),
            "writer_host": socket.gethostname(),
            **self.device.as_dict(),
        }
        f.attrs.update(attrs)
        chunk = max(1, min(self.block_rows, MAX_CHUNK_ROWS))
        data = f.create_group("data")
        self._datasets = []
        for column in self.columns:
            dataset = data.create_dataset(column.name, shape=(0,), maxshape=(None,),
                                          chunks=(chunk,), dtype=column.numpy_dtype)
            dataset.attrs["unit"] = column.unit
            dataset.attrs["help"] = column.help
            self._datasets.append(dataset)
        self._status_log = f.create_dataset("status", shape=(0,), maxshape=(None,), chunks=(64,),
                                            dtype=STATUS_DTYPE)

    @property
    def rows_committed(self) -> int:
        """Rows written to the file and flushed (what a reader or a crash would keep)."""
        return self._committed

    @property
    def rows_buffered(self) -> int:
        return self._buffered

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def status(self) -> str:
        """The last status logged ("running" until closed, then the terminal status)."""
        return self._status

    @property
    def message(self) -> str:
        return self._message

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError(f"run {self.run_id} is closed (status {self._status!r}); "
                              "start a new run to write more")

    def _check_block(self, block: Mapping[str, Any]) -> tuple[list[np.ndarray], int]:
        unknown = [name for name in block if name not in self._names]
        if unknown:
            raise ConfigError(f"unknown column {unknown[0]!r} in block for run {self.run_id}; "
                              f"columns: {', '.join(self._names)}")
        missing = [name for name in self._names if name not in block]
        if missing:
            raise ConfigError(f"column {missing[0]!r} is missing from block for run "
                              f"{self.run_id}; a block needs all of: {', '.join(self._names)}")
        arrays = []
        for name in self._names:
            array = np.asarray(block[name])
            if array.ndim > 1:
                raise ConfigError(f"column {name!r} has shape {array.shape}; a block holds "
                                  "1-D arrays (one value per row)")
            arrays.append(array.reshape(-1))
        lengths = {name: len(a) for name, a in zip(self._names, arrays, strict=True)}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name}={n}" for name, n in lengths.items())
            raise ConfigError(f"columns of a block have unequal lengths ({listed}); "
                              "every column needs one value per row")
        return arrays, len(arrays[0])

    def append(self, block: Mapping[str, Any]) -> None:
        """Append rows: a mapping of every column name to a 1-D array, all of one length."""
        with self._lock:
            self._check_open()
            self._append(*self._check_block(block))

    def _append(self, arrays: list[np.ndarray], rows: int) -> None:
        start = 0
        while start < rows:
            if self._buffered == 0 and rows - start >= self.block_rows:
                stop = start + self.block_rows
                self._write([a[start:stop] for a in arrays], self.block_rows)
            else:
                stop = min(rows, start + self.block_rows - self._buffered)
                end = self._buffered + stop - start
                for buffer, array in zip(self._buffers, arrays, strict=True):
                    buffer[self._buffered:end] = array[start:stop]
                self._buffered = end
                if self._buffered >= self.block_rows:
                    self._write_buffer()
            start = stop

    def _write_buffer(self) -> None:
        if self._buffered:
            n, self._buffered = self._buffered, 0
            self._write([b[:n] for b in self._buffers], n)

    def _write(self, arrays: list[np.ndarray], rows: int) -> None:
        start, stop = self._committed, self._committed + rows
        for dataset, array in zip(self._datasets, arrays, strict=True):
            dataset.resize((stop,))
            dataset[start:stop] = np.asarray(array, dtype=dataset.dtype)
        for dataset in self._datasets:
            dataset.flush()
        self._committed = stop

    def flush(self) -> int:
        """Write the buffered rows (each write flushes its datasets); return the rows committed.
        Nothing buffered, nothing to flush: every committed row was flushed when written."""
        with self._lock:
            self._check_open()
            self._write_buffer()
            return self._committed

    def log_status(self, status: str, message: str = "") -> None:
        """Append (now, status, message) to the status log and flush it.

        For live states such as "running" or "paused"; a terminal status is logged by close().
        """
        if status in TERMINAL_STATUSES:
            raise ConfigError(f"status {status!r} is terminal: end the run with close({status!r})"
                              ", which logs it once")
        if not status or len(status.encode()) > STATUS_DTYPE["status"].itemsize:
            raise ConfigError(f"status {status!r} is invalid: use a short name such as 'paused'")
        with self._lock:
            self._check_open()
            self._log(status, message)

    def _log(self, status: str, message: str) -> None:
        entry = np.array([(time.time(), status.encode(), _truncate(message, MESSAGE_BYTES))],
                         dtype=STATUS_DTYPE)
        n = self._status_log.shape[0]
        self._status_log.resize((n + 1,))
        self._status_log[n:n + 1] = entry
        self._status_log.flush()
        self._status, self._message = status, message

    def close(self, status: str, message: str = "") -> bool:
        """Flush, log the terminal `status`, close the file; False if it was closed already.

        The `on_close` hook runs once the file is closed, also when the flush failed (the run
        is then logged "failed" and the flush error is raised after the hook).
        """
        check_status(status, TERMINAL_STATUSES)
        closing = False
        try:
            with self._lock:
                if self._closed:
                    return False
                closing = True
                try:
                    try:
                        self.flush()
                    except Exception as error:
                        status, message = "failed", f"{message} (flush failed: {error})".strip()
                        raise
                    finally:
                        self._log(status, message)
                finally:
                    self._file.close()
                    self._closed = True
                    self._buffers = []
        finally:
            if closing and self._on_close is not None:
                self._on_close(self)
        return True

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if error is None:
            self.close("completed")
        else:
            self.close("failed", f"{kind.__name__ if kind else 'error'}: {error}")
