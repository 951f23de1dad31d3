"""Forming and switching figures recovered from the simulated HfOx device, against its truth."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from labsyn.analysis import (
    analyse_cycle,
    forming_from_pulses,
    forming_from_ramp,
    split_loops,
    switching_statistics,
)
from labsyn.drivers.sequence import PulseTrain, Sequence, SequenceData, Staircase, bipolar_loop
from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.presets import HFOX
from tests.conftest import Rig, make_rig

STEP, DWELL, NPLC = 0.02, 0.01, 0.1
R_SERIES, I_FORM = 100.0, 100e-6
V_READ = 0.2


def rig_for(device: int, wafer_seed: int = 11) -> Iterator[Rig]:
    dev = RRAMDevice.from_key(HFOX, wafer_seed=wafer_seed, die=(2, 3), device=device)
    rig = make_rig(dev, series_resistance=R_SERIES)
    yield rig
    rig.smu.adapter.close()


@pytest.fixture(params=range(6))
def pristine(request: pytest.FixtureRequest) -> Iterator[Rig]:
    yield from rig_for(request.param)


def read(rig: Rig, level: float = V_READ) -> float:
    data = rig.smu.run(Sequence("TE", (Staircase((level,), DWELL, 1e-3),), NPLC))
    return float(data.current[0])


def form(rig: Rig) -> SequenceData:
    ramp = Staircase.ramp(0.0, 4.0, STEP, DWELL, I_FORM)
    return rig.smu.run(Sequence("TE", (ramp,), NPLC))


def test_dc_forming_voltage_within_one_step_of_truth(pristine: Rig) -> None:
    data = form(pristine)
    truth = pristine.device.truth
    r = forming_from_ramp(data.source, data.current, data.limited, STEP,
                          series_resistance=R_SERIES, read_voltage=V_READ,
                          read_current=read(pristine))
    assert truth.forming_voltage is not None and r.criterion == "compliance"
    assert abs(r.v_form.value - truth.forming_voltage) <= STEP
    assert r.r_before.value == pytest.approx(1 / HFOX.g_pristine, rel=0.1)
    assert r.r_after.value == pytest.approx(1 / pristine.device.conductance(), rel=0.05)
    assert r.i_form.value == pytest.approx(I_FORM, rel=1e-3)


def test_pulsed_forming_voltage_within_one_step_of_truth(pristine: Rig) -> None:
    step = 0.05
    before = read(pristine)
    amps = tuple(np.round(np.arange(1.0, 4.0 + step / 2, step), 6))
    train = PulseTrain(amps, 1e-3, 10e-3, I_FORM, read_level=V_READ, read_delay=1e-3)
    data = pristine.smu.run(Sequence("TE", (train,), NPLC))
    r = forming_from_pulses(amps, V_READ, data.current, r_threshold=100e3, relative_drop=None,
                            step=step, initial_read_current=before,
                            series_resistance=R_SERIES)
    truth = pristine.device.truth.forming_voltage
    assert truth is not None and r.criterion == "threshold"
    assert abs(r.v_form.value - truth) <= step
    assert r.r_before.value > 100e6 and r.r_after.value < 10e3


@pytest.fixture(params=range(3))
def formed(request: pytest.FixtureRequest) -> Iterator[Rig]:
    for rig in rig_for(request.param, wafer_seed=5):
        form(rig)
        yield rig


def run_loop(rig: Rig) -> tuple[SequenceData, dict[str, list[float] | float]]:
    """One bipolar loop, branch by branch, with the truth of each branch."""
    loop = bipolar_loop(1.5, 1.6, STEP, DWELL, set_limit=500e-6, reset_limit=10e-3, nplc=NPLC)
    truth, dev = rig.device.truth, rig.device
    parts, seen = [], {}
    for segment, crossings, key in ((loop.segments[0], truth.set_crossings, "set"),
                                    (loop.segments[1], truth.reset_crossings, "reset")):
        n = len(crossings)
        data = rig.smu.run(Sequence("TE", (segment,), NPLC))
        data.segment[:] = len(parts)
        parts.append(data)
        seen[key] = crossings[n:]
        seen["r_" + key] = 1 / dev.conductance()
    return SequenceData.concatenate(parts), seen


def test_loops_match_truth_crossings_and_states(formed: Rig) -> None:
    run_loop(formed)  # after forming the device is already in LRS: no SET crossing to compare
    cycles, loops = [], []
    for k in range(5):
        data, truth = run_loop(formed)
        loops.append(data)
        c = analyse_cycle(data.source, data.current, data.limited, STEP, V_READ, cycle=k,
                          series_resistance=R_SERIES)
        cycles.append(c)
        assert len(truth["set"]) == 1 and len(truth["reset"]) == 1
        assert abs(c.v_set.value - truth["set"][0]) <= 2 * STEP
        assert abs(c.v_reset.value - truth["reset"][0]) <= 2 * STEP
        assert c.r_lrs.value == pytest.approx(truth["r_set"], rel=0.05)
        # HRS is strongly nonlinear (sinh, V0 = 0.3 V): at 0.2 V it reads ~7 % below 1/G(0 V)
        assert c.r_hrs.value == pytest.approx(truth["r_reset"], rel=0.12)
        assert c.on_off.value > 5
    stats = switching_statistics(cycles)
    assert stats["v_set"].n == stats["v_reset"].n == 5
    assert 0 < stats["v_set"].cv < 0.05 and stats["r_lrs"].cv < 0.2
    all_loops = SequenceData.concatenate(loops)
    slices = split_loops(all_loops.source, all_loops.segment)
    assert len(slices) == 5
    again = analyse_cycle(all_loops.source[slices[2]], all_loops.current[slices[2]],
                          all_loops.limited[slices[2]], STEP, V_READ, cycle=2,
                          series_resistance=R_SERIES)
    assert again == cycles[2]
