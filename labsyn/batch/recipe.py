"""Recipes: an ordered list of protocol steps with parameters, hand-on references and pass
conditions, read from YAML and validated before anything runs.

```yaml
name: characterise
steps:
  - protocol: forming
    require: {v_form: ok}              # the step fails unless V_form was measured
  - {name: seek, protocol: switch-seeker}
  - protocol: ltp-ltd
    params:
      v_ltp: ${seek.v_set_threshold * 1.1}    # hand a figure of an earlier step on
      v_ltd: ${seek.v_reset_threshold * 1.1}
    on_fail: continue                  # default: stop, skipping the remaining steps
```
A reference is `${step.figure}`, optionally inside `abs(...)` and followed by `* k`, `+ k` or
`- k`. A condition is `ok`, `missing`, or a comparison such as `">= 5"`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from labsyn.errors import ConfigError
from labsyn.protocols import PROTOCOLS, get_protocol
from labsyn.yaml_source import Lines, line_of, load_yaml

_REFERENCE = re.compile(r"^\$\{\s*(abs\(\s*)?([\w-]+)\.(\w+)\s*(\))?\s*(?:([*+-])\s*"
                        r"([0-9.]+(?:[eE][+-]?\d+)?))?\s*\}$")
_COMPARISON = re.compile(r"^(>=|<=|==|!=|>|<)\s*(-?[0-9.]+(?:[eE][+-]?\d+)?)$")
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt}
STEP_KEYS = ("name", "protocol", "params", "require", "on_fail")


@dataclass(frozen=True)
class Reference:
    """A figure of an earlier step, handed on as a parameter value: `op(|x| or x, number)`."""

    step: str
    figure: str
    absolute: bool = False
    op: str = ""
    number: float = 0.0
    text: str = ""

    def value(self, figure: float) -> float:
        x = abs(figure) if self.absolute else figure
        if self.op == "*":
            return x * self.number
        if self.op == "+":
            return x + self.number
        if self.op == "-":
            return x - self.number
        return x


@dataclass(frozen=True)
class Condition:
    """`figure ok`, `figure missing`, or `figure <op> number`."""

    figure: str
    test: str  # "ok", "missing" or a comparison operator
    number: float = 0.0

    def holds(self, estimate: Any) -> bool:
        if self.test == "missing":
            return estimate is None or not estimate.ok
        if estimate is None or not estimate.ok:
            return False
        return self.test == "ok" or COMPARE[self.test](float(estimate.value), self.number)

    def __str__(self) -> str:
        return f"{self.figure} {self.test}" + (f" {self.number:g}" if self.test in COMPARE
                                                else "")


@dataclass(frozen=True)
class RecipeStep:
    name: str
    protocol: str
    params: Mapping[str, Any] = field(default_factory=dict)
    require: tuple[Condition, ...] = ()
    on_fail: Literal["stop", "continue"] = "stop"
    line: int = 1

    @property
    def references(self) -> dict[str, Reference]:
        return {k: v for k, v in self.params.items() if isinstance(v, Reference)}

    def literal_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if not isinstance(v, Reference)}


@dataclass(frozen=True)
class Recipe:
    name: str
    steps: tuple[RecipeStep, ...]
    source: str = "<recipe>"

    def step(self, name: str) -> RecipeStep:
        return next(s for s in self.steps if s.name == name)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Recipe:
        """A copy with `overrides[step name]` merged into that step's parameters."""
        names = [s.name for s in self.steps]
        for name in overrides:
            if name not in names:
                raise ConfigError(f"{self.source}: no step named {name!r} to override; "
                                  f"steps: {', '.join(names)}")
        return replace(self, steps=tuple(
            replace(s, params={**s.params, **overrides.get(s.name, {})}) for s in self.steps))


def recipe_summary(recipe: Recipe) -> str:
    """One line per step: name (protocol), parameters, requirements, on_fail."""
    lines = [f"recipe {recipe.name} — {len(recipe.steps)} steps ({recipe.source})"]
    for number, step in enumerate(recipe.steps, 1):
        params = ", ".join(f"{k}={getattr(v, 'text', '') or v}" for k, v in step.params.items())
        require = ", ".join(str(c) for c in step.require)
        lines.append(f"{number}. {step.name} ({step.protocol})"
                     + (f": {params}" if params else "")
                     + (f"; require {require}" if require else "")
                     + (f"; on_fail {step.on_fail}" if step.on_fail != "stop" else ""))
    return "\n".join(lines)


