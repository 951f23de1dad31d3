"""Clocks: all time in labsyn goes through one of these.

`MonotonicClock` is wall time for real instruments. `SimClock` is the simulator's virtual clock in
one of three modes: *instant* (waits jump; tests), *paced* (virtual time runs at a bounded speed-up
of real time, so Pause and Abort land mid-run) and *real* (virtual time is wall time).
"""

from __future__ import annotations

import threading
import time
from typing import Literal, Protocol

ClockMode = Literal["instant", "paced", "real"]


class Clock(Protocol):
    """What protocols, drivers and the engine need of time."""

    def now(self) -> float:
        """Seconds since an arbitrary origin."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


class MonotonicClock:
    """Wall-clock time for a real bench."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimClock:
    """Virtual time of the simulated bench (thread-safe)."""

    def __init__(self, mode: ClockMode = "instant", speedup: float = 100.0) -> None:
        if mode not in ("instant", "paced", "real"):
            raise ValueError(f"clock mode {mode!r} is not one of 'instant', 'paced', 'real'")
        if mode == "paced" and not speedup > 0:
            raise ValueError(f"clock speedup {speedup!r} must be > 0")
        self.mode: ClockMode = mode
        self.speedup = 1.0 if mode == "real" else float(speedup)
        self._lock = threading.Lock()
        self._virtual = 0.0
        self._real_origin = time.monotonic()

    def now(self) -> float:
        if self.mode == "instant":
            return self._virtual
        return self._virtual + (time.monotonic() - self._real_origin) * self.speedup

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.mode == "instant":
            with self._lock:
                self._virtual += seconds
        else:
            time.sleep(seconds / self.speedup)

    def sleep_until(self, t: float) -> None:
        """Wait until virtual time `t` (no-op if already past)."""
        if self.mode == "instant":
            with self._lock:
                self._virtual = max(self._virtual, t)
        else:
            self.sleep(t - self.now())
