"""SIGINT / SIGTERM while a run is in progress: the first aborts it, the second is an emergency
stop. Handlers live in the main thread (where Python delivers signals) and are restored after."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def abort_on_signals(runner: Any) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        received.append(signum)
        if len(received) == 1:
            runner.abort(f"{name} received")
        else:
            runner.emergency_stop(f"{name} received again: emergency stop")

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    runner.signals_received = received
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
