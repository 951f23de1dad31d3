"""Run states, the abort signal raised at checkpoints, and what a finished run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # found "running" in the catalog with no live writer

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({RunState.COMPLETED, RunState.ABORTED, RunState.FAILED,
                             RunState.INTERRUPTED})


class AbortRequested(BaseException):
    """Raised at a checkpoint once abort was asked; BaseException so `except Exception` in a
    procedure cannot swallow it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RunResult:
    """What a run ended with: one terminal status, its reason, and the figures of merit."""

    run_id: str
    protocol: str
    status: RunState
    message: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    details: Any = None  # the protocol's per-cycle / per-pulse analysis table, if any
    rows: int = 0
    path: str = ""
    fits: dict[str, Any] = field(default_factory=dict)  # plot name -> fitted curve frame
