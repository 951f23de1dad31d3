"""`labsyn sim serve` serves every simulated instrument of a station — SCPI, TSP, GCS and the
prober's text protocol — and pyvisa's pure-Python backend drives them over loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labsyn.drivers.capabilities import Pose
from labsyn.drivers.keithley_707b import Keithley707B
from labsyn.drivers.mpi_sentio import MpiSentio
from labsyn.drivers.pi_hexapod import PIHexapod
from labsyn.errors import InstrumentReportedError
from tests.engine.served import environment

STATION = Path(__file__).resolve().parents[2] / "examples" / "stations" / "probe_station_sim.yaml"


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """Bench address -> served TCPIP SOCKET resource."""
    process = subprocess.Popen([sys.executable, "-m", "labsyn.cli", "sim", "serve", str(STATION)],
                               stdout=subprocess.PIPE, text=True, env=environment())
    assert process.stdout is not None
    resources: dict[str, str] = {}
    for line in process.stdout:
        if line.startswith("status"):
            break
        address, _, resource = line.partition("->")
        resources[address.strip()] = resource.strip()
    try:
        yield resources
    finally:
        process.terminate()
        process.wait(10)


def test_every_instrument_is_served(served: dict[str, str]) -> None:
    assert set(served) == {"GPIB0::24::INSTR", "GPIB0::16::INSTR",
                           "TCPIP0::127.0.0.1::35555::SOCKET",
                           "TCPIP0::192.168.0.10::50000::SOCKET"}
    assert all(r.startswith("TCPIP::127.0.0.1::") and r.endswith("::SOCKET")
               for r in served.values())


def test_the_707b_routes_over_loopback(served: dict[str, str]) -> None:
    matrix = Keithley707B(served["GPIB0::16::INSTR"], visa_library="@py")
    try:
        assert matrix.route({(1, 3), (2, 4)}) == {(1, 3), (2, 4)}
        assert matrix.route({(1, 5)}) == {(1, 5)}
        matrix.safe_off()
        assert matrix.closed() == set()
    finally:
        matrix.adapter.close()


def test_the_hexapod_answers_gcs_and_reports_pi_error_5(served: dict[str, str]) -> None:
    stage = PIHexapod(served["TCPIP0::192.168.0.10::50000::SOCKET"], visa_library="@py")
    try:
        assert "C-887" in stage.id
        assert not stage.referenced()
        with pytest.raises(InstrumentReportedError) as info:
            stage.move_to(Pose(x=0.5))  # unreferenced: the controller refuses with error 5
        assert 5 in [code for code, _ in info.value.errors]
    finally:
        stage.adapter.close()


def test_the_sentio_prober_separates_steps_and_contacts(served: dict[str, str]) -> None:
    prober = MpiSentio(served["TCPIP0::127.0.0.1::35555::SOCKET"], visa_library="@py")
    try:
        prober.separate()
        start = prober.die()
        reached = prober.step_next_die()
        assert reached is not None and reached != start and prober.die() == reached
        prober.contact()
        assert prober.contact_state() == "contact"
        prober.safe_off()
        assert prober.contact_state() == "separation"
    finally:
        prober.adapter.close()
