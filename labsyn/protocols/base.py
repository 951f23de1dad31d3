"""A protocol: a typed parameter model, a procedure on capabilities, a data schema, plot specs
and an analysis. Parameters are validated and checked against the station before any output."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from labsyn.analysis import DRY_RUN_REASON, Estimate
from labsyn.errors import ConfigError
from labsyn.store import Column


class ProtocolParameters(BaseModel):
    """Base of every parameter model: unknown keys are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _none_words(cls, value: Any) -> Any:
        """`--set r_threshold=none` turns an optional criterion off."""
        return None if isinstance(value, str) and value.strip().lower() in ("none", "null") \
            else value


def param(default: Any, unit: str, help: str, **bounds: Any) -> Any:
    """A parameter with its unit, one line of help and its bounds (ge/gt/le/lt)."""
    return Field(default, description=help, json_schema_extra={"unit": unit}, **bounds)


def describe_parameters(model: type[ProtocolParameters]) -> list[dict[str, Any]]:
    """Name, default, unit, bounds and help of each parameter (CLI help, GUI forms)."""
    rows = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        bounds = {}
        for item in info.metadata:
            for key in ("ge", "gt", "le", "lt"):
                if getattr(item, key, None) is not None:
                    bounds[key] = getattr(item, key)
        rows.append({"name": name, "default": info.default, "unit": extra.get("unit", ""),
                     "help": info.description or "", **bounds})
    return rows


@dataclass(frozen=True)
class PlotSpec:
    """One live/report plot: y against x, curves split by `group`, axes optionally log."""

    name: str
    title: str
    x: str
    y: str
    group: str = ""
    x_log: bool = False
    y_log: bool = False
    abs_y: bool = False
    where: Mapping[str, Any] = field(default_factory=dict)  # rows to plot, e.g. {"phase": 1}


@dataclass
class Analysis:
    """Figures of merit (to the catalog), an optional per-cycle table, and fitted curves to
    overlay on the plots: `fits[plot name]` holds that spec's x and y columns (and optionally a
    `label` column, one curve per label)."""

    figures: dict[str, Estimate]
    details: pd.DataFrame | None = None
    fits: dict[str, pd.DataFrame] = field(default_factory=dict)


class Protocol(ABC):
    """Subclasses set the class attributes and implement check, run and analyse."""

    name: ClassVar[str]
    title: ClassVar[str]
    Parameters: ClassVar[type[ProtocolParameters]]
    columns: ClassVar[tuple[Column, ...]]
    plots: ClassVar[tuple[PlotSpec, ...]]
    figures: ClassVar[Mapping[str, str]]  # figure name -> unit
    terminal: ClassVar[str] = "TE"
    streams_analysis: ClassVar[bool] = False  # True: the runner calls analyse_blocks

    def parameters(self, values: Mapping[str, Any] | ProtocolParameters | None = None
                   ) -> ProtocolParameters:
        """Validate `values`; a `ConfigError` names each bad key, its value and what's allowed."""
        if isinstance(values, self.Parameters):
            return values
        values = dict(values or {})
        try:
            return self.Parameters.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(self._explain(exc, values)) from None

    def _explain(self, exc: ValidationError, values: Mapping[str, Any]) -> str:
        known = list(self.Parameters.model_fields)
        lines = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                lines.append(f"unknown parameter {key!r}{hint}; parameters: {', '.join(known)}")
                continue
            info = self.Parameters.model_fields.get(key)
            unit = (info.json_schema_extra or {}).get("unit", "") if info else ""
            allowed = _allowed(info) if info else ""
            lines.append(f"parameter {key} = {values.get(key)!r}: {error['msg']}"
                         + (f" (allowed: {allowed}{' ' + unit if unit else ''})" if allowed
                            else ""))
        return f"{self.name}: " + "; ".join(lines)

    def resolve(self, params: Any, station: Any) -> Any:
        """Fill parameters whose default comes from the station (stored as resolved)."""
        return params

    @abstractmethod
    def check(self, params: Any, station: Any) -> None:
        """Refuse parameters the station or its instruments cannot take (nothing is sent)."""

    @abstractmethod
    def run(self, ctx: Any) -> None:
        """The procedure: emit data, checkpoint between blocks."""

    @abstractmethod
    def analyse(self, data: pd.DataFrame, params: Any) -> Analysis:
        """Figures of merit from the run's data."""

    def analyse_blocks(self, blocks: Iterable[pd.DataFrame], params: Any) -> Analysis:
        """Figures from the run's data read in blocks, for runs too long to load at once (the
        runner uses it when `streams_analysis` is set); by default the joined blocks."""
        return self.analyse(pd.concat(list(blocks), ignore_index=True), params)

    def dry_run_analysis(self) -> Analysis:
        """A dry run's analysis: every figure missing, for want of physical data."""
        return Analysis({name: Estimate.missing(unit, DRY_RUN_REASON)
                         for name, unit in self.figures.items()})


def _allowed(info: Any) -> str:
    parts = []
    for item in info.metadata:
        for key, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(item, key, None)
            if value is not None:
                parts.append(f"{symbol} {value:g}" if isinstance(value, int | float)
                             else f"{symbol} {value}")
    annotation = getattr(info.annotation, "__args__", None)
    if not parts and annotation and all(isinstance(a, str) for a in annotation):
        parts.append(" | ".join(annotation))
    return ", ".join(parts)


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """`["v_max=3", "cycles=10"]` -> dict; a pair without '=' is a `ConfigError`."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set v_max=3.0")
        values[key.strip()] = value.strip()
    return values
