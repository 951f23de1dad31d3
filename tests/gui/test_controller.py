"""RunController: jobs run one after another on the engine's threads, signals reach Qt, a
failed job stops the queue and says why, pause / abort / emergency off leave outputs off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labsyn.batch import parse_recipe
from labsyn.gui.controller import Job, RunController
from labsyn.gui.station_holder import StationHolder
from labsyn.store import DeviceId, Store

LONG_SWEEP = {"cycles": 60}  # ~20 s on the paced clock: always aborted by the test


def outputs(holder: StationHolder) -> set[str]:
    return {state["output"] for state in holder.station.bench.status().values()}


class Recorder:
    """Everything the controller emitted, in order."""

    def __init__(self, controller: RunController) -> None:
        self.states: list[str] = []
        self.rows = 0
        self.started: list[Any] = []
        self.results: list[Any] = []
        self.stopped: list[str] = []
        self.etas: list[float] = []
        controller.state_changed.connect(lambda s, _m: self.states.append(s))
        controller.data_block.connect(self._block)
        controller.job_started.connect(self.started.append)
        controller.run_finished.connect(self.results.append)
        controller.queue_stopped.connect(self.stopped.append)
        controller.eta.connect(self.etas.append)

    def _block(self, block: dict) -> None:
        self.rows += len(next(iter(block.values())))


def make(qtbot: Any, station_file: Path, store: Store) -> Iterator[tuple[Any, ...]]:
    holder = StationHolder()
    assert holder.open(str(station_file))
    controller = RunController(holder, store)
    recorder = Recorder(controller)
    try:
        yield holder, controller, recorder
    finally:
        controller.shutdown(30)
        holder.close()


@pytest.fixture
def rig(qtbot: Any, sim_station_file: Path, store: Store) -> Iterator[tuple[Any, ...]]:
    yield from make(qtbot, sim_station_file, store)


@pytest.fixture
def paced_rig(qtbot: Any, paced_station_file: Path, store: Store) -> Iterator[tuple[Any, ...]]:
    yield from make(qtbot, paced_station_file, store)


def test_a_protocol_runs_to_completion_through_signals(qtbot: Any, rig: Any, store: Store
                                                       ) -> None:
    holder, controller, rec = rig
    job = Job("protocol", "forming", {}, DeviceId("W1", "0,0", "d0"))
    with qtbot.waitSignal(controller.queue_stopped, timeout=20_000) as stopped:
        assert controller.start(job)
        assert controller.busy
    assert stopped.args == ["done"]
    assert not controller.busy
    (result,) = rec.results
    assert result.status == "completed" and result.figures["v_form"].ok
    job_seen, protocol = rec.started[0]
    assert job_seen is job and protocol.name == "forming"
    assert rec.rows == result.rows == len(store.load(result.run_id).data) > 0
    assert rec.states[0] == "running" and rec.states[-1] == "completed"
    assert rec.etas and rec.etas[-1] == pytest.approx(0.0)
    assert store.runs()["wafer"].tolist() == ["W1"]
    assert outputs(holder) == {"OFF"}


def test_queued_jobs_run_in_order_each_its_own_run(qtbot: Any, rig: Any) -> None:
    _, controller, rec = rig
    controller.enqueue(Job("protocol", "forming", {}))  # starts at once
    controller.enqueue(Job("protocol", "iv-sweep", {"cycles": 1}, label="one loop"))
    assert [j.label for j in controller.queue] == ["one loop"]
    with qtbot.waitSignal(controller.queue_stopped, timeout=30_000) as stopped:
        pass
    assert stopped.args == ["done"]
    assert [r.protocol for r in rec.results] == ["forming", "iv-sweep"]
    assert len({r.run_id for r in rec.results}) == 2
    assert controller.queue == []


def test_a_refused_job_stops_the_queue_and_names_the_parameter(qtbot: Any, rig: Any) -> None:
    _, controller, rec = rig
    controller.enqueue(Job("protocol", "forming", {"v_max": 9.0}, label="too high"))
    later = Job("protocol", "forming", {})
    controller.enqueue(later)
    assert rec.stopped and rec.stopped[0].startswith("too high: refused")
    assert "v_max" in rec.stopped[0] or "voltage" in rec.stopped[0]
    assert not controller.busy and controller.queue == [later]  # kept, nothing ran
    assert rec.results == []


def test_queue_edits(qtbot: Any, rig: Any) -> None:
    _, controller, _ = rig
    controller.queue.extend([Job("protocol", "forming"), Job("protocol", "ppf"),
                             Job("protocol", "ltp-ltd")])
    controller.remove(1)
    controller.remove(7)  # out of range: ignored
    assert [j.name for j in controller.queue] == ["forming", "ltp-ltd"]
    controller.clear_queue()
    assert controller.queue == []
    with pytest.raises(ValueError, match="kind"):
        Job("macro", "x")


def test_a_recipe_job_runs_every_step(qtbot: Any, rig: Any) -> None:
    _, controller, rec = rig
    recipe = parse_recipe({"name": "form-then-loop", "steps": [
        {"protocol": "forming", "require": {"v_form": "ok"}},
        {"protocol": "iv-sweep", "params": {"cycles": 1}}]})
    with qtbot.waitSignal(controller.queue_stopped, timeout=30_000) as stopped:
        controller.start(Job("recipe", recipe.name, recipe))
    assert stopped.args == ["done"]
    assert [p.name for _, p in rec.started] == ["forming", "iv-sweep"]
    assert [r.status for r in rec.results] == ["completed", "completed"]


def test_a_failing_recipe_step_says_why(qtbot: Any, rig: Any) -> None:
    _, controller, _ = rig
    recipe = parse_recipe({"name": "strict", "steps": [
        {"protocol": "forming", "require": {"v_form": "< 0.1"}},
        {"protocol": "iv-sweep", "params": {"cycles": 1}}]})
    with qtbot.waitSignal(controller.queue_stopped, timeout=30_000) as stopped:
        controller.start(Job("recipe", recipe.name, recipe, label="strict recipe"))
    why = stopped.args[0]
    assert why.startswith("strict recipe: step ") and "v_form" in why


def test_pause_and_resume_mid_run(qtbot: Any, paced_rig: Any) -> None:
    holder, controller, rec = paced_rig
    controller.start(Job("protocol", "iv-sweep", LONG_SWEEP))
    qtbot.waitUntil(lambda: rec.rows > 0, timeout=10_000)
    controller.pause()
    qtbot.waitUntil(lambda: controller.state == "paused", timeout=10_000)
    held = rec.rows
    qtbot.wait(700)  # two paced sweep cycles' worth
    assert rec.rows == held
    controller.resume()
    qtbot.waitUntil(lambda: rec.rows > held, timeout=10_000)
    assert controller.state == "running"
    with qtbot.waitSignal(controller.queue_stopped, timeout=15_000) as stopped:
        controller.abort()
    assert "aborted" in stopped.args[0]
    assert rec.results[-1].status == "aborted"
    assert outputs(holder) == {"OFF"}


def test_abort_mid_run_leaves_outputs_off(qtbot: Any, paced_rig: Any) -> None:
    holder, controller, rec = paced_rig
    controller.start(Job("protocol", "iv-sweep", LONG_SWEEP))
    qtbot.waitUntil(lambda: outputs(holder) == {"ON"} and rec.rows > 0, timeout=10_000)
    controller.enqueue(Job("protocol", "forming"))
    with qtbot.waitSignal(controller.queue_stopped, timeout=15_000):
        controller.abort()
    assert rec.results[-1].status == "aborted"
    assert [j.name for j in controller.queue] == ["forming"]  # kept for a restart by hand
    assert outputs(holder) == {"OFF"}


def test_emergency_off_idle_and_running(qtbot: Any, paced_rig: Any) -> None:
    holder, controller, rec = paced_rig
    smu = holder.station.instruments["smu"]
    smu.rearm()
    smu.write(":OUTP ON")  # something left on by hand
    assert outputs(holder) == {"ON"}
    controller.emergency_off()
    assert outputs(holder) == {"OFF"}
    controller.start(Job("protocol", "iv-sweep", LONG_SWEEP))
    controller.enqueue(Job("protocol", "forming"))
    qtbot.waitUntil(lambda: outputs(holder) == {"ON"}, timeout=10_000)
    controller.emergency_off()
    assert outputs(holder) == {"OFF"}  # at once, not at the next checkpoint
    assert controller.queue == []
    qtbot.waitUntil(lambda: not controller.busy, timeout=15_000)
    assert rec.results[-1].status == "aborted"
    assert outputs(holder) == {"OFF"}
