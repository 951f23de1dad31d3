"""Pure analysis functions: arrays in, typed `Estimate`s out."""

from .result import DRY_RUN_REASON, Estimate

__all__ = ["DRY_RUN_REASON", "Estimate"]
