"""Sinks subscribe to a run: log, terminal progress bar, and the base class a GUI bridge extends.

Sink methods are called from the run's worker thread; a failing sink is logged, never fatal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import numpy as np

from .states import RunResult, RunState

log = logging.getLogger("labsyn.run")


class RunSink:
    """No-op base: override what you need."""

    def on_start(self, run_id: str, protocol: str, params: Mapping[str, Any]) -> None: ...

    def on_data(self, block: Mapping[str, np.ndarray]) -> None: ...

    def on_progress(self, done: float, total: float, message: str) -> None: ...

    def on_state(self, state: RunState, message: str) -> None: ...

    def on_finish(self, result: RunResult) -> None: ...


class LogSink(RunSink):
    """State changes and the result through `logging` ("labsyn.run")."""

    def on_start(self, run_id: str, protocol: str, params: Mapping[str, Any]) -> None:
        log.info("run %s: %s started with %s", run_id, protocol, dict(params))

    def on_state(self, state: RunState, message: str) -> None:
        log.info("run state %s%s", state, f": {message}" if message else "")

    def on_finish(self, result: RunResult) -> None:
        level = logging.INFO if result.status == RunState.COMPLETED else logging.WARNING
        log.log(level, "run %s %s (%d rows)%s", result.run_id, result.status, result.rows,
                f": {result.message}" if result.message else "")


class ProgressBar(RunSink):
    """A tqdm bar on stderr with the protocol's own progress units and an ETA."""

    def __init__(self, stream: TextIO | None = None, label: str = "") -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self._bar: Any = None

    def on_progress(self, done: float, total: float, message: str) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=total, desc=self.label, file=self.stream, leave=True,
                             dynamic_ncols=True, disable=None,  # None: off when not a TTY
                             bar_format="{l_bar}{bar}| {n:g}/{total:g} "
                                        "[{elapsed}<{remaining}] {postfix}")
        self._bar.total = total
        self._bar.n = done
        self._bar.set_postfix_str(message, refresh=False)
        self._bar.refresh()

    def on_finish(self, result: RunResult) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(str(result.status), refresh=True)
            self._bar.close()
            self._bar = None
