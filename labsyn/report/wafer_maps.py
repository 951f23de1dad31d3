"""Wafer heat maps and distributions from a device table (labsyn.batch.results): each die a
square at (column, row), split into one cell per device; a figure's value colours the cells
of passed devices, failed devices carry a red ✕, dead ones are black, skipped ones grey."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Rectangle

STATUS_COLOURS = {"passed": "#2ca02c", "failed": "#d62728", "dead": "#1a1a1a",
                  "skipped": "#c8c8c8"}
NO_VALUE = "#ffffff"
DIE = 0.94  # die square side (pitch 1)
LOG_SPAN = 30.0  # positive values spanning more than this factor get a log scale


def device_slots(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The (subsite, device) pairs of the table in a stable order: one cell each per die."""
    pairs = table[["subsite", "device"]].drop_duplicates().itertuples(index=False)
    return sorted(((str(s), str(d)) for s, d in pairs), key=lambda p: (p[0], _natural(p[1])))


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _cells(table: pd.DataFrame) -> tuple[list[tuple[float, float, float, float]], int, int]:
    """Rectangle (x, y, width, height) of each row's device cell, and the cell grid shape."""
    slots = device_slots(table)
    across = max(1, math.ceil(math.sqrt(len(slots))))
    down = max(1, math.ceil(len(slots) / across))
    index = {slot: i for i, slot in enumerate(slots)}
    width, height = DIE / across, DIE / down
    cells = []
    for column, row, subsite, device in zip(table["column"], table["row"], table["subsite"],
                                            table["device"], strict=True):
        i = index[(str(subsite), str(device))]
        x0 = float(column) - DIE / 2 + (i % across) * width
        y0 = float(row) + DIE / 2 - (i // across + 1) * height
        cells.append((x0, y0, width, height))
    return cells, across, down


def positive_span(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(len(finite) and (finite > 0).all() and finite.max() / finite.min() > LOG_SPAN)


def _frame_axes(axes: Any, table: pd.DataFrame, title: str) -> None:
    columns, rows = table["column"].astype(float), table["row"].astype(float)
    radius = float(np.sqrt(columns**2 + rows**2).max()) + 0.9 if len(table) else 1.0
    axes.add_patch(Circle((0, 0), radius, fill=False, edgecolor="#888888", linewidth=0.8))
    axes.set_xlim(-radius - 0.3, radius + 0.3)
    axes.set_ylim(-radius - 0.3, radius + 0.3)
    axes.set_aspect("equal")
    axes.set_xlabel("column")
    axes.set_ylabel("row")
    axes.set_title(title, fontsize=10)
    span = int(math.ceil(radius))
    axes.set_xticks(range(-span, span + 1))
    axes.set_yticks(range(-span, span + 1))
    axes.tick_params(labelsize=7)


def draw_status_map(axes: Any, table: pd.DataFrame, title: str = "Yield") -> None:
    """Cells coloured by device status, with a legend of counts."""
    placed = table.dropna(subset=["column", "row"])
    cells, _, _ = _cells(placed)
    for (x, y, w, h), status in zip(cells, placed["status"], strict=True):
        axes.add_patch(Rectangle((x, y), w, h, facecolor=STATUS_COLOURS.get(status, NO_VALUE),
                                 edgecolor="white", linewidth=0.4))
    _frame_axes(axes, placed, title)
    counts = placed["status"].value_counts()
    handles = [Patch(facecolor=colour, label=f"{status} ({int(counts.get(status, 0))})")
               for status, colour in STATUS_COLOURS.items()]
    axes.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.9)
    _slot_note(axes, placed)


def draw_value_map(figure: Figure, axes: Any, table: pd.DataFrame, column: str, title: str,
                   unit: str = "") -> None:
    """Cells of passed devices coloured by `column` (a colour bar beside); failed devices get
    a red ✕, dead devices are black, skipped ones grey, passed ones without a value white."""
    placed = table.dropna(subset=["column", "row"])
    cells, _, _ = _cells(placed)
    values = placed[column].to_numpy(dtype=float)
    status = placed["status"].to_numpy()
    shown = values[(status == "passed") & np.isfinite(values)]
    cmap, norm = _scale(shown)
    crosses = []
    for (x, y, w, h), value, state in zip(cells, values, status, strict=True):
        if state == "passed":
            colour = cmap(norm(value)) if np.isfinite(value) else NO_VALUE
        elif state in ("dead", "skipped"):
            colour = STATUS_COLOURS[state]
        else:
            colour = NO_VALUE
            crosses.append((x + w / 2, y + h / 2))
        axes.add_patch(Rectangle((x, y), w, h, facecolor=colour, edgecolor="#999999",
                                 linewidth=0.3))
    if crosses:
        xs, ys = zip(*crosses, strict=True)
        axes.plot(xs, ys, "x", color=STATUS_COLOURS["failed"], markersize=5, mew=1.2)
    _frame_axes(axes, placed, title)
    mappable = _mappable(cmap, norm)
    bar = figure.colorbar(mappable, ax=axes, shrink=0.85)
    bar.set_label(f"{column} ({unit})" if unit else column, fontsize=8)
    handles = [Line2D([], [], color=STATUS_COLOURS["failed"], marker="x", linestyle="",
                      label="failed"),
               Patch(facecolor=STATUS_COLOURS["dead"], label="dead"),
               Patch(facecolor=STATUS_COLOURS["skipped"], label="skipped"),
               Patch(facecolor=NO_VALUE, edgecolor="#999999", label="no value")]
    axes.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.9)
    _slot_note(axes, placed)


