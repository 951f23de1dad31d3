"""SIGINT / SIGTERM while a run is in progress: the first aborts it, the second is an emergency
stop. Handlers live in the main thread (where Python delivers signals) and are restored after."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
log = logging.getLogger("labsyn.run")


@contextmanager
def abort_on_signals(runner: Any) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        """Only set flags and start threads here: the handler interrupts the main thread
        wherever it is, possibly inside a driver call."""
        name = signal.Signals(signum).name
        received.append(signum)
        if len(received) == 1:
            runner.abort(f"{name} received")
        elif len(received) == 2:  # once: the emergency stop runs in its own thread
            threading.Thread(target=runner.emergency_stop, name="labsyn-emergency-stop",
                             args=(f"{name} received again: emergency stop",),
                             daemon=True).start()
        else:
            log.warning("%s received again; the emergency stop is already under way", name)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    runner.signals_received = received
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
