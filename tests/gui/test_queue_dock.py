"""The queue dock: mirrors a controller's queue, edits it, shows each job's status and why the
queue stopped (against a fake controller, and against the real one on the demo bench)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal

from labsyn.gui.controller import Job, RunController
from labsyn.gui.queue_dock import QueueDock
from labsyn.gui.station_holder import StationHolder


class FakeController(QObject):
    """The RunController's signals and queue API, driven by hand."""

    state_changed = Signal(str, str)
    job_started = Signal(object)
    run_finished = Signal(object)
    queue_stopped = Signal(str)
    queue_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[Job] = []
        self.current: Job | None = None
        self.started: list[Job] = []

    @property
    def busy(self) -> bool:
        return self.current is not None

    def enqueue(self, job: Job) -> None:
        self.queue.append(job)
        self.queue_changed.emit()

    def remove(self, index: int) -> None:
        del self.queue[index]
        self.queue_changed.emit()

    def clear_queue(self) -> None:
        self.queue.clear()
        self.queue_changed.emit()

    def start(self, job: Job) -> bool:
        self.started.append(job)
        return True

    def begin(self) -> Job:
        """Pop the first job and report it started, as the controller does."""
        job = self.current = self.queue.pop(0)
        self.queue_changed.emit()
        self.job_started.emit((job, SimpleNamespace(name=job.name)))
        return job

    def finish(self, status: str, message: str = "", protocol: str = "") -> None:
        self.run_finished.emit(SimpleNamespace(status=status, message=message,
                                               protocol=protocol or self.current.name))


def jobs(*names: str, kind: str = "protocol") -> list[Job]:
    return [Job(kind=kind, name=n, params={}, label=f"{n} @ W1/0,0/{i}")
            for i, n in enumerate(names)]


@pytest.fixture
def fake(qtbot) -> tuple[FakeController, QueueDock]:
    controller = FakeController()
    dock = QueueDock(controller)
    qtbot.addWidget(dock)
    return controller, dock


def column(dock: QueueDock, index: int) -> list[str]:
    return [dock.table.item(r, index).text() for r in range(dock.table.rowCount())]


def test_dock_mirrors_the_queue_and_edits_it(fake) -> None:
    controller, dock = fake
    for job in jobs("forming", "iv-sweep", "ppf"):
        controller.enqueue(job)
    assert column(dock, 1) == ["forming @ W1/0,0/0", "iv-sweep @ W1/0,0/1", "ppf @ W1/0,0/2"]
    assert column(dock, 2) == ["protocol"] * 3 and column(dock, 3) == ["queued"] * 3
    assert not dock.remove_button.isEnabled()

    dock.select_pending(2)
    assert dock.up_button.isEnabled() and not dock.down_button.isEnabled()
    dock.up_button.click()
    assert [j.name for j in controller.queue] == ["forming", "ppf", "iv-sweep"]
    assert dock.selected_index() == 1  # the selection follows the job
    dock.down_button.click()
    assert [j.name for j in controller.queue] == ["forming", "iv-sweep", "ppf"]
    dock.select_pending(0)
    dock.remove_button.click()
    assert [j.name for j in controller.queue] == ["iv-sweep", "ppf"]
    assert dock.table.rowCount() == 2
    dock.clear_button.click()
    assert controller.queue == [] and dock.table.rowCount() == 0
    assert not dock.clear_button.isEnabled()


