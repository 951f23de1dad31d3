"""Live-plot benchmark: stream 1e6 points at 10 000 points/s into `LivePlots` (offscreen).

A producer thread emits 100-point blocks every 10 ms through a queued Qt signal (as the run
controller's bridge does); the 25 Hz timer redraws from the bounded buffers. Reported: frame
time (redraw + a synchronous repaint of the plot) median / p95, the lateness of a 10 ms QTimer
(event-loop latency) median / p95 / max, and RSS before / after. Then, on the same final
points and plot size, the baselines: a plain pyqtgraph curve redrawn from the whole array
(no downsampling, no clip-to-view), and that plus re-reading the data from a CSV file every
frame (how pymeasure's ManagedWindow refreshes), with labsyn's frame time as a ratio.

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


def baselines(x: np.ndarray, y: np.ndarray, width: int, height: int, frames: int = 8
              ) -> dict[str, float]:
    """Median frame time (ms) of the naive redraw and of the CSV re-read plus naive redraw."""
    import tempfile

    import pandas as pd
    import pyqtgraph as pg

    app = QApplication.instance()
    widget = pg.PlotWidget()
    widget.resize(width, height)
    widget.show()
    app.processEvents()
    curve = widget.plot(pen=pg.mkPen(width=1))
    path = os.path.join(tempfile.mkdtemp(prefix="labsyn-bench-"), "results.csv")
    pd.DataFrame({"pulse": x, "conductance": y}).to_csv(path, index=False)
    results: dict[str, list[float]] = {"naive": [], "csv": []}
    for _ in range(frames):
        t0 = time.perf_counter()
        curve.setData(x, y)
        app.processEvents()  # the view range follows the data, as on screen
        widget.viewport().repaint()
        results["naive"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        table = pd.read_csv(path)
        curve.setData(table["pulse"].to_numpy(), table["conductance"].to_numpy())
        app.processEvents()
        widget.viewport().repaint()
        results["csv"].append(time.perf_counter() - t0)
    widget.close()
    return {k: float(np.median(v)) * 1e3 for k, v in results.items()}


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
    rss_after = rss_mb()
    x, y = plot.curves[next(iter(plot.curves))].getOriginalDataset()
    base = baselines(np.asarray(x), np.asarray(y), args.width, args.height)
    labsyn_ms = float(np.median(frames_ms[-50:]))  # frames at the end, with every point in
    print(f"at {len(x):.3g} points: labsyn frame {labsyn_ms:.1f} ms; plain pyqtgraph redraw "
          f"{base['naive']:.1f} ms ({base['naive'] / labsyn_ms:.1f}x); CSV re-read + redraw "
          f"{base['csv']:.1f} ms ({base['csv'] / labsyn_ms:.1f}x)")
    marks = ", ".join(f"{n:.2g} pts {mb:.0f} MB" for n, mb in rss_marks)
    print(f"RSS             before {rss_before:.0f} MB, after {rss_after:.0f} MB "
          f"(buffers {plots.buffers['g'].nbytes / 2**20:.0f} MB; along the way: {marks})")


if __name__ == "__main__":
    main()
