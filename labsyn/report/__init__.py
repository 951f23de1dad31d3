"""Report figures (matplotlib, no GUI backend) from stored runs."""

from .page import Panel, report_page
from .plots import draw_spec, plot_run

__all__ = ["Panel", "draw_spec", "plot_run", "report_page"]
