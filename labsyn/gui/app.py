"""`labsyn gui [--station FILE] [--data DIR]`: the application, with SIGINT / SIGTERM handled
through `signal.set_wakeup_fd` + a QSocketNotifier (Python signal handlers do not run while
Qt's C++ event loop waits): abort the run, wait for the safe state, exit 0."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication

log = logging.getLogger("labsyn.gui")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalWaker(QObject):
    """Route SIGINT/SIGTERM into the Qt event loop; `callback(signum)` runs on the GUI thread."""

    def __init__(self, callback: Any, on_repeat: Any = None, parent: QObject | None = None
                 ) -> None:
        super().__init__(parent)
        self.callback = callback
        self.on_repeat = on_repeat  # called from the handler itself for a second signal
        self.received: list[int] = []
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._write.fileno())
        self._old = {s: signal.signal(s, self._handler) for s in SIGNALS}
        self.notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self.notifier.activated.connect(self._wake)

    def _handler(self, signum: int, _frame: Any) -> None:
        """Python-level: only count, and on a repeat start the emergency stop in a thread
        (the GUI thread may be blocked waiting for the run to end)."""
        self.received.append(signum)
        if len(self.received) == 2 and self.on_repeat is not None:
            threading.Thread(target=self.on_repeat, name="labsyn-emergency-stop",
                             daemon=True).start()

    def _wake(self, *_: Any) -> None:
        try:
            data = self._read.recv(64)
        except OSError:
            return
        for signum in data:
            if signum in SIGNALS:
                self.callback(signum)

    def restore(self) -> None:
        self.notifier.setEnabled(False)
        signal.set_wakeup_fd(self._old_fd)
        for s, old in self._old.items():
            signal.signal(s, old)
        self._read.close()
        self._write.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labsyn gui", description=__doc__)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `labsyn gui` options (shared with labsyn.cli)."""
    parser.add_argument("--station", help="station YAML file (default: the last one, else the "
                        "simulated demo bench)")
    parser.add_argument("--data", help="data directory (default: $LABSYN_DATA or "
                        "~/.local/share/labsyn)")
    parser.add_argument("--close-after-start", action="store_true",
                        help="testing: start the picked job, close the window once it runs")
    parser.add_argument("--start", action="store_true",
                        help="start the picked job as soon as the window is up")


def run(args: argparse.Namespace) -> int:
    """Open the window for parsed `args`; returns the exit code."""
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(args.station, args.data)
    stopping: list[int] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        stopping.append(signum)
        if len(stopping) > 1:
            return  # the handler started the emergency stop
        log.warning("%s received: aborting the run and closing", name)
        window.controller.clear_queue()
        window.controller.abort(f"{name} received")
        window.close()  # closeEvent waits for the run to end safely
        app.quit()

    def emergency() -> None:
        log.critical("signal received again: emergency stop")
        runner = window.controller.runner
        if runner is not None:
            runner.emergency_stop("signal received again: emergency stop")
        else:
            window.holder.safe_state()

    waker = SignalWaker(on_signal, emergency)
    window.show()
    refused: list[str] = []

    def start() -> None:
        window.start_run()
        if not window.controller.busy:  # nothing could start: say why, don't hang
            refused.append(getattr(window.protocol_dock, "reason", "") or "nothing started")
            log.error("--start: %s", refused[-1])
            if args.close_after_start:
                window.close()

    if args.start or args.close_after_start:
        QTimer.singleShot(0, start)
    if args.close_after_start:
        def close_once_running(state: str, _message: str) -> None:
            if state == "running":
                window.controller.state_changed.disconnect(close_once_running)
                QTimer.singleShot(200, window.close)
        window.controller.state_changed.connect(close_once_running)
        window.controller.queue_stopped.connect(lambda _why: QTimer.singleShot(0, window.close))
    try:
        app.exec()
    finally:
        window.shutdown()
        waker.restore()
    return 1 if refused and args.close_after_start else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m labsyn.gui.app` and `labsyn gui`."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
