"""STDP on the simulated 2450 station: the measured window is the model's own response, the
checks refuse what the station cannot play, degenerate data gives missing figures."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from labsyn.engine import Runner, RunSink, RunState
from labsyn.errors import ConfigError, LimitError
from labsyn.protocols import get_protocol
from labsyn.protocols.stdp import AFTER, BEFORE, PAIR, RESULT, plan
from tests.engine.conftest import open_station

from .conftest import formed_station, run, run_with_data
from .truth_checks import STATIONS, assert_dry_run_clean, open_sim_station

PARAMS = {"points": 5}
TWO_TERMINAL = STATIONS / "keithley_2636b_two_terminal_sim.yaml"


class DeviceBeforeEachPair(RunSink):
    """A copy of the simulated device as it was when each pair started."""

    def __init__(self, station: Any) -> None:
        self.device = station.bench.timeline.duts[0].device
        self.copies: list[Any] = []

    def on_progress(self, done: float, total: float, message: str) -> None:
        if message.startswith("pair"):
            self.copies.append(copy.deepcopy(self.device))


def model_response(device: Any, pair: Any, series_resistance: float) -> float:
    """ΔG/G0 the model itself gives for the pair's device-frame levels V_TE − V_BE, read the
    same way (noise-free)."""
    reads: dict[int, list[float]] = {BEFORE: [], AFTER: []}
    for level, phase in zip(pair.device_levels, pair.phases, strict=True):
        result = device.apply(float(level), pair.staircase.dwell, pair.staircase.current_limit,
                              series_resistance)
        if phase in reads and level != 0:
            reads[phase].append(result.current / result.v_device)
    g0, g = np.mean(reads[BEFORE]), np.mean(reads[AFTER])
    return float((g - g0) / g0)


@pytest.mark.parametrize("device", [0, 1])
def test_window_matches_the_models_own_response(device: int) -> None:
    station = formed_station(device)
    spy = DeviceBeforeEachPair(station)
    runner = Runner(station, get_protocol("stdp"), PARAMS, sinks=(spy,))
    result = runner.run()
    assert result.status == RunState.COMPLETED, result.message
    data = runner.data()
    rows = data[data["phase"] == RESULT]
    params = get_protocol("stdp").parameters(PARAMS)
    pairs = plan(params)
    assert len(rows) == len(pairs) == len(spy.copies) == 10
    r_series = station.bench.timeline.duts[0].series_resistance
    model = np.array([model_response(d, p, r_series) for d, p in zip(spy.copies, pairs,
                                                                       strict=True)])
    measured = rows["dg_rel"].to_numpy()
    rms = np.sqrt(np.mean((measured - model) ** 2)) / np.sqrt(np.mean(model ** 2))
    print(f"device {device}: RMS {rms:.3f}", np.round(measured, 3), np.round(model, 3),
          {k: f"{v}" for k, v in result.figures.items()})
    assert rms < 0.10, (measured, model)
    assert np.max(np.abs(model)) > 0.3  # the pairs did switch the device
    samples = data[(data["phase"] == PAIR) & (data["pair"] == 0)]["time"].to_numpy()
    assert np.diff(samples) == pytest.approx(params.sample_interval, rel=1e-6)  # the grid held
    figures = result.figures
    assert figures["a_minus"].ok and figures["tau_minus"].ok, figures["a_minus"].reason
    # the biphasic spike potentiates at Δt < 0 on this wiring: −A− > 0
    assert figures["a_minus"].value < 0
    assert 1e-3 < figures["tau_minus"].value < 50e-3


def test_fits_frame_and_details() -> None:
    station = formed_station(0)
    protocol = get_protocol("stdp")
    result, data = run_with_data(station, "stdp", **PARAMS)
    analysis = protocol.analyse(data, protocol.resolve(protocol.parameters(PARAMS), station))
    assert len(analysis.details) == 10
    fit = analysis.fits["window"]
    assert {"delta_t", "dg_rel", "label"} <= set(fit.columns)
    negative = fit[fit["label"] == "fit Δt < 0"]
    assert (negative["delta_t"] < 0).all() and len(negative) == 100
    assert analysis.figures["a_minus"].value == pytest.approx(result.figures["a_minus"].value)


def test_restore_prepares_the_same_start_state() -> None:
    _, data = run_with_data(formed_station(0), "stdp", **PARAMS)
    rows = data[data["phase"] == RESULT]
    g0, g = rows["g0"].to_numpy(), rows["g"].to_numpy()
    assert np.std(g0) / np.mean(g0) < 0.1  # every pair starts from the prepared state ...
    assert np.max(np.abs(g0[1:] - g[:-1]) / g[:-1]) > 0.3  # ... whatever the last pair did
    _, kept = run_with_data(formed_station(0), "stdp", restore="accumulate", **PARAMS)
    rows = kept[kept["phase"] == RESULT]
    g0, g = rows["g0"].to_numpy(), rows["g"].to_numpy()
    assert g0[1:] == pytest.approx(g[:-1], rel=0.02)  # each pair starts where the last ended
    assert not (kept["phase"] == 0).any()


def test_resistor_has_no_plasticity() -> None:
    with open_station(device="resistor") as station:
        result, _ = run_with_data(station, "stdp", **PARAMS)
    assert result.status == RunState.COMPLETED, result.message
    for estimate in result.figures.values():
        assert not estimate.ok and "no plasticity" in estimate.reason


@pytest.mark.parametrize(("current", "reason"), [(0.0, "only 0 finite"),
                                                 (np.nan, "only 0 finite")])
def test_dead_device_and_nan_reads(current: float, reason: str) -> None:
    station = formed_station(0)
    protocol = get_protocol("stdp")
    _, data = run_with_data(station, "stdp", **PARAMS)
    data = data.copy()
    data.loc[data["phase"].isin([BEFORE, AFTER]), "current"] = current
    analysis = protocol.analyse(data, protocol.parameters(PARAMS))
    for estimate in analysis.figures.values():
        assert not estimate.ok and reason in estimate.reason
    assert analysis.fits == {}


def test_empty_data_gives_missing_figures() -> None:
    protocol = get_protocol("stdp")
    empty = pd.DataFrame({c.name: np.empty(0, c.dtype) for c in protocol.columns})
    analysis = protocol.analyse(empty, protocol.parameters({}))
    assert all(not e.ok for e in analysis.figures.values())


def check(station: Any, **params: Any) -> None:
    protocol = get_protocol("stdp")
    protocol.check(protocol.resolve(protocol.parameters(params), station), station)


def test_check_refuses_what_the_station_cannot_play(tmp_path: Path) -> None:
    with open_station() as station:
        with pytest.raises(LimitError, match=r"sample_interval.*≥ 0.001 s"):
            check(station, sample_interval=1e-4, dt_min=1e-3)
        with pytest.raises(LimitError, match=r"points per pair.*≤ 2500.*spike_width"):
            check(station, spike_width=3.0, dt_max=1.0)
        with pytest.raises(LimitError, match=r"spike_amplitude"):
            check(station, spike_amplitude=3.0)  # the overlap doubles it beyond 5 V
        with pytest.raises(ConfigError, match="finer than one sample"):
            check(station, dt_min=5e-4)
        with pytest.raises(ConfigError, match="needs spike_file"):
            check(station, spike_shape="file")
        with pytest.raises(ConfigError, match="dt_min"):
            check(station, dt_min=0.1, dt_max=0.05)
        spike = tmp_path / "spike.csv"
        spike.write_text("t,V\n0,0\n0,0.4\n0.002,0.4\n0.002,-0.3\n0.04,0\n")
        check(station, spike_shape="file", spike_file=str(spike))  # accepted


def test_check_refuses_sources_on_both_terminals_from_different_instruments() -> None:
    with open_sim_station(STATIONS / "pulser_smu_sim.yaml") as station:
        with pytest.raises(ConfigError, match="needs BE grounded.*cannot synchronise"):
            check(station)


def test_drive_must_match_the_wiring() -> None:
    with open_station() as station:
        with pytest.raises(ConfigError, match="two-terminal needs BE on the other channel"):
            check(station, drive="two-terminal")
        check(station, drive="te-only")
    with open_sim_station(TWO_TERMINAL) as station:
        with pytest.raises(ConfigError, match="te-only needs BE grounded"):
            check(station, drive="te-only")
        check(station, drive="two-terminal")


def test_csv_spike_runs(tmp_path: Path) -> None:
    spike = tmp_path / "spike.csv"
    spike.write_text("t,V\n0,0\n0,0.5\n0.003,0.5\n0.003,-0.5\n0.06,0\n")
    result, data = run_with_data(formed_station(0), "stdp", spike_shape="file",
                                 spike_file=str(spike), dt_min=3e-3, dt_max=30e-3, **PARAMS)
    assert result.status == RunState.COMPLETED, result.message
    pair = data[(data["phase"] == PAIR) & (data["pair"] == 9)]  # Δt = +30 ms
    assert len(pair) == 90 and pair["v_program"].min() == pytest.approx(-1.0 + 0.5 * 27 / 57,
                                                                         abs=0.02)


def test_dry_run_plays_every_pair_and_its_constant_data_has_no_window() -> None:
    runner = assert_dry_run_clean(STATIONS / "keithley_2450_pyvisa_sim.yaml", "stdp", PARAMS)
    data = runner.data()
    assert sorted(data[data["phase"] == RESULT]["pair"]) == list(range(10))
    protocol = get_protocol("stdp")
    analysis = protocol.analyse(data, protocol.parameters(PARAMS))  # static replies
    assert all(not e.ok and e.reason for e in analysis.figures.values())


# -- two-terminal drive: pre on smua (TE), post on smub (BE) -------------------------------------
def formed_two_terminal(device: int = 0) -> Any:
    station = open_sim_station(TWO_TERMINAL, device_index=device)
    formed = run(station, "forming")
    assert formed.figures["v_form"].ok, formed.figures["v_form"].reason
    return station


def test_two_terminal_window_matches_the_models_own_response() -> None:
    station = formed_two_terminal(0)
    spy = DeviceBeforeEachPair(station)
    sent = count_writes(station)
    runner = Runner(station, get_protocol("stdp"), PARAMS, sinks=(spy,))
    result = runner.run()
    assert result.status == RunState.COMPLETED, result.message
    data = runner.data()
    params = get_protocol("stdp").parameters(PARAMS)
    pairs = plan(params, two_terminal=True)
    rows = data[data["phase"] == RESULT]
    assert len(rows) == len(pairs) == len(spy.copies) == 10
    r_series = station.bench.timeline.duts[0].series_resistance
    model = np.array([model_response(d, p, r_series) for d, p in zip(spy.copies, pairs,
                                                                       strict=True)])
    measured = rows["dg_rel"].to_numpy()
    rms = np.sqrt(np.mean((measured - model) ** 2)) / np.sqrt(np.mean(model ** 2))
    print(f"two-terminal: RMS {rms:.3f}", np.round(measured, 3), np.round(model, 3),
          {k: f"{v}" for k, v in result.figures.items()})
    assert rms < 0.10, (measured, model)
    assert np.max(np.abs(model)) > 0.3
    assert result.figures["a_minus"].ok and result.figures["a_minus"].value < 0
    # per Δt: one script load, one run, one buffer read per channel, one error check
    loads = [i for i, m in enumerate(sent) if m.startswith("loadscript")]
    assert len(loads) == len(pairs) and set(np.diff(loads)) == {5}, sent[:12]
    assert len(sent) <= 5 * len(pairs) + 5  # + the safe state at the end


def test_two_terminal_data_show_both_channels_on_one_time_grid() -> None:
    _, data = run_with_data(formed_two_terminal(0), "stdp", **PARAMS)
    params = get_protocol("stdp").parameters(PARAMS)
    readings = data[data["phase"] != RESULT]
    assert readings["time_be"].to_numpy() == pytest.approx(readings["time"].to_numpy(),
                                                           abs=1e-9)
    assert readings["v_program"].to_numpy() == pytest.approx(
        (readings["v_te"] - readings["v_be"]).to_numpy())
    pair = readings[(readings["phase"] == PAIR) & (readings["pair"] == 9)]  # Δt = +50 ms
    assert np.diff(pair["time"].to_numpy()) == pytest.approx(params.sample_interval, rel=1e-6)
    assert pair["v_be"].abs().max() == pytest.approx(0.5, abs=0.01)  # post is on BE ...
    assert pair["v_te"].abs().max() == pytest.approx(0.5, abs=0.01)  # ... pre on TE
    # each channel sourced its own programmed level at every sample (measured readback)
    assert pair["voltage_be"].to_numpy() == pytest.approx(pair["v_be"].to_numpy(), abs=2e-3)
    assert pair["current_be"].to_numpy() == pytest.approx(-pair["current"].to_numpy(),
                                                          rel=0.05, abs=2e-6)
    outside = readings[readings["phase"] != PAIR]
    assert (outside["v_be"] == 0).all()  # preparation and reads on TE, BE at 0 V


def test_two_terminal_checks_each_terminal_and_the_device() -> None:
    with open_sim_station(TWO_TERMINAL) as station:
        with pytest.raises(LimitError, match=r"BE voltage.*1 V.*set by spike_amplitude"):
            check(station, spike_amplitude=1.5)  # TE allows 5 V, BE 1 V
        with pytest.raises(LimitError, match=r"dwell.*set by sample_interval"):
            check(station, sample_interval=1e-4, dt_min=1e-3)
        check(station, spike_amplitude=0.9)
    with open_sim_station(STATIONS / "keithley_2636b_sim.yaml") as station:
        with pytest.raises(LimitError, match=r"device voltage V_TE − V_BE.*≤ 5 V.*spike_ampl"):
            check(station, spike_amplitude=3.0)  # 3 V per terminal, 6 V across the device


def test_two_terminal_dry_run_on_stock_pyvisa_sim() -> None:
    runner = assert_dry_run_clean(STATIONS / "keithley_2636b_pyvisa_sim.yaml", "stdp", PARAMS)
    data = runner.data()
    assert sorted(data[data["phase"] == RESULT]["pair"]) == list(range(10))
    assert data["time_be"].notna().any()


def count_writes(station: Any) -> list[str]:
    """Every write to the 2636B (a query is one write and its reads)."""
    sent: list[str] = []
    adapter = station.terminal("TE").driver.parent.adapter
    write = adapter.write
    adapter.write = lambda command, **kw: (sent.append(command), write(command, **kw))[1]
    return sent
