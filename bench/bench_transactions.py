"""Transactions and bench time of a 1000-pulse write-and-read train: instrument-side sequence
against a point-by-point loop, per simulated SMU family, with 1 ms transport latency.

    python bench/bench_transactions.py [--pulses 1000] [--latency 1e-3]

A transaction is one write (or one write and its read). Bench time is the simulator's clock:
what the run would take on the bench, latency included; host time is this machine's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from labsyn.drivers.capabilities import SourceMeter
from labsyn.drivers.sequence import PulseTrain, Sequence
from labsyn.errors import LimitError
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.resistor import Resistor
from labsyn.station.registry import DRIVERS

ADDRESS = "GPIB0::24::INSTR"


def open_smu(family: str, latency: float) -> tuple[Bench, Any, Any]:
    """A bench with one simulated SMU of `family` on a 10 kΩ resistor, and its driver."""
    entry = DRIVERS[family]
    bench = Bench(latency_s=latency)
    sim = bench.add_instrument(ADDRESS, entry.simulator_class()(name=family))
    dut = bench.add_dut("dut", Resistor(10e3))
    outputs = getattr(sim, "channels_by_number", None)
    bench.wire(dut, "TE", sim.channel if outputs is None else outputs[1])
    bench.wire(dut, "BE", "ground")
    driver = entry.driver_class()(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    channels = getattr(driver, "channels_by_number", None)
    return bench, driver, driver if channels is None else channels[1]


@contextmanager
def counting(driver: Any) -> Iterator[list[str]]:
    """Every message the driver writes inside the block."""
    sent: list[str] = []
    adapter = driver.adapter
    original = adapter.write
    adapter.write = lambda command, **kw: (sent.append(command), original(command, **kw))[1]
    try:
        yield sent
    finally:
        adapter.write = original


def measure(family: str, pulses: int, latency: float) -> dict[str, float]:
    bench, driver, smu = open_smu(family, latency)
    sequence, width, read_delay = feasible_train(smu, pulses)
    results: dict[str, float] = {"period": sequence.segments[0].period}
    for name, run in (("sequence", lambda: smu.run(sequence)),
                      ("point-by-point", lambda: point_by_point(bench, smu, pulses, width,
                                                                read_delay))):
        with counting(driver) as sent:
            start_clock, start_host = bench.clock.now(), time.perf_counter()
            rows = len(run())
        results[f"{name} transactions"] = len(sent)
        results[f"{name} bench s"] = bench.clock.now() - start_clock
        results[f"{name} host s"] = time.perf_counter() - start_host
        results[f"{name} rows"] = rows
    smu.safe_off()
    driver.adapter.close()
    return results


def feasible_train(smu: Any, pulses: int) -> tuple[Sequence, float, float]:
    """The first timing on a small grid the instrument accepts (each has its own rules: the
    B1500 reads with a second pulse on a 10 ms hold grid, the 2400 needs whole readings)."""
    width = max(smu.limits.min_pulse_width, 1e-3)
    for read_delay in (width, 4e-3, 5e-3):
        for period in (4 * width + 2e-3, 6e-3, 16e-3, 26e-3):
            train = PulseTrain.identical(1.0, pulses, width, period, 1e-3, read_level=0.1,
                                         read_delay=read_delay)
            sequence = Sequence("TE", (train,), nplc=0.01)
            try:
                smu.check_sequence(sequence)  # also asks the line frequency, once
            except LimitError:
                continue
            return sequence, width, read_delay
    raise LimitError("bench pulse timing", width, "none of the grid fits this instrument")


def point_by_point(bench: Bench, smu: SourceMeter, pulses: int, width: float,
                   read_delay: float) -> list[float]:
    readings = []
    for _ in range(pulses):
        smu.apply_voltage(1.0, 1e-3)
        bench.clock.sleep(width)
        smu.apply_voltage(0.1, 1e-3)
        bench.clock.sleep(read_delay)
        readings.append(smu.measure().current)
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulses", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=1e-3, help="transport latency, s")
    args = parser.parse_args()
    families = [f for f, e in DRIVERS.items() if e.kind == "SourceMeter"]
    print(f"{args.pulses}-pulse write-and-read train, transport latency {args.latency * 1e3:g} ms")
    print(f"{'family':<16} {'period ms':>9} {'seq tx':>7} {'loop tx':>8} {'seq bench s':>12}"
          f" {'loop bench s':>13} {'bench ratio':>12} {'seq host s':>11} {'loop host s':>12}")
    for family in families:
        r = measure(family, args.pulses, args.latency)
        ratio = r["point-by-point bench s"] / r["sequence bench s"]
        print(f"{family:<16} {r['period'] * 1e3:>9.3g} {r['sequence transactions']:>7.0f} "
              f"{r['point-by-point transactions']:>8.0f} {r['sequence bench s']:>12.3f} "
              f"{r['point-by-point bench s']:>13.3f} {ratio:>11.2f}x "
              f"{r['sequence host s']:>11.3f} {r['point-by-point host s']:>12.3f}")


if __name__ == "__main__":
    main()
