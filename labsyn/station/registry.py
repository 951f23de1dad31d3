"""Driver families a station file can name: driver class, simulated twin, pyvisa-sim file."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DriverEntry:
    driver: str
    simulator: str
    pyvisa_sim_file: str
    kind: str
    trigger_outputs: tuple[str, ...] = ()  # lines a station's `triggers:` may start from
    trigger_inputs: tuple[str, ...] = ()  # lines a station's `triggers:` may end at

    def driver_class(self) -> Any:
        return _load(self.driver)

    def simulator_class(self) -> Any:
        return _load(self.simulator)


def _load(dotted: str) -> Any:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


DRIVERS: dict[str, DriverEntry] = {
    "keithley_2450": DriverEntry(
        "labsyn.drivers.keithley_2450:Keithley2450",
        "labsyn.mock_instruments.keithley_2450:SimKeithley2450",
        "keithley_2450.yaml", "SourceMeter",
        trigger_outputs=("DIG1", "DIG2", "DIG3", "DIG4", "DIG5", "DIG6")),
    "keithley_2400": DriverEntry(
        "labsyn.drivers.keithley_2400:Keithley2400",
        "labsyn.mock_instruments.keithley_2400:SimKeithley2400",
        "keithley_2400.yaml", "SourceMeter"),
    "keysight_b2900": DriverEntry(
        "labsyn.drivers.keysight_b2900:KeysightB2900",
        "labsyn.mock_instruments.keysight_b2900:SimKeysightB2900",
        "keysight_b2900.yaml", "SourceMeter"),
    "keysight_b1500": DriverEntry(
        "labsyn.drivers.keysight_b1500:KeysightB1500",
        "labsyn.mock_instruments.keysight_b1500:SimKeysightB1500",
        "keysight_b1500.yaml", "SourceMeter"),
    "keysight_81160a": DriverEntry(
        "labsyn.drivers.keysight_81160a:Keysight81160A",
        "labsyn.mock_instruments.keysight_81160a:SimKeysight81160A",
        "keysight_81160a.yaml", "PulseGenerator"),
    "keysight_33500b": DriverEntry(
        "labsyn.drivers.keysight_33500b:Keysight33500B",
        "labsyn.mock_instruments.keysight_33500b:SimKeysight33500B",
        "keysight_33500b.yaml", "PulseGenerator", trigger_inputs=("EXT",)),
    "keithley_2600": DriverEntry(
        "labsyn.drivers.keithley_2600:Keithley2600",
        "labsyn.mock_instruments.keithley_2600:SimKeithley2600",
        "keithley_2600.yaml", "SourceMeter"),
    "keithley_707b": DriverEntry(
        "labsyn.drivers.keithley_707b:Keithley707B",
        "labsyn.mock_instruments.keithley_707b:SimKeithley707B",
        "keithley_707b.yaml", "SwitchMatrix"),
    "keysight_b2200a": DriverEntry(
        "labsyn.drivers.keysight_b2200a:KeysightB2200A",
        "labsyn.mock_instruments.keysight_b2200a:SimKeysightB2200A",
        "keysight_b2200a.yaml", "SwitchMatrix"),
    "mpi_sentio": DriverEntry(
        "labsyn.drivers.mpi_sentio:MpiSentio",
        "labsyn.mock_instruments.mpi_sentio:SimMpiSentio",
        "mpi_sentio.yaml", "Prober"),
    "formfactor_velox": DriverEntry(
        "labsyn.drivers.formfactor_velox:FormFactorVelox",
        "labsyn.mock_instruments.formfactor_velox:SimFormFactorVelox",
        "formfactor_velox.yaml", "Prober"),
    "pi_hexapod": DriverEntry(
        "labsyn.drivers.pi_hexapod:PIHexapod",
        "labsyn.mock_instruments.pi_hexapod:SimPIHexapod",
        "pi_hexapod.yaml", "Positioner6D"),
    "pi_e712": DriverEntry(
        "labsyn.drivers.pi_e712:PIE712",
        "labsyn.mock_instruments.pi_e712:SimPIE712",
        "pi_e712.yaml", "FastAligner"),
    "temptronic_ats": DriverEntry(
        "labsyn.drivers.temptronic_ats:TemptronicATS",
        "labsyn.mock_instruments.temptronic_ats:SimTemptronicATS",
        "temptronic_ats.yaml", "Thermal"),
}
