"""Station: a station file turned into opened drivers, DUT-terminal wiring, limits and a clock."""

from .config import StationConfig, load_station_config
from .station import Station, TerminalBinding

__all__ = ["Station", "StationConfig", "TerminalBinding", "load_station_config"]
