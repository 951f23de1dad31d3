"""Retention on the simulator: drift exponent and Arrhenius E_a recovered from the device's
preset; the head is safed at the end; checks refuse before output; dry run on pyvisa-sim."""

from __future__ import annotations

import pytest

from labsyn.analysis.retention import arrhenius_from_results
from labsyn.engine import RunState
from labsyn.errors import LimitError
from labsyn.protocols import get_protocol

from .conftest import run, run_with_data
from .truth_checks import STATIONS, assert_dry_run_clean, open_sim_station

THERMAL = STATIONS / "thermal_sim.yaml"


def formed(device: int) -> object:
    station = open_sim_station(THERMAL, device_index=device)
    assert run(station, "forming", v_step=0.05).figures["v_form"].ok
    return station


def test_drift_exponent_is_recovered_within_10_percent() -> None:
    station = formed(0)
    result, data = run_with_data(station, "retention")  # LRS then HRS, 1 s → 1e4 s at 300 K
    assert result.status == RunState.COMPLETED, result.message
    true_nu = station.bench.timeline.duts[0].device.preset.drift_nu
    assert result.figures["drift_nu"].value == pytest.approx(true_nu, rel=0.10)
    assert result.figures["on_off"].value > 10
    assert result.figures["temperature"].value == pytest.approx(300.0, abs=0.2)
    assert data["temperature_measured"].all()
    assert not station.bench.instrument_at("GPIB0::5::INSTR").flow  # safe state on exit
    assert "retention" in result.fits


def test_arrhenius_over_5_devices_at_4_temperatures_recovers_ea() -> None:
    results = []
    for device in range(5):
        station = formed(device)
        run(station, "retention", states="HRS", t_min=0.01, t_max=0.1, points=2)  # condition
        for kelvin in (300.0, 307.0, 314.0, 321.0):
            result = run(station, "retention", states="LRS", temperature_k=kelvin, t_min=0.01,
                         t_max=3000.0, points=30, reads=5, soak=30.0)
            assert result.figures["temperature"].value == pytest.approx(kelvin, abs=0.5)
            results.append(result)
        station.close()
    true_ea = station.bench.timeline.duts[0].device.preset.ea_retention_ev
    fit = arrhenius_from_results(results)
    assert fit.points == 20
    assert fit.ea.value == pytest.approx(true_ea, abs=0.08)


def test_setpoints_beyond_the_station_limits_are_refused_before_any_output() -> None:
    station = open_sim_station(THERMAL)
    protocol = get_protocol("retention")
    with pytest.raises(LimitError, match="limits.temperature_k"):
        protocol.check(protocol.parameters({"temperature_k": 480.0}), station)
    twin = station.bench.instrument_at("GPIB0::5::INSTR")
    assert not any(c.startswith("SETP") for c in twin.commands)


def test_without_a_thermal_head_reads_are_tagged_nominal() -> None:
    from tests.protocols.conftest import formed_station

    station = formed_station(1)
    result, data = run_with_data(station, "retention", states="LRS", temperature_k=358.0,
                                 t_max=10.0, points=4)
    assert result.status == RunState.COMPLETED, result.message
    assert not data["temperature_measured"].any()
    assert result.figures["temperature"].reason == "nominal"
    assert (data["temperature"] == 358.0).all()


def test_dead_device_gives_missing_figures_with_reasons() -> None:
    from labsyn.mock_instruments.wafer import OpenCircuit

    station = open_sim_station(THERMAL)
    station.bench.timeline.duts[0].device = OpenCircuit()  # a dead device: reads 0 A
    result = run(station, "retention", states="LRS", t_max=10.0, points=5)
    assert result.status == RunState.COMPLETED, result.message
    for name in ("drift_nu", "t_fail", "stretch_tau"):
        assert not result.figures[name].ok
        assert "dead or open" in result.figures[name].reason


def test_dry_run_on_the_thermal_pyvisa_sim_station_completes() -> None:
    runner = assert_dry_run_clean(STATIONS / "thermal_pyvisa_sim.yaml", "retention",
                                  {"temperature_k": 358.15, "points": 4, "t_max": 100.0})
    data = runner.data()
    assert set(data["phase"]) == {0, 1} and set(data["state"]) == {0, 1}