def is_recipe_file(argument: str) -> bool:
    return argument.endswith((".yaml", ".yml")) or Path(argument).is_file()


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe; a `ConfigError` names file, line, step and key."""
    data, lines = load_yaml(path, "recipe")
    return parse_recipe(data, str(path), lines)


def parse_recipe(data: Any, source: str = "<recipe>", lines: Lines | None = None) -> Recipe:
    lines = lines or {}

    def fail(loc: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(f"{source}:{line_of(lines, loc)}: {'.'.join(loc)}: {message}")

    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise ConfigError(f"{source}: a recipe is a mapping with a non-empty list `steps` "
                          "(each step: protocol, params, require, on_fail)")
    unknown = set(data) - {"name", "steps"}
    if unknown:
        raise fail((sorted(unknown)[0],), "unknown key; a recipe has keys name, steps")
    steps: list[RecipeStep] = []
    for index, raw in enumerate(data["steps"]):
        steps.append(_step(raw, index, steps, fail, line_of(lines, ("steps", str(index)))))
    return Recipe(str(data.get("name") or Path(source).stem), tuple(steps), source)


def _step(raw: Any, index: int, earlier: list[RecipeStep], fail: Callable[..., ConfigError],
          line: int) -> RecipeStep:
    loc = ("steps", str(index))
    if not isinstance(raw, dict) or "protocol" not in raw:
        raise fail(loc, "a step is a mapping with at least `protocol`")
    for key in raw:
        if key not in STEP_KEYS:
            raise fail((*loc, str(key)), f"unknown step key; allowed: {', '.join(STEP_KEYS)}")
    protocol_name = str(raw["protocol"])
    if protocol_name not in PROTOCOLS:
        raise fail((*loc, "protocol"), f"unknown protocol {protocol_name!r}; protocols: "
                   f"{', '.join(PROTOCOLS)}")
    name = str(raw.get("name") or protocol_name)
    if any(s.name == name for s in earlier):
        raise fail((*loc, "name"), f"step name {name!r} is used twice; give each step its own "
                   "`name`")
    protocol = get_protocol(protocol_name)
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise fail((*loc, "params"), "params is a mapping of parameter: value")
    parsed = {str(k): _value(v, (*loc, "params", str(k)), earlier, fail)
              for k, v in params.items()}
    step_name = f"step {name!r} ({protocol_name})"
    for key, ref in ((k, v) for k, v in parsed.items() if isinstance(v, Reference)):
        if key not in protocol.Parameters.model_fields:
            raise fail((*loc, "params", key), f"{step_name}: unknown parameter; parameters: "
                       f"{', '.join(protocol.Parameters.model_fields)}")
        _check_reference(ref, earlier, fail, (*loc, "params", key))
    try:
        protocol.parameters({k: v for k, v in parsed.items() if not isinstance(v, Reference)})
    except ConfigError as exc:
        named = re.search(r"parameter '?(\w+)'?", str(exc))
        key = (named.group(1),) if named and named.group(1) in params else ()
        raise fail((*loc, "params", *key), f"{step_name}: {exc}") from None
    on_fail = raw.get("on_fail", "stop")
    if on_fail not in ("stop", "continue"):
        raise fail((*loc, "on_fail"), f"{on_fail!r}: allowed stop | continue")
    require = _conditions(raw.get("require") or {}, protocol, (*loc, "require"), fail)
    return RecipeStep(name, protocol_name, parsed, require, on_fail, line)


def _value(value: Any, loc: tuple[str, ...], earlier: list[RecipeStep],
           fail: Callable[..., ConfigError]) -> Any:
    if not (isinstance(value, str) and value.strip().startswith("${")):
        return value
    match = _REFERENCE.match(value.strip())
    if not match or bool(match.group(1)) != bool(match.group(4)):
        raise fail(loc, f"{value!r} is not a reference; write ${{step.figure}}, optionally "
                   "abs(...) and * k, + k or - k, e.g. ${seek.v_set_threshold * 1.1}")
    absolute, step, figure, _, op, number = match.groups()
    return Reference(step, figure, bool(absolute), op or "", float(number or 0.0), value)


def _check_reference(ref: Reference, earlier: list[RecipeStep],
                     fail: Callable[..., ConfigError], loc: tuple[str, ...]) -> None:
    source = next((s for s in earlier if s.name == ref.step), None)
    if source is None:
        raise fail(loc, f"{ref.text}: no earlier step named {ref.step!r}; earlier steps: "
                   f"{', '.join(s.name for s in earlier) or 'none'}")
    figures = get_protocol(source.protocol).figures
    if ref.figure not in figures:
        raise fail(loc, f"{ref.text}: step {ref.step!r} ({source.protocol}) has no figure "
                   f"{ref.figure!r}; its figures: {', '.join(figures)}")


def _conditions(raw: Any, protocol: Any, loc: tuple[str, ...],
                fail: Callable[..., ConfigError]) -> tuple[Condition, ...]:
    if not isinstance(raw, dict):
        raise fail(loc, "require is a mapping of figure: condition, e.g. {v_form: ok}")
    conditions = []
    for figure, test in raw.items():
        where = (*loc, str(figure))
        if figure not in protocol.figures:
            raise fail(where, f"{protocol.name} has no figure {figure!r}; its figures: "
                       f"{', '.join(protocol.figures)}")
        text = str(test).strip()
        if text in ("ok", "missing"):
            conditions.append(Condition(str(figure), text))
            continue
        match = _COMPARISON.match(text)
        if not match:
            raise fail(where, f"{test!r}: allowed ok, missing, or a comparison such as '>= 5'")
        conditions.append(Condition(str(figure), match.group(1), float(match.group(2))))
    return tuple(conditions)
