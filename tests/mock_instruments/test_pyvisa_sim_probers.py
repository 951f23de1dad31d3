"""The stock pyvisa-sim models of the SENTIO and Velox probers: the drivers open on them, walk a
wafer map of their own (pyvisa-sim has no route end) with the exact commands, and stay in step."""

from __future__ import annotations

from typing import Any

import pytest

from labsyn.drivers.formfactor_velox import FormFactorVelox
from labsyn.drivers.mpi_sentio import MpiSentio
from labsyn.errors import InstrumentError, LimitError
from tests.pyvisa_sim_support import PyvisaSim, record

SENTIO = PyvisaSim(MpiSentio, "mpi_sentio.yaml", "MPI Corporation,SENTIO,25.2.0.1234",
                   "TCPIP0::127.0.0.1::35555::SOCKET", esr=False)
VELOX = PyvisaSim(FormFactorVelox, "formfactor_velox.yaml", "FormFactor,Velox,3.2.0",
                  "GPIB0::28::INSTR", esr=False)
MAP = [(0, 0), (1, 0), (2, 1)]


@pytest.mark.parametrize("sim", [SENTIO, VELOX], ids=["sentio", "velox"])
def test_every_listed_address_opens(sim: PyvisaSim[Any]) -> None:
    sim.reset()
    for address in sim.listed():
        with sim.opened(address) as prober:
            sim.assert_in_step(prober)


def test_sentio_dry_walk_sends_separate_step_contact() -> None:
    SENTIO.reset()
    with SENTIO.opened() as prober:
        assert prober.contact_state() == "separation"
        sent = record(prober)
        for die in MAP:
            prober.step_die(die)
            prober.contact()
            prober.separate()
        prober.safe_off()
        assert sent == [c for die in MAP for c in (f"map:step_die {die[0]}, {die[1]}, 0",
                                                   "move_chuck_contact",
                                                   "move_chuck_separation")] + [
            "move_chuck_separation"]
        SENTIO.assert_in_step(prober)


def test_velox_dry_walk_sends_separate_step_contact_and_refuses_in_contact() -> None:
    VELOX.reset()
    with VELOX.opened() as prober:
        prober.velocity = 50.0
        sent = record(prober)
        prober.separate()
        for die in MAP:
            prober.step_die(die)
            prober.contact()
            with pytest.raises(InstrumentError, match="in contact"):
                prober.step_die(die)
            prober.separate()
        with pytest.raises(LimitError, match="velocity"):
            prober.velocity = 150.0
        assert sent == ["MoveChuckSeparation 50"] + [
            c for die in MAP for c in (f"StepNextDie {die[0]} {die[1]} 0", "MoveChuckContact 50",
                                       "MoveChuckSeparation 50")]
        VELOX.assert_in_step(prober)
