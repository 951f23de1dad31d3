"""2450 driver call overhead against raw pyvisa on the same simulated resource.

    python bench/bench_driver_overhead.py

Prints the median time of one query both ways and what the driver adds per call
(target: at most 10 µs added).
"""

from __future__ import annotations

import statistics
import time

import pyvisa

from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.mock_instruments.bench import single_smu_bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::24::INSTR"
CALLS, ROUNDS = 2000, 7


def median_call_us(call) -> float:  # type: ignore[no-untyped-def]
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            call()
        rounds.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(rounds)


def main() -> None:
    bench = single_smu_bench(ADDRESS, SimKeithley2450(), Resistor(10e3))
    smu = Keithley2450(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    raw = pyvisa.ResourceManager(bench.visa_library()).open_resource(
        ADDRESS, read_termination="\n", write_termination="\n")
    for _ in range(3):
        raw_us = median_call_us(lambda: float(raw.query(":SOUR:VOLT?")))
        driver_us = median_call_us(lambda: smu.source_voltage)
        raw_set = median_call_us(lambda: raw.write(":SENS:CURR:NPLC 1"))
        driver_set = median_call_us(lambda: setattr(smu, "current_nplc", 1.0))
    print(f"get  raw pyvisa {raw_us:7.1f} µs   driver {driver_us:7.1f} µs   "
          f"added {driver_us - raw_us:5.1f} µs   ratio {driver_us / raw_us:4.2f}")
    print(f"set  raw pyvisa {raw_set:7.1f} µs   driver {driver_set:7.1f} µs   "
          f"added {driver_set - raw_set:5.1f} µs   ratio {driver_set / raw_set:4.2f}")


if __name__ == "__main__":
    main()
