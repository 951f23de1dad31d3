"""The main window: docks (station, protocol, queue, browser, analysis) around the live plots,
run controls with an always-visible Emergency Off, a status bar with state, progress and ETA,
and layout / last station persisted in `settings()`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QToolBar,
    QToolButton,
    QWidget,
)

from labsyn.store import Store

from .analysis_panel import AnalysisPanel
from .browser import RunBrowser
from .controller import Job, RunController
from .live import LivePlots
from .protocol_dock import ProtocolDock
from .queue_dock import QueueDock
from .settings import settings
from .station_dock import StationDock
from .station_holder import StationHolder

log = logging.getLogger("labsyn.gui")
EMERGENCY_STYLE = ("QToolButton { background: #c62828; color: white; font-weight: bold;"
                   " padding: 4px 10px; border-radius: 3px; }"
                   " QToolButton:pressed { background: #8e0000; }")
ACTIVE = ("running", "paused")


class MainWindow(QMainWindow):
    """The bench window; `station_path=None` opens the simulated demo bench."""

    def __init__(self, station_path: str | None = None, data_dir: str | Path | None = None,
                 open_station: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("labsyn — bench")
        self.holder = StationHolder(self)
        self.store = Store(Path(data_dir) if data_dir else Store.default_root())
        self.controller = RunController(self.holder, self.store, self)
        self.live = LivePlots(self)
        self.setCentralWidget(self.live)
        self.protocol: Any = None  # of the job on the plots
        self.last_result: Any = None
        self.queue_message = ""
        self._build_docks()
        self._build_actions()
        self._build_status()
        self._connect()
        self._restore_layout()
        if open_station:
            self.holder.open(station_path or self._last_station())
        self._update_actions()

    # -- layout ---------------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget,
              area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState needs names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.station_dock = StationDock(self.holder)
        self.protocol_dock = ProtocolDock()
        self.queue_dock = QueueDock(self.controller)
        self.browser = RunBrowser(self.store)
        self.analysis = AnalysisPanel()
        self.docks = {
            "station": self._dock("Station", "station_dock", self.station_dock, left),
            "protocol": self._dock("Protocol", "protocol_dock", self.protocol_dock, left),
            "queue": self._dock("Queue", "queue_dock", self.queue_dock, right),
            "analysis": self._dock("Analysis", "analysis_dock", self.analysis, right),
            "browser": self._dock("Runs", "browser_dock", self.browser, bottom),
        }
        self.tabifyDockWidget(self.docks["station"], self.docks["protocol"])
        self.docks["protocol"].raise_()
        self.resizeDocks([self.docks["browser"]], [230], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["protocol"], self.docks["queue"]], [430, 380],
                         Qt.Orientation.Horizontal)

    def _action(self, text: str, shortcut: str, slot: Callable[[], None], tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{tip} ({shortcut})")
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whichever dock has the focus
        return action

    def _build_actions(self) -> None:
        self.start_action = self._action("Start", "F5", self.start_run, "start the picked job")
        self.pause_action = self._action("Pause", "F6", self.toggle_pause,
                                         "pause / resume at the next checkpoint")
        self.abort_action = self._action("Abort", "Esc", self.abort_run,
                                         "abort the run; outputs go safe")
        self.emergency_action = self._action("EMERGENCY OFF", "Ctrl+Shift+E",
                                             self.emergency_off, "every output off, now")
        toolbar = QToolBar("Run", self)
        toolbar.setObjectName("run_toolbar")
        toolbar.setMovable(False)
        for action in (self.start_action, self.pause_action, self.abort_action):
            toolbar.addAction(action)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().Policy.Expanding,
                             spacer.sizePolicy().Policy.Preferred)
        toolbar.addWidget(spacer)
        self.emergency_button = QToolButton()
        self.emergency_button.setDefaultAction(self.emergency_action)
        self.emergency_button.setStyleSheet(EMERGENCY_STYLE)
        toolbar.addWidget(self.emergency_button)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.state_label = QLabel("idle")
        self.state_label.setMinimumWidth(90)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setFormat("%p%")
        self.eta_label = QLabel("")
        self.station_label = QLabel("no station")
        for widget in (self.state_label, self.progress_bar, self.eta_label, self.station_label):
            bar.addPermanentWidget(widget)  # (plain widgets hide behind showMessage)

    # -- wiring ---------------------------------------------------------------------------------
    def _connect(self) -> None:
        c = self.controller
        c.job_started.connect(self._on_job_started)
        c.data_block.connect(self.live.add_block)
        c.state_changed.connect(self._on_state)
        c.progress.connect(self._on_progress)
        c.eta.connect(self._on_eta)
        c.run_finished.connect(self._on_finished)
        c.queue_stopped.connect(self._on_queue_stopped)
        self.holder.changed.connect(self._on_station)
        self.holder.error.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        dock = self.protocol_dock
        if hasattr(dock, "start_requested"):
            dock.start_requested.connect(self._start_job)
            dock.queue_requested.connect(self.controller.enqueue)
        if hasattr(dock, "validity_changed"):
            dock.validity_changed.connect(lambda *_: self._update_actions())
        if hasattr(self.analysis, "fits_ready"):
            self.analysis.fits_ready.connect(self.live.set_fits)

    # -- actions --------------------------------------------------------------------------------
    def start_run(self) -> None:
        """F5: the protocol dock's current job, now."""
        request = getattr(self.protocol_dock, "request_start", None)
        if request is None:
            self.statusBar().showMessage("no protocol dock to start from", 5000)
            return
        if not getattr(self.protocol_dock, "valid", True):
            reason = getattr(self.protocol_dock, "reason", "")
            self.statusBar().showMessage(f"cannot start: {reason}", 8000)
            return
        request()

    def _start_job(self, job: Job) -> None:
        if self.controller.busy:
            self.controller.enqueue(job)
            self.statusBar().showMessage(f"queued {job.label}", 5000)
        else:
            self.controller.start(job)
        self._update_actions()

    def toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
        elif self.controller.state == "running":
            self.controller.pause()

    def abort_run(self) -> None:
        self.controller.abort()

    def emergency_off(self) -> None:
        """Every output off, running or idle; the queue is emptied."""
        try:
            self.controller.emergency_off()
            self.statusBar().showMessage("EMERGENCY OFF: every output off", 15_000)
        except Exception as exc:
            log.critical("emergency off failed: %s", exc)
            self.statusBar().showMessage(f"EMERGENCY OFF FAILED: {exc}", 0)

    # -- controller events ----------------------------------------------------------------------
    def _on_job_started(self, started: Any) -> None:
        job, protocol = started
        self.protocol = protocol
        self.live.set_protocol(protocol)
        self.progress_bar.setValue(0)
        self.eta_label.setText("")
        self.queue_message = ""
        self.statusBar().showMessage(f"started {job.label} ({protocol.name})", 5000)
        self._update_actions()

    def _on_state(self, state: str, message: str) -> None:
        self.state_label.setText(state if not message else f"{state}: {message}"[:80])
        self.pause_action.setText("Resume" if state == "paused" else "Pause")
        self._update_actions()

    def _on_progress(self, done: float, total: float, message: str) -> None:
        if total > 0:
            self.progress_bar.setValue(int(1000 * min(done / total, 1.0)))
        self.progress_bar.setToolTip(message)

    def _on_eta(self, seconds: float) -> None:
        minutes, secs = divmod(int(round(seconds)), 60)
        self.eta_label.setText(f"ETA {minutes:d}:{secs:02d}")

    def _on_finished(self, result: Any) -> None:
        self.last_result = result
        self.live.redraw()  # the last blocks, before the fits go on
        if result.fits:
            self.live.set_fits(result.fits)
        show = getattr(self.analysis, "show_result", None)
        if show is not None and self.protocol is not None:
            show(self.protocol, result)
        refresh = getattr(self.browser, "refresh", None)
        if refresh is not None:
            refresh()
        if result.status == "completed":
            self.progress_bar.setValue(1000)
        self.eta_label.setText("")
        self._update_actions()

    def _on_queue_stopped(self, why: str) -> None:
        self.queue_message = why
        if why != "done":
            self.statusBar().showMessage(f"queue stopped — {why}", 0)
        self._update_actions()

    def _on_station(self, station: Any) -> None:
        self.station_label.setText(self.holder.label)
        setter = getattr(self.protocol_dock, "set_station", None)
        if setter is not None:
            setter(station)
        self._update_actions()

    def _update_actions(self) -> None:
        busy = self.controller.busy
        station = self.holder.station is not None
        self.start_action.setEnabled(station and not busy
                                     and bool(getattr(self.protocol_dock, "valid", True)))
        self.pause_action.setEnabled(busy and self.controller.state in ACTIVE)
        self.abort_action.setEnabled(busy)
        self.emergency_action.setEnabled(True)

    # -- persistence and shutdown ---------------------------------------------------------------
    def _last_station(self) -> str | None:
        value = settings().value("station/last")
        return str(value) if value else None

    def _restore_layout(self) -> None:
        store = settings()
        geometry, state = store.value("window/geometry"), store.value("window/state")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(1400, 860)
        if isinstance(state, QByteArray | bytes):
            self.restoreState(QByteArray(state))

    def save_layout(self) -> None:
        store = settings()
        store.setValue("window/geometry", self.saveGeometry())
        store.setValue("window/state", self.saveState())
        store.setValue("station/last", self.holder.path or "")
        store.sync()
        save_state = getattr(self.protocol_dock, "save_state", None)
        if save_state is not None:
            save_state()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Abort a run, wait for it to end safely, safe state, close the station."""
        self.live.timer.stop()
        ended = self.controller.shutdown(timeout)
        if not ended:
            log.critical("the run did not end within %.0f s; emergency stop", timeout)
            self.controller.emergency_off("GUI closing: run did not stop")
            ended = self.controller.wait(5.0)
        self.holder.close()
        return ended

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.save_layout()
        self.shutdown()
        event.accept()
