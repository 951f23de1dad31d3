"""Host-side alignment for any `Positioner6D`: a spiral area scan and a gradient (compass) search.

For stages whose controller has no fast-alignment routines. Both work on any ``read_signal()``
callable (a photocurrent, a power meter) and count the stage moves they make. Distances are in
the stage's units: mm for X Y Z, degrees for U V W.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from labsyn.errors import LimitError

from .capabilities import AbortCheck, Pose, Positioner6D

ReadSignal = Callable[[], float]


@dataclass
class AlignmentResult:
    """Where the search ended, the signal there, the moves made and every point visited."""

    pose: Pose
    signal: float
    moves: int
    points: list[tuple[Pose, float]] = field(default_factory=list)
    aborted: bool = False


class _Walker:
    """Moves the stage, reads the signal, counts moves, remembers the best point."""

    def __init__(self, stage: Positioner6D, read_signal: ReadSignal,
                 should_abort: AbortCheck | None, max_moves: int) -> None:
        self.stage = stage
        self.read_signal = read_signal
        self.should_abort = should_abort
        self.max_moves = max_moves
        self.moves = 0
        self.points: list[tuple[Pose, float]] = []
        self.best: tuple[Pose, float] | None = None
        self.last: Pose | None = None

    @property
    def stopped(self) -> bool:
        return self.moves >= self.max_moves or (self.should_abort is not None
                                                and self.should_abort())

    def visit(self, pose: Pose) -> float:
        self.stage.move_to(pose, self.should_abort)
        self.moves += 1
        self.last = pose
        return self.record(pose)

    def record(self, pose: Pose) -> float:
        value = float(self.read_signal())
        self.points.append((pose, value))
        if self.best is None or value > self.best[1]:
            self.best = (pose, value)
        return value

    def result(self) -> AlignmentResult:
        assert self.best is not None
        return AlignmentResult(self.best[0], self.best[1], self.moves, self.points,
                               aborted=self.stopped and self.moves < self.max_moves)


def spiral_offsets(radius: float, step: float) -> list[tuple[float, float]]:
    """An Archimedean spiral out to `radius`, turns and points `step` apart (from the centre)."""
    if not (math.isfinite(radius) and math.isfinite(step)) or step <= 0 or radius < 0:
        raise LimitError("spiral radius, step", (radius, step), "radius >= 0, step > 0")
    offsets = [(0.0, 0.0)]
    theta = 2 * math.pi  # first point one step out
    while True:
        r = step * theta / (2 * math.pi)
        if r > radius:
            break
        offsets.append((r * math.cos(theta), r * math.sin(theta)))
        theta += step / r
    return offsets


def spiral_scan(stage: Positioner6D, read_signal: ReadSignal, radius: float, step: float,
                axes: tuple[str, str] = ("x", "y"), should_abort: AbortCheck | None = None,
                max_moves: int = 10_000, threshold: float | None = None) -> AlignmentResult:
    """Visit a spiral around the present pose in the plane of `axes`, then go to the best
    point (or stop at the first point above `threshold`)."""
    centre = stage.position()
    walker = _Walker(stage, read_signal, should_abort, max_moves)
    walker.record(centre)
    for da, db in spiral_offsets(radius, step)[1:]:
        if walker.stopped:
            break
        pose = replace(centre, **{axes[0]: getattr(centre, axes[0]) + da,
                                  axes[1]: getattr(centre, axes[1]) + db})
        if walker.visit(pose) >= (threshold if threshold is not None else math.inf):
            break
    best = walker.result()
    if not walker.stopped:
        stage.move_to(best.pose, should_abort)
        walker.moves += 1
    return walker.result()


def gradient_search(stage: Positioner6D, read_signal: ReadSignal,
                    axes: Sequence[str] = ("x", "y"),
                    step: float | dict[str, float] = 0.002,
                    min_step: float | dict[str, float] = 0.0001,
                    should_abort: AbortCheck | None = None, max_moves: int = 400,
                    refine: bool = True) -> AlignmentResult:
    """Compass search uphill: try ± step on each axis, keep going while it improves, halve the
    step when nothing does, down to `min_step`; then (`refine`) fit a parabola to log(signal)
    through three points per axis (exact for a Gaussian peak) and go to its vertex."""
    steps = {a: float(step[a] if isinstance(step, dict) else step) for a in axes}
    floors = {a: float(min_step[a] if isinstance(min_step, dict) else min_step) for a in axes}
    walker = _Walker(stage, read_signal, should_abort, max_moves)
    here = stage.position()
    best = walker.record(here)

    def moved(pose: Pose, axis: str, delta: float) -> Pose:
        return replace(pose, **{axis: getattr(pose, axis) + delta})

    while not walker.stopped and any(steps[a] >= floors[a] for a in axes):
        improved = False
        for axis in axes:
            if steps[axis] < floors[axis]:
                continue
            for sign in (1.0, -1.0):
                moved_on = False
                while not walker.stopped:
                    trial = moved(here, axis, sign * steps[axis])
                    value = walker.visit(trial)
                    if value <= best:
                        break
                    here, best, improved, moved_on = trial, value, True, True
                if moved_on or walker.stopped:
                    break
        if not improved:
            for axis in axes:
                steps[axis] /= 2
    if refine:
        for axis in axes:
            if walker.moves + 3 > max_moves or walker.stopped:
                break
            here, best = _parabola(walker, here, best, axis, max(floors[axis], steps[axis]) * 2)
    if walker.best is not None and walker.last != walker.best[0] and not walker.stopped:
        walker.visit(walker.best[0])
    return walker.result()


def _parabola(walker: _Walker, here: Pose, best: float, axis: str,
              h: float) -> tuple[Pose, float]:
    """One axis: log(signal) at -h, 0, +h; go to the vertex (within ±h)."""
    centre = getattr(here, axis)
    minus = walker.visit(replace(here, **{axis: centre - h}))
    plus = walker.visit(replace(here, **{axis: centre + h}))
    if min(minus, best, plus) <= 0:
        return here, best
    lm, l0, lp = math.log(minus), math.log(best), math.log(plus)
    curvature = lm - 2 * l0 + lp
    if curvature >= 0:
        return here, best
    offset = max(-h, min(h, 0.5 * h * (lm - lp) / curvature))
    target = replace(here, **{axis: centre + offset})
    value = walker.visit(target)
    return (target, value) if value > best else (here, best)
