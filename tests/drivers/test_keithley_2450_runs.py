"""Run-length pulse trains on the 2450: one config-list entry per distinct amplitude, each run
looped by a branch counter, LTP/LTD cycles looped once more; the device sees the same drive."""

from __future__ import annotations

import re

import numpy as np
import pytest

from labsyn.drivers import keithley_2450_program as program
from labsyn.drivers.keithley_2450_program import (
    MAX_BLOCKS,
    amplitude_runs,
    pulse_train_commands,
    run_layout,
)
from labsyn.drivers.sequence import PulseTrain, Sequence, SequenceData, Staircase
from tests.conftest import Rig, forming_ramp, hfox_cell, make_rig

V_LTP, V_LTD = 0.85, -1.0


def ltp_ltd(pulses: int, cycles: int, precondition: bool = False,
            **kwargs: object) -> PulseTrain:
    """What the ltp-ltd protocol plays: [LTD], then (LTP, LTD) x cycles."""
    head = (V_LTD,) * pulses if precondition else ()
    amplitudes = head + ((V_LTP,) * pulses + (V_LTD,) * pulses) * cycles
    kwargs = {"read_level": 0.1, "read_delay": 1e-3, **kwargs}
    return PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3, **kwargs)  # type: ignore[arg-type]


def blocks_of(train: PulseTrain) -> dict[int, str]:
    """Block number -> its command, from the compiled trigger model."""
    last = pulse_train_commands(train, 0.01, ("W", "R"))[-1].split(";")
    found = (re.fullmatch(r":TRIG:BLOC:(\S+) (\d+)(.*)", b) for b in last)
    return {int(m.group(2)): m.group(1) + m.group(3) for m in found if m}


def test_runs_of_identical_amplitudes() -> None:
    assert amplitude_runs((1.0, 1.0, -1.0, -1.0, -1.0, 1.0)) == [(1.0, 2), (-1.0, 3), (1.0, 1)]


def test_an_ltp_ltd_run_is_one_entry_per_amplitude_and_a_loop_of_its_cycles() -> None:
    layout = run_layout(ltp_ltd(250, 2, precondition=True))
    assert layout is not None
    assert layout.levels == (V_LTD, V_LTP)
    assert layout.head == ((1, 250),)
    assert layout.body == ((2, 250), (1, 250))
    assert layout.repeats == 2


def test_branch_counters_loop_each_run_then_the_cycle() -> None:
    blocks = blocks_of(ltp_ltd(250, 3))
    branches = [(n, b) for n, b in blocks.items() if b.startswith("BRAN:COUN")]
    assert [b for _, b in branches] == ["BRAN:COUN, 250, 6", "BRAN:COUN, 250, 14",
                                        "BRAN:COUN, 3, 6"]
    assert all(blocks[int(b.rsplit(",", 1)[1])] == "WAIT, TIM1" for _, b in branches)
    assert [b for b in blocks.values() if b.startswith("CONF:REC, \"W\"")] == [
        'CONF:REC, "W", 1', 'CONF:REC, "W", 1', 'CONF:REC, "W", 2']
    assert blocks[max(blocks)] == "SOUR:STAT, OFF" and max(blocks) <= MAX_BLOCKS


def test_incremental_and_irregular_trains_fall_back_to_one_entry_per_pulse() -> None:
    incremental = PulseTrain(tuple(0.5 + 0.001 * i for i in range(300)), 1e-3, 5e-3, 1e-3,
                             read_level=0.1)
    irregular = PulseTrain(tuple(1.0 if (i * i) % 7 < 3 else -1.0 for i in range(300)), 1e-3,
                           5e-3, 1e-3, read_level=0.1)
    assert run_layout(PulseTrain((0.5, 0.6, 0.7), 1e-3, 5e-3, 1e-3)) is None  # nothing repeats
    for train in (incremental, irregular):
        assert run_layout(train) is None
        commands = pulse_train_commands(train, 0.01, ("W", "R"))
        assert sum(c.count(':SOUR:CONF:LIST:STOR "W"') for c in commands) == 300
        assert ':TRIG:BLOC:CONF:NEXT 7, "W"' in commands[-1]
        assert ":TRIG:BLOC:BRAN:COUN 13, 300, 6" in commands[-1]


def test_the_layout_never_exceeds_the_block_budget() -> None:
    amplitudes: tuple[float, ...] = ()
    for k in range(1, 9):  # eight runs of distinct lengths: nothing repeats
        amplitudes += (V_LTP if k % 2 else V_LTD,) * (k + 1)
    sampled = PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3, read_level=0.1, measure_pulse=True)
    assert run_layout(sampled) is None  # 8 x 9 blocks do not fit in 63
    plain = PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3)
    assert run_layout(plain) is not None and max(blocks_of(plain)) <= MAX_BLOCKS


def _formed_pair() -> tuple[Rig, Rig]:
    rigs = make_rig(hfox_cell(), series_resistance=100.0), make_rig(hfox_cell(),
                                                                     series_resistance=100.0)
    for rig in rigs:
        rig.smu.run(forming_ramp(stop_on_limit=False))
        rig.smu.run(Sequence("TE", (Staircase.ramp(0.0, -1.6, 0.02, 0.01, 1e-2),)))
    return rigs


@pytest.mark.parametrize("measure_pulse", [False, True])
def test_the_device_sees_the_same_train_as_with_one_entry_per_pulse(
        monkeypatch: pytest.MonkeyPatch, measure_pulse: bool) -> None:
    train = ltp_ltd(40, 2, precondition=True, measure_pulse=measure_pulse)
    compact, per_pulse = _formed_pair()
    runs = compact.smu.run(Sequence("TE", (train,), nplc=0.01))
    with monkeypatch.context() as patch:
        patch.setattr(program, "run_layout", lambda train: None)
        reference = per_pulse.smu.run(Sequence("TE", (train,), nplc=0.01))
    assert len(runs) == len(reference) == train.readings
    np.testing.assert_allclose(runs.time - runs.time[0], reference.time - reference.time[0],
                               atol=1e-9)  # the shorter configuration only starts it sooner
    np.testing.assert_array_equal(runs.source, reference.source)
    np.testing.assert_allclose(runs.current, reference.current, rtol=1e-9, atol=0.0)
    np.testing.assert_array_equal(runs.pulse_top, reference.pulse_top)
    assert compact.device.state == pytest.approx(per_pulse.device.state, abs=1e-12)
    reads = _reads(runs).current.reshape(5, 40)  # precondition, (LTP, LTD) x 2
    assert (reads[1, -5:].mean() > 1.5 * reads[1, :5].mean()
            and reads[2, -5:].mean() < reads[2, :5].mean() / 1.5)
    if measure_pulse:
        top = runs.rows(runs.pulse_top)
        assert top.source == pytest.approx(train.amplitudes, abs=0.05)  # 100 Ω series drop


def _reads(data: SequenceData) -> SequenceData:
    return data.rows(~data.pulse_top)
