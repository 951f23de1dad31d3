"""Live-plot benchmark: stream 1e6 points at 10 000 points/s into `LivePlots` (offscreen).

A producer thread emits 100-point blocks every 10 ms through a queued Qt signal (as the run
controller's bridge does); the 25 Hz timer redraws from the bounded buffers. Reported: frame
time (redraw + a synchronous repaint of the plot) median / p95, the lateness of a 10 ms QTimer
(event-loop latency) median / p95 / max, and RSS before / after.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python bench/bench_live_plot.py [--points 1e6]
"""

from __future__ import annotations

import argparse
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from labsyn.gui.live import LivePlots
from labsyn.protocols import PlotSpec
from labsyn.store import Column


class Protocol:
    """Just what LivePlots reads: plot specs and column units."""

    name = "bench"
    plots = (PlotSpec("g", "Conductance vs pulse", "pulse", "conductance"),)
    columns = (Column("pulse", "", "i8", ""), Column("conductance", "S", "f8", ""))


class Source(QObject):
    block = Signal(object)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def producer(source: Source, points: int, rate: float, chunk: int, stop: threading.Event
             ) -> None:
    rng = np.random.default_rng(1)
    sent, start = 0, time.perf_counter()
    while sent < points and not stop.is_set():
        n = min(chunk, points - sent)
        pulse = np.arange(sent, sent + n, dtype=float)
        g = 1e-4 * (1 + 0.5 * np.sin(pulse / 5e4)) + rng.normal(0, 2e-6, n)
        g[rng.random(n) < 0.002] *= 3  # rare spikes: peak downsampling must keep them
        source.block.emit({"pulse": pulse, "conductance": g})
        sent += n
        delay = start + sent / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=float, default=1e6)
    parser.add_argument("--rate", type=float, default=10_000, help="points per second")
    parser.add_argument("--chunk", type=int, default=100, help="points per block")
    parser.add_argument("--capacity", type=int, default=1_000_000, help="points kept")
    parser.add_argument("--width", type=int, default=760)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    plots = LivePlots(capacity=args.capacity)
    plots.resize(args.width, args.height)
    plots.set_protocol(Protocol())
    plots.show()
    app.processEvents()
    plot = plots.plots["g"]
    frames: list[float] = []
    frames_cpu: list[float] = []  # the GUI thread's own CPU time: what a loaded machine hides

    def frame() -> None:  # the 25 Hz timer, timed: redraw + synchronous repaint
        t0, c0 = time.perf_counter(), time.thread_time()
        if plots.redraw():
            plot.viewport().repaint()
            frames.append(time.perf_counter() - t0)
            frames_cpu.append(time.thread_time() - c0)

    plots.timer.timeout.disconnect()
    plots.timer.timeout.connect(frame)
    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - last[0] - 0.010))
        last[0] = now

    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.setInterval(10)
    ticker.timeout.connect(tick)
    source = Source()
    source.block.connect(plots.add_block, Qt.ConnectionType.QueuedConnection)
    points = int(args.points)
    rss_before = rss_mb()
    stop = threading.Event()
    worker = threading.Thread(target=producer, args=(source, points, args.rate, args.chunk,
                                                     stop), daemon=True)
    rss_marks: list[tuple[int, float]] = []
    t_start = time.perf_counter()
    ticker.start()
    worker.start()
    next_mark = [points // 4]
    deadline = t_start + points / args.rate * 3 + 30

    def watch() -> None:  # every 50 ms: RSS marks, and quit once every point is in
        total = plots.buffers["g"].total
        if total >= next_mark[0]:
            rss_marks.append((total, rss_mb()))
            next_mark[0] += points // 4
        if (total >= points and not worker.is_alive()) or time.perf_counter() > deadline:
            app.quit()

    watcher = QTimer()
    watcher.setInterval(50)
    watcher.timeout.connect(watch)
    watcher.start()
    try:
        app.exec()
    finally:
        stop.set()
        watcher.stop()
    if plots.buffers["g"].total < points:
        raise SystemExit("the stream fell far behind")
    app.processEvents()
    frame()
    elapsed = time.perf_counter() - t_start
    ticker.stop()
    frames_ms = np.array(frames) * 1e3
    cpu_ms = np.array(frames_cpu) * 1e3
    late_ms = np.array(lateness[10:]) * 1e3
    print(f"streamed {points:.3g} points at {args.rate:.0f} points/s in {elapsed:.1f} s "
          f"({args.chunk}-point blocks), {len(frames)} frames, "
          f"{plot.point_count():.3g} points on the curve at the end")
    print(f"frame time      median {np.median(frames_ms):6.2f} ms   p95 "
          f"{np.percentile(frames_ms, 95):6.2f} ms   max {frames_ms.max():6.2f} ms "
          f"(target median <= 16 ms)")
    print(f"frame CPU time  median {np.median(cpu_ms):6.2f} ms   p95 "
          f"{np.percentile(cpu_ms, 95):6.2f} ms   (GUI thread only)")
    print(f"10 ms timer     lateness median {np.median(late_ms):6.2f} ms   p95 "
          f"{np.percentile(late_ms, 95):6.2f} ms   max {late_ms.max():6.2f} ms (target <= 50 ms)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    marks = ", ".join(f"{n:.2g} pts {mb:.0f} MB" for n, mb in rss_marks)
    print(f"RSS             before {rss_before:.0f} MB, after {rss_mb():.0f} MB "
          f"(buffers {plots.buffers['g'].nbytes / 2**20:.0f} MB; along the way: {marks})")


if __name__ == "__main__":
    main()
