"""Report figures (matplotlib, no GUI backend) from stored runs."""

from .plots import plot_run

__all__ = ["plot_run"]
