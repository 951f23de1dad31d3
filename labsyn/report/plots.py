"""PNG figures of a run from its protocol's plot specs (object-oriented matplotlib: no pyplot
state, no display needed), with the analysis's fitted curves drawn dashed over the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_CURVES = 12


def plot_run(data: pd.DataFrame, specs: Sequence[Any], units: dict[str, str], dest: Path,
             stem: str, title: str = "", fits: Mapping[str, pd.DataFrame] | None = None
             ) -> list[Path]:
    """One PNG per plot spec in `dest`, named `<stem>-<spec.name>.png`, with the analysis's
    fitted curves for that spec (`fits[spec.name]`) drawn dashed; returns the paths."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        figure = Figure(figsize=(6.4, 4.4), dpi=110, layout="constrained")
        FigureCanvasAgg(figure)
        draw_spec(figure.add_subplot(), data, spec, units, (fits or {}).get(spec.name), title)
        path = dest / f"{stem}-{spec.name}.png"
        figure.savefig(path)
        paths.append(path)
    return paths


def draw_spec(axes: Any, data: pd.DataFrame, spec: Any, units: Mapping[str, str],
              fit: pd.DataFrame | None = None, title: str = "") -> None:
    """One plot spec on `axes`: the rows it selects, a curve per group, the fit dashed."""
    rows = data
    for column, value in spec.where.items():
        rows = rows[rows[column] == value]
    groups = list(rows.groupby(spec.group, sort=True)) if spec.group else [("", rows)]
    if len(groups) > MAX_CURVES:  # keep first and last curves readable
        keep = np.unique(np.linspace(0, len(groups) - 1, MAX_CURVES).astype(int))
        groups = [groups[i] for i in keep]
    for key, part in groups:
        y = part[spec.y].to_numpy(dtype=float)
        y = np.abs(y) if spec.abs_y else y
        if spec.y_log:
            y = np.where(y > 0, y, np.nan)
        label = f"{spec.group} {key}" if spec.group else None
        axes.plot(part[spec.x].to_numpy(dtype=float), y, ".-", markersize=2.5,
                  linewidth=0.9, label=label)
    _overlay(axes, spec, fit)
    axes.set_xscale("log" if spec.x_log else "linear")
    axes.set_yscale("log" if spec.y_log else "linear")
    axes.set_xlabel(_label(spec.x, units, False))
    axes.set_ylabel(_label(spec.y, units, spec.abs_y))
    axes.set_title(f"{spec.title}{' — ' + title if title else ''}", fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    if (spec.group and groups) or (fit is not None and len(fit)):
        axes.legend(fontsize=7, ncols=2)


def _overlay(axes: Any, spec: Any, fit: pd.DataFrame | None) -> None:
    """Fitted curves, dashed black, one per `label` (if the frame has that column)."""
    if fit is None or not len(fit):
        return
    parts = fit.groupby("label", sort=False) if "label" in fit else [("fit", fit)]
    for label, part in parts:
        y = part[spec.y].to_numpy(dtype=float)
        y = np.abs(y) if spec.abs_y else y
        axes.plot(part[spec.x].to_numpy(dtype=float), y, "--", color="black", linewidth=1.2,
                  label=str(label))


def _label(column: str, units: Mapping[str, str], absolute: bool) -> str:
    name = f"|{column}|" if absolute else column
    unit = units.get(column, "")
    return f"{name} ({unit})" if unit else name
