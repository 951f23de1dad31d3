"""Terminal progress of a wafer: devices done (with tqdm's ETA), dies done, yield so far.
Silent when stderr is not a terminal (a log file, a test), unless forced."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class WaferProgress:
    """A tqdm bar over the devices of a wafer; `disable=None` hides it off a TTY."""

    def __init__(self, total_devices: int, total_dies: int, label: str = "wafer",
                 enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total_dies = total_dies
        self.dies_done = 0
        self.passed = 0
        self.measured = 0
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total_devices, desc=label, unit="device",
                             file=stream or sys.stderr, disable=None, dynamic_ncols=True)

    @property
    def running_yield(self) -> float | None:
        return self.passed / self.measured if self.measured else None

    def device(self, status: str, already: bool = False) -> None:
        """One device done (`already`: found finished in the ledger on resume)."""
        if status in ("passed", "failed", "dead"):
            self.measured += 1
            self.passed += status == "passed"
        if self._bar is not None:
            self._bar.update(1)
            self._show()

    def die(self) -> None:
        self.dies_done += 1
        self._show()

    def _show(self) -> None:
        if self._bar is None:
            return
        shown = "–" if self.running_yield is None else f"{100 * self.running_yield:.0f}%"
        self._bar.set_postfix_str(f"dies {self.dies_done}/{self.total_dies}, yield {shown}",
                                  refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
