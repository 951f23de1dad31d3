"""Strict validators for pymeasure properties: a value outside the range raises, nothing clamps.

Each factory names the quantity, so the error says what was wrong and what is allowed, e.g.
``LimitError: source voltage = 300 V is outside the limit: allowed -210 V … 210 V``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

from labsyn.errors import LimitError

Validator = Callable[[Any, Any], Any]


def _number(quantity: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LimitError(quantity, value, "a finite number")
    if math.isnan(value) or math.isinf(value):
        raise LimitError(quantity, value, "a finite number")
    return float(value)


def strict_range(quantity: str, unit: str = "") -> Validator:
    """Validator: ``values = (low, high)``; the value must lie within, inclusive."""
    suffix = f" {unit}" if unit else ""

    def validate(value: Any, values: tuple[float, float]) -> float:
        number = _number(quantity, value)
        low, high = values
        if not low <= number <= high:
            raise LimitError(quantity, f"{value}{suffix}",
                             f"{low:g}{suffix} … {high:g}{suffix}")
        return number

    return validate


def strict_integer_range(quantity: str) -> Validator:
    """Validator: an integer within ``values = (low, high)``."""

    def validate(value: Any, values: tuple[int, int]) -> int:
        number = _number(quantity, value)
        if number != int(number):
            raise LimitError(quantity, value, "an integer")
        low, high = values
        if not low <= number <= high:
            raise LimitError(quantity, value, f"{low} … {high}")
        return int(number)

    return validate


def strict_choice(quantity: str) -> Validator:
    """Validator: one of ``values`` (a collection or the keys of a mapping)."""

    def validate(value: Any, values: Collection[Any] | Mapping[Any, Any]) -> Any:
        allowed = list(values.keys()) if isinstance(values, Mapping) else list(values)
        if isinstance(value, bool) and not all(isinstance(v, bool) for v in allowed):
            raise LimitError(quantity, value, ", ".join(map(repr, allowed)))
        if value not in allowed:
            raise LimitError(quantity, value, ", ".join(map(repr, allowed)))
        return value

    return validate


def check_range(quantity: str, value: Any, low: float, high: float, unit: str = "") -> float:
    """Check one number outside a property (whole-configuration checks)."""
    return strict_range(quantity, unit)(value, (low, high))


def checked(getter: Callable[[Any], Any], setter: Callable[[Any, Any], None], limits: Any,
            doc: str) -> property:
    """A property whose setter checks its value in code rather than by a pymeasure validator.

    `limits`, a ``(low, high)`` range or a list of choices, is what the setter accepts on its own;
    it is kept as ``setter.limits`` for the limit meta-test (tests/drivers/test_limits_meta.py).
    """
    setter.limits = limits  # type: ignore[attr-defined]
    return property(getter, setter, doc=doc)


def limited(getter: Callable[[Any], Any], setter: Callable[[Any, Any], None], low: float,
            high: float, doc: str) -> property:
    """A property whose setter is range-checked by code (for the meta-test: `.limits`)."""
    return checked(getter, setter, (low, high), doc)


def check_source_sequence(sequence: Any, *, nplc: tuple[float, float],
                          current_limit: tuple[float, float], max_voltage: float,
                          envelope: Callable[[float, float], None], max_dwell: float,
                          check_train: Callable[[Any, str, float], None]) -> None:
    """What every SMU checks of a `Sequence` before sending: NPLC, each segment's compliance,
    peak level and power envelope, a staircase's dwell; pulse trains go to `check_train`
    (their timing is the instrument's own)."""
    from .sequence import Staircase

    strict_range("NPLC")(sequence.nplc, nplc)
    for segment in sequence.segments:
        name = segment.label or type(segment).__name__
        strict_range(f"{name} current limit", "A")(segment.current_limit, current_limit)
        peak = max(abs(float(v)) for v in segment.levels)
        strict_range(f"{name} level", "V")(peak, (0.0, max_voltage))
        envelope(peak, segment.current_limit)
        if isinstance(segment, Staircase):
            strict_range(f"{name} dwell", "s")(segment.dwell, (0.0, max_dwell))
        else:
            check_train(segment, name, sequence.nplc)
