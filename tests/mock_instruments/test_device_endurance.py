"""The closed-form bipolar-cycling fast path against the scalar rate model it replaces."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from labsyn.mock_instruments.device_model import HFOX, RRAMDevice

TP, PERIOD, T_READ, V_READ, LIMIT, R_S = 1e-3, 8e-3, 5.45e-3, 0.1, 1e-3, 100.0


def formed(preset=HFOX, seed: int = 3) -> RRAMDevice:  # type: ignore[no-untyped-def]
    device = RRAMDevice(preset, np.random.default_rng(seed))
    device.apply(4.0, 1.0, i_limit=1e-4)
    device.apply(-1.5, TP, LIMIT, R_S)  # start from HRS
    device.idle(PERIOD)
    assert device.formed and device.state < 0.5
    return device


def scalar(device: RRAMDevice, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The same drive, segment by segment (what the bench timeline does)."""
    reads = np.empty(2 * n)
    device.idle(PERIOD)
    for q in range(2 * n):
        device.apply(1.3 if q % 2 == 0 else -1.5, TP, LIMIT, R_S)
        result = device.apply(V_READ, T_READ, LIMIT, R_S)
        reads[q] = device.read_current(result.v_device)
        if q < 2 * n - 1:
            device.idle(PERIOD - TP - T_READ)
    return reads[0::2], reads[1::2]


def fast(device: RRAMDevice, n: int) -> tuple[np.ndarray, np.ndarray]:
    result = device.apply_bipolar_cycles(1.3, -1.5, TP, T_READ, PERIOD, n, V_READ, LIMIT, R_S,
                                         lead=PERIOD)
    assert result is not None and result.read_set is not None and result.read_reset is not None
    return result.read_set, result.read_reset


