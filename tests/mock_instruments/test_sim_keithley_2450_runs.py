"""The simulated 2450 plays an endurance train in closed form in both trigger-model layouts
the driver compiles (one W entry per pulse, or run-length: W = (+V, -V) looped)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labsyn.drivers import keithley_2450_program as program
from labsyn.mock_instruments import keithley_2450, keithley_2450_fast_trains
from labsyn.protocols.pulsing import PulsePath, WriteRead
from tests.protocols.conftest import formed_station

WIDTH, PERIOD, V_READ, LIMIT = 1e-3, 8e-3, 0.1, 1e-3


def _endurance(monkeypatch: pytest.MonkeyPatch, per_pulse: bool) -> tuple[Any, list[bool],
                                                                          list[str]]:
    used: list[bool] = []
    kinds: list[str] = []
    original = keithley_2450_fast_trains.fast_alternating_train

    def spy(inst):  # type: ignore[no-untyped-def]
        kinds.append(",".join(b.kind for _, b in sorted(inst.blocks.items())))
        plan = original(inst)
        used.append(plan is not None)
        return plan

    monkeypatch.setattr(keithley_2450, "fast_alternating_train", spy)
    if per_pulse:
        monkeypatch.setattr(program, "run_layout", lambda train: None)
    station = formed_station(0)
    station.arm()
    path = PulsePath(station, "endurance")
    path.run(WriteRead((-1.5,), WIDTH, PERIOD, V_READ, 5e-3, LIMIT))  # from HRS
    reads = path.run(WriteRead((1.3, -1.5) * 100, WIDTH, PERIOD, V_READ, 5e-3, LIMIT))
    return reads, used, kinds


def test_both_layouts_take_the_closed_form_path_and_agree(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    compact, compact_used, compact_kinds = _endurance(monkeypatch, per_pulse=False)
    monkeypatch.undo()
    listed, listed_used, listed_kinds = _endurance(monkeypatch, per_pulse=True)
    assert compact_used[-1] and listed_used[-1]
    assert "CONFIG_NEXT" in listed_kinds[-1] and "CONFIG_NEXT" not in compact_kinds[-1]
    assert compact_kinds[-1].count("BRANCH_COUNTER") == 1
    assert len(compact) == len(listed) == 200
    np.testing.assert_allclose(compact.time - compact.time[0], listed.time - listed.time[0],
                               atol=1e-9)
    for a, b in ((compact.current[0::2], listed.current[0::2]),
                 (compact.current[1::2], listed.current[1::2])):
        assert np.median(a) == pytest.approx(np.median(b), rel=0.08)
    assert np.median(compact.current[0::2]) > 3 * np.median(compact.current[1::2])  # switches


def test_a_run_length_train_that_is_not_alternating_is_planned_block_by_block(
        monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[bool] = []
    original = keithley_2450_fast_trains.fast_alternating_train

    def spy(inst):  # type: ignore[no-untyped-def]
        plan = original(inst)
        used.append(plan is not None)
        return plan

    monkeypatch.setattr(keithley_2450, "fast_alternating_train", spy)
    station = formed_station(0)
    station.arm()
    path = PulsePath(station, "ltp")
    path.run(WriteRead((-1.5,), WIDTH, PERIOD, V_READ, 5e-3, LIMIT))
    reads = path.run(WriteRead((0.9,) * 40 + (-1.2,) * 40, WIDTH, PERIOD, V_READ, 5e-3, LIMIT))
    assert used[-1] is False and len(reads) == 80
    ltp, ltd = reads.current[:40], reads.current[40:]
    assert ltp[-5:].mean() > 1.5 * ltp[:5].mean() and ltd[-5:].mean() < ltd[:5].mean() / 1.5
