"""The stock pyvisa-sim models of the 707B and B2200A (pyvisa_sim/keithley_707b.yaml,
keysight_b2200a.yaml) with their drivers: every message the drivers send is one the model knows.

Replies are static (nothing closes), so the drivers run with dry_run = True and return the
crosspoints they asked for; see tests/pyvisa_sim_support.py for how each test stays in step.
"""

from __future__ import annotations

from typing import Any

import pytest
import pyvisa
from pyvisa.rname import to_canonical_name

from labsyn.drivers.keithley_707b import Keithley707B
from labsyn.drivers.keysight_b2200a import KeysightB2200A
from labsyn.errors import LimitError
from tests.pyvisa_sim_support import PyvisaSim, pieces, record

K707B = PyvisaSim(Keithley707B, "keithley_707b.yaml",
                  "Keithley Instruments Inc., Model 707B, 04101707, 1.6.0", "GPIB0::16::INSTR",
                  dry_run=True)
B2200A = PyvisaSim(KeysightB2200A, "keysight_b2200a.yaml",
                   "Agilent Technologies,B2201A,MY00000001,1.0", "GPIB0::22::INSTR", dry_run=True)
MODELS = [K707B, B2200A]
IDS = ["707b", "b2200a"]


@pytest.fixture(params=MODELS, ids=IDS)
def sim(request: pytest.FixtureRequest) -> Any:
    model = request.param
    model.reset()
    return model


def test_yaml_lists_the_addresses_it_serves(sim: PyvisaSim[Any]) -> None:
    assert sim.data()["spec"] == "1.1"
    manager = pyvisa.ResourceManager(f"{sim.yaml}@sim")
    try:
        assert to_canonical_name(sim.address) in set(manager.list_resources())
    finally:
        manager.close()


def test_routing_devices_is_understood_and_stays_in_step(sim: PyvisaSim[Any]) -> None:
    with sim.opened() as matrix:
        sent = record(matrix)
        for device in ({(1, 1), (2, 2)}, {(1, 3)}, set(), {(8, 12), (3, 1)}):
            assert matrix.route(device) == device
        matrix.safe_off()
        assert len(pieces(sent)) == 3 * 4 + 3 + 2  # three routes close, one closes nothing
        sim.assert_in_step(matrix)


def test_the_707b_sends_names_on_its_slot() -> None:
    K707B.reset()
    with K707B.opened() as matrix:
        sent = record(matrix)
        matrix.route({(2, 3), (8, 12)})
        assert 'channel.close("1B03,1H12")' in sent
        K707B.assert_in_step(matrix)


def test_the_b2200a_connection_modes_follow_the_spec() -> None:
    B2200A.reset()
    with B2200A.opened() as matrix:
        assert matrix.connection_rule == "FREE"
        matrix.connection_rule = "SROU"
        assert matrix.connection_rule == "SROU"
        matrix.connection_sequence = "NSEQ"
        assert matrix.connection_sequence == "NSEQ"
        with pytest.raises(LimitError):
            matrix.connection_sequence = "BREAK"
        matrix.write(":CONN:SEQ 0,BREAK")  # sent raw, the model refuses it too
        assert matrix.errors() == [
            (-100, "Command error (pyvisa-sim: no match, or value out of spec)")]
        assert matrix.ask("*ESR?").strip() == "32"
        B2200A.assert_in_step(matrix)


def test_a_tie_is_refused_before_anything_is_sent(sim: PyvisaSim[Any]) -> None:
    with sim.opened() as matrix:
        sent = record(matrix)
        with pytest.raises(LimitError, match="output 4"):
            matrix.route({(1, 4), (2, 4)})
        assert sent == []
        sim.assert_in_step(matrix)
