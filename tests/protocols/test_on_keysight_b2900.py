"""The unchanged forming and iv-sweep protocols on a Keysight B2902A (its station files), checked
against the simulator's ground truth, and the same iv-sweep as a pyvisa-sim dry run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labsyn.analysis import DRY_RUN_REASON
from labsyn.engine import Runner, RunSink, RunState
from labsyn.errors import LimitError
from labsyn.protocols import get_protocol
from labsyn.station import Station
from labsyn.station.config import load_station_config

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
SIM_STATION = STATIONS / "keysight_b2902a_sim.yaml"
PYVISA_SIM_STATION = STATIONS / "keysight_b2902a_pyvisa_sim.yaml"
STEP = 0.02


def open_b2900_station(**sim: Any) -> Station:
    config = load_station_config(SIM_STATION)
    config = config.model_copy(update={"sim": config.sim.model_copy(update=sim)})
    return Station(config, str(SIM_STATION))


def truth(station: Station) -> Any:
    return station.bench.timeline.duts[0].device.truth


def run(station: Station, name: str, sinks: tuple[RunSink, ...] = (), **params: Any) -> Any:
    return Runner(station, get_protocol(name), params, sinks=sinks).run()


class CrossingsPerCycle(RunSink):
    """After each loop: how many SET / RESET crossings the device has recorded so far."""

    def __init__(self, station: Station) -> None:
        self.truth = truth(station)
        self.counts = [(len(self.truth.set_crossings), len(self.truth.reset_crossings))]

    def on_progress(self, done: float, total: float, message: str) -> None:
        self.counts.append((len(self.truth.set_crossings), len(self.truth.reset_crossings)))

    def in_cycle(self, cycle: int, kind: str) -> list[float]:
        index = 0 if kind == "set" else 1
        crossings = self.truth.set_crossings if kind == "set" else self.truth.reset_crossings
        return crossings[self.counts[cycle - 1][index]:self.counts[cycle][index]]


def test_the_station_binds_te_to_channel_1_of_the_b2902a() -> None:
    with open_b2900_station() as station:
        binding = station.terminal("TE")
        assert binding.driver is station.instruments["smu"].channels_by_number[1]
        assert binding.series_resistance == 100.0


def test_a_station_can_wire_both_electrodes_to_the_two_channels(tmp_path: Path) -> None:
    text = (SIM_STATION.read_text().replace("  BE: ground", "  BE: {instrument: smu, channel: 2}")
            .replace("device: rram", "device: resistor\n  resistance: 1.0e4"))
    path = tmp_path / "b2902a_two_terminals.yaml"
    path.write_text(text)
    with Station.open(path) as station:
        smu = station.instruments["smu"]
        te, be = station.terminal("TE").driver, station.terminal("BE").driver
        assert (te, be) == (smu.channels_by_number[1], smu.channels_by_number[2])
        be.apply_voltage(0.1, 1e-3)
        te.apply_voltage(0.5, 1e-3)
        resistance = 1e4 + 100.0 + 100.0  # DUT + declared TE wire + the sim's series resistance
        assert te.measure().current == pytest.approx(0.4 / resistance, rel=1e-3)
        assert be.measure().current == pytest.approx(-0.4 / resistance, rel=1e-3)
    outputs = station.bench.instruments["GPIB0::23::INSTR"].channels_by_number.values()
    assert not any(o.state_at(station.clock.now()).on for o in outputs)  # safe state on exit


@pytest.mark.parametrize("device", [0, 3])
def test_dc_forming_reports_the_true_forming_voltage_within_one_step(device: int) -> None:
    with open_b2900_station(device_index=device) as station:
        result = run(station, "forming", v_step=STEP)
        recorded = truth(station)
    assert result.status == RunState.COMPLETED, result.message
    assert recorded.forming_voltage is not None
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= STEP
    assert result.figures["r_before"].value > 1e6
    assert 1e3 < result.figures["r_after"].value < 2e4


def test_pulsed_forming_with_a_read_pulse_that_fits() -> None:
    with open_b2900_station(device_index=2) as station:
        result = run(station, "forming", mode="pulsed", v_start=1.0, v_step=0.1, v_max=5.0,
                     pulse_width=1e-3, r_threshold=100e3, nplc=0.01)
        recorded = truth(station)
    assert result.status == RunState.COMPLETED, result.message
    assert abs(result.figures["v_form"].value - recorded.forming_voltage) <= 0.1


def test_pulsed_forming_whose_read_cannot_fit_the_pulse_is_refused_before_output() -> None:
    """The read is a pulse of the write's width: 0.1 PLC (2 ms) cannot fit in 1 ms."""
    with open_b2900_station(device_index=2) as station:
        with pytest.raises(LimitError, match="read aperture"):
            run(station, "forming", mode="pulsed", pulse_width=1e-3, nplc=0.1)
        outputs = station.bench.instruments["GPIB0::23::INSTR"].channels_by_number.values()
        assert not any(o.state_at(station.clock.now()).on for o in outputs)
        assert station.bench.timeline.duts[0].device.truth.forming_voltage is None


@pytest.mark.parametrize("device", [3, 7])
def test_switching_voltages_match_the_crossings_of_the_same_loop(device: int) -> None:
    with open_b2900_station(device_index=device) as station:
        assert run(station, "forming").figures["v_form"].ok
        crossings = CrossingsPerCycle(station)
        result = run(station, "iv-sweep", sinks=(crossings,), cycles=4, v_step=STEP)
    assert result.status == RunState.COMPLETED, result.message
    checked = 0
    for row in result.details.itertuples():
        for kind, value in (("set", row.v_set), ("reset", row.v_reset)):
            true = crossings.in_cycle(row.cycle, kind)
            if not true:
                assert value is None or np.isnan(value)
                continue
            assert abs(value - true[0]) <= 2 * STEP, (kind, row.cycle, value, true)
            checked += 1
    assert checked >= 6
    assert 5 < result.figures["on_off"].value < 100


@pytest.mark.parametrize(("name", "params"), [("iv-sweep", {"cycles": 3}), ("forming", {})])
def test_dry_run_on_stock_pyvisa_sim(name: str, params: dict[str, Any]) -> None:
    with Station.open(PYVISA_SIM_STATION) as station:
        result = Runner(station, get_protocol(name), params).run()
        errors = station.terminal("TE").driver.errors()
    assert result.status == RunState.COMPLETED, result.message
    assert errors == []
    assert result.figures and all(not f.ok and f.reason == DRY_RUN_REASON
                                  for f in result.figures.values())
