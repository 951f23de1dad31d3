"""The unchanged forming and iv-sweep protocols on a Keysight B2902A (its station files), checked
against the simulator's ground truth, and the same iv-sweep as a pyvisa-sim dry run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labsyn.errors import LimitError
from labsyn.station import Station

from .conftest import run
from .truth_checks import (
    STATIONS,
    assert_dry_run_clean,
    assert_forming_recovers_truth,
    assert_iv_sweep_recovers_truth,
    open_sim_station,
)

SIM_STATION = STATIONS / "keysight_b2902a_sim.yaml"
PYVISA_SIM_STATION = STATIONS / "keysight_b2902a_pyvisa_sim.yaml"


def test_the_station_binds_te_to_channel_1_of_the_b2902a() -> None:
    with open_sim_station(SIM_STATION) as station:
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
    with open_sim_station(SIM_STATION, device_index=device) as station:
        assert_forming_recovers_truth(station)


def test_pulsed_forming_with_a_read_pulse_that_fits() -> None:
    with open_sim_station(SIM_STATION, device_index=2) as station:
        assert_forming_recovers_truth(station, v_step=0.1, mode="pulsed", v_start=1.0,
                                      v_max=5.0, pulse_width=1e-3, r_threshold=100e3, nplc=0.01)


def test_pulsed_forming_whose_read_cannot_fit_the_pulse_is_refused_before_output() -> None:
    """The read is a pulse of the write's width: 0.1 PLC (2 ms) cannot fit in 1 ms."""
    with open_sim_station(SIM_STATION, device_index=2) as station:
        with pytest.raises(LimitError, match="read aperture"):
            run(station, "forming", mode="pulsed", pulse_width=1e-3, nplc=0.1)
        outputs = station.bench.instruments["GPIB0::23::INSTR"].channels_by_number.values()
        assert not any(o.state_at(station.clock.now()).on for o in outputs)
        assert station.bench.timeline.duts[0].device.truth.forming_voltage is None


@pytest.mark.parametrize("device", [3, 7])
def test_switching_voltages_match_the_crossings_of_the_same_loop(device: int) -> None:
    with open_sim_station(SIM_STATION, device_index=device) as station:
        assert run(station, "forming").figures["v_form"].ok
        assert_iv_sweep_recovers_truth(station, cycles=4, at_least=6)


@pytest.mark.parametrize(("name", "params"), [("iv-sweep", {"cycles": 3}), ("forming", {})])
def test_dry_run_on_stock_pyvisa_sim(name: str, params: dict[str, Any]) -> None:
    assert_dry_run_clean(PYVISA_SIM_STATION, name, params)
