"""smua and smub stepping together from one script on one trigger timer (`run_pair`), on the
simulated 2636B: the device sees V_TE − V_BE sample by sample."""

from __future__ import annotations

import numpy as np
import pytest

from labsyn.drivers.keithley_2600_pair import pair_script
from labsyn.drivers.sequence import Staircase
from labsyn.errors import LimitError
from labsyn.mock_instruments.resistor import Resistor

from .test_keithley_2600_sim import Rig, count_transactions, make_rig

R = 10e3


@pytest.fixture
def rig() -> Rig:
    return make_rig(Resistor(R))


def levels(n: int, seed: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.random.default_rng(seed).uniform(-1.0, 1.0, n))


def test_both_channels_step_together_and_the_device_sees_the_difference(rig: Rig) -> None:
    te, be = Staircase(levels(40, 1), 1e-3, 1e-3), Staircase(levels(40, 2), 1e-3, 1e-3)
    rig.smu.line_frequency  # noqa: B018 — asked once per session, not per run
    sent = count_transactions(rig.smu)
    own, theirs = rig.smu.smua.run_pair(rig.smu.smub, te, be, 0.01)
    expected = (np.array(te.levels) - np.array(be.levels)) / R
    # a one-sample lag of either channel would break this at almost every sample
    assert own.current == pytest.approx(expected, rel=1e-3, abs=1e-9)
    assert theirs.current == pytest.approx(-expected, rel=1e-3, abs=1e-9)
    assert own.time == pytest.approx(theirs.time, abs=1e-9)  # one time grid
    assert np.diff(own.time) == pytest.approx(1e-3, rel=1e-6)
    assert own.source == pytest.approx(te.levels, abs=1e-4)
    assert theirs.source == pytest.approx(be.levels, abs=1e-4)
    assert [m.split("\n")[0] for m in sent] == [
        sent[0].split("\n")[0], sent[1], "waitcomplete()", "waitcomplete()",
        "print(errorqueue.count)"]
    assert sent[0].startswith("loadscript labsynSeqPair") and sent[1].endswith("()")
    assert "smub.nvbuffer1.n" in sent[2] and "script.delete" not in sent[2]
    assert "smua.nvbuffer1.n" in sent[3] and "script.delete" in sent[3]
    assert rig.smu.errors() == []
    rig.bench.sync()
    assert not rig.sim.smua.running and not rig.sim.smub.running


def test_long_pairs_come_back_in_binary(rig: Rig) -> None:
    te, be = Staircase(levels(1200, 3), 2e-4, 1e-3), Staircase(levels(1200, 4), 2e-4, 1e-3)
    sent = count_transactions(rig.smu)
    own, theirs = rig.smu.smua.run_pair(rig.smu.smub, te, be, 0.001)
    assert len(own) == len(theirs) == 1200 and "format.REAL32" in sent[-2]
    expected = (np.array(te.levels) - np.array(be.levels)) / R
    assert own.current == pytest.approx(expected, rel=1e-3, abs=1e-8)


def test_the_script_paces_both_sources_with_one_timer() -> None:
    te, be = Staircase((0.1, 0.2, 0.3), 1e-3, 1e-3), Staircase((0.0, -0.1, 0.0), 1e-3, 1e-3)
    lines = pair_script("smua", "smub", te, be, 0.01, 50.0, 1).lines
    assert "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID" in lines
    assert "smub.trigger.source.stimulus = trigger.timer[1].EVENT_ID" in lines
    assert "trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID" in lines
    assert "trigger.timer[1].count = 2" in lines and "trigger.timer[1].delaylist = {0.001}" \
        in lines
    assert lines[-2:] == ["smub.trigger.initiate()", "smua.trigger.initiate()"]


@pytest.mark.parametrize(("be", "match"), [
    (Staircase((0.1, 0.2), 1e-3, 1e-3), "same points and dwell"),
    (Staircase((0.1, 0.2, 0.3), 2e-3, 1e-3), "same points and dwell"),
    (Staircase((0.1, 250.0, 0.3), 1e-3, 1e-3), "source voltage|level"),
    (Staircase((0.1, 0.2, 0.3), 1e-3, 2.0), "current limit"),
])
def test_refused_before_anything_is_sent(rig: Rig, be: Staircase, match: str) -> None:
    te = Staircase((0.1, 0.2, 0.3), 1e-3, 1e-3)
    sent = count_transactions(rig.smu)
    with pytest.raises(LimitError, match=match):
        rig.smu.smua.run_pair(rig.smu.smub, te, be, 0.01)
    assert not any("loadscript" in m or "output" in m for m in sent), sent


def test_too_short_a_sample_and_a_foreign_partner_are_refused(rig: Rig) -> None:
    short = Staircase((0.1, 0.2), 5e-5, 1e-3)
    with pytest.raises(LimitError, match="paired staircase dwell"):
        rig.smu.smua.check_pair(rig.smu.smub, short, short, 0.001)
    assert rig.smu.smua.pairs_with(rig.smu.smub) and rig.smu.smub.pairs_with(rig.smu.smua)
    assert not rig.smu.smua.pairs_with(rig.smu.smua)
    other = make_rig(Resistor(R)).smu.smub
    assert not rig.smu.smua.pairs_with(other)
    with pytest.raises(LimitError, match="paired channel"):
        rig.smu.smua.check_pair(other, short, short, 0.01)


def test_abort_mid_pair_stops_both_channels_and_keeps_what_was_measured(rig: Rig) -> None:
    te, be = Staircase((0.5,) * 400, 1e-3, 1e-3), Staircase((-0.5,) * 400, 1e-3, 1e-3)
    start = rig.bench.clock.now()
    own, theirs = rig.smu.smua.run_pair(rig.smu.smub, te, be, 0.01,
                                        lambda: rig.bench.clock.now() - start > 0.1)
    assert own.aborted and theirs.aborted
    assert 50 < len(own) < 400 and abs(len(own) - len(theirs)) <= 1
    assert own.current == pytest.approx(1.0 / R, rel=1e-3)
    rig.bench.sync()
    assert not rig.sim.smua.running and not rig.sim.smub.running
