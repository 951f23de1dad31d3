"""Instrument drivers: one module per family, each implementing capabilities."""
