"""The open station of the GUI: open / close / reconnect, announced through Qt signals."""

from __future__ import annotations

import logging
from importlib.resources import files
from typing import Any

from PySide6.QtCore import QObject, Signal

from labsyn.station import Station

log = logging.getLogger("labsyn.gui")


def demo_station_path() -> str:
    """The simulated demo bench shipped with labsyn."""
    return str(files("labsyn.station") / "demo_station.yaml")


class StationHolder(QObject):
    """Holds at most one open `Station`; `changed(station | None)`, `error(message)`."""

    changed = Signal(object)
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.station: Station | None = None
        self.path: str | None = None

    def open(self, path: str | None = None) -> bool:
        """Open `path` (None: the simulated demo bench), closing the current one first."""
        self.close()
        target = path or demo_station_path()
        try:
            self.station = Station.open(target)
        except Exception as exc:  # a bad file or an absent instrument: say so, keep running
            log.error("opening station %s failed: %s", target, exc)
            self.path = path
            self.error.emit(f"could not open station {target}: {exc}")
            self.changed.emit(None)
            return False
        self.path = path
        self.changed.emit(self.station)
        return True

    def close(self) -> None:
        """Safe state, then close the instruments; announce None."""
        station, self.station = self.station, None
        if station is None:
            return
        try:
            station.safe_state()
        except Exception as exc:
            self.error.emit(f"safe state on close failed: {exc}")
        finally:
            station.close()
        self.changed.emit(None)

    def reconnect(self) -> bool:
        """Close and open the same station file again."""
        return self.open(self.path)

    def safe_state(self) -> None:
        """Every output of the open station off (no-op without a station)."""
        if self.station is not None:
            self.station.safe_state()

    @property
    def label(self) -> str:
        """A short name for the status bar."""
        station: Any = self.station
        if station is None:
            return "no station"
        return f"{station.config.name} ({self.path or 'demo bench'})"
