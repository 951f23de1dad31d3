"""Retention on the simulator: drift exponent and Arrhenius E_a recovered from the device's
preset over real bake temperatures, the 10-year extrapolation against the model's own failure
time; the cold reference versus the biased in-situ one; the head is safed at the end; checks
refuse before output; dry run on pyvisa-sim."""

from __future__ import annotations

import math

import pytest

from labsyn.analysis.retention import K_B_EV, arrhenius_from_results, extrapolate_lifetime
from labsyn.engine import RunState
from labsyn.errors import LimitError
from labsyn.protocols import get_protocol

from .conftest import run, run_with_data
from .truth_checks import STATIONS, assert_dry_run_clean, open_sim_station

THERMAL = STATIONS / "thermal_sim.yaml"
BAKE_K = (360.0, 380.0, 400.0, 420.0)  # 87–147 °C
BAKE = {"states": "LRS", "t_min": 0.01, "t_max": 3e5, "points": 30, "reads": 5,
        "max_change": 0.3, "pulses": 40}


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


def model_t_fail(device: object, kelvin: float, max_change: float) -> float:
    """When the simulator's own drift law takes the saturated LRS G_on below (1 − max_change)
    of itself at `kelvin`: w_eff = ((t·A + t0)/t0)^(−ν), A the Arrhenius acceleration."""
    p = device.preset
    g_on, g_off = device._g_on, device._g_off
    w = ((1.0 - max_change) * g_on - g_off) / (g_on - g_off)
    accel = math.exp(p.ea_retention_ev / K_B_EV * (1.0 / p.t_ref_k - 1.0 / kelvin))
    return p.drift_t0_s / accel * (w ** (-1.0 / p.drift_nu) - 1.0)


def test_arrhenius_over_5_devices_at_4_bake_temperatures_recovers_ea_and_lifetime() -> None:
    results, groups, truths = [], [], []
    for device in range(5):
        station = formed(device)
        dut = station.bench.timeline.duts[0].device
        for kelvin in BAKE_K:
            result, data = run_with_data(station, "retention", temperature_k=kelvin, **BAKE)
            assert result.status == RunState.COMPLETED, result.message
            assert result.figures["temperature"].value == pytest.approx(kelvin, abs=0.2)
            assert data[data["phase"] == 2]["temperature"].mean() == pytest.approx(300, abs=0.2)
            t_fail = result.figures["t_fail"].value
            assert 1.0 < t_fail < BAKE["t_max"]
            assert t_fail == pytest.approx(model_t_fail(dut, kelvin, 0.3), rel=0.35)
            results.append(result)
            groups.append(device)
        truths.append(model_t_fail(dut, 358.15, 0.3))
        station.close()
    true_ea = dut.preset.ea_retention_ev
    fit = arrhenius_from_results(results, groups)
    assert fit.points == 20
    assert fit.ea.value == pytest.approx(true_ea, abs=0.04)  # measured: 1.198 ± 0.019 eV
    assert abs(fit.ea.value - true_ea) < 3 * fit.ea.uncertainty
    life = extrapolate_lifetime(fit, 358.15)  # 85 °C
    assert life.passes is False  # ~1 day to a 30 % drop, far from 10 years
    typical = math.exp(sum(math.log(t) for t in truths) / len(truths))
    assert life.t_fail.value == pytest.approx(typical, rel=0.3)


def test_in_situ_reference_has_drifted_at_a_bake_temperature_the_cold_one_has_not() -> None:
    station = formed(2)
    dut = station.bench.timeline.duts[0].device
    params = {**BAKE, "t_max": 10.0, "points": 5, "temperature_k": 420.0}
    cold = run(station, "retention", **params).figures["g_programmed"]
    g_on = dut._g_on
    hot = run(station, "retention", reference_k=None, **params).figures["g_programmed"]
    assert "300" in cold.reason and "in situ" in hot.reason
    assert cold.value == pytest.approx(g_on, rel=0.01)
    assert hot.value < 0.9 * g_on  # 10 ms at 420 K is ~6000 s of drift at 300 K


def test_first_run_after_forming_fails_like_the_later_ones() -> None:
    """The noiseless device: the "first run fails sooner" seen with noise was the reference's
    read noise (0.3 % moves ln t_fail by ~0.2 at ν = 0.02), drawn the same way each time."""
    station = formed(0)
    dut = station.bench.timeline.duts[0].device
    dut.preset = dut.preset.noiseless()
    times = [run(station, "retention", temperature_k=400.0, **BAKE).figures["t_fail"].value
             for _ in range(3)]
    assert times[0] == pytest.approx(times[1], rel=0.02)
    assert times[1] == pytest.approx(times[2], rel=0.02)


def test_setpoints_beyond_the_station_limits_are_refused_before_any_output() -> None:
    station = open_sim_station(THERMAL)
    protocol = get_protocol("retention")
    with pytest.raises(LimitError, match="limits.temperature_k"):
        protocol.check(protocol.parameters({"temperature_k": 480.0}), station)
    with pytest.raises(LimitError, match="limits.temperature_k"):
        protocol.check(protocol.parameters({"temperature_k": 400.0, "reference_k": 230.0}),
                       station)
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
    assert set(data["phase"]) == {0, 1, 2} and set(data["state"]) == {0, 1}
