"""What the sweep protocols share: finding the SMU on a terminal, limit checks, data rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from labsyn.drivers.capabilities import SourceMeter
from labsyn.drivers.sequence import Sequence, SequenceData, Staircase
from labsyn.errors import ConfigError


def source_meter(station: Any, terminal: str, protocol: str) -> SourceMeter:
    """The source-measure unit wired to `terminal`, or a `ConfigError` saying what is there."""
    binding = station.terminal(terminal)
    if binding.grounded or not isinstance(binding.driver, SourceMeter):
        what = "ground" if binding.grounded else type(binding.driver).__name__
        raise ConfigError(f"{protocol} needs a source-measure unit on terminal {terminal}; "
                          f"the station wires {terminal} to {what}")
    return binding.driver


def with_station_series_resistance(params: Any, station: Any, terminal: str) -> Any:
    """`series_resistance = None` means the value the station's wiring declares."""
    if params.series_resistance is not None:
        return params
    declared = station.terminal(terminal).series_resistance
    return params.model_copy(update={"series_resistance": declared})


def check_sequence(station: Any, sequence: Sequence, protocol: str) -> None:
    """Station limits (voltage per terminal and across the device, compliance) and the
    instrument's own limits, for every level of every segment, before anything is sent."""
    smu = source_meter(station, sequence.terminal, protocol)
    for segment in sequence.segments:
        peak = max(segment.levels, key=abs)
        station.check_voltage(sequence.terminal, peak)
        station.check_current_limit(segment.current_limit)
    smu.check_sequence(sequence)


def programmed_levels(sequence: Sequence, data: SequenceData) -> np.ndarray:
    """The level each row was measured at, as programmed (readback sags under compliance)."""
    levels = np.empty(len(data))
    for index, segment in enumerate(sequence.segments):
        rows = np.flatnonzero(data.segment == index)
        source = segment.levels if isinstance(segment, Staircase) else segment.amplitudes
        levels[rows] = np.asarray(source, dtype=float)[:len(rows)]
    return levels
