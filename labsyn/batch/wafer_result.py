"""What a wafer run reports: one outcome per device, and the wafer's result (counts, running
yield, why it stopped, times, and its per-device table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ledger import DeviceKey
from .recipe_runner import RecipeResult
from .wafer_map import Die, WaferMap, die_id


@dataclass
class DeviceOutcome:
    die: Die
    subsite: str
    device: str
    status: str  # passed | failed | dead | skipped
    reason: str = ""
    remeasured: bool = False
    attempts: int = 0
    steps: dict[str, str] = field(default_factory=dict)  # step -> run id
    recipe: RecipeResult | None = None
    from_ledger: bool = False  # finished in an earlier (interrupted) process

    @property
    def key(self) -> DeviceKey:
        return die_id(self.die), self.subsite, self.device


@dataclass
class WaferResult:
    wafer: str
    store: Any
    outcomes: list[DeviceOutcome] = field(default_factory=list)
    stopped: str = ""  # why the wafer stopped early ("" when it ran to the end)
    elapsed_virtual_s: float = 0.0
    elapsed_wall_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def running_yield(self) -> float | None:
        measured = sum(o.status in ("passed", "failed", "dead") for o in self.outcomes)
        return self.count("passed") / measured if measured else None

    wafer_map: WaferMap | None = None
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step name, protocol)

    def table(self) -> Any:
        """One row per device (labsyn.batch.results.device_table), the map's skipped dies
        included."""
        from . import results

        skipped = results.map_skips(self.wafer_map) if self.wafer_map is not None else []
        return results.device_table(self.store, self.wafer, steps=self.steps or None,
                                    skipped=skipped)