def levels(reads: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """Median R_LRS, median R_HRS and the log-spread of R_HRS."""
    r_lrs, r_hrs = V_READ / reads[0], V_READ / reads[1]
    return float(np.median(r_lrs)), float(np.median(r_hrs)), float(np.std(np.log(r_hrs)))


def test_fast_path_matches_the_scalar_model_cycle_for_cycle() -> None:
    a = formed()
    b = copy.deepcopy(a)
    slow, quick = levels(scalar(a, 300)), levels(fast(b, 300))
    assert quick[0] == pytest.approx(slow[0], rel=0.01)  # LRS: C2C only
    assert quick[1] == pytest.approx(slow[1], rel=0.08)  # HRS: dominated by the Δw noise
    assert quick[2] == pytest.approx(slow[2], rel=0.25)
    assert b.truth.cycles == a.truth.cycles == 300
    assert b.time_s == pytest.approx(a.time_s, abs=1e-9)
    assert b.state == pytest.approx(a.state, abs=0.05)
    assert b._last_crossing == a._last_crossing == -1


def test_window_closes_past_onset_as_in_the_scalar_model() -> None:
    preset = replace(HFOX, n_onset=30, sigma_ln_n_onset=0.0, closure_per_decade=0.5,
                     stuck_decades=3.0, stuck_decades_sigma=0.0)
    a = formed(preset)
    b = copy.deepcopy(a)
    slow, quick = scalar(a, 400), fast(b, 400)
    window = [np.median(r[0][-40:] / r[1][-40:]) for r in (slow, quick)]
    start = [np.median(r[0][:20] / r[1][:20]) for r in (slow, quick)]
    assert window[1] == pytest.approx(window[0], rel=0.1)
    assert window[1] < start[1] / 2  # it did close
    assert b._g_on == pytest.approx(a._g_on, rel=0.1)


@pytest.mark.parametrize("mode", [0.0, 1.0])
def test_stuck_at_the_same_cycle_and_state_as_the_scalar_model(mode: float) -> None:
    preset = replace(HFOX, n_onset=40, sigma_ln_n_onset=0.0, closure_per_decade=0.0,
                     stuck_decades=0.5, stuck_decades_sigma=0.0, stuck_lrs_probability=mode)
    a = formed(preset)
    b = copy.deepcopy(a)
    slow, quick = scalar(a, 200), fast(b, 200)
    n_stuck = a.truth.params.n_stuck
    assert a.truth.stuck == b.truth.stuck == ("LRS" if mode else "HRS")
    assert a.truth.cycles == b.truth.cycles == int(np.ceil(n_stuck))
    first = int(np.ceil(n_stuck)) - 1  # 0-based index of the cycle that stuck
    for reads in (slow, quick):
        ratio = reads[0][first + 1:] / reads[1][first + 1:]
        assert np.all(np.abs(np.log(ratio)) < 0.1)  # both reads in the same state
        assert np.median(reads[0][:first] / reads[1][:first]) > 10
    assert b.state == pytest.approx(a.state, abs=0.01)


def test_outside_the_saturating_regime_it_declines() -> None:
    device = formed()
    before = copy.deepcopy(device.__dict__)
    assert device.apply_bipolar_cycles(1.3, -1.5, TP, T_READ, PERIOD, 10, V_READ, 1e-5,
                                       R_S) is None  # compliance engages
    assert device.apply_bipolar_cycles(0.8, -1.5, TP, T_READ, PERIOD, 10, V_READ, LIMIT,
                                       R_S) is None  # SET pulse too weak to saturate
    assert device.apply_bipolar_cycles(1.3, -1.5, TP, T_READ, PERIOD, 10, 0.5, LIMIT,
                                       R_S) is None  # read above the volatile threshold
    assert device.time_s == before["time_s"] and device._w == before["_w"]


def test_prepaid_time_is_skipped_once() -> None:
    device = formed()
    device.prepay(1.0)
    w, t = device._w, device.time_s
    device.apply(2.0, 0.6)  # inside the prepaid span: nothing happens
    device.idle(0.4)
    assert (device._w, device.time_s) == (w, t)
    device.apply(-1.5, TP, LIMIT, R_S)  # past it: the model integrates again
    assert device.time_s == pytest.approx(t + TP)


def test_without_noise_the_fast_path_is_exact() -> None:
    preset = replace(HFOX, noise=False, d2d=False)
    a = formed(preset)
    b = copy.deepcopy(a)
    slow, quick = scalar(a, 50), fast(b, 50)
    np.testing.assert_allclose(quick[0], slow[0], rtol=2e-3)
    np.testing.assert_allclose(quick[1], slow[1], rtol=2e-2)


def _station_train(monkeypatch: pytest.MonkeyPatch, fast_path: bool, n: int = 200):  # type: ignore[no-untyped-def]
    from labsyn.mock_instruments import keithley_2450, keithley_2450_fast_trains
    from labsyn.protocols.pulsing import PulsePath, WriteRead
    from tests.protocols.conftest import formed_station

    used: list[bool] = []
    original = keithley_2450_fast_trains.fast_alternating_train

    def spy(inst):  # type: ignore[no-untyped-def]
        plan = original(inst) if fast_path else None
        used.append(plan is not None)
        return plan

    monkeypatch.setattr(keithley_2450, "fast_alternating_train", spy)
    station = formed_station(0)
    station.arm()
    path = PulsePath(station, "endurance")
    path.run(WriteRead((-1.5,), TP, PERIOD, V_READ, 5e-3, LIMIT))
    reads = path.run(WriteRead((1.3, -1.5) * n, TP, PERIOD, V_READ, 5e-3, LIMIT))
    device = station.bench.timeline.duts[0].device
    return reads, device, used[-1]


def test_the_simulated_2450_plays_endurance_trains_in_closed_form(
        monkeypatch: pytest.MonkeyPatch) -> None:
    slow, slow_device, slow_used = _station_train(monkeypatch, False)
    quick, quick_device, quick_used = _station_train(monkeypatch, True)
    assert (slow_used, quick_used) == (False, True)
    # stamped as the trigger model plans them (the train's start depends on polling)
    np.testing.assert_allclose(quick.time - quick.time[0], slow.time - slow.time[0], atol=1e-9)
    np.testing.assert_array_equal(quick.voltage, slow.voltage)
    for a, b in ((slow.current[0::2], quick.current[0::2]),
                 (slow.current[1::2], quick.current[1::2])):
        assert np.median(b) == pytest.approx(np.median(a), rel=0.08)
    assert quick_device.truth.cycles == slow_device.truth.cycles == 200
    assert quick_device.time_s - quick.time[0] == pytest.approx(
        slow_device.time_s - slow.time[0], abs=1e-4)


def test_bulk_list_store_does_what_the_commands_do_one_by_one() -> None:
    from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
    from labsyn.mock_instruments.scpi import ScpiEngine

    setup = b':SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG 2;:SOUR:CONF:LIST:CRE "W"'
    message = ";".join(f':SOUR:VOLT {v:.9g};:SOUR:CONF:LIST:STOR "W"'
                       for v in (1.3, -1.5, 1.3, 5.0, -1.5)).encode()
    bulk, plain = SimKeithley2450(), SimKeithley2450()
    for inst in (bulk, plain):
        inst._reply_time = 0.0
        inst.receive(setup, 0.0)
    bulk.receive(message, 0.0)
    ScpiEngine.receive(plain, message, 0.0)
    assert bulk.source_lists == plain.source_lists
    assert [e.voltage for e in bulk.source_lists["W"]] == [1.3, -1.5, 1.3]  # 5 V: out of range
    assert bulk.status.errors == plain.status.errors and bulk.status.errors
    assert bulk.source == plain.source