def test_status_follows_the_controller_and_the_stop_reason_is_shown(fake) -> None:
    controller, dock = fake
    for job in jobs("forming", "iv-sweep", "ppf"):
        controller.enqueue(job)
    controller.begin()
    assert column(dock, 3) == ["running", "queued", "queued"]
    assert column(dock, 0) == ["1", "q1", "q2"]
    controller.state_changed.emit("paused", "")
    assert dock.status_of(0) == "paused"
    controller.state_changed.emit("running", "")
    controller.finish("completed")
    assert dock.status_of(0) == "completed"
    controller.current = None
    controller.begin()
    controller.finish("failed", "compliance tripped at 0 V")
    controller.current = None
    controller.queue_stopped.emit("iv-sweep @ W1/0,0/1: failed: compliance tripped at 0 V")
    assert column(dock, 3) == ["completed", "failed: compliance tripped at 0 V", "queued"]
    assert dock.stop_reason.startswith("iv-sweep @ W1/0,0/1: failed")
    assert "Queue stopped" in dock.stop_label.text()
    assert "compliance tripped" in dock.stop_label.text()

    assert dock.run_button.isEnabled()  # restart by hand: the rest of the queue goes on
    dock.run_button.click()
    assert [j.name for j in controller.started] == ["ppf"] and controller.queue == []


def test_a_recipe_job_shows_its_steps_then_its_outcome(fake) -> None:
    controller, dock = fake
    (recipe,) = jobs("form-and-cycle", kind="recipe")
    controller.enqueue(recipe)
    controller.begin()
    controller.job_started.emit((recipe, SimpleNamespace(name="forming")))
    assert dock.table.rowCount() == 1 and dock.status_of(0) == "running: step forming"
    controller.finish("completed", protocol="forming")
    assert dock.status_of(0) == "running: step forming completed"
    controller.job_started.emit((recipe, SimpleNamespace(name="iv-sweep")))
    assert dock.table.rowCount() == 1  # one job, one row
    controller.queue_stopped.emit("form-and-cycle: step iv-sweep: failed: cycles_switched")
    assert dock.status_of(0).startswith("failed: form-and-cycle: step iv-sweep")
    assert "step iv-sweep" in dock.stop_label.text()


def test_dock_without_queue_changed_polls_the_queue(qtbot) -> None:
    class Bare(QObject):
        state_changed = Signal(str, str)
        job_started = Signal(object)
        run_finished = Signal(object)
        queue_stopped = Signal(str)

        def __init__(self) -> None:
            super().__init__()
            self.queue: list[Any] = []
            self.busy = False

    controller = Bare()
    dock = QueueDock(controller)
    qtbot.addWidget(dock)
    controller.queue.extend(jobs("ppf"))
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1, timeout=2000)


@pytest.fixture
def holder() -> Iterator[StationHolder]:
    holder = StationHolder()
    assert holder.open(None)
    yield holder
    holder.close()


def test_real_controller_queue_runs_then_stops_at_a_refused_job(qtbot, holder) -> None:
    controller = RunController(holder)
    dock = QueueDock(controller)
    qtbot.addWidget(dock)
    good = Job(kind="protocol", name="forming", params={"v_max": 2.0, "v_step": 0.1},
               label="forming ok")
    bad = Job(kind="protocol", name="forming", params={"v_max": 9.0}, label="forming hot")
    later = Job(kind="protocol", name="iv-sweep", params={}, label="iv later")
    with qtbot.waitSignal(controller.queue_stopped, timeout=20000) as stopped:
        controller.enqueue(good)
        controller.enqueue(bad)
        controller.enqueue(later)
        assert dock.table.rowCount() == 3
        assert column(dock, 3) == ["running", "queued", "queued"]
    assert controller.wait(10)
    assert stopped.args[0].startswith("forming hot: refused:")
    assert column(dock, 1) == ["forming ok", "forming hot", "iv later"]
    assert column(dock, 3)[0] == "completed"
    assert column(dock, 3)[1].startswith("refused: forming parameter v_max")
    assert column(dock, 2) == ["protocol"] * 3
    assert column(dock, 3)[2] == "queued"
    assert "v_max" in dock.stop_label.text() and "5 V" in dock.stop_label.text()
    dock.resize(560, 300)
    pixmap = dock.grab()
    assert not pixmap.isNull()
    pixmap.save("/tmp/queue_dock.png")
