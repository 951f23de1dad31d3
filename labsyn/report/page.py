"""One report page for a device: a panel per run (its main plot with the fit, and its key
figures of merit), as a PNG and an HTML page that embeds it with the full table of figures."""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .plots import draw_spec

FIGURES_PER_PANEL = 8
LINE_CHARS = 44  # a panel's figure lines; the HTML table has them in full


@dataclass
class Panel:
    """One run on the page: its data, the plot spec to draw, the fit, its figures of merit."""

    title: str
    data: pd.DataFrame
    spec: Any
    units: Mapping[str, str]
    fit: pd.DataFrame | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)
    shown: Sequence[str] = ()  # figure names printed in the panel (default: the first few)


def report_page(panels: Sequence[Panel], dest: Path, stem: str, title: str) -> tuple[Path, Path]:
    """`<stem>.png` (a grid of panels) and `<stem>.html` in `dest`; returns both paths."""
    dest.mkdir(parents=True, exist_ok=True)
    columns = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(6.2 * columns, 5.2 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontsize=13)
    grid = figure.add_gridspec(rows, columns)
    for index, panel in enumerate(panels):
        cell = grid[index // columns, index % columns].subgridspec(2, 1, height_ratios=(4, 1))
        axes = figure.add_subplot(cell[0])
        draw_spec(axes, panel.data, panel.spec, panel.units, panel.fit)
        axes.set_title(panel.title, fontsize=10)
        names = list(panel.shown) or list(panel.figures)[:FIGURES_PER_PANEL]
        lines = [textwrap.shorten(f"{n}: {panel.figures[n]}", LINE_CHARS, placeholder=" …)")
                 for n in names if n in panel.figures]
        notes = figure.add_subplot(cell[1])
        notes.axis("off")
        half = (len(lines) + 1) // 2
        for column, chunk in enumerate((lines[:half], lines[half:])):
            notes.text(0.5 * column, 1.0, "\n".join(chunk), transform=notes.transAxes,
                       fontsize=8, va="top", ha="left", family="monospace")
    png = dest / f"{stem}.png"
    figure.savefig(png)
    page = dest / f"{stem}.html"
    page.write_text(_html(panels, png.name, title))
    return png, page


def _html(panels: Sequence[Panel], image: str, title: str) -> str:
    rows = []
    for panel in panels:
        for name, estimate in panel.figures.items():
            rows.append(f"<tr><td>{html.escape(panel.title)}</td><td>{html.escape(name)}</td>"
                        f"<td>{html.escape(str(estimate))}</td></tr>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
            "collapse}td,th{border:1px solid #ccc;padding:2px 8px;font-size:90%}</style>"
            f"</head><body><h1>{html.escape(title)}</h1><img src='{html.escape(image)}' "
            "style='max-width:100%'><h2>Figures of merit</h2><table><tr><th>run</th>"
            f"<th>figure</th><th>value</th></tr>{''.join(rows)}</table></body></html>\n")
