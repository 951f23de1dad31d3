"""Simulated PI E-712 NanoCube controller with the F-712 fast-alignment routines (GCS 2.0).

Axes ``1 2 3`` in µm over 0 … 100 µm ✔ (numeric axes, ``1=…`` replies). Modelled: ``MOV``/
``POS?``/``ONT?``/``SVO``, ``#5``/``#24``/``HLT``/``STP``, ``TMN?``/``TMX?``, ``FDR`` (a raster
area scan — lines `LINE_UM` apart along the step axis, one line per 1/F s; CM 0 maximum only;
ST 0 goes to the maximum, 1 stays, 2 returns), ``FDG`` (a compass search on the signal, probes
at F·`PROBES_PER_PERIOD`/s, down to a 0.01 µm step, ML as the minimum level), ``FRS``,
``FRP``/``FRP?``, ``FRR? <name> <id>`` (1 success, 2 max value, 3 max position, 5 scan time),
``ERR?`` (73 for a move while a routine runs, 17 for a range off the travel). The replies of
``FRP?``/``FRR?`` (``name=state``, ``name id=value``) are this twin's choice (?).

The signal is pluggable: ``signal(x, y, z) -> float`` in µm (default: a Gaussian peak of mode
radius `mode_radius_um` at `peak_um`, plus Gaussian noise `noise`), so the bench can wire an
optical coupling model in later.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .pi_gcs_sim import GcsError, GcsSimInstrument, axis_lines, pairs

AXES = ("1", "2", "3")
TRAVEL = (0.0, 100.0)
LINE_UM = 1.0
SAMPLE_UM = 0.5
PROBES_PER_PERIOD = 4
MOVE_TIME_S = 0.005
Signal = Callable[[float, float, float], float]
AREA_OPTIONS = {"L", "A", "F", "V", "MP1", "MP2", "TT", "CM", "MIIL", "MAIL", "ST"}
GRADIENT_OPTIONS = {"ML", "A", "MIA", "MAA", "F", "SP", "V", "MDC", "SPO"}


def gaussian_signal(peak_um: tuple[float, float, float] = (50.0, 50.0, 50.0),
                    mode_radius_um: float = 5.0, noise: float = 1e-3,
                    seed: int = 0) -> Signal:
    """A Gaussian peak of height 1 (lateral 1/e² radius; axial 10× wider) plus noise."""
    rng = np.random.default_rng(seed)

    def signal(x: float, y: float, z: float) -> float:
        r2 = (x - peak_um[0]) ** 2 + (y - peak_um[1]) ** 2
        dz = (z - peak_um[2]) / 10.0
        return math.exp(-2 * (r2 + dz * dz) / mode_radius_um ** 2) + rng.normal(0.0, noise)

    return signal


@dataclass
class Routine:
    kind: str  # "FDR" | "FDG"
    axes: tuple[str, str]
    ranges: tuple[float, float]
    options: dict[str, float]
    results: dict[int, str] = field(default_factory=dict)
    end: float = -1.0
    final: dict[str, float] = field(default_factory=dict)


class SimPIE712(GcsSimInstrument):
    """An E-712 with a three-axis NanoCube and fast alignment."""

    idn = "(c)2016 Physik Instrumente (PI) GmbH & Co. KG, E-712, 0116000000, 01.2.3.4"

    def __init__(self, name: str = "sim E-712", signal: Signal | None = None) -> None:
        super().__init__(name)
        self.signal = signal or gaussian_signal()
        self.pos = dict.fromkeys(AXES, 50.0)
        self.servo = True
        self.routines: dict[str, Routine] = {}
        self.move_end = 0.0
        c = self.commands
        c.update({
            "MOV": self._mov, "POS?": lambda a: self._axes(a, self.position()),
            "ONT?": lambda a: self._axes(a, dict.fromkeys(AXES, int(not self.moving()))),
            "SVO": self._svo, "HLT": self._stop, "STP": self._stop,
            "TMN?": lambda a: self._axes(a, dict.fromkeys(AXES, TRAVEL[0])),
            "TMX?": lambda a: self._axes(a, dict.fromkeys(AXES, TRAVEL[1])),
            "FDR": self._fdr, "FDG": self._fdg, "FRS": self._frs, "FRP": self._frp,
            "FRP?": self._frp_query, "FRR?": self._frr,
        })
        self.singles = {5: lambda: "7" if self.moving() else "0", 24: self._stop_all}

    # -- state ----------------------------------------------------------------------------------
    def running(self) -> list[Routine]:
        now = self.now
        done = [r for r in self.routines.values() if 0 <= r.end <= now and r.final]
        for routine in done:
            self.pos.update(routine.final)
            routine.final = {}
        return [r for r in self.routines.values() if r.end > now]

    def moving(self) -> bool:
        return bool(self.running()) or self.now < self.move_end

    def position(self) -> dict[str, float]:
        self.running()
        return dict(self.pos)

    def read(self, pos: dict[str, float]) -> float:
        return float(self.signal(pos["1"], pos["2"], pos["3"]))

    def _axes(self, args: list[str], values: dict[str, Any]) -> str:
        names = args or list(AXES)
        if any(n not in values for n in names):
            raise GcsError(15)
        return axis_lines((n, values[n] if isinstance(values[n], int) else f"{values[n]:.6f}")
                          for n in names)

    # -- motion ---------------------------------------------------------------------------------
    def _mov(self, args: list[str]) -> None:
        if self.running():
            raise GcsError(73)
        if not self.servo:
            raise GcsError(5)
        target = pairs(args, AXES)
        if any(not TRAVEL[0] <= v <= TRAVEL[1] for _, v in target):
            raise GcsError(7)
        self.pos.update(target)
        self.move_end = self.now + MOVE_TIME_S

    def _svo(self, args: list[str]) -> None:
        for _, value in pairs(args, AXES):
            self.servo = bool(value)

    def _stop_all(self) -> None:
        for routine in self.running():
            routine.end, routine.final = self.now, {}
            routine.results[6] = "1"
        self.move_end = self.now
        self.error = 10

    def _stop(self, args: list[str]) -> None:
        self._stop_all()
        raise GcsError(10)

    # -- fast alignment -------------------------------------------------------------------------
    def _options(self, args: list[str], allowed: set[str]) -> dict[str, float]:
        if len(args) % 2:
            raise GcsError(24)
        found: dict[str, float] = {}
        for key, value in zip(args[::2], args[1::2], strict=True):
            if key.upper() not in allowed:
                raise GcsError(54)
            try:
                found[key.upper()] = float(value)
            except ValueError:
                raise GcsError(1) from None
        return found

    def _axis(self, text: str) -> str:
        if text not in AXES:
            raise GcsError(15)
        return text

    def _fdr(self, args: list[str]) -> None:
        if len(args) < 5:
            raise GcsError(26)
        name, scan_axis, scan_range, step_axis, step_range, *rest = args
        try:
            ranges = (float(scan_range), float(step_range))
        except ValueError:
            raise GcsError(1) from None
        if not all(0 < r <= TRAVEL[1] - TRAVEL[0] for r in ranges):
            raise GcsError(17)
        axes = (self._axis(scan_axis), self._axis(step_axis))
        self.routines[name] = Routine("FDR", axes, ranges, self._options(rest, AREA_OPTIONS))

    def _fdg(self, args: list[str]) -> None:
        if len(args) < 3:
            raise GcsError(26)
        name, scan_axis, step_axis, *rest = args
        axes = (self._axis(scan_axis), self._axis(step_axis))
        self.routines[name] = Routine("FDG", axes, (0.0, 0.0),
                                      self._options(rest, GRADIENT_OPTIONS))

    def _frs(self, args: list[str]) -> None:
        if not args or any(n not in self.routines for n in args):
            raise GcsError(54)
        if self.running():
            raise GcsError(73)
        for name in args:
            routine = self.routines[name]
            final, results, duration = (self._area(routine) if routine.kind == "FDR"
                                        else self._gradient(routine))
            routine.results = {**results, 5: f"{duration:.6f}", 6: "0"}
            routine.final = final
            routine.end = self.now + duration

    def _area(self, r: Routine) -> tuple[dict[str, float], dict[int, str], float]:
        (a, b), (range_a, range_b) = r.axes, r.ranges
        mid_a = r.options.get("MP1", self.pos[a])
        mid_b = r.options.get("MP2", self.pos[b])
        lo_a, hi_a = mid_a - range_a / 2, mid_a + range_a / 2
        lo_b, hi_b = mid_b - range_b / 2, mid_b + range_b / 2
        if lo_a < TRAVEL[0] or hi_a > TRAVEL[1] or lo_b < TRAVEL[0] or hi_b > TRAVEL[1]:
            raise GcsError(17)
        lines = np.arange(lo_b, hi_b + 1e-9, LINE_UM)
        samples = np.arange(lo_a, hi_a + 1e-9, SAMPLE_UM)
        best, best_pos = -math.inf, dict(self.pos)
        for vb in lines:
            for va in samples:
                pos = {**self.pos, a: float(va), b: float(vb)}
                value = self.read(pos)
                if value > best:
                    best, best_pos = value, pos
        duration = len(lines) / r.options.get("F", 10.0)
        stay = int(r.options.get("ST", 0))
        final = best_pos if stay == 0 else (dict(self.pos) if stay == 2 else
                                            {**self.pos, a: hi_a, b: float(lines[-1])})
        success = best >= r.options.get("L", 0.0)
        return final, {1: str(int(success)), 2: f"{best:.6f}",
                       3: f"{best_pos[a]:.6f} {best_pos[b]:.6f}"}, duration

    def _gradient(self, r: Routine) -> tuple[dict[str, float], dict[int, str], float]:
        pos = dict(self.pos)
        best = self.read(pos)
        step = r.options.get("MAA", 4.0) / 2
        probes = 0
        while step >= 0.01 and probes < 5000:
            improved = False
            for axis in r.axes:
                for sign in (1.0, -1.0):
                    trial = {**pos, axis: min(TRAVEL[1], max(TRAVEL[0],
                                                            pos[axis] + sign * step))}
                    value = self.read(trial)
                    probes += 1
                    if value > best:
                        pos, best, improved = trial, value, True
                        break
            if not improved:
                step /= 2
        success = best >= r.options.get("ML", 0.1)
        duration = probes / (r.options.get("F", 10.0) * PROBES_PER_PERIOD)
        return pos, {1: str(int(success)), 2: f"{best:.6f}",
                     3: f"{pos[r.axes[0]]:.6f} {pos[r.axes[1]]:.6f}"}, duration

    def _frp(self, args: list[str]) -> None:
        if len(args) != 2 or args[0] not in self.routines or args[1] not in ("0", "1", "2"):
            raise GcsError(1)
        if args[1] == "0":
            routine = self.routines[args[0]]
            if routine.end > self.now:
                routine.end, routine.final = self.now, {}
                routine.results[6] = "1"

    def _frp_query(self, args: list[str]) -> str:
        self.running()
        names = args or list(self.routines)
        if any(n not in self.routines for n in names):
            raise GcsError(54)
        return axis_lines((n, str(2 if self.routines[n].end > self.now else 0)) for n in names)

    def _frr(self, args: list[str]) -> str:
        if len(args) != 2 or args[0] not in self.routines:
            raise GcsError(54)
        self.running()
        routine = self.routines[args[0]]
        try:
            value = routine.results[int(args[1])]
        except (KeyError, ValueError):
            raise GcsError(17) from None
        return f"{args[0]} {args[1]}={value}"

    def output_state(self) -> dict[str, Any]:
        return {"position": self.position(), "running": [r.kind for r in self.running()]}
