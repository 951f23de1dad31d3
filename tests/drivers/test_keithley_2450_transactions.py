"""Transactions (a write, or a write and its read) per sequence on the 2450: instrument-side
trains cost a handful, whatever their length."""

from __future__ import annotations

import math
from typing import Any

import pytest

from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.mock_instruments.resistor import Resistor
from tests.conftest import make_rig


def count_transactions(smu: Any, sequence: Sequence) -> tuple[int, int]:
    """(transactions, rows) of one run: each write starts one."""
    writes: list[str] = []
    adapter = smu.adapter
    original = adapter.write
    adapter.write = lambda command, **kw: (writes.append(command), original(command, **kw))[1]
    try:
        rows = len(smu.run(sequence))
    finally:
        adapter.write = original
    return len(writes), rows


@pytest.fixture
def smu() -> Any:
    rig = make_rig(Resistor(10e3))
    rig.smu.line_frequency  # noqa: B018 - asked once per driver, not per run
    yield rig.smu
    rig.smu.adapter.close()


def train(amplitudes: tuple[float, ...]) -> Sequence:
    return Sequence("TE", (PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3, read_level=0.1,
                                      read_delay=1e-3),), nplc=0.01)


def test_1000_identical_pulses_with_reads_cost_at_most_5_transactions(smu: Any) -> None:
    transactions, rows = count_transactions(smu, train((1.0,) * 1000))
    assert rows == 1000
    assert transactions <= 5


def test_1000_different_pulses_cost_at_most_5_plus_n_over_100(smu: Any) -> None:
    amplitudes = tuple(0.5 + 0.001 * i for i in range(1000))
    transactions, rows = count_transactions(smu, train(amplitudes))
    assert rows == 1000
    assert transactions <= 5 + math.ceil(1000 / 100)


def test_a_staircase_costs_at_most_5_transactions(smu: Any) -> None:
    ramp = Staircase.ramp(0.0, 2.0, 0.01, 0.001, 1e-3)
    transactions, rows = count_transactions(smu, Sequence("TE", (ramp,), nplc=0.01))
    assert rows == 201 and transactions <= 5


def test_point_by_point_costs_at_least_two_transactions_a_pulse(smu: Any) -> None:
    writes: list[str] = []
    original = smu.adapter.write
    smu.adapter.write = lambda command, **kw: (writes.append(command), original(command, **kw))[1]
    for _ in range(50):
        smu.apply_voltage(1.0, 1e-3)
        smu.apply_voltage(0.1, 1e-3)
        smu.measure()
    smu.adapter.write = original
    assert len(writes) >= 2 * 50 * 2


def test_pulse_top_sampling_keeps_1000_pulses_within_5_transactions(smu: Any) -> None:
    plain = train((1.0,) * 1000)
    (segment,) = plain.segments
    sampled = Sequence("TE", (PulseTrain(segment.amplitudes, 1e-3, 5e-3, 1e-3, read_level=0.1,
                                         read_delay=1e-3, measure_pulse=True),), nplc=0.01)
    transactions, rows = count_transactions(smu, sampled)
    assert rows == 2000
    assert transactions == count_transactions(smu, plain)[0] <= 5


@pytest.mark.parametrize("measure_pulse", [False, True])
def test_1000_pulse_ltp_ltd_cycles_cost_at_most_5_transactions(smu: Any,
                                                                measure_pulse: bool) -> None:
    """2 cycles x (250 LTP + 250 LTD), a read after each pulse: one entry per amplitude."""
    amplitudes = ((0.9,) * 250 + (-1.0,) * 250) * 2
    sequence = Sequence("TE", (PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3, read_level=0.1,
                                          read_delay=1e-3, measure_pulse=measure_pulse),),
                        nplc=0.01)
    transactions, rows = count_transactions(smu, sequence)
    assert rows == 1000 * (2 if measure_pulse else 1)
    assert transactions <= 5
