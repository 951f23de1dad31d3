"""What the sweep protocols share: finding the SMU on a terminal, limit checks, data rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labsyn.drivers.capabilities import SourceMeter
from labsyn.drivers.sequence import Sequence, SequenceData, Staircase
from labsyn.errors import ConfigError, LimitError
from labsyn.store import Column

from .base import ProtocolParameters, param

READING_COLUMNS = (
    Column("time", "s", "f8", "instrument time of the reading"),
    Column("v_program", "V", "f8", "programmed level: sweep step or pulse amplitude"),
    Column("voltage", "V", "f8", "measured source voltage at the reading"),
    Column("current", "A", "f8", "measured current"),
    Column("limited", "", "bool", "the reading was in compliance"),
)


class ReadingParameters(ProtocolParameters):
    """What every SMU protocol's readings need: integration time and the series resistance."""

    nplc: float = param(0.1, "PLC", "integration time per reading", ge=0.01, le=10.0)
    series_resistance: float | None = param(
        None, "Ω", "series resistance to subtract (default: the station's wiring)", ge=0.0,
        le=1e7)


def reading_rows(sequence: Sequence, data: SequenceData) -> dict[str, np.ndarray]:
    """The READING_COLUMNS of a sequence's data."""
    return {"time": data.time, "v_program": programmed_levels(sequence, data),
            "voltage": data.source, "current": data.current, "limited": data.limited}


def source_meter(station: Any, terminal: str, protocol: str) -> SourceMeter:
    """The source-measure unit wired to `terminal`, or a `ConfigError` saying what is there."""
    binding = station.terminal(terminal)
    if binding.grounded or not isinstance(binding.driver, SourceMeter):
        what = "ground" if binding.grounded else type(binding.driver).__name__
        raise ConfigError(f"{protocol} needs a source-measure unit on terminal {terminal}; "
                          f"the station wires {terminal} to {what}")
    return binding.driver


def resistance_at(read_voltage: float, current: Any, series_resistance: float) -> Any:
    """|V_read / I| less the series resistance (inf where no current flows), for one read
    (a float) or an array of reads."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(read_voltage / np.asarray(current, dtype=float)) - series_resistance
    return float(r) if np.ndim(r) == 0 else r


def with_station_series_resistance(params: Any, station: Any, terminal: str) -> Any:
    """`series_resistance = None` means the value the station's wiring declares."""
    if params.series_resistance is not None:
        return params
    declared = station.terminal(terminal).series_resistance
    return params.model_copy(update={"series_resistance": declared})


def check_parameters(station: Any, terminal: str, protocol: str,
                     voltages: Mapping[str, float], currents: Mapping[str, float]) -> None:
    """Each voltage and compliance parameter against the station, named in the error."""
    checks = [(name, station.check_voltage, (terminal, v)) for name, v in voltages.items()]
    checks += [(name, station.check_current_limit, (a,)) for name, a in currents.items()]
    for name, check, args in checks:
        try:
            check(*args)
        except LimitError as exc:
            raise LimitError(f"{protocol} parameter {name} ({exc.quantity})", exc.value,
                             exc.allowed) from None


def check_sequence(station: Any, sequence: Sequence, protocol: str, parameters: str = ""
                   ) -> None:
    """Station limits (voltage per terminal and across the device, compliance) and the
    instrument's own limits, for every level of every segment, before anything is sent.
    `parameters` names what sets the sequence, for the error message."""
    smu = source_meter(station, sequence.terminal, protocol)
    try:
        for segment in sequence.segments:
            peak = max(segment.levels, key=abs)
            station.check_voltage(sequence.terminal, peak)
            station.check_current_limit(segment.current_limit)
        smu.check_sequence(sequence)
    except LimitError as exc:
        hint = f"; set by {parameters}" if parameters else ""
        raise LimitError(f"{protocol}: {exc.quantity}", exc.value, exc.allowed + hint) from None


def programmed_levels(sequence: Sequence, data: SequenceData) -> np.ndarray:
    """The level each row was measured at, as programmed (readback sags under compliance)."""
    levels = np.full(len(data), np.nan)  # a row no level accounts for stays NaN
    for index, segment in enumerate(sequence.segments):
        rows = np.flatnonzero(data.segment == index)
        source = np.asarray(segment.levels if isinstance(segment, Staircase)
                            else segment.amplitudes, dtype=float)
        n = min(len(rows), len(source))  # a dry run's static buffer may hold more rows
        levels[rows[:n]] = source[:n]
    return levels
