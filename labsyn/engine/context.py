"""What a procedure sees while it runs: checkpoints, sliced waits, data and progress."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from labsyn.clock import Clock

from .states import AbortRequested

SLICE_S = 0.05  # longest uninterrupted wait, in clock time: an abort lands within 100 ms
PAUSE_POLL_S = 0.02  # real seconds between looks at the flags while paused


class RunControl:
    """Thread-safe pause / abort flags, set from any thread, honoured at checkpoints."""

    def __init__(self) -> None:
        self._abort = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._lock = threading.Lock()  # pause and abort change both flags together
        self.reason = ""

    def abort(self, reason: str = "abort requested") -> None:
        with self._lock:
            if not self._abort.is_set():
                self.reason = reason
            self._abort.set()
            self._running.set()

    def pause(self) -> None:
        with self._lock:
            if not self._abort.is_set():
                self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    @property
    def pause_requested(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        while not self._running.wait(PAUSE_POLL_S) and not self._abort.is_set():
            pass


class RunContext:
    """Handed to `Protocol.run(ctx)`: the station, parameters, clock and the run's sinks."""

    def __init__(self, station: Any, params: Any, control: RunControl,
                 emit: Callable[[Mapping[str, np.ndarray]], None],
                 progress: Callable[[float, float, str], None],
                 log: Callable[[str], None],
                 on_pause: Callable[[bool], None]) -> None:
        self.station = station
        self.params = params
        self.clock: Clock = station.clock
        self.control = control
        self.dry_run: bool = bool(getattr(station, "dry_run", False))
        self._emit = emit
        self._progress = progress
        self._log = log
        self._on_pause = on_pause

    def checkpoint(self) -> None:
        """Pause here if asked (until resumed or aborted); raise `AbortRequested` if aborted."""
        if self.control.pause_requested and not self.control.abort_requested:
            self._on_pause(True)
            self.control.wait_while_paused()
            if not self.control.abort_requested:
                self._on_pause(False)
        if self.control.abort_requested:
            raise AbortRequested(self.control.reason)

    def should_abort(self) -> bool:
        """For drivers' instrument-side waits: True once abort was asked."""
        return self.control.abort_requested

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of clock time in slices; abort lands within one slice. An instant
        (simulated) clock jumps in one step: nothing can land inside a wait that takes no time,
        and slicing a long virtual wait would only cost host time."""
        if getattr(self.clock, "mode", None) == "instant":
            self.checkpoint()
            self.clock.sleep(seconds)
            self.checkpoint()
            return
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self.checkpoint()
            self.clock.sleep(min(SLICE_S, left))
        self.checkpoint()

    def emit(self, block: Mapping[str, Any]) -> None:
        """Data: a block of rows, column name -> array (or scalar for one row)."""
        arrays = {k: np.atleast_1d(np.asarray(v)) for k, v in block.items()}
        self._emit(arrays)

    def progress(self, done: float, total: float, message: str = "") -> None:
        self._progress(done, total, message)

    def log(self, message: str) -> None:
        self._log(message)
