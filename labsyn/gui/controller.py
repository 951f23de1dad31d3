"""Runs GUI jobs one after another: the engine works in its own threads, Qt sees signals.

A `_Bridge` sink receives the Runner's callbacks on the worker thread and re-emits them as Qt
signals; the controller's slots are connected with queued connections, so every GUI change
happens on the GUI thread. A failed (or aborted) job stops the queue and says why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from labsyn.engine import Runner, RunResult, RunSink, RunState
from labsyn.protocols import get_protocol
from labsyn.store import DeviceId

log = logging.getLogger("labsyn.gui")
QUEUED = Qt.ConnectionType.QueuedConnection


@dataclass
class Job:
    """One thing to run on the device: a protocol with parameters, or a recipe."""

    kind: str  # "protocol" | "recipe"
    name: str  # protocol name, or the recipe's name
    params: Any = field(default_factory=dict)  # dict for a protocol, a Recipe for a recipe
    device: DeviceId = field(default_factory=DeviceId)
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("protocol", "recipe"):
            raise ValueError(f"job kind {self.kind!r} is not 'protocol' or 'recipe'")
        if not self.label:
            self.label = self.name


class _Bridge(QObject, RunSink):
    """RunSink on the worker thread -> Qt signals (delivered queued to the GUI thread)."""

    state = Signal(str, str)
    data = Signal(object)
    progress = Signal(float, float, str)
    finished = Signal(object)
    step_started = Signal(object, object)  # job, protocol (recipe steps)
    recipe_done = Signal(object, object)  # job, RecipeResult | Exception

    def on_state(self, state: RunState, message: str) -> None:
        self.state.emit(str(state), message)

    def on_data(self, block: Mapping[str, Any]) -> None:
        self.data.emit(dict(block))

    def on_progress(self, done: float, total: float, message: str) -> None:
        self.progress.emit(float(done), float(total), str(message))

    def on_finish(self, result: RunResult) -> None:
        self.finished.emit(result)


class RunController(QObject):
    """Start / queue / pause / resume / abort jobs on the holder's station, into `store`."""

    state_changed = Signal(str, str)
    progress = Signal(float, float, str)
    data_block = Signal(object)
    job_started = Signal(object)  # (Job, protocol)
    run_finished = Signal(object)  # RunResult
    queue_stopped = Signal(str)  # "done", or why it stopped
    queue_changed = Signal()
    eta = Signal(float)

    def __init__(self, holder: Any, store: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.holder = holder  # anything with `.station`
        self.store = store
        self.queue: list[Job] = []
        self.current: Job | None = None
        self.runner: Runner | None = None
        self.state = str(RunState.IDLE)
        self.halted = ""  # why the queue stopped (a failure or an abort), until restarted
        self._thread: threading.Thread | None = None  # a recipe's thread
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._bridge = _Bridge()
        self._bridge.state.connect(self._on_state, QUEUED)
        self._bridge.data.connect(self.data_block, QUEUED)
        self._bridge.progress.connect(self._on_progress, QUEUED)
        self._bridge.finished.connect(self._on_finished, QUEUED)
        self._bridge.step_started.connect(self._on_step_started, QUEUED)
        self._bridge.recipe_done.connect(self._on_recipe_done, QUEUED)

    # -- the queue ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, job: Job) -> bool:
        """Run `job` now (or, when busy, put it first in the queue)."""
        if self.busy:
            self.queue.insert(0, job)
            self.queue_changed.emit()
            return False
        return self._launch(job)

    def enqueue(self, job: Job) -> None:
        """Append `job`; it starts at once when idle, unless a failure halted the queue
        (then `run_queue()` goes on)."""
        self.queue.append(job)
        self.queue_changed.emit()
        if not self.busy and not self.halted:
            self._next()

    def run_queue(self) -> None:
        """Go on with the queue after it stopped."""
        self.halted = ""
        if not self.busy:
            self._next()

    def remove(self, index: int) -> None:
        if 0 <= index < len(self.queue):
            del self.queue[index]
            self.queue_changed.emit()

    def clear_queue(self) -> None:
        self.queue.clear()
        self.queue_changed.emit()

    # -- run control ----------------------------------------------------------------------------
    def pause(self) -> None:
        if self.runner is not None:
            self.runner.pause()

    def resume(self) -> None:
        if self.runner is not None:
            self.runner.resume()

    def abort(self, reason: str = "aborted by the operator") -> None:
        """Abort the running job; the queue stops (it is kept, to restart by hand)."""
        if not self.busy:
            return
        self._abort.set()
        with self._lock:
            runner = self.runner
        if runner is not None:
            runner.abort(reason)

    def emergency_off(self, reason: str = "emergency off") -> None:
        """Every output off now, running or idle; the queue is cleared."""
        self.clear_queue()
        if self.busy:
            self._abort.set()
        with self._lock:
            runner = self.runner
        if runner is not None and self.busy:
            runner.emergency_stop(reason)
        else:
            station = getattr(self.holder, "station", None)
            if station is not None:
                station.safe_state()
        self.state_changed.emit(self.state, reason)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the engine threads are done (for shutdown); True if they are."""
        deadline = time.monotonic() + timeout
        with self._lock:
            runner, thread = self.runner, self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
        if runner is not None:
            runner.wait(max(0.0, deadline - time.monotonic()))
            if runner._thread is not None and runner._thread.is_alive():
                return False
        return True

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Clear the queue, abort, wait for the run to end safely."""
        self.clear_queue()
        self.abort("the GUI is closing")
        return self.wait(timeout)

    # -- launching ------------------------------------------------------------------------------
    def _next(self) -> None:
        if self.queue:
            job = self.queue.pop(0)
            self.queue_changed.emit()
            self._launch(job)

    def _launch(self, job: Job) -> bool:
        station = getattr(self.holder, "station", None)
        if station is None:
            self._halt(f"{job.label}: no station is open")
            return False
        self._abort.clear()
        self.halted = ""
        self.current = job
        self._started_at = time.monotonic()
        try:
            if job.kind == "recipe":
                self._launch_recipe(job, station)
            else:
                self._launch_protocol(job, station)
        except Exception as exc:  # refused before anything was sent (ConfigError, LimitError)
            self.current, self.runner = None, None
            self._halt(f"{job.label}: refused: {exc}")
            return False
        return True

    def _launch_protocol(self, job: Job, station: Any) -> None:
        protocol = get_protocol(job.name)
        runner = Runner(station, protocol, dict(job.params or {}), store=self.store,
                        device=job.device, sinks=[self._bridge])
        with self._lock:
            self.runner = runner
        self.job_started.emit((job, protocol))
        runner.start()

    def _launch_recipe(self, job: Job, station: Any) -> None:
        from labsyn.batch import check_recipe, run_recipe

        recipe = job.params
        check_recipe(recipe, station)

        def hook(runner: Runner) -> None:
            with self._lock:
                self.runner = runner
            self._bridge.step_started.emit(job, runner.protocol)
            if self._abort.is_set():
                runner.abort("aborted by the operator")

        def work() -> None:
            try:
                outcome: Any = run_recipe(recipe, station, store=self.store, device=job.device,
                                          sinks=[self._bridge], runner_hook=hook)
            except Exception as exc:
                outcome = exc
            self._bridge.recipe_done.emit(job, outcome)

        self._thread = threading.Thread(target=work, name=f"labsyn-recipe-{job.name}")
        self._thread.start()

    # -- bridged callbacks (GUI thread) ---------------------------------------------------------
    def _on_state(self, state: str, message: str) -> None:
        self.state = state
        self.state_changed.emit(state, message)

    def _on_progress(self, done: float, total: float, message: str) -> None:
        self.progress.emit(done, total, message)
        if 0 < done <= total:
            elapsed = time.monotonic() - self._started_at
            self.eta.emit(elapsed / done * (total - done))

    def _on_step_started(self, job: Job, protocol: Any) -> None:
        self._started_at = time.monotonic()
        self.job_started.emit((job, protocol))

    def _on_finished(self, result: RunResult) -> None:
        self.run_finished.emit(result)
        job = self.current
        if job is None or job.kind == "recipe":
            return  # a recipe step: the recipe thread goes on
        with self._lock:
            runner = self.runner
        if runner is not None:
            runner.wait(10)  # the worker ends right after on_finish
        if result.status == RunState.COMPLETED:
            self._job_done(job, "")
        else:
            why = f"{result.status}" + (f": {result.message}" if result.message else "")
            self._job_done(job, f"{job.label}: {why}")

    def _on_recipe_done(self, job: Job, outcome: Any) -> None:
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if isinstance(outcome, Exception):
            self._job_done(job, f"{job.label}: refused: {outcome}")
        elif outcome.passed:
            self._job_done(job, "")
        else:
            bad = next((o for o in outcome.outcomes if not o.passed), None)
            why = f"step {bad.step}: {bad.status}" + (f": {bad.reason}" if bad.reason else "") \
                if bad is not None else "did not pass"
            self._job_done(job, f"{job.label}: {why}")

    def _halt(self, why: str) -> None:
        self.halted = why
        self.queue_stopped.emit(why)

    def _job_done(self, job: Job, failure: str) -> None:
        with self._lock:
            self.current, self.runner = None, None
        if failure:
            self._halt(failure)
        elif self._abort.is_set():
            self._halt(f"{job.label}: aborted")
        elif self.queue:
            self._next()
        else:
            self.queue_stopped.emit("done")
