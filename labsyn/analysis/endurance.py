"""Endurance: cycles to failure and the window over cycling, computed online in flat memory.

Reads come in blocks (cycle number, R_LRS after SET, R_HRS after RESET). `EnduranceTracker`
keeps only running state: the reference levels (median of the first `reference_cycles` valid
reads), run-length counters of the failure criteria, the window at the start and over the last
reads, the minimum window. Failure criteria (reference/synapse-protocols.md, Endurance):

- window: R_HRS/R_LRS < `min_window` on `confirm` consecutive reads; fails at the first of them;
- stuck at LRS: R_HRS below the reference mid level sqrt(R_LRS0·R_HRS0) (RESET did not take),
  stuck at HRS: R_LRS above it (SET did not take), over reads spanning `stuck_cycles` cycles;
  fails at the first stuck read.

The failure cycle is the first failing read; its uncertainty is the read interval before it
(1 when every cycle is read, the gap to the previous read with log-spaced reads).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .result import Estimate

NO_SWITCHING_WINDOW = 1.5  # a starting window below this: the device never switched
DEAD_RESISTANCE = 1e10  # Ω; reads above this on both states: no current, a dead device
FIGURES = {"cycles_to_failure": "cycles", "cycles_run": "cycles", "window_start": "",
           "window_end": "", "window_min": "", "r_lrs_start": "Ω", "r_hrs_start": "Ω",
           "r_lrs_end": "Ω", "r_hrs_end": "Ω"}
CRITERIA = ("window", "stuck at LRS", "stuck at HRS")


@dataclass
class Failure:
    """The first failure: the cycle, the criterion that fired, the read interval before it."""

    cycle: int
    criterion: str
    interval: int
    detail: str


@dataclass
class _Run:
    start: int = 0
    interval: int = 0
    reads: int = 0

    def step(self, hit: bool, cycle: int, interval: int) -> None:
        if not hit:
            self.reads = 0
            return
        if self.reads == 0:
            self.start, self.interval = cycle, interval
        self.reads += 1


@dataclass
class EnduranceTracker:
    """Online endurance figures; `update` with each block of reads, then `figures()`."""

    min_window: float = 10.0
    stuck_cycles: int = 100
    confirm: int = 10
    reference_cycles: int = 10
    tail: int = 10
    failure: Failure | None = None
    reads: int = 0
    valid: int = 0
    last_cycle: int = 0
    window_min: float = math.inf
    _pending: list[tuple[int, float, float]] = field(default_factory=list)
    _reference: tuple[float, float] | None = None
    _last: deque[tuple[float, float]] = field(default_factory=deque)
    _prev_read: int = 0
    _prev_hit: dict[str, bool] = field(default_factory=dict)
    _runs: dict[str, _Run] = field(default_factory=lambda: {c: _Run() for c in CRITERIA})

    def update(self, cycle: np.ndarray, r_lrs: np.ndarray, r_hrs: np.ndarray) -> None:
        """One block of reads, in cycle order (NaN where a read was not valid)."""
        cycle = np.asarray(cycle, dtype=np.int64)
        r_lrs, r_hrs = np.asarray(r_lrs, float), np.asarray(r_hrs, float)
        if cycle.size == 0:
            return
        self.reads += int(cycle.size)
        self.last_cycle = max(self.last_cycle, int(cycle[-1]))
        ok = np.isfinite(r_lrs) & np.isfinite(r_hrs) & (r_lrs > 0) & (r_hrs > 0)
        self.valid += int(ok.sum())
        cycle, r_lrs, r_hrs = cycle[ok], r_lrs[ok], r_hrs[ok]
        if self._reference is None:
            need = self.reference_cycles - len(self._pending)
            self._pending += list(zip(cycle[:need].tolist(), r_lrs[:need].tolist(),
                                      r_hrs[:need].tolist(), strict=True))
            if len(self._pending) < self.reference_cycles:
                return
            ref = np.asarray(self._pending)
            self._reference = (float(np.median(ref[:, 1])), float(np.median(ref[:, 2])))
            cycle = np.concatenate((ref[:, 0].astype(np.int64), cycle[need:]))
            r_lrs = np.concatenate((ref[:, 1], r_lrs[need:]))
            r_hrs = np.concatenate((ref[:, 2], r_hrs[need:]))
        self._scan(cycle, r_lrs, r_hrs)

    def _scan(self, cycle: np.ndarray, r_lrs: np.ndarray, r_hrs: np.ndarray) -> None:
        assert self._reference is not None
        window = r_hrs / r_lrs
        if window.size:
            self.window_min = min(self.window_min, float(window.min()))
        for a, b in zip(r_lrs[-self.tail:].tolist(), r_hrs[-self.tail:].tolist(), strict=True):
            self._last.append((a, b))
            if len(self._last) > self.tail:
                self._last.popleft()
        if self.failure is not None or self.no_switching() is not None:
            return
        mid = math.sqrt(self._reference[0] * self._reference[1])
        hits = {"window": window < self.min_window, "stuck at LRS": r_hrs < mid,
                "stuck at HRS": r_lrs > mid}
        candidates = np.flatnonzero(hits["window"] | hits["stuck at LRS"]
                                    | hits["stuck at HRS"])
        for i in candidates.tolist():  # only failing reads are visited one by one
            c = int(cycle[i])
            interval = max(1, c - (int(cycle[i - 1]) if i > 0 else self._prev_read))
            for name, run in self._runs.items():
                if not (hits[name][i - 1] if i > 0 else self._prev_hit.get(name, False)):
                    run.reads = 0
                run.step(bool(hits[name][i]), c, interval)
            if self._fired(c, float(window[i])):
                break
        self._prev_hit = {name: bool(h[-1]) for name, h in hits.items()}
        self._prev_read = int(cycle[-1])

    def _fired(self, cycle: int, window: float) -> bool:
        for name in ("stuck at LRS", "stuck at HRS"):
            run = self._runs[name]
            if run.reads and cycle - run.start + 1 >= self.stuck_cycles:
                self.failure = Failure(run.start, name, run.interval,
                                       f"{name} for {cycle - run.start + 1} cycles")
                return True
        run = self._runs["window"]
        if run.reads >= self.confirm:
            stuck = [self._runs[n] for n in ("stuck at LRS", "stuck at HRS")]
            if any(s.reads and s.start <= run.start for s in stuck):
                return False  # the device is sticking: let the stuck criterion name it
            self.failure = Failure(run.start, "window", run.interval,
                                   f"window R_HRS/R_LRS < {self.min_window:g} on {run.reads} "
                                   f"consecutive reads (now {window:.3g})")
            return True
        return False

    def no_switching(self) -> str | None:
        """Why the data show no switching at all (dead device, constant reads), else None."""
        if self._reference is None:
            return None
        lrs, hrs = self._reference
        if lrs > DEAD_RESISTANCE and hrs > DEAD_RESISTANCE:
            return (f"no current: both states read above {DEAD_RESISTANCE:.0e} Ω (a dead or "
                    "open device)")
        if hrs / lrs < NO_SWITCHING_WINDOW:
            return (f"no switching: the starting window R_HRS/R_LRS is {hrs / lrs:.3g} "
                    f"(< {NO_SWITCHING_WINDOW:g}); the device never switched")
        return None

    def figures(self) -> dict[str, Estimate]:
        """The catalog figures from what was seen so far."""
        out: dict[str, Estimate] = {"cycles_run": Estimate(float(self.last_cycle), None,
                                                           "cycles")}
        if self._reference is None:
            reason = (f"only {self.valid} valid reads of {self.reads} (need "
                      f"{self.reference_cycles} to set the reference levels)")
            out.update({k: Estimate.missing(u, reason) for k, u in FIGURES.items()
                        if k != "cycles_run"})
            return out
        lrs0, hrs0 = self._reference
        last = np.asarray(self._last)
        lrs1, hrs1 = float(np.median(last[:, 0])), float(np.median(last[:, 1]))
        out.update(window_start=Estimate(hrs0 / lrs0, None, ""),
                   window_end=Estimate(hrs1 / lrs1, None, ""),
                   window_min=Estimate(self.window_min, None, ""),
                   r_lrs_start=Estimate(lrs0, None, "Ω"), r_hrs_start=Estimate(hrs0, None, "Ω"),
                   r_lrs_end=Estimate(lrs1, None, "Ω"), r_hrs_end=Estimate(hrs1, None, "Ω"))
        dead = self.no_switching()
        if dead is not None:
            out["cycles_to_failure"] = Estimate.missing("cycles", dead)
        elif self.failure is None:
            out["cycles_to_failure"] = Estimate.missing(
                "cycles", f"no failure in {self.last_cycle} cycles (window ≥ "
                f"{self.min_window:g}, never stuck for {self.stuck_cycles} cycles)")
        else:
            f = self.failure
            out["cycles_to_failure"] = Estimate(float(f.cycle), float(f.interval), "cycles",
                                                f"{f.criterion}: {f.detail}")
        return out
