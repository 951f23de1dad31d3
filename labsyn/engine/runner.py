"""The Runner: one protocol run in a worker thread, always ending with the station safe.

States: idle → running ⇄ paused → completed | aborted | failed. Exactly one terminal status is
recorded per run; `station.safe_state()` runs on every exit path before the run file is closed.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from labsyn.store import DeviceId

from .context import RunContext, RunControl
from .signals import abort_on_signals
from .sinks import RunSink
from .states import AbortRequested, RunResult, RunState

log = logging.getLogger("labsyn.run")


MEMORY_ROWS = 1_000_000  # rows a run keeps in memory for its analysis (else: the file)
FLUSH_S = 0.1  # s of wall time: buffered rows reach the run file at least this often


class Runner:
    """Run `protocol` with `params` on `station`, storing into `store` (if given)."""

    def __init__(self, station: Any, protocol: Any, params: Mapping[str, Any] | Any = None, *,
                 store: Any = None, device: DeviceId | None = None,
                 sinks: Iterable[RunSink] = ()) -> None:
        self.station = station
        self.protocol = protocol
        self.params = protocol.resolve(protocol.parameters(params), station)
        protocol.check(self.params, station)  # refuse before anything is sent
        self.store = store
        self.device = device or DeviceId()
        self.sinks = list(sinks)
        self.control = RunControl()
        self.state = RunState.IDLE
        self.run_id = ""
        self.result: RunResult | None = None
        self._writer: Any = None
        self._flusher: _Flusher | None = None
        self._memory: list[Mapping[str, np.ndarray]] = []
        self._rows = 0
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    # -- control, from any thread ---------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a Runner runs once; make a new one for the next run")
        self._thread = threading.Thread(target=self._work, name=f"labsyn-{self.protocol.name}")
        self._thread.start()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def abort(self, reason: str = "abort requested") -> None:
        """Stop at the next checkpoint (or within one wait slice); the run ends aborted."""
        self.control.abort(reason)

    def emergency_stop(self, reason: str = "emergency stop") -> None:
        """Abort flag, then each driver's device clear / abort and safe_off, from this thread."""
        self.control.abort(reason)
        try:
            self.station.safe_state()
        except Exception as exc:
            log.critical("emergency stop: safe state failed: %s", exc)

    def wait(self, timeout: float | None = None) -> RunResult | None:
        self._done.wait(timeout)
        if self._thread is not None and self._done.is_set():
            self._thread.join()
        return self.result

    def run(self) -> RunResult:
        """Start and wait in this thread; SIGINT/SIGTERM abort (twice: emergency stop)."""
        with abort_on_signals(self):
            self.start()
            while not self._done.wait(0.05):
                pass
        assert self.result is not None
        return self.result

    # -- the worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        status, message = RunState.FAILED, ""
        try:
            if self.store is not None:
                self._writer = self.store.create_run(
                    self.protocol.name, self.protocol.columns, self.params.model_dump(),
                    self.station.snapshot(), self.device)
                self.run_id = self._writer.run_id
                self._flusher = _Flusher(self._writer, self.run_id)
            self._notify("on_start", self.run_id, self.protocol.name, self.params.model_dump())
            self._set_state(RunState.RUNNING)
            if self.control.abort_requested:
                raise AbortRequested(self.control.reason)
            self.station.arm()  # outputs were held off by the last safe state
            self.protocol.run(self._context())
            status = RunState.COMPLETED
        except AbortRequested as exc:
            status, message = RunState.ABORTED, exc.reason
        except Exception as exc:
            log.error("run %s failed:\n%s", self.run_id, traceback.format_exc())
            status, message = RunState.FAILED, f"{type(exc).__name__}: {exc}"
            if self.control.abort_requested:
                status, message = RunState.ABORTED, f"{self.control.reason} (then {message})"
        finally:
            try:
                status, message = self._make_safe(status, message)
                self._finish(status, message)
            finally:
                self._done.set()  # whatever a sink did, waiters are released

    def _make_safe(self, status: RunState, message: str) -> tuple[RunState, str]:
        try:
            self.station.safe_state()
        except Exception as exc:
            log.critical("run %s: safe state failed: %s", self.run_id, exc)
            note = f"safe state failed: {exc}"
            return RunState.FAILED, f"{message}; {note}" if message else note
        return status, message

    def _finish(self, status: RunState, message: str) -> None:
        path = ""
        if self._flusher is not None:
            self._flusher.stop()  # closing the file flushes what is left
        try:
            if self._writer is not None:
                path = str(getattr(self._writer, "path", ""))
                self.store.finish(self._writer, str(status), message)
        except Exception as exc:
            log.critical("run %s: closing the run file failed: %s", self.run_id, exc)
            status, message = RunState.FAILED, f"{message}; run file: {exc}".lstrip("; ")
        analysis = self._analyse(status)
        figures = analysis.figures if analysis is not None else {}
        if status == RunState.ABORTED:  # a missing figure says so, not "the device did not…"
            figures = {name: f if f.ok else replace(f, reason=f"run aborted ({message}); "
                                                          f"{f.reason}")
                       for name, f in figures.items()}
        if figures and self.store is not None and self.run_id:
            try:
                self.store.set_figures(self.run_id, figures)
            except Exception as exc:
                log.error("run %s: storing figures failed: %s", self.run_id, exc)
        self.result = RunResult(self.run_id, self.protocol.name, status, message, figures,
                                analysis.details if analysis is not None else None,
                                self._rows, path,
                                analysis.fits if analysis is not None else {})
        self.state = status
        self._notify("on_state", status, message)
        self._notify("on_finish", self.result)

    def _analyse(self, status: RunState) -> Any:
        if status not in (RunState.COMPLETED, RunState.ABORTED) or self._rows == 0:
            return None
        if self.station.dry_run:
            return self.protocol.dry_run_analysis()
        try:
            if getattr(self.protocol, "streams_analysis", False):
                return self.protocol.analyse_blocks(self.data_blocks(), self.params)
            return self.protocol.analyse(self.data(), self.params)
        except Exception:
            log.error("run %s: analysis failed:\n%s", self.run_id, traceback.format_exc())
            return None

    def data(self) -> pd.DataFrame:
        """The run's data so far: from memory while the run is short (≤ `MEMORY_ROWS` rows)
        or has no store, else from the run file."""
        kept = sum(len(next(iter(b.values()))) for b in self._memory if b)
        if self.store is not None and self.run_id and kept < self._rows:
            return self.store.load(self.run_id).data
        if not self._memory:
            return pd.DataFrame({c.name: np.empty(0, c.dtype) for c in self.protocol.columns})
        return pd.DataFrame({c.name: np.concatenate([b[c.name] for b in self._memory]).astype(
            c.dtype, copy=False) for c in self.protocol.columns})

    def data_blocks(self, rows: int = 65536) -> Iterator[pd.DataFrame]:
        """The run's data in blocks of `rows`, read from the run file (flat memory)."""
        path = getattr(self._writer, "path", None)
        if self.store is None or not self.run_id or path is None:
            yield self.data()
            return
        import h5py  # the store's file format; read here block by block

        names = [c.name for c in self.protocol.columns]
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            datasets = [f["data"][name] for name in names]
            total = min(d.shape[0] for d in datasets)
            for start in range(0, total, rows):
                stop = min(start + rows, total)
                yield pd.DataFrame({n: d[start:stop] for n, d in zip(names, datasets,
                                                                     strict=True)})

    # -- what the context reports -------------------------------------------------------------
    def _context(self) -> RunContext:
        return RunContext(self.station, self.params, self.control, self._on_data,
                          lambda done, total, msg: self._notify("on_progress", done, total, msg),
                          lambda text: log.info("run %s: %s", self.run_id, text),
                          self._on_pause)

    def _on_data(self, block: Mapping[str, np.ndarray]) -> None:
        rows = len(next(iter(block.values()))) if block else 0
        if self._writer is not None:
            self._writer.append(block)  # on disk within FLUSH_S (the flusher), or at close
        if self._writer is None or self._rows + rows <= MEMORY_ROWS:
            self._memory.append(dict(block))  # the analysis reads these, not the file back
        else:
            self._memory.clear()  # too long to keep: the analysis reads the run file
        self._rows += rows
        self._notify("on_data", block)

    def _on_pause(self, paused: bool) -> None:
        self._set_state(RunState.PAUSED if paused else RunState.RUNNING)
        if self._writer is not None:
            self._writer.log_status(str(self.state))

    def _set_state(self, state: RunState, message: str = "") -> None:
        self.state = state
        self._notify("on_state", state, message)

    def _notify(self, method: str, *args: Any) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, method)(*args)
            except BaseException:  # a sink (even one calling sys.exit) never stops a run
                log.error("sink %r %s failed:\n%s", sink, method, traceback.format_exc())


class _Flusher:
    """Flushes a run file's buffered rows every `FLUSH_S` of wall time from its own thread, so
    a crash loses at most the last `FLUSH_S` of data however the protocol waits (on the clock or
    inside an instrument-side sequence), and emitting many small blocks costs no flush each."""

    def __init__(self, writer: Any, run_id: str) -> None:
        self._writer = writer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"labsyn-flush-{run_id}",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_S):
            try:
                self._writer.flush()
            except Exception as exc:  # the run's own writes report the real problem
                log.warning("flushing the run file failed: %s", exc)
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
