"""Pure analysis functions: arrays in, typed `Estimate`s out."""

from .forming import FormingResult, forming_from_pulses, forming_from_ramp
from .result import DRY_RUN_REASON, Estimate
from .switching import (
    Statistic,
    SwitchingCycle,
    analyse_cycle,
    split_loops,
    switching_statistics,
)

__all__ = [
    "DRY_RUN_REASON", "Estimate", "FormingResult", "Statistic", "SwitchingCycle", "analyse_cycle",
    "forming_from_pulses", "forming_from_ramp", "split_loops", "switching_statistics",
]
