"""Trigger links on the simulated bench: delivered at the right bench time, causally; the 2450's
NOTIFY blocks pulse its digital line, and the 33500B bursts on its Ext Trig input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.drivers.keysight_33500b import Keysight33500B
from labsyn.drivers.sequence import PulseTrain
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.keysight_33500b import SimKeysight33500B
from labsyn.mock_instruments.resistor import Resistor, ResistorSegment

SMU, PG = "GPIB0::24::INSTR", "GPIB0::10::INSTR"


class RecordingResistor(Resistor):
    """A resistor that keeps (start, duration, V across it) of every segment the bench
    integrates, with bench times (its clock starts with the bench's)."""

    def __init__(self, resistance: float) -> None:
        super().__init__(resistance)
        self.history: list[tuple[float, float, float]] = []

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> ResistorSegment:
        start = self.time_s
        segment = super().apply(v, duration, i_limit, r_series)
        if duration > 0:
            self.history.append((start, duration, segment.v_device))
        return segment

    def pulses(self, after: float = 0.0) -> list[tuple[float, float, float]]:
        """Stretches of one nonzero voltage (adjacent segments joined) from `after` on."""
        joined: list[tuple[float, float, float]] = []
        for start, duration, v in self.history:
            if joined and joined[-1][2] == v and abs(joined[-1][0] + joined[-1][1] - start) < 1e-12:
                joined[-1] = (joined[-1][0], joined[-1][1] + duration, v)
            else:
                joined.append((start, duration, v))
        return [p for p in joined if p[2] != 0.0 and p[0] >= after]


class Target:
    """A linked instrument that records what it is given (armed from `armed_at`)."""

    name = "target"

    def __init__(self, armed_at: float = 0.0) -> None:
        self.armed_at = armed_at
        self.seen: list[tuple[str, float, float]] = []  # (line, t, timeline time on delivery)
        self.bench: Bench | None = None

    def attach(self, bench: Bench) -> None:
        self.bench = bench

    def external_trigger(self, line: str, t: float) -> bool:
        assert self.bench is not None
        self.seen.append((line, t, self.bench.timeline.time))
        return t >= self.armed_at


def bench_with_target(armed_at: float = 0.0, delay: float = 0.0) -> tuple[Bench, Any, Target]:
    bench = Bench()
    source = bench.add_instrument(SMU, SimKeithley2450(name="smu"))
    target = bench.add_instrument(PG, Target(armed_at))
    bench.link(SMU, "dig1", PG, "EXT", delay)
    return bench, source, target


def test_a_future_trigger_arrives_when_the_timeline_reaches_it() -> None:
    bench, source, target = bench_with_target(delay=1e-6)
    bench.emit_trigger(source, "DIG1", 0.5)
    bench.emit_trigger(source, "DIG2", 0.5)  # not linked: nobody gets it
    bench.run_until(0.4)
    assert target.seen == []
    bench.run_until(1.0)
    assert target.seen == [("EXT", pytest.approx(0.500001), pytest.approx(0.500001))]
    assert bench.trigger_log == [(pytest.approx(0.500001), "smu", "DIG1", "target", "EXT", True)]


def test_a_trigger_in_the_past_is_delivered_at_once_and_a_target_not_armed_misses_it() -> None:
    bench, source, target = bench_with_target(armed_at=0.2)
    bench.run_until(0.3)
    bench.emit_trigger(source, "DIG1", 0.1)
    assert target.seen == [("EXT", 0.1, 0.3)]
    assert bench.trigger_log[-1][-1] is False


def test_cancelled_triggers_never_arrive() -> None:
    bench, source, target = bench_with_target()
    for t in (0.1, 0.2, 0.3):
        bench.emit_trigger(source, "DIG1", t)
    assert bench.pending_triggers(source) == 3
    bench.run_until(0.15)
    bench.cancel_triggers(source, 0.15)
    bench.run_until(1.0)
    assert [t for _, t, _ in target.seen] == [pytest.approx(0.1)]


def test_links_name_instruments_on_the_bench() -> None:
    bench = Bench()
    bench.add_instrument(SMU, SimKeithley2450())
    with pytest.raises(ValueError, match="no instrument at GPIB0::11::INSTR"):
        bench.link(SMU, "DIG1", "GPIB0::11::INSTR", "EXT")
    with pytest.raises(ValueError, match="takes no external trigger"):
        bench.link(SMU, "DIG1", SMU, "EXT")


@dataclass
class Linked:
    bench: Bench
    smu_sim: SimKeithley2450
    pg_sim: SimKeysight33500B
    device: RecordingResistor
    smu: Keithley2450
    pg: Keysight33500B


@pytest.fixture
def linked() -> Any:
    bench = Bench()
    smu_sim = bench.add_instrument(SMU, SimKeithley2450(name="smu"))
    pg_sim = bench.add_instrument(PG, SimKeysight33500B(name="pg"))
    device = RecordingResistor(10e3)
    dut = bench.add_dut("dut", device, series_resistance=1000.0)
    bench.wire(dut, "TE", pg_sim.channels_by_number[1])
    bench.wire(dut, "BE", smu_sim.channel)
    bench.link(SMU, "DIG1", PG, "EXT")
    smu = Keithley2450(SMU, visa_library=bench.visa_library(), clock=bench.clock)
    pg = Keysight33500B(PG, visa_library=bench.visa_library(), clock=bench.clock)
    yield Linked(bench, smu_sim, pg_sim, device, smu, pg)
    smu.adapter.close()
    pg.adapter.close()


def test_the_pulser_plays_one_burst_at_each_notify_of_the_smu(linked: Linked) -> None:
    linked.pg.ch_1.load = 50.0
    linked.pg.arm_external(PulseTrain.identical(0.5, 2, 1e-6, 3e-6, 1.0), 20)
    assert linked.pg.errors() == []
    start = linked.bench.clock.now()
    data = linked.smu.run_triggered_reads(-0.1, 20, 5e-3, 2e-3, 1e-3, 0.01)
    assert len(data) == 20 and not data.aborted
    notifies = np.array([entry[0] for entry in linked.bench.trigger_log])
    log = linked.bench.trigger_log
    assert all(entry[1:] == ("smu", "DIG1", "pg", "EXT", True) for entry in log)
    assert len(notifies) == 20
    assert np.allclose(np.diff(notifies), 5e-3, rtol=0, atol=1e-12)  # the 2450's timer
    assert start + 5e-3 < notifies[0] < start + 5e-3 + 3e-3  # one period after :INIT
    # two 1 µs pulses 3 µs apart from each NOTIFY: V across the resistor = divided 2 × 0.5 V
    pulses = [p for p in linked.device.pulses(after=start) if p[2] > 0.5]
    starts = np.array([p[0] for p in pulses]).reshape(20, 2)
    assert np.allclose(starts[:, 0], notifies, rtol=0, atol=1e-12)
    assert np.allclose(starts[:, 1] - starts[:, 0], 3e-6, rtol=0, atol=1e-12)
    assert np.allclose([p[1] for p in pulses], 1e-6, rtol=0, atol=1e-12)
    assert np.allclose([p[2] for p in pulses], 1.0 * 10e3 / (11e3 + 50.0) + 0.0, rtol=1e-9)
    # the reads: the SMU at -0.1 V on BE, 2 ms after each NOTIFY
    reads = [p for p in linked.device.pulses(after=start) if 0.09 < p[2] < 0.1]
    assert np.allclose([r[0] for r in reads], notifies + 2e-3, rtol=0, atol=1e-9)
    # the device current flows TE -> BE, into the SMU's HI: negative from the SMU's view
    assert np.allclose(data.current, -0.1 / 11050.0, rtol=1e-3)
    assert linked.pg_sim.taken_triggers == 20 and linked.pg_sim.missed_triggers == 0


def test_a_trigger_before_the_pulser_is_armed_or_during_its_burst_is_missed(
        linked: Linked) -> None:
    sim = linked.pg_sim
    linked.bench.clock.sleep(0.01)
    linked.pg.ch_1.load = 50.0
    before = linked.bench.clock.now()
    linked.bench.emit_trigger(linked.smu_sim, "DIG1", before - 1e-3)  # before arming
    linked.pg.arm_external(PulseTrain.identical(0.5, 1, 1e-3, 2e-3, 1.0), 2)
    armed = linked.bench.clock.now()
    linked.bench.emit_trigger(linked.smu_sim, "DIG1", armed + 1e-3)
    linked.bench.emit_trigger(linked.smu_sim, "DIG1", armed + 2e-3)  # the burst still runs
    linked.bench.emit_trigger(linked.smu_sim, "DIG1", armed + 3e-3)  # ended at armed + 3 ms
    linked.bench.run_until(armed + 10e-3)
    assert [e[-1] for e in linked.bench.trigger_log] == [False, True, False, True]
    assert (sim.taken_triggers, sim.missed_triggers) == (2, 2)
    assert len([p for p in linked.device.pulses(after=armed) if p[2] > 0.5]) == 2


def test_an_smu_abort_cancels_the_triggers_it_has_not_reached(linked: Linked) -> None:
    linked.pg.ch_1.load = 50.0
    linked.pg.arm_external(PulseTrain.identical(0.5, 1, 1e-6, 2e-6, 1.0), 100)
    start = linked.bench.clock.now()
    data = linked.smu.run_triggered_reads(-0.1, 100, 5e-3, 2e-3, 1e-3, 0.01,
                                          should_abort=lambda: linked.bench.clock.now()
                                          > start + 0.1)
    assert data.aborted
    delivered = len(linked.bench.trigger_log)
    assert 10 <= delivered < 30
    linked.bench.run_until(linked.bench.clock.now() + 1.0)
    assert len(linked.bench.trigger_log) == delivered
    assert linked.bench.pending_triggers(linked.smu_sim) == 0
