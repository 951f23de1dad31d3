"""Appending rows × 5 columns to a run file: rows/s and peak memory against run length.

    python bench/bench_store_append.py               # 1e6 and 1e7 rows
    python bench/bench_store_append.py --rows 1e7    # one size (repeat --rows for more)

Columns: time f8, source f8, current f8, segment i4, limited bool, appended in blocks of
--block rows (default 1e5) through Store.create_run / RunWriter.append / Store.finish.
Each size runs in its own process, so ru_maxrss is that size's peak; tracemalloc's peak
covers the append phase only. Flat memory means both peaks stay the same from 1e6 to 1e7 rows.
Target: >= 2e6 rows/s. Exits 1 if a size misses it.
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

TARGET_ROWS_PER_S = 2e6
REPO_ROOT = Path(__file__).resolve().parents[1]


def max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def measure(rows: int, block: int, block_rows: int, folder: Path) -> dict[str, float]:
    """Append `rows` rows in blocks of `block`; return timings and memory figures."""
    import numpy as np

    from labsyn.store import Column, DeviceId, Store, read_run_file

    columns = [Column("time", "s"), Column("source", "V"), Column("current", "A"),
               Column("segment", "", "i4"), Column("limited", "", "bool")]
    index = np.arange(block)
    source = np.sin(index * 1e-3)
    current = source * 1e-4
    segment = (index // 1000).astype("i4")
    limited = np.abs(current) > 9e-5
    store = Store(folder)
    rss_before = max_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    writer = store.create_run("bench_append", columns, {"rows": rows}, {"station": "bench"},
                              DeviceId("W0", "D0", "R0"), block_rows=block_rows)
    for first in range(0, rows, block):
        n = min(block, rows - first)
        writer.append({"time": (first + index[:n]) * 1e-6, "source": source[:n],
                       "current": current[:n], "segment": segment[:n], "limited": limited[:n]})
    store.finish(writer, "completed")
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_after = max_rss_mb()
    assert read_run_file(writer.path, with_data=False).rows == rows
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "mb_per_s": writer.path.stat().st_size / 2**20 / seconds,
        "file_mb": writer.path.stat().st_size / 2**20,
        "rss_before_mb": rss_before,
        "max_rss_mb": rss_after,
        "tracemalloc_peak_mb": traced_peak / 2**20,
    }


def run_child(rows: int, block: int, block_rows: int, folder: Path) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--rows", str(rows), "--block", str(block),
         "--block-rows", str(block_rows), "--dir", str(folder)],
        env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark of {rows} rows failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, action="append",
                        help="rows to append (default: 1e6 and 1e7)")
    parser.add_argument("--block", type=float, default=1e5, help="rows per append() call")
    parser.add_argument("--block-rows", type=float, default=65536,
                        help="RunWriter buffer and chunk size in rows")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary folder)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(r) for r in (args.rows or [1e6, 1e7])]
    block, block_rows = int(args.block), int(args.block_rows)
    if args.child:
        print(json.dumps(measure(sizes[0], block, block_rows, args.dir)))
        return
    print(f"store append: 5 columns (f8, f8, f8, i4, bool), append() blocks of {block} rows, "
          f"RunWriter block_rows {block_rows}, one process per size")
    print(f"{'rows':>10} {'s':>7} {'rows/s':>10} {'MB/s':>7} {'file MB':>8} "
          f"{'maxrss MB':>10} {'(at start)':>10} {'tracemalloc MB':>15}")
    missed = []
    for rows in sizes:
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            r = run_child(rows, block, block_rows, Path(folder))
        print(f"{rows:>10.0e} {r['seconds']:>7.2f} {r['rows_per_s']:>10.3g} {r['mb_per_s']:>7.0f} "
              f"{r['file_mb']:>8.0f} {r['max_rss_mb']:>10.1f} {r['rss_before_mb']:>10.1f} "
              f"{r['tracemalloc_peak_mb']:>15.2f}")
        if r["rows_per_s"] < TARGET_ROWS_PER_S:
            missed.append(rows)
    verdict = "met" if not missed else f"MISSED for {', '.join(f'{m:.0e}' for m in missed)} rows"
    print(f"target >= {TARGET_ROWS_PER_S:.0e} rows/s: {verdict}")
    if missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
