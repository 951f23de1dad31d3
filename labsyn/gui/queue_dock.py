"""The run-queue dock: the jobs run this session with their status as the controller reports
it, then the jobs still waiting (remove, move up / down, clear, run), and why the queue stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("#", "Job", "Kind", "Status")
STATUS_COLOURS = {"running": "#1565c0", "paused": "#ef6c00", "completed": "#2e7d32",
                  "aborted": "#c62828", "failed": "#c62828", "refused": "#c62828",
                  "interrupted": "#c62828"}
FINAL = ("completed", "aborted", "failed", "interrupted", "refused")
POLL_MS = 250  # only for a controller without a queue_changed signal


@dataclass
class Entry:
    """A job that started this session and what became of it."""

    job: Any
    status: str = "running"
    detail: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL


def _job_of(payload: Any) -> Any:
    """job_started carries (Job, protocol); accept a bare Job too."""
    return payload[0] if isinstance(payload, tuple) else payload


class QueueDock(QWidget):
    """Shows `controller.queue` and the jobs run so far; edits the queue through the
    controller (remove, clear_queue, start) and reorders its `queue` list in place."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.history: list[Entry] = []
        self.stop_reason = ""
        self._shown: list[Any] = []
        self._seen: list[Any] = []  # every job queued so far, to name a refused one
        self._build()
        controller.job_started.connect(self._on_job_started)
        controller.run_finished.connect(self._on_run_finished)
        controller.queue_stopped.connect(self._on_queue_stopped)
        controller.state_changed.connect(self._on_state)
        if hasattr(controller, "queue_changed"):
            controller.queue_changed.connect(self.refresh)
        else:
            self._poll = QTimer(self)
            self._poll.timeout.connect(self._poll_queue)
            self._poll.start(POLL_MS)
        self.refresh()

    def _build(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear queue")
        self.run_button = QPushButton("Run queue")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(+1))
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self.clear)
        self.run_button.clicked.connect(self.run_queue)
        buttons = QHBoxLayout()
        for button in (self.up_button, self.down_button, self.remove_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.run_button)

        self.stop_label = QLabel()
        self.stop_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.stop_label)
        layout.addLayout(buttons)

    # -- the table ------------------------------------------------------------------------------
    @property
    def pending(self) -> list[Any]:
        return list(self.controller.queue)

    def refresh(self) -> None:
        """Redraw from the history and the controller's queue, keeping a pending selection."""
        selected = self.selected_index()
        self._shown = self.pending
        self._seen.extend(j for j in self._shown if all(j is not s for s in self._seen))
        rows = [(e.job, e.status + (f": {e.detail}" if e.detail else ""), e.status)
                for e in self.history]
        rows += [(job, "queued", "queued") for job in self._shown]
        self.table.setRowCount(len(rows))
        for row, (job, text, status) in enumerate(rows):
            number = str(row + 1) if row < len(self.history) else \
                f"q{row - len(self.history) + 1}"
            cells = (number, getattr(job, "label", "") or getattr(job, "name", str(job)),
                     getattr(job, "kind", ""), text)
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(text if column == 3 else value)
                if status in STATUS_COLOURS and column == 3:
                    item.setForeground(QBrush(QColor(STATUS_COLOURS[status])))
                self.table.setItem(row, column, item)
        if selected is not None and selected < len(self._shown):
            self.table.selectRow(len(self.history) + selected)
        self._update_buttons()

    def _poll_queue(self) -> None:
        if self.pending != self._shown:
            self.refresh()

    def status_of(self, row: int) -> str:
        """The status text shown in `row`."""
        item = self.table.item(row, 3)
        return item.text() if item is not None else ""

    def selected_index(self) -> int | None:
        """Index in `controller.queue` of the selected row (None: none, or a history row)."""
        rows = {i.row() for i in self.table.selectedIndexes()}
        if not rows:
            return None
        index = min(rows) - len(self.history)
        return index if 0 <= index < len(self._shown) else None

    def select_pending(self, index: int) -> None:
        self.table.selectRow(len(self.history) + index)

    def _update_buttons(self) -> None:
        index = self.selected_index()
        count = len(self.controller.queue)
        self.remove_button.setEnabled(index is not None)
        self.up_button.setEnabled(index is not None and index > 0)
        self.down_button.setEnabled(index is not None and index < count - 1)
        self.clear_button.setEnabled(count > 0)
        self.run_button.setEnabled(count > 0 and not getattr(self.controller, "busy", False))

    # -- editing the queue ----------------------------------------------------------------------
    def remove_selected(self) -> None:
        index = self.selected_index()
        if index is not None:
            self.controller.remove(index)
            self.refresh()

    def move_selected(self, offset: int) -> None:
        """Move the selected queued job up (-1) or down (+1)."""
        index = self.selected_index()
        queue = self.controller.queue
        if index is None or not 0 <= index + offset < len(queue):
            return
        queue[index], queue[index + offset] = queue[index + offset], queue[index]
        self.refresh()
        self.select_pending(index + offset)
        if hasattr(self.controller, "queue_changed"):
            self.controller.queue_changed.emit()

    def clear(self) -> None:
        self.controller.clear_queue()
        self.refresh()

    def run_queue(self) -> None:
        """Start the first queued job (the rest follow), e.g. after the queue stopped."""
        if getattr(self.controller, "busy", False) or not self.controller.queue:
            return
        job = self.controller.queue[0]
        self.controller.remove(0)
        self.controller.start(job)
        self.refresh()

    # -- controller reports ---------------------------------------------------------------------
    def _current(self) -> Entry | None:
        return self.history[-1] if self.history and not self.history[-1].final else None

    def _on_job_started(self, payload: Any) -> None:
        job = _job_of(payload)
        protocol = payload[1] if isinstance(payload, tuple) and len(payload) > 1 else None
        current = self._current()
        if current is None or current.job is not job:
            current = Entry(job)
            self.history.append(current)
            self.stop_reason = ""
            self.stop_label.clear()
        current.status = "running"
        if getattr(job, "kind", "") == "recipe" and protocol is not None:
            current.detail = f"step {getattr(protocol, 'name', protocol)}"
        self.refresh()

    def _on_state(self, state: str, message: str) -> None:
        current = self._current()
        if current is not None and state in ("running", "paused"):
            current.status = state
            self.refresh()

    def _on_run_finished(self, result: Any) -> None:
        current = self._current()
        if current is None:
            return
        status = str(getattr(result, "status", ""))
        message = getattr(result, "message", "")
        if getattr(current.job, "kind", "") == "recipe":
            current.detail = f"step {getattr(result, 'protocol', '')} {status}"
        else:
            current.status = status or "completed"
            current.detail = message if status != "completed" else ""
        self.refresh()

    def _refused_job(self, why: str) -> Any:
        """The queued job a refusal names (its label starts the message)."""
        for job in reversed(self._seen):
            label = getattr(job, "label", "")
            if label and why.startswith(f"{label}: ") and all(
                    job is not e.job for e in self.history):
                return job
        return _RefusedJob(why)

    def _on_queue_stopped(self, why: str) -> None:
        current = self._current()
        failed = why != "done"
        if current is not None:
            current.status = "failed" if failed else "completed"
            if failed:
                current.detail = why
        elif failed and (": refused: " in why or "no station" in why):
            detail = why.split(": refused: ", 1)[1] if ": refused: " in why \
                else why.split(": ", 1)[-1]
            self.history.append(Entry(self._refused_job(why), "refused", detail))
        self.stop_reason = "" if not failed else why
        if failed:
            self.stop_label.setStyleSheet(f"color: {STATUS_COLOURS['failed']};")
            self.stop_label.setText(f"Queue stopped: {why}")
        else:
            self.stop_label.setStyleSheet(f"color: {STATUS_COLOURS['completed']};")
            self.stop_label.setText("Queue finished")
        self.refresh()


@dataclass
class _RefusedJob:
    """Stands for a job the controller refused before it started (only its reason is known)."""

    why: str
    kind: str = ""

    @property
    def label(self) -> str:
        return self.why.split(":", 1)[0]
