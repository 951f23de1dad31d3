"""Batch recipes: a recipe (labsyn.batch.recipe) plus wafer-level conditions and limits.

```yaml
name: wafer-characterise
steps: [...]                      # as in a recipe
wafer:
  min_yield: 0.5                  # stop the wafer when passed / measured falls below this ...
  yield_after: 10                 # ... once this many devices were measured
  retries: 1                      # an instrument fault on a device: safe state, retry, then failed
  limits: {max_voltage: {TE: 4.0}, max_current_limit: 5.0e-4}   # no looser than the station's
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labsyn.errors import ConfigError
from labsyn.yaml_source import Lines, line_of, load_yaml

from .recipe import Recipe, parse_recipe

WAFER_KEYS = ("min_yield", "yield_after", "retries", "limits")
LIMIT_KEYS = ("max_voltage", "max_device_voltage", "max_current_limit")


@dataclass(frozen=True)
class WaferConditions:
    min_yield: float = 0.0
    yield_after: int = 10
    retries: int = 1
    limits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchRecipe:
    recipe: Recipe
    wafer: WaferConditions = field(default_factory=WaferConditions)
    source: str = "<batch recipe>"

    @property
    def name(self) -> str:
        return self.recipe.name

    def fingerprint(self) -> str:
        """What a resumed run must match: the steps and the wafer conditions."""
        return repr((self.recipe.name, [(s.name, s.protocol, sorted(
            (k, str(v)) for k, v in s.params.items())) for s in self.recipe.steps], self.wafer))


def load_batch_recipe(path: str | Path) -> BatchRecipe:
    """Read and validate a batch recipe; `ConfigError` names file, line, step and key."""
    data, lines = load_yaml(path, "batch recipe")
    return parse_batch_recipe(data, str(path), lines)


def parse_batch_recipe(data: Any, source: str = "<batch recipe>",
                       lines: Lines | None = None) -> BatchRecipe:
    lines = lines or {}

    def fail(loc: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(f"{source}:{line_of(lines, loc)}: {'.'.join(loc)}: {message}")

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a batch recipe is a mapping with name, steps, wafer")
    unknown = set(data) - {"name", "steps", "wafer"}
    if unknown:
        raise fail((sorted(unknown)[0],), "unknown key; a batch recipe has keys name, steps, "
                   "wafer")
    recipe = parse_recipe({k: v for k, v in data.items() if k != "wafer"}, source, lines)
    return BatchRecipe(recipe, _conditions(data.get("wafer") or {}, fail), source)


def _conditions(raw: Any, fail: Callable[..., ConfigError]) -> WaferConditions:
    if not isinstance(raw, dict):
        raise fail(("wafer",), f"a mapping with keys {', '.join(WAFER_KEYS)}")
    for key in raw:
        if key not in WAFER_KEYS:
            raise fail(("wafer", str(key)), f"unknown key; allowed: {', '.join(WAFER_KEYS)}")
    min_yield = raw.get("min_yield", 0.0)
    if isinstance(min_yield, bool) or not isinstance(min_yield, int | float) or \
            not 0 <= min_yield <= 1:
        raise fail(("wafer", "min_yield"), f"{min_yield!r}: a fraction 0 … 1")
    counts = {}
    for key, default, high in (("yield_after", 10, 1_000_000), ("retries", 1, 5)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise fail(("wafer", key), f"{value!r}: an integer 0 … {high}")
        counts[key] = value
    limits = raw.get("limits") or {}
    if not isinstance(limits, dict):
        raise fail(("wafer", "limits"), f"a mapping with keys {', '.join(LIMIT_KEYS)}")
    for key, value in limits.items():
        loc = ("wafer", "limits", str(key))
        if key not in LIMIT_KEYS:
            raise fail(loc, f"unknown limit; allowed: {', '.join(LIMIT_KEYS)}")
        if key == "max_voltage":
            if not isinstance(value, dict) or not all(_positive(v) for v in value.values()):
                raise fail(loc, "a mapping terminal -> max |V| (positive), e.g. {TE: 4.0}")
        elif not _positive(value):
            raise fail(loc, f"{value!r}: a positive number")
    return WaferConditions(float(min_yield), counts["yield_after"], counts["retries"],
                           dict(limits))


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0


def tightened_limits(batch: BatchRecipe, station_config: Any) -> Any:
    """The station's limits with the batch recipe's applied; a looser one is refused, naming
    the key. Returns a `Limits` (the station's own when the recipe sets none)."""
    limits = station_config.limits
    asked = batch.wafer.limits
    if not asked:
        return limits
    where = f"{batch.source}: wafer.limits"
    update: dict[str, Any] = {}
    for key in ("max_device_voltage", "max_current_limit"):
        if key in asked:
            own = getattr(limits, key)
            if asked[key] > own:
                raise ConfigError(f"{where}.{key} = {asked[key]:g} is looser than station "
                                  f"{station_config.name!r}'s {own:g}; allowed ≤ {own:g}")
            update[key] = float(asked[key])
    if "max_voltage" in asked:
        per_terminal = dict(limits.max_voltage)
        for terminal, value in asked["max_voltage"].items():
            if terminal not in station_config.terminals:
                raise ConfigError(f"{where}.max_voltage.{terminal}: no such terminal on station "
                                  f"{station_config.name!r} (terminals: "
                                  f"{', '.join(station_config.terminals)})")
            own = per_terminal.get(terminal, limits.max_device_voltage)
            if value > own:
                raise ConfigError(f"{where}.max_voltage.{terminal} = {value:g} V is looser than "
                                  f"station {station_config.name!r}'s {own:g} V; allowed ≤ "
                                  f"{own:g} V")
            per_terminal[terminal] = float(value)
        update["max_voltage"] = per_terminal
    return limits.model_copy(update=update)
