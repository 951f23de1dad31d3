"""The stock pyvisa-sim model of the 33500B (pyvisa_sim/keysight_33500b.yaml) with its driver.

Every piece of every message the driver sends must match a dialogue or a setter exactly; a miss
gets no reply and queues an error, so each test ends with `assert_in_step` (empty error queue,
*ESR? 0, *IDN? answered in turn). The cached pyvisa-sim library is reset before each test
(tests/pyvisa_sim_support.py).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.base import LabsynInstrument
from labsyn.drivers.keysight_33500b import Keysight33500B, Keysight33500BChannel
from labsyn.drivers.sequence import PulseTrain, Sequence
from labsyn.station import Station
from tests.pyvisa_sim_support import PyvisaSim, assert_reads_back

IDN = "Agilent Technologies,33522B,MY52800000,3.05-1.19-2.00-52-00"
ADDRESSES = ("GPIB0::10::INSTR", "TCPIP0::192.168.1.10::inst0::INSTR",
             "TCPIP0::192.168.1.10::5025::SOCKET", "USB0::0x0957::0x2807::MY52800000::INSTR")
SIM_ERROR = (-100, "Command error (pyvisa-sim: no match, or value out of spec)")


SIM = PyvisaSim(Keysight33500B, "keysight_33500b.yaml", IDN, ADDRESSES[0], dry_run=True)
assert_in_step = SIM.assert_in_step


@pytest.fixture(autouse=True)
def fresh_simulation() -> None:
    SIM.reset()


@pytest.fixture
def pg() -> Iterator[Keysight33500B]:
    with SIM.opened() as instrument:
        yield instrument


def test_yaml_lists_the_station_addresses() -> None:
    assert set(ADDRESSES) <= set(SIM.data()["resources"])


@pytest.mark.parametrize("address", ADDRESSES)
def test_driver_opens_at_every_address_with_two_channels(address: str) -> None:
    with SIM.opened(address) as pg:
        assert list(pg.channels_by_number) == [1, 2]
        assert_in_step(pg)


def test_an_unmatched_command_queues_an_error(pg: Keysight33500B) -> None:
    pg.write("SOUR1:BOGUS 1")
    assert pg.ask("*ESR?").strip() == "32"
    assert pg.errors() == [SIM_ERROR]
    assert_in_step(pg)


CHANNEL: dict[str, tuple[Any, ...]] = {
    "shape": ("PULS", "ARB", "SIN"),
    "frequency": (1.0, 1e3, 3e7),
    "phase": (-90.0, 0.0, 360.0),
    "amplitude_unit": ("VPP",),
    "voltage_high": (1.0, 5.0),
    "voltage_low": (0.5, -5.0),
    "amplitude": (2.0, 0.01),
    "offset": (0.5, -0.5),
    "square_dutycycle": (25.0,),
    "ramp_symmetry": (0.0, 50.0),
    "pulse_period": (1e-4, 1e-3),
    "pulse_width": (1e-5, 1e-6),
    "pulse_transition": (8.4e-9, 1e-7),
    "pulse_hold": ("DCYC", "WIDT"),
    "pulse_dutycycle": (10.0,),
    "output": (True, False),
    "load": (math.inf, 50.0),
    "output_load": (50.0,),
    "polarity": ("INV", "NORM"),
    "burst_state": (True, False),
    "burst_mode": ("GAT", "TRIG"),
    "burst_period": (1e-3,),
    "burst_ncycles": (1, 99_999),
    "trigger_source": ("BUS", "EXT", "TIM", "IMM"),
    "trigger_delay": (0.0, 1e-3),
    "arb_advance": ("TRIG", "SRAT"),
    "arb_filter": ("OFF", "STEP", "NORM"),
    "arb_srate": (1e6, 250e6),
    "arb_file": ("SPIKE",),
}
FIRST: dict[str, tuple[str, Any]] = {  # what the static YAML needs before a coupled setter
    "voltage_low": ("voltage_high", 1.0),
    "pulse_period": ("pulse_width", 1e-6),
}
INSTRUMENT: dict[str, tuple[Any, ...]] = {
    "trigger_output": (True, False),
    "trigger_output_slope": ("NEG", "POS"),
    "trigger_output_source": ("CH2", "CH1"),
}


def test_every_settable_property_is_covered() -> None:
    for cls, covered in ((Keysight33500BChannel, CHANNEL), (Keysight33500B, INSTRUMENT)):
        settable = {name for name, _ in inspect.getmembers(cls)
                    if isinstance(inspect.getattr_static(cls, name, None), property)
                    and inspect.getattr_static(cls, name).fset is not None
                    and not hasattr(LabsynInstrument, name)}
        assert settable == set(covered)


@pytest.mark.parametrize("channel", [1, 2])
def test_channel_properties_set_and_get(pg: Keysight33500B, channel: int) -> None:
    target = pg.channels_by_number[channel]
    target.load_waveform("SPIKE", np.linspace(0.0, 1.0, 8), 1e6)
    for name, values in CHANNEL.items():
        if name in FIRST:
            setattr(target, *FIRST[name])
        assert_reads_back(target, name, values)
    assert_in_step(pg)


def test_instrument_properties_set_and_get(pg: Keysight33500B) -> None:
    for name, values in INSTRUMENT.items():
        for value in values:
            setattr(pg, name, value)
            assert getattr(pg, name) == value, name
    assert_in_step(pg)


SEGMENTS = (PulseTrain.identical(1.0, 1000, 1e-6, 1e-5, 1e-3),
            PulseTrain.identical(-1.3, 10, 1e-6, 1e-5, 1e-3, base=0.2),
            PulseTrain.identical(0.5, 100_001, 1e-6, 2e-6, 1e-3),  # two bursts
            PulseTrain((0.2, 0.4, 0.6, -0.5), 1e-6, 1e-5, 1e-3))  # an arbitrary waveform


@pytest.mark.parametrize("channel", [1, 2])
def test_runs_and_safe_off_are_answered_in_step(pg: Keysight33500B, channel: int) -> None:
    target = pg.channels_by_number[channel]
    target.load = 50.0
    for segment in SEGMENTS:
        data = target.run(Sequence("TE", (segment,)))
        assert len(data) == 0 and not data.aborted
        pg.safe_off()
        pg.rearm()
    assert_in_step(pg)


def test_the_pyvisa_sim_station_opens_sets_the_load_and_runs_dry() -> None:
    with Station.open("examples/stations/keysight_33500b_pyvisa_sim.yaml") as station:
        binding = station.terminal("TE")
        assert station.dry_run and binding.driver.parent.dry_run
        assert binding.driver.load == 50.0
        binding.driver.run(Sequence("TE", (PulseTrain.identical(1.0, 10, 1e-6, 1e-5, 1e-3),)))
        assert binding.driver.errors() == []