def _scale(values: np.ndarray) -> tuple[Any, Any]:
    if not len(values):
        return ListedColormap(["#dddddd"]), Normalize(0.0, 1.0)
    cmap = colormaps["viridis"]
    low, high = float(values.min()), float(values.max())
    if positive_span(values):
        return cmap, LogNorm(low, high)
    if low == high:
        low, high = low - 0.5 * abs(low or 1.0), high + 0.5 * abs(high or 1.0)
    return cmap, Normalize(low, high)


def _mappable(cmap: Any, norm: Any) -> Any:
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    mappable.set_array([])
    return mappable


def _slot_note(axes: Any, table: pd.DataFrame) -> None:
    slots = device_slots(table)
    if len(slots) <= 1:
        return
    names = ", ".join(f"{s}/{d}" if s else d for s, d in slots)
    axes.text(0.0, -0.13, f"cells per die (left→right, top→bottom): {names}", fontsize=7,
              transform=axes.transAxes, va="top")


def draw_distribution(hist_axes: Any, cdf_axes: Any, values: np.ndarray, label: str) -> None:
    """Histogram and empirical CDF of the finite values (log x when they span decades)."""
    values = np.sort(values[np.isfinite(values)])
    log = positive_span(values)
    if log:
        bins: Any = np.logspace(np.log10(values[0]), np.log10(values[-1]), 25)
    else:
        bins = min(25, max(5, len(values) // 2)) if len(values) else 10
    hist_axes.hist(values, bins=bins, color="#4c72b0", edgecolor="white")
    hist_axes.set_ylabel("devices")
    cdf_axes.step(values, np.arange(1, len(values) + 1) / max(1, len(values)), where="post",
                  color="#4c72b0")
    cdf_axes.set_ylabel("cumulative fraction")
    cdf_axes.set_ylim(0, 1.02)
    for axes in (hist_axes, cdf_axes):
        axes.set_xlabel(label)
        axes.set_xscale("log" if log else "linear")
        axes.grid(True, alpha=0.3)
    if len(values):
        median = float(np.median(values))
        cdf_axes.axvline(median, color="black", linestyle="--", linewidth=0.8)
        cdf_axes.set_title(f"n = {len(values)}, median {median:.4g}", fontsize=9)


def map_figure(size: Sequence[float] = (6.4, 5.6)) -> tuple[Figure, Any]:
    """A figure (Agg canvas, no pyplot) with one axes."""
    figure = Figure(figsize=tuple(size), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()
