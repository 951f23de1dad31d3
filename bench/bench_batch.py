"""A whole simulated wafer: 100 dies × 4 devices × (forming, iv-sweep, ltp-ltd 2×100 pulses,
ppf 10 intervals) through the batch runner on the physics simulator (instant clock).

    python bench/bench_batch.py                 # the full wafer
    python bench/bench_batch.py --dies 5 --devices 2 --estimate

Prints the wall time, the virtual (instrument) time, and labsyn's per-device overhead outside
instrument time (target ≤ 50 ms). How the overhead is measured: on an instant clock the
instruments' own work (sweeps, pulse trains, waits, transport, prober moves) costs no wall time
— it is the virtual time a real run would spend; what does cost wall time is (a) the simulator
standing in for the instruments (everything below the VISA seam: the labsyn VISA library's
write/read/... calls, which run the physics) and (b) labsyn itself above the seam (runner,
recipe, engine, protocols, analyses, drivers, pyvisa, store, ledger). The overhead is (b) per
device: (host wall time − time inside the VISA library) / devices. A real run takes about
virtual time + overhead. `--estimate` also dry runs the same wafer on pyvisa-sim and compares
the estimate with the virtual time.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labsyn.batch.estimate import (  # noqa: E402
    as_config,
    estimate_wafer,
    format_duration,
    wafer_run,
)
from labsyn.station.config import StationConfig  # noqa: E402

STATION = ROOT / "examples" / "stations" / "wafer_probe_sim.yaml"
SEAM_CALLS = ("write", "read", "read_stb", "clear", "assert_trigger", "flush", "open", "close")
RECIPE = {"name": "bench-wafer", "steps": [
    {"protocol": "forming", "params": {"v_max": 4.0, "compliance": 1.0e-4},
     "require": {"v_form": "ok"}},
    {"protocol": "iv-sweep", "params": {"cycles": 5}, "on_fail": "continue"},
    {"protocol": "ltp-ltd", "params": {"pulses": 100, "cycles": 1}, "on_fail": "continue"},
    {"protocol": "ppf", "params": {"points": 10}, "on_fail": "continue"}]}


def station_config(devices: int, dies: int) -> StationConfig:
    """The wafer station with `devices` sites per die on the 707B (TE, BE pads per site and the
    R1 contact test) and a wafer wide enough for `dies` dies."""
    data = as_config(STATION).model_dump(by_alias=True)
    sites = [f"D{i + 1}" for i in range(devices)]
    pads = {f"{s}.{t}": 2 * i + k + 1 for i, s in enumerate(sites) for k, t in
            enumerate(("TE", "BE"))}
    pads.update({"R1.TE": 11, "R1.BE": 12})
    data["matrix"]["pads"] = pads
    data["sim"].update(sites=sites, wafer_radius_dies=math.sqrt(dies / math.pi) + 1.5,
                       dead_fraction=0.05)
    return StationConfig.model_validate(data)


def wafer_map(devices: int, dies: int) -> dict[str, Any]:
    """The first `dies` dies of a round wafer, nearest the centre first, row by row."""
    radius = math.sqrt(dies / math.pi) + 1.5
    span = math.ceil(radius)
    grid = [(c, r) for r in range(-span, span + 1) for c in range(-span, span + 1)
            if math.hypot(c, r) <= radius]
    chosen = set(sorted(grid, key=lambda d: (math.hypot(*d), d))[:dies])
    return {"wafer": "BENCH", "dies": [list(d) for d in grid if d in chosen],
            "devices": [{"name": f"D{i + 1}", "pads": {"TE": f"D{i + 1}.TE",
                                                       "BE": f"D{i + 1}.BE"}}
                        for i in range(devices)],
            "contact_test": {"name": "R1", "pads": {"TE": "R1.TE", "BE": "R1.BE"},
                             "resistance": 10000.0, "tolerance": 0.3, "read_voltage": 0.1}}


class SeamTimer:
    """Wall time spent inside the simulated instruments (below the VISA library's calls)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def install(self, station: Any) -> None:
        library = station.bench.visa_library()
        for name in SEAM_CALLS:
            original = getattr(library, name, None)
            if original is not None:
                setattr(library, name, self._timed(original))

    def _timed(self, original: Any) -> Any:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1
        return timed


class CallTimer:
    """Wall time in labsyn's own heavy parts, by category (the outermost timed call counts)."""

    PARTS: ClassVar[dict[str, list[tuple[str, str, str]]]] = {
        "analysis (incl. reading the run back)": [("labsyn.engine.runner", "Runner", "_analyse")],
        "store (run files, catalog, figures)": [
            ("labsyn.store.store", "Store", "create_run"),
            ("labsyn.store.store", "Store", "finish"),
            ("labsyn.store.store", "Store", "set_figures"),
            ("labsyn.store.run_file", "RunWriter", "append"),
            ("labsyn.store.run_file", "RunWriter", "flush")],
        "ledger (fsync per record)": [("labsyn.batch.ledger", "Ledger", "append")]}

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.PARTS, 0.0)
        self._depth = 0

    def install(self) -> None:
        import importlib

        for part, targets in self.PARTS.items():
            for module, cls, name in targets:
                owner = getattr(importlib.import_module(module), cls)
                setattr(owner, name, self._timed(part, getattr(owner, name)))

    def _timed(self, part: str, original: Any) -> Any:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds[part] += time.perf_counter() - start
        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dies", type=int, default=100)
    parser.add_argument("--devices", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--estimate", action="store_true",
                        help="also dry run the wafer on pyvisa-sim and compare")
    args = parser.parse_args()
    config = station_config(args.devices, args.dies)
    with tempfile.TemporaryDirectory(prefix="labsyn-bench-batch-") as scratch:
        map_path, recipe_path = Path(scratch) / "map.yaml", Path(scratch) / "recipe.yaml"
        map_path.write_text(yaml.safe_dump(wafer_map(args.devices, args.dies)))
        recipe_path.write_text(yaml.safe_dump(RECIPE, sort_keys=False))
        seam, parts = SeamTimer(), CallTimer()
        parts.install()
        start = time.perf_counter()
        timing, result = wafer_run(config, map_path, recipe_path, "labsyn-sim",
                                   data_dir=Path(scratch) / "data", on_station=seam.install)
        wall = time.perf_counter() - start
        statuses: dict[str, int] = {}
        for outcome in getattr(result, "outcomes", []) or []:
            statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
        devices = max(1, timing.devices)
        print(f"wafer: {timing.dies} dies × {args.devices} devices = {timing.devices} devices "
              f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})")
        print(f"wall time            {wall:9.1f} s   ({1e3 * wall / devices:.0f} ms per device)")
        print(f"virtual time         {timing.seconds:9.0f} s   ({format_duration(timing.seconds)};"
              f" {timing.seconds / devices:.1f} s per device)")
        for name, seconds in timing.steps.items():
            print(f"  {name:<18} {seconds:9.0f} s")
        loop = result.elapsed_wall_s  # the wafer loop alone (no imports, no station opening)
        print(f"  of which the wafer loop {loop:6.1f} s; inside the simulated instruments "
              f"{seam.seconds:.1f} s ({seam.calls} VISA-library calls)")
        overhead = (loop - seam.seconds) / devices
        print(f"labsyn overhead      {1e3 * overhead:9.1f} ms per device (target ≤ 50 ms) = "
              "(wafer-loop wall time − time inside the simulated instruments) / devices")
        rest = loop - seam.seconds
        for part, seconds in parts.seconds.items():
            rest -= seconds
            print(f"  {part:<40} {1e3 * seconds / devices:7.1f} ms per device")
        print(f"  {'the rest (engine, protocols, drivers, pyvisa)':<40} "
              f"{1e3 * rest / devices:7.1f} ms per device")
        if args.estimate:
            estimate = estimate_wafer(config, map_path, recipe_path)
            error = (estimate.seconds - timing.seconds) / timing.seconds
            print(f"dry-run estimate     {estimate.seconds:9.0f} s   ({100 * error:+.1f} % vs "
                  f"the simulator; dry run took {estimate.host_s:.1f} s)")


if __name__ == "__main__":
    main()
