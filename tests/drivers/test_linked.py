"""Write with a pulse generator, read with an SMU, joined by a trigger cable: the RRAM example
station, potentiation, transactions, limits and the safe state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.linked import write_with_pulser_read_with_smu
from labsyn.errors import LimitError
from labsyn.station import Station

EXAMPLE = Path("examples/stations/pulser_smu_sim.yaml")
AMPLITUDE = 0.58  # V programmed into 50 Ω: ~1.15 V at the device, the HfOx LTP regime
WIDTH, PERIOD, READ, READ_DELAY, LIMIT = 1e-6, 10e-3, 0.1, 2e-3, 1e-3


@pytest.fixture
def station() -> Iterator[Station]:
    with Station.open(EXAMPLE) as station:
        yield station


def formed_and_reset(station: Station) -> Any:
    device = station.bench.timeline.duts[0].device
    for _ in range(10):
        device.apply(3.5, 1e-3, i_limit=1e-4)
        if device.formed:
            break
    assert device.formed
    device.apply(-1.6, 1e-3)
    device.idle(1.0)
    return device


def train(station: Station, count: int = 100, **changes: Any) -> Any:
    kwargs: dict[str, Any] = dict(amplitude=AMPLITUDE, width=WIDTH, count=count, period=PERIOD,
                                  read_level=READ, read_delay=READ_DELAY, current_limit=LIMIT,
                                  nplc=0.01, check_voltage=station.check_voltage)
    kwargs.update(changes)
    return write_with_pulser_read_with_smu(station.terminal("TE").driver,
                                           station.terminal("BE").driver, **kwargs)


def outputs(station: Station) -> tuple[str, str]:
    status = station.bench.status()
    return status["GPIB0::10::INSTR"]["ch1"]["output"], status["GPIB0::24::INSTR"]["output"]


def writes_of(station: Station) -> list[str]:
    """Every write (one per transaction) of both instruments, recorded from now on."""
    writes: list[str] = []
    for name in ("pg", "smu"):
        adapter = station.instruments[name].adapter
        original = adapter.write
        adapter.write = lambda command, _o=original, **kw: (writes.append(command),
                                                           _o(command, **kw))[1]
    return writes


def test_a_potentiation_train_raises_the_conductance_the_device_ends_with(
        station: Station) -> None:
    device = formed_and_reset(station)
    g_start = device.conductance()
    data = train(station)
    assert len(data) == 100 and not data.aborted and not data.limited.any()
    assert np.allclose(data.source, READ)  # the device frame: V_TE - V_BE during the reads
    series = 1000.0 + 50.0  # the declared resistor and the generator's output impedance
    v_device = data.source - data.current * series
    g = data.current / v_device
    assert g[-1] > 1.5 * g[0] and device.conductance() > 1.5 * g_start
    steps = np.diff(g)
    assert (steps > -0.02 * g[1:]).all()  # monotonic within the read noise
    assert np.polyfit(np.arange(100), g, 1)[0] > 0
    # the last read is the device's own state (within read noise and the volatile part left
    # 2 ms after the pulse): its current at that voltage, and its conductance
    assert data.current[-1] == pytest.approx(device.current(float(v_device[-1])), rel=0.06)
    assert g[-1] == pytest.approx(device.conductance(), rel=0.1)
    # every pulse was the pulser's, one per SMU period, all taken
    log = station.bench.trigger_log
    assert len(log) == 100 and all(entry[-1] for entry in log)
    assert np.allclose(np.diff([entry[0] for entry in log]), PERIOD, rtol=0, atol=1e-12)
    assert outputs(station) == ("OFF", "OFF")


def test_the_whole_linked_train_costs_at_most_10_transactions(station: Station) -> None:
    formed_and_reset(station)
    writes = writes_of(station)
    data = train(station, count=1000)
    assert len(data) == 1000
    assert len(writes) <= 10, writes


@pytest.mark.parametrize(("changes", "message"), [
    ({"amplitude": 2.5}, "TE voltage"),  # 5 V at the device through the 50 Ω setting
    ({"read_level": 1.5}, "BE voltage"),
    ({"read_delay": 1e-6}, "read delay after trigger"),  # inside the pulser's burst
    ({"period": 1e-3}, "triggered read period"),
    ({"count": 2_000_000}, "external trigger count"),
    ({"width": 1e-9}, "pulse width"),
    ({"current_limit": 2.0}, "current limit"),
])
def test_limits_are_checked_before_anything_is_sent(station: Station, changes: dict[str, Any],
                                                    message: str) -> None:
    station.terminal("BE").driver.line_frequency  # noqa: B018 - asked once per driver
    writes = writes_of(station)
    with pytest.raises(LimitError, match=message):
        train(station, **changes)
    assert writes == []


def test_an_abort_mid_train_leaves_both_outputs_off(station: Station) -> None:
    formed_and_reset(station)
    start = station.clock.now()
    data = train(station, count=1000, should_abort=lambda: station.clock.now() > start + 1.0)
    assert data.aborted and 50 < len(data) < 150
    assert outputs(station) == ("OFF", "OFF")
    delivered = len(station.bench.trigger_log)
    station.clock.sleep(5.0)
    station.bench.sync()
    assert len(station.bench.trigger_log) == delivered  # no more triggers, no more pulses
    assert station.terminal("BE").driver.safed.is_set()


def test_a_failure_mid_train_leaves_both_outputs_off(station: Station,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    smu = station.terminal("BE").driver

    def broken(*args: Any, **kwargs: Any) -> Any:
        smu.apply_voltage(-0.1, 1e-3)
        raise RuntimeError("lost the SMU")

    monkeypatch.setattr(smu, "run_triggered_reads", broken)
    with pytest.raises(RuntimeError, match="lost the SMU"):
        train(station)
    assert outputs(station) == ("OFF", "OFF")
