"""Typed analysis results: a number with its uncertainty and unit, or the reason there is none."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A figure of merit: `value ± uncertainty` in `unit`, or `value is None` with a `reason`."""

    value: float | None
    uncertainty: float | None
    unit: str
    reason: str = ""

    @classmethod
    def missing(cls, unit: str, reason: str) -> Estimate:
        """No number: the data cannot support one, for the plain-words `reason`."""
        return cls(None, None, unit, reason)

    @property
    def ok(self) -> bool:
        return self.value is not None and math.isfinite(self.value)

    def __format__(self, spec: str) -> str:
        if not self.ok:
            return f"— ({self.reason})"
        spec = spec or ".4g"
        text = format(self.value, spec)
        if self.uncertainty is not None and math.isfinite(self.uncertainty):
            text += f" ± {format(self.uncertainty, '.2g')}"
        return f"{text} {self.unit}".rstrip()


DRY_RUN_REASON = "no physical data (dry run)"
