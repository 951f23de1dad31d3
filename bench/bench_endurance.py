"""The endurance protocol on the simulated demo station: cycles/s and peak memory against length.

    python bench/bench_endurance.py                  # 1e5 and 1e6 cycles
    python bench/bench_endurance.py --cycles 1e7     # one size (repeat --cycles for more)
    python bench/bench_endurance.py --no-trace       # wall time without tracemalloc's overhead

Each size runs in its own process: the demo station (simulated Keithley 2450 on one HfOx cell,
1 ms pulses), forming, then `endurance` with every cycle read, `block_cycles` per train
(default 10000), streamed to a run file in a temporary store and analysed block by block.
ru_maxrss is that process's peak; tracemalloc's peak covers the endurance run only (it slows
Python down, so --no-trace gives the honest wall time). Flat memory means both peaks stay the
same from 1e5 to 1e7 cycles.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STATION = REPO_ROOT / "examples" / "stations" / "keithley_2450_sim.yaml"


def max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def measure(cycles: int, block: int, trace: bool, folder: Path) -> dict[str, float | str]:
    """Form the demo device, run `cycles` endurance cycles into a store; timings and memory."""
    from labsyn.engine import Runner
    from labsyn.protocols import get_protocol
    from labsyn.station import Station
    from labsyn.station.config import load_station_config
    from labsyn.store import Store

    station = Station(load_station_config(STATION), str(STATION))
    store = Store(folder)
    formed = Runner(station, get_protocol("forming"), {}, store=store).run()
    if not formed.figures["v_form"].ok:
        raise SystemExit(f"forming failed: {formed.figures['v_form'].reason}")
    rss_before = max_rss_mb()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result = Runner(station, get_protocol("endurance"),
                    {"cycles": cycles, "block_cycles": block, "stop_at_failure": False},
                    store=store).run()
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    device = station.bench.timeline.duts[0].device
    station.close()
    if str(result.status) != "completed" or result.rows != cycles:
        raise SystemExit(f"run {result.status}: {result.message} ({result.rows} rows)")
    failure = result.figures["cycles_to_failure"]
    return {"cycles": cycles, "seconds": seconds, "cycles_per_s": cycles / seconds,
            "rss_mb": max_rss_mb(), "rss_before_mb": rss_before, "traced_mb": traced,
            "device_cycles": device.truth.cycles, "failure": format(failure),
            "window_end": format(result.figures["window_end"])}


def child(cycles: int, block: int, trace: bool) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run([sys.executable, __file__, "--child", str(cycles), "--block",
                              str(block), *([] if trace else ["--no-trace"]), "--folder",
                              folder], capture_output=True, text=True, check=False,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    if out.returncode != 0:
        raise SystemExit(f"{cycles} cycles failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=float, action="append",
                        help="cycles per run (repeatable; default 1e5 and 1e6)")
    parser.add_argument("--block", type=int, default=10_000, help="cycles per train")
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.block, not args.no_trace, Path(args.folder))))
        return 0
    sizes = [int(c) for c in (args.cycles or [1e5, 1e6])]
    print(f"{'cycles':>10} {'wall s':>9} {'cycles/s':>10} {'RSS MB':>8} {'traced MB':>10}  "
          "device cycles, cycles_to_failure, window_end")
    for size in sizes:
        r = child(size, args.block, not args.no_trace)
        print(f"{r['cycles']:>10.0f} {r['seconds']:>9.1f} {r['cycles_per_s']:>10.0f} "
              f"{r['rss_mb']:>8.0f} {r['traced_mb']:>10.1f}  {r['device_cycles']}, "
              f"{r['failure']}, {r['window_end']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
