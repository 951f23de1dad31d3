"""The stock pyvisa-sim model of the 81160A (pyvisa_sim/keysight_81160a.yaml) with its driver.

Every message the driver sends is split on ";" and each piece must match a dialogue or a setter
exactly; a piece that matches nothing, or a value outside its spec, queues an error. So each test
ends with `assert_in_step`: the error queue is empty, ``*ESR?`` is 0 and ``*IDN?`` still gets its
own reply. pyvisa caches the library (and its devices) per YAML path: each test starts afresh
(tests/pyvisa_sim_support.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from pyvisa.rname import to_canonical_name

from labsyn.drivers.keysight_81160a import Keysight81160A, PulseChannel
from labsyn.drivers.sequence import PulseTrain, Sequence
from tests.pyvisa_sim_support import PyvisaSim, assert_spec_matches_limits, properties, record

IDN = "Agilent Technologies,81160A,DE00000000,1.0.0.0"
ADDRESSES = ("GPIB0::10::INSTR", "TCPIP0::192.168.1.10::inst0::INSTR",
             "USB0::0x0957::0x4108::DE00000000::INSTR", "TCPIP0::192.168.1.10::5025::SOCKET")
SIM_ERROR = (-100, "Command error (pyvisa-sim: no match, or value out of spec)")


SIM = PyvisaSim(Keysight81160A, "keysight_81160a.yaml", IDN, ADDRESSES[0], dry_run=True)
assert_in_step = SIM.assert_in_step


@pytest.fixture(autouse=True)
def fresh_simulation() -> Iterator[None]:
    SIM.reset()
    yield
    SIM.reset()


@pytest.fixture
def pg() -> Iterator[Keysight81160A]:
    with SIM.opened() as instrument:
        yield instrument


def test_yaml_lists_the_station_addresses() -> None:
    assert SIM.data()["spec"] == "1.1"
    assert {to_canonical_name(a) for a in ADDRESSES} <= SIM.listed()


@pytest.mark.parametrize("address", ADDRESSES)
def test_driver_opens_at_every_address_with_two_outputs(address: str) -> None:
    with SIM.opened(address) as pg:
        assert set(pg.channels_by_number) == {1, 2}
        assert_in_step(pg)


BOTH = (True, False)
SETTABLE: dict[str, tuple[Any, ...]] = {
    "function": ("pulse", "dc", "sine"),
    "pulse_period": (3.03e-9, 1e-5, 1e6),
    "pulse_width": (1.5e-9, 1e-6, 1e6),
    "pulse_edge": (1e-9, 1e-7, 1e3),
    "amplitude": (0.1, 1.3, 10.0),  # high-Z: 0.1 … 10 V (0.05 … 5 V at 50 Ω)
    "offset": (-10.0, -0.65, 10.0),
    "voltage_high": (-10.0, 1.1, 10.0),
    "voltage_low": (-10.0, 0.0, 10.0),
    "voltage_limit_high": (-10.0, 3.0, 10.0),
    "voltage_limit_low": (-10.0, -3.0, 10.0),
    "polarity": ("inverted", "normal"),
    "burst_count": (2, 1000, 2_147_483_647),
    "burst_period": (3.03e-9, 1e-3, 1e6),
    "arm_source": ("immediate", "internal", "external", "manual"),
    "trigger_count": (1, 1000, 2_147_483_647),
    "load": (math.inf, 50.0),
}
STATIC_SWITCHES = ("output_enabled", "burst_enabled", "voltage_limit_enabled")  # read 0 always
NOT_SENT = {"train_edge", "limits"}  # driver-side: the run() edge, the capability limits


def test_every_channel_property_is_covered() -> None:
    assert properties(PulseChannel) == set(SETTABLE) | set(STATIC_SWITCHES) | NOT_SENT


@pytest.mark.parametrize("number", [1, 2])
@pytest.mark.parametrize(("name", "values"), SETTABLE.items(), ids=list(SETTABLE))
def test_property_set_and_get(pg: Keysight81160A, number: int, name: str,
                              values: tuple[Any, ...]) -> None:
    channel = pg.channels_by_number[number]
    channel.load = math.inf  # the widest level window
    for value in values:
        setattr(channel, name, value)
        if name == "load":
            channel._load = None  # read it back from the instrument
        assert getattr(channel, name) == value
    assert_in_step(pg)


@pytest.mark.parametrize("name", STATIC_SWITCHES)
def test_switches_are_accepted_and_read_static(pg: Keysight81160A, name: str) -> None:
    for value in BOTH:
        setattr(pg.channels_by_number[2], name, value)
    assert getattr(pg.channels_by_number[2], name) is False
    assert_in_step(pg)


RANGES = [
    ("pulse_period", ":PULS:PER1 {:.9g}", 3.03e-9, 1e6),
    ("pulse_width", ":PULS:WIDT1 {:.9g}", 1.5e-9, 1e6),
    ("pulse_edge", ":PULS:TRAN1 {:.9g}", 1e-9, 1e3),
    ("amplitude", ":VOLT1 {:.9g}", 0.05, 10.0),
    ("voltage_high", ":VOLT1:HIGH {:.9g}", -10.0, 10.0),
    ("burst_count", ":BURS1:NCYC {:d}", 2, 2_147_483_647),
    ("trigger_count", ":TRIG1:COUN {:d}", 1, 2_147_483_647),
]


@pytest.mark.parametrize(("name", "command", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_specs_match_driver_limits(pg: Keysight81160A, name: str, command: str, low: float,
                                   high: float) -> None:
    channel = pg.channels_by_number[1]
    channel.load = math.inf
    assert_spec_matches_limits(SIM, pg, channel, name, command, low, high, SIM_ERROR)


def test_unmatched_commands_queue_an_error(pg: Keysight81160A) -> None:
    pg.write(":PULS:BOGUS1 1")
    pg.write(":OUTP1:LOAD 75")
    pg.write(":ARM:SOUR1 BUS")
    assert pg.errors() == [SIM_ERROR] * 3
    assert pg.ask("*ESR?").strip() == "32"
    assert_in_step(pg)


@pytest.mark.parametrize(("amplitude", "count", "base"), [(1.1, 1000, 0.0), (-1.3, 100, 0.0),
                                                         (2.0, 1, 0.5)])
@pytest.mark.parametrize("number", [1, 2])
def test_bursts_run_dry_and_stay_in_step(pg: Keysight81160A, number: int, amplitude: float,
                                         count: int, base: float) -> None:
    channel = pg.channels_by_number[number]
    channel.load = 50.0
    channel.train_edge = 2e-9
    sent = record(pg)
    data = channel.run(Sequence("TE", (PulseTrain.identical(amplitude, count, 1e-6, 1e-5, 1e-3,
                                                            base=base),)))
    assert not data.aborted and len(data) == 0
    assert len(sent) == 4
    assert sent[1] == f":OUTP{number} ON;*TRG"
    assert_in_step(pg)


def test_abort_and_safe_off_stay_in_step(pg: Keysight81160A) -> None:
    channel = pg.channels_by_number[1]
    channel.load = 50.0
    data = channel.run(Sequence("TE", (PulseTrain.identical(1.0, 1000, 1e-6, 1e-5, 1e-3),)),
                       should_abort=lambda: True)
    assert data.aborted
    sent = record(pg)
    pg.safe_off()
    assert sent == [":OUTP1 OFF;:ARM:SOUR1 MAN", ":OUTP1?", ":OUTP2 OFF;:ARM:SOUR2 MAN",
                    ":OUTP2?"]
    assert_in_step(pg)


def test_common_commands(pg: Keysight81160A) -> None:
    pg.clear()
    pg.reset()
    pg.trigger()
    assert pg.ask("*OPC?").strip() == "1"
    assert pg.ask("*OPT?").strip() == "002"
    assert pg.next_error[0] == 0
    assert_in_step(pg)
