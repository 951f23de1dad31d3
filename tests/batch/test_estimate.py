"""The duration estimate of a dry run against the physics simulator's virtual time (the ground
truth), and the pieces it adds to pyvisa-sim's instant replies: transport, prober moves, relays."""

from __future__ import annotations

from pathlib import Path

import pytest

from labsyn.batch.estimate import (
    DryRunTiming,
    StepClock,
    TransportModel,
    as_config,
    calibrate_transport,
    estimate_recipe,
    format_duration,
    station_variant,
)
from labsyn.batch.recipe import parse_recipe
from labsyn.batch.recipe_runner import run_recipe
from labsyn.errors import LabsynError
from labsyn.station import Station

STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"
SMU_SIM = STATIONS / "keithley_2450_sim.yaml"
RECIPE = parse_recipe({"name": "small", "steps": [
    {"protocol": "forming", "params": {"v_max": 4.0, "compliance": 1e-4},
     "require": {"v_form": "ok"}},
    {"protocol": "iv-sweep", "params": {"cycles": 2}},
    {"protocol": "ltp-ltd", "params": {"pulses": 20, "cycles": 1}, "on_fail": "continue"},
    {"protocol": "ppf", "params": {"points": 4, "repeats": 1, "interval_max": 0.2},
     "on_fail": "continue"}]})


def simulated_time(config_path: Path, recipe=RECIPE) -> tuple[float, dict[str, float], list]:
    station = Station(station_variant(as_config(config_path), "labsyn-sim"))
    try:
        steps = StepClock(station.clock, recipe)
        start = station.clock.now()
        result = run_recipe(recipe, station, sinks=[steps])
        return station.clock.now() - start, steps.steps, [o.status for o in result.outcomes]
    finally:
        station.close()


def test_variant_swaps_the_backend_and_keeps_the_station() -> None:
    config = as_config(STATIONS / "probe_station_sim.yaml")
    dry = station_variant(config, "pyvisa-sim")
    assert dry.backend == "pyvisa-sim" and config.backend == "labsyn-sim"
    assert {n: i.address for n, i in dry.instruments.items()} == \
        {n: i.address for n, i in config.instruments.items()}
    assert dry.matrix == config.matrix and dry.limits == config.limits
    back = station_variant(as_config(STATIONS / "keithley_2450_pyvisa_sim.yaml"), "labsyn-sim")
    assert back.backend == "labsyn-sim" and back.clock == "instant"


def test_recipe_estimate_within_20_percent_of_the_simulator() -> None:
    estimate = estimate_recipe(SMU_SIM, RECIPE)
    truth, truth_steps, statuses = simulated_time(SMU_SIM)
    assert statuses == ["completed"] * 4  # the simulator took the same branch
    assert truth > 10.0
    assert abs(estimate.seconds - truth) / truth < 0.20, (estimate.summary(), truth)
    for name, seconds in truth_steps.items():  # and step by step
        assert estimate.steps[name] == pytest.approx(seconds, rel=0.2, abs=0.05), name
    assert sum(estimate.steps.values()) <= estimate.seconds + 1e-9
    assert estimate.messages > 50 and estimate.backend == "pyvisa-sim"


def test_estimate_counts_transport_at_the_given_cost() -> None:
    slow = estimate_recipe(SMU_SIM, RECIPE, TransportModel(latency_s=5e-3))
    fast = estimate_recipe(SMU_SIM, RECIPE, TransportModel(latency_s=0.0, bus_bytes_per_s=1e12))
    assert slow.messages == fast.messages
    assert slow.transaction_s == pytest.approx(slow.messages * 5e-3, rel=0.05)
    # a write issued inside a timed wait (e.g. `:INIT` after the start time) is absorbed by it
    added = slow.seconds - fast.seconds
    assert 0.8 * slow.transaction_s < added <= slow.transaction_s + 1e-9


def test_dry_run_refuses_a_parameter_beyond_the_station_limit() -> None:
    recipe = parse_recipe({"steps": [{"protocol": "forming", "params": {"v_max": 6.0}}]})
    with pytest.raises(LabsynError, match="forming"):
        estimate_recipe(SMU_SIM, recipe)


def _prober_walk(station: Station) -> float:
    prober, start = station.prober, station.clock.now()
    for die in ((1, 0), (2, 0), (2, 1)):
        prober.separate()
        prober.step_die(die, 0)
        prober.contact()
    prober.separate()
    return station.clock.now() - start


def test_prober_moves_are_timed_as_the_sentio_twin() -> None:
    config = as_config(STATIONS / "mpi_sentio_sim.yaml")
    sim = Station(station_variant(config, "labsyn-sim"))
    dry = Station(station_variant(config, "pyvisa-sim"))
    try:
        truth = _prober_walk(sim)
        untimed = _prober_walk(dry)
        timing = DryRunTiming(dry)
        dry.prober.separate()  # the dry walk ended separated too; no move, no time
        assert timing.prober_s == 0.0
        transport_before = timing.transaction_s
        timed = _prober_walk(dry)
        timing.uninstall()
    finally:
        sim.close()
        dry.close()
    assert untimed < 0.01 * truth  # pyvisa-sim alone: no move time at all
    assert truth > 0.5
    assert timed == pytest.approx(truth, rel=0.05)
    assert timing.prober_s == pytest.approx(timed - (timing.transaction_s - transport_before))


def test_relay_settling_is_timed_as_the_matrix_twin() -> None:
    config = as_config(STATIONS / "keithley_707b_sim.yaml")
    deltas = []
    for backend in ("labsyn-sim", "pyvisa-sim"):
        station = Station(station_variant(config, backend))
        timing = DryRunTiming(station) if backend == "pyvisa-sim" else None
        try:
            start = station.clock.now()
            for crosspoints in ({(1, 3)}, {(1, 3)}, {(1, 4), (2, 3)}, {(2, 3)}):
                station.matrix.route(crosspoints)
            station.matrix.open_all()
            deltas.append(station.clock.now() - start)
        finally:
            station.close()
    truth, estimate = deltas
    assert timing is not None and timing.relay_s == pytest.approx(5 * 3e-3)
    assert estimate == pytest.approx(truth, rel=0.15)


def test_calibrated_transport_recovers_the_bench_latency() -> None:
    config = as_config(SMU_SIM)
    config = config.model_copy(update={"sim": config.sim.model_copy(update={"latency_s": 2e-3})})
    station = Station(config)
    try:
        model = calibrate_transport(station, queries=10)
    finally:
        station.close()
    assert model.latency_s == pytest.approx(2e-3, rel=0.05)


def test_format_duration() -> None:
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(125) == "2 min 05 s"
    assert format_duration(3725.2) == "1 h 02 min 05 s"
