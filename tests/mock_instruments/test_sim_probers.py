"""The SENTIO and Velox twins through the VISA backend with the real drivers: stepping in contact
is refused (by the driver before sending, and by the twin as the prober refuses it) and nothing
moves; a separate → step → contact walk visits the route in order, ends separated and detects
the end of the route; moves take the time the chuck's velocities give."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labsyn.drivers.formfactor_velox import FormFactorVelox
from labsyn.drivers.mpi_sentio import MpiSentio
from labsyn.errors import InstrumentError, InstrumentReportedError
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.formfactor_velox import SimFormFactorVelox
from labsyn.mock_instruments.mpi_sentio import SimMpiSentio

SENTIO_ADDRESS = "TCPIP0::127.0.0.1::35555::SOCKET"
VELOX_ADDRESS = "GPIB0::28::INSTR"
ROUTE = [(0, 0), (1, 0), (1, 1), (0, 1), (-1, 1)]


@pytest.fixture(params=["sentio", "velox"])
def prober(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any, Bench]]:
    bench = Bench()
    if request.param == "sentio":
        sim: Any = bench.add_instrument(SENTIO_ADDRESS, SimMpiSentio(dies=ROUTE))
        driver: Any = MpiSentio(SENTIO_ADDRESS, visa_library=bench.visa_library(),
                                clock=bench.clock)
    else:
        sim = bench.add_instrument(VELOX_ADDRESS, SimFormFactorVelox(dies=ROUTE))
        driver = FormFactorVelox(VELOX_ADDRESS, visa_library=bench.visa_library(),
                                 clock=bench.clock)
        driver.separate()  # the Velox driver knows no height until its first Z move
    yield driver, sim, bench
    driver.adapter.close()


def test_step_in_contact_is_refused_and_the_chuck_does_not_move(prober: Any) -> None:
    driver, sim, _ = prober
    driver.step_die((1, 0))
    driver.contact()
    before = (sim.chuck.die, list(sim.chuck.visited), sim.chuck.state)
    with pytest.raises(InstrumentError, match="in contact") as info:
        driver.step_die((1, 1))
    assert "1, 1" in info.value.command or "1 1" in info.value.command
    with pytest.raises(InstrumentError, match="in contact"):
        driver.step_next_die()
    assert (sim.chuck.die, list(sim.chuck.visited), sim.chuck.state) == before
    assert driver.die() == (1, 0)


def test_the_twin_refuses_a_step_in_contact_as_the_prober_does(prober: Any) -> None:
    driver, sim, _ = prober
    driver.contact()
    raw = "map:step_die 1, 1, 0" if isinstance(driver, MpiSentio) else "StepNextDie 1 1 0"
    code = 38 if isinstance(driver, MpiSentio) else 14
    with pytest.raises(InstrumentReportedError) as info:
        driver.command(raw)  # past the driver's own check, as a careless client would
    assert info.value.errors[0][0] == code
    assert "separation" in info.value.errors[0][1]
    assert sim.chuck.die == (0, 0) and sim.chuck.visited == []


def test_a_route_walk_visits_every_die_in_order_and_ends_separated(prober: Any) -> None:
    driver, sim, bench = prober
    seen = [driver.step_first_die()]
    states = []
    while True:
        driver.contact()
        states.append(sim.chuck.state)
        driver.separate()
        reached = driver.step_next_die()
        if reached is None:
            break
        assert driver.die() == reached
        seen.append(reached)
    assert seen == ROUTE
    assert sim.chuck.visited == ROUTE
    assert states == ["contact"] * len(ROUTE)
    assert sim.chuck.state == "separation" and driver.contact_state() == "separation"
    assert driver.step_next_die() is None  # still the end
    assert sim.chuck.die == ROUTE[-1]
    assert bench.clock.now() > len(ROUTE) * 2 * sim.chuck.settle_s


def test_moves_take_the_time_the_velocities_give(prober: Any) -> None:
    driver, sim, bench = prober
    start = bench.clock.now()
    driver.step_die((1, 1))  # √2 × 5 mm at 50 mm/s, plus settling
    step = bench.clock.now() - start
    assert step == pytest.approx(2**0.5 * 5000 / 50000 + sim.chuck.settle_s, abs=5e-3)
    start = bench.clock.now()
    driver.contact()  # 100 µm at 2 mm/s
    assert bench.clock.now() - start == pytest.approx(100 / 2000 + sim.chuck.settle_s, abs=5e-3)


def test_safe_off_separates_from_contact_and_holds(prober: Any) -> None:
    driver, sim, _ = prober
    driver.contact()
    driver.safe_off()
    assert sim.chuck.state == "separation"
    with pytest.raises(InstrumentError, match="rearm"):
        driver.contact()
    assert sim.chuck.state == "separation"
    driver.rearm()
    driver.contact()
    assert sim.chuck.state == "contact"


def test_sentio_reads_its_height_from_the_prober_when_it_does_not_know_it() -> None:
    bench = Bench()
    sim = bench.add_instrument(SENTIO_ADDRESS, SimMpiSentio(state="contact"))
    driver = MpiSentio(SENTIO_ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    assert driver.contact_state() == "contact"
    with pytest.raises(InstrumentError, match="in contact"):
        driver.step_die((1, 0))
    assert sim.chuck.visited == []
    driver.adapter.close()


def test_an_unknown_command_gets_the_twins_error() -> None:
    bench = Bench()
    bench.add_instrument(SENTIO_ADDRESS, SimMpiSentio())
    driver = MpiSentio(SENTIO_ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    with pytest.raises(InstrumentReportedError) as info:
        driver.command("map:teleport 1, 2")
    assert info.value.errors[0][0] == 4
    with pytest.raises(InstrumentReportedError) as info:
        driver.command("map:step_die 7, 7, 0")
    assert info.value.errors[0][0] == 8
    driver.adapter.close()
