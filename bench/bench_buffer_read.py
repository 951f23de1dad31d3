"""Reading a 1000-point 2450 buffer through the driver: wall time per point.

    python bench/bench_buffer_read.py

Runs a 1000-point sweep on the simulated bench, then times the buffer fetch
(:TRAC:ACT? + one :TRAC:DATA? of READ, SOUR, REL, SOURSTAT) and the whole run.
"""

from __future__ import annotations

import statistics
import time

from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.drivers.sequence import Sequence, Staircase
from labsyn.mock_instruments.bench import single_smu_bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.resistor import Resistor

ADDRESS, POINTS = "GPIB0::24::INSTR", 1000


def main() -> None:
    bench = single_smu_bench(ADDRESS, SimKeithley2450(), Resistor(10e3))
    smu = Keithley2450(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    sweep = Sequence("TE", (Staircase.ramp(0.0, 1.0, 1.0 / (POINTS - 1), 0.0, 1e-3),), nplc=0.01)
    runs, fetches = [], []
    for _ in range(7):
        start = time.perf_counter()
        smu.run(sweep)
        runs.append(time.perf_counter() - start)
        start = time.perf_counter()
        data = smu._fetch(0, 0.0, "")
        fetches.append(time.perf_counter() - start)
        assert len(data) == POINTS
    fetch, run = statistics.median(fetches), statistics.median(runs)
    print(f"buffer read: {fetch * 1e3:6.2f} ms for {POINTS} points = {fetch / POINTS * 1e6:5.2f} µs"
          f"/point (one :TRAC:DATA? query)")
    print(f"whole sweep run (configure, trigger, wait, read): {run * 1e3:6.2f} ms = "
          f"{run / POINTS * 1e6:5.2f} µs/point; virtual instrument time "
          f"{bench.clock.now() / 8:.3f} s per sweep")


if __name__ == "__main__":
    main()
