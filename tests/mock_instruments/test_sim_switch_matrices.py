"""The 707B and B2200A drivers on their simulated twins, through the VISA backend.

What the twin holds is read from the twin itself (its relay states), not only through the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labsyn.drivers.keithley_707b import Keithley707B
from labsyn.drivers.keysight_b2200a import KeysightB2200A
from labsyn.errors import InstrumentError, InstrumentReportedError, LimitError
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.keithley_707b import SETTLE_S, SimKeithley707B
from labsyn.mock_instruments.keysight_b2200a import SimKeysightB2200A
from labsyn.station import Station
from tests.pyvisa_sim_support import record

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
# Devices of a die: (SMU input 1 -> TE pad, pulser input 2 -> another pad, ground input 3 -> BE)
DEVICES = [{(1, 1), (3, 2)}, {(1, 3), (3, 4)}, {(1, 5), (2, 6), (3, 7)}, {(2, 1), (3, 2)},
           {(1, 12), (2, 11), (3, 10), (4, 9)}, set(), {(8, 12)}]


@dataclass
class Rig:
    bench: Bench
    sim: Any
    matrix: Any
    twin_closed: Callable[[], set[tuple[int, int]]]


def rig_707b() -> Rig:
    bench = Bench()
    sim = bench.add_instrument("GPIB0::16::INSTR", SimKeithley707B(slots=(1, 2)))
    matrix = Keithley707B("GPIB0::16::INSTR", visa_library=bench.visa_library(),
                          clock=bench.clock)
    return Rig(bench, sim, matrix, lambda: {(r, c) for s, r, c in sim.closed if s == 1})


def rig_b2200a() -> Rig:
    bench = Bench()
    sim = bench.add_instrument("GPIB0::22::INSTR", SimKeysightB2200A())
    matrix = KeysightB2200A("GPIB0::22::INSTR", visa_library=bench.visa_library(),
                            clock=bench.clock)
    return Rig(bench, sim, matrix, lambda: set(sim.closed))


@pytest.fixture(params=[rig_707b, rig_b2200a], ids=["707b", "b2200a"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    made = request.param()
    yield made
    made.matrix.adapter.close()


def test_routing_a_sequence_of_devices_leaves_exactly_the_intended_crosspoints(rig: Rig) -> None:
    for device in DEVICES:
        sent = record(rig.matrix)
        assert rig.matrix.route(device) == device
        assert rig.twin_closed() == device
        assert rig.matrix.closed() == device
        assert len(sent) == 4 + 1  # the route's four transactions, plus the closed() above
    assert rig.matrix.errors() == []


def test_relays_are_counted_and_only_those_that_change_move(rig: Rig) -> None:
    rig.matrix.route({(1, 3), (2, 4)})
    assert rig.sim.relay_operations == 2
    rig.matrix.route({(2, 4), (1, 5)})
    assert rig.sim.relay_operations == 4  # 1-3 opened, 1-5 closed; 2-4 untouched
    rig.matrix.route({(2, 4), (1, 5)})
    assert rig.sim.relay_operations == 4


def test_switching_takes_the_relay_settling_time(rig: Rig) -> None:
    start = rig.bench.clock.now()
    rig.matrix.route({(1, 1)})
    assert rig.bench.clock.now() - start >= SETTLE_S


def test_tying_two_sources_is_refused_with_nothing_closed(rig: Rig) -> None:
    rig.matrix.route({(1, 2)})
    operations = rig.sim.relay_operations
    sent = record(rig.matrix)
    with pytest.raises(LimitError) as info:
        rig.matrix.route({(1, 7), (2, 7)})
    assert "output 7" in str(info.value) and "1 and 2" in str(info.value)
    assert sent == []
    assert rig.twin_closed() == {(1, 2)}
    assert rig.sim.relay_operations == operations


def test_safe_off_opens_every_relay_and_holds_routing_off(rig: Rig) -> None:
    rig.matrix.route({(1, 1), (2, 2)})
    rig.matrix.safe_off()
    assert rig.sim.closed == set()
    with pytest.raises(InstrumentError, match="rearm"):
        rig.matrix.route({(1, 1)})
    assert rig.sim.closed == set()
    rig.matrix.rearm()
    assert rig.matrix.route({(1, 1)}) == {(1, 1)}


def test_707b_safe_off_opens_other_slots_too() -> None:
    rig = rig_707b()
    rig.matrix.write('channel.close("2C07")')
    rig.matrix.route({(1, 1)})
    assert rig.sim.closed == {(1, 1, 1), (2, 3, 7)}
    assert rig.matrix.closed() == {(1, 1)}  # the driver's card is slot 1
    rig.matrix.safe_off()
    assert rig.sim.closed == set()


def test_707b_unknown_channel_names_are_a_tsp_error_and_switch_nothing() -> None:
    rig = rig_707b()
    rig.matrix.write('channel.close("1A01,1J01")')
    rig.matrix.write('channel.close("3A01")')  # no card in slot 3
    errors = rig.matrix.errors()
    assert [code for code, _ in errors] == [-286, -286]
    assert "1J01" in errors[0][1] and "3A01" in errors[1][1]
    assert rig.sim.closed == set()


def test_707b_exclusiveclose_and_reset() -> None:
    rig = rig_707b()
    rig.matrix.route({(1, 1), (2, 2)})
    rig.matrix.write('channel.exclusiveclose("1D04")')
    assert rig.matrix.closed() == {(4, 4)}
    rig.matrix.write("reset()")
    assert rig.matrix.closed() == set()


def test_b2200a_single_route_refuses_a_second_input_and_switches_nothing() -> None:
    rig = rig_b2200a()
    rig.matrix.connection_rule = "SROU"
    assert rig.matrix.connection_rule == "SROU"
    rig.matrix.route({(1, 3)})
    rig.matrix.write(":CLOS (@00203)")
    assert rig.matrix.errors() == [
        (-221, "Settings conflict; single route: output 03 already connected to input 01")]
    with pytest.raises(InstrumentReportedError) as info:  # one input on two outputs
        rig.matrix.route({(1, 3), (1, 4)})
    assert info.value.errors[0][0] == -221
    assert rig.sim.closed == {(1, 3)}
    rig.matrix.connection_rule = "FREE"
    assert rig.matrix.route({(1, 3), (1, 4)}) == {(1, 3), (1, 4)}


def test_b2200a_channels_beyond_the_installed_cards_are_refused() -> None:
    bench = Bench()
    sim = bench.add_instrument("GPIB0::22::INSTR", SimKeysightB2200A(cards=1))
    matrix = KeysightB2200A("GPIB0::22::INSTR", visa_library=bench.visa_library(),
                            clock=bench.clock)
    with pytest.raises(InstrumentReportedError) as info:
        matrix.route({(1, 13)})
    assert info.value.errors[0][0] == -222
    assert sim.closed == set()
    matrix.connection_sequence = "MBBR"
    assert matrix.connection_sequence == "MBBR"


@pytest.mark.parametrize("name", ["keithley_707b_sim.yaml", "keysight_b2200a_sim.yaml"])
def test_example_station_routes_and_reaches_a_safe_state(name: str) -> None:
    with Station.open(STATIONS / name) as station:
        matrix = station.instruments["matrix"]
        assert matrix.route({(1, 1), (2, 2)}) == {(1, 1), (2, 2)}
        station.safe_state()
        assert matrix.closed() == set()
        assert matrix.errors() == []
