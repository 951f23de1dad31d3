"""Simulated PI C-887 hexapod controller (GCS 2.0): pose, motion timing, referencing, pivot.

Modelled (instruments.md §4.1, §7): ``MOV``/``MVR`` (error 5 while unreferenced or servo off, 7
outside the soft limits or the workspace), motion at the system velocity ``VLS`` (every axis
arrives together after max|Δ| / VLS; mm/s and deg/s share the number — a simplification ?),
``POS?``/``MOV?``/``ONT?``, ``#5`` (hex bitmask of moving axes), ``#7``, ``#24``/``HLT``/``STP``
(stop where it is, error 10), ``SVO``/``SVO?``, ``FRF`` (all axes together, `reference_time_s`
then at 0) / ``FRF?``, ``TMN?``/``TMX?``, ``NLM``/``PLM``(``?``), ``VMO?`` (a coupled workspace:
Σ (axis / its travel)² ≤ `workspace` — illustrative ?), ``SPI``/``SPI?`` with R S T or X Y Z
(error 9 unless U = V = W = 0; answered in `pivot_letters`), ``KSD``/``KEN``/``KEN?`` (names and
poses only: they do not transform positions ?, error 536 while moving), ``VLS``/``VLS?`` (error 8
outside 1e-4 … `max_velocity`), ``ERR?``. Travel ranges are H-811-like (?).
"""

from __future__ import annotations

from typing import Any

from .pi_gcs_sim import GcsError, GcsSimInstrument, axis_lines, pairs

AXES = ("X", "Y", "Z", "U", "V", "W")
TRAVEL = {"X": (-17.0, 17.0), "Y": (-16.0, 16.0), "Z": (-6.5, 6.5), "U": (-10.0, 10.0),
          "V": (-10.0, 10.0), "W": (-21.0, 21.0)}
READY, BUSY = "\xb1", "\xb0"
PIVOT_LETTERS = {"R": 0, "S": 1, "T": 2, "X": 0, "Y": 1, "Z": 2}


def _fmt(value: float) -> str:
    return f"{value:.6f}"


class SimPIHexapod(GcsSimInstrument):
    """A C-887 with an H-811-like hexapod."""

    idn = "(c)2015 Physik Instrumente (PI) GmbH & Co. KG, C-887, 115000000, 1.2.3.4"

    def __init__(self, name: str = "sim C-887", reference_time_s: float = 10.0,
                 velocity: float = 1.0, max_velocity: float = 20.0, workspace: float = 2.0,
                 pivot_letters: str = "RST", referenced: bool = False) -> None:
        super().__init__(name)
        self.reference_time_s = reference_time_s
        self.velocity = velocity
        self.max_velocity = max_velocity
        self.workspace = workspace
        self.pivot_letters = pivot_letters
        self.soft = {a: TRAVEL[a] for a in AXES}
        self.servo = True
        self.is_referenced = referenced
        self.referencing_until: float | None = None
        self.start = dict.fromkeys(AXES, 0.0)
        self.target = dict.fromkeys(AXES, 0.0)
        self.t0 = self.t1 = 0.0
        self.pivot = [0.0, 0.0, 0.0]
        self.systems: dict[str, dict[str, float]] = {"ZERO": dict.fromkeys(AXES, 0.0)}
        self.enabled_system = "ZERO"
        c = self.commands
        c.update({
            "MOV": self._mov, "MVR": self._mvr, "POS?": lambda a: self._axes(a, self.pose()),
            "MOV?": lambda a: self._axes(a, self.target), "ONT?": self._ont,
            "HLT": self._stop, "STP": self._stop, "SVO": self._svo,
            "SVO?": lambda a: self._axes(a, dict.fromkeys(AXES, int(self.servo))),
            "FRF": self._frf, "FRF?": lambda a: self._axes(
                a, dict.fromkeys(AXES, int(self.referenced_now()))),
            "TMN?": lambda a: self._axes(a, {k: v[0] for k, v in TRAVEL.items()}),
            "TMX?": lambda a: self._axes(a, {k: v[1] for k, v in TRAVEL.items()}),
            "NLM": lambda a: self._limit(a, 0), "PLM": lambda a: self._limit(a, 1),
            "NLM?": lambda a: self._axes(a, {k: v[0] for k, v in self.soft.items()}),
            "PLM?": lambda a: self._axes(a, {k: v[1] for k, v in self.soft.items()}),
            "VMO?": self._vmo, "VLS": self._vls, "VLS?": lambda a: _fmt(self.velocity),
            "SPI": self._spi, "SPI?": self._spi_query, "KSD": self._ksd, "KEN": self._ken,
            "KEN?": lambda a: self.enabled_system,
        })
        self.singles = {5: self._motion_status, 7: self._ready, 24: self._stop_all}

    # -- state ----------------------------------------------------------------------------------
    def referenced_now(self) -> bool:
        if self.referencing_until is not None and self.now >= self.referencing_until:
            self.referencing_until = None
            self.is_referenced = True
        return self.is_referenced

    def moving(self) -> bool:
        self.referenced_now()
        return self.referencing_until is not None or self.now < self.t1

    def pose(self) -> dict[str, float]:
        """The pose now (linear interpolation between start and target)."""
        return self.pose_at(self.now)

    def pose_at(self, now: float) -> dict[str, float]:
        """The pose at bench time `now` within the present move (a DUT reading taken at the
        timeline's time, which may trail the clock)."""
        if now >= self.t1 or self.t1 <= self.t0:
            return dict(self.target)
        if now <= self.t0:
            return dict(self.start)
        f = (now - self.t0) / (self.t1 - self.t0)
        return {a: self.start[a] + f * (self.target[a] - self.start[a]) for a in AXES}

    def _axes(self, args: list[str], values: dict[str, Any]) -> str:
        names = [a.upper() for a in args] or list(AXES)
        if any(n not in values for n in names):
            raise GcsError(15)
        return axis_lines((n, v if isinstance(v, int) else _fmt(v))
                          for n, v in ((n, values[n]) for n in names))

    def _reachable(self, pose: dict[str, float]) -> bool:
        inside = all(self.soft[a][0] <= pose[a] <= self.soft[a][1] for a in AXES)
        load = sum((pose[a] / TRAVEL[a][1]) ** 2 for a in AXES)
        return inside and load <= self.workspace

    # -- motion ---------------------------------------------------------------------------------
    def _start_move(self, target: dict[str, float]) -> None:
        if not self.referenced_now() or not self.servo or self.referencing_until is not None:
            raise GcsError(5)
        if not self._reachable(target):
            raise GcsError(7)
        here = self.pose()
        distance = max(abs(target[a] - here[a]) for a in AXES)
        self.start, self.target = here, target
        self.t0 = self.now
        self.t1 = self.t0 + distance / self.velocity

    def _mov(self, args: list[str]) -> None:
        target = dict(self.target)
        target.update(pairs(args, AXES))
        self._start_move(target)

    def _mvr(self, args: list[str]) -> None:
        target = dict(self.target)
        for axis, delta in pairs(args, AXES):
            target[axis] += delta
        self._start_move(target)

    def _ont(self, args: list[str]) -> str:
        on = int(not self.moving())
        return self._axes(args, dict.fromkeys(AXES, on))

    def _halt_here(self) -> None:
        here = self.pose()
        self.start = self.target = here
        self.t0 = self.t1 = self.now
        if self.referencing_until is not None:
            self.referencing_until = None

    def _stop(self, args: list[str]) -> None:
        self._halt_here()
        raise GcsError(10)

    def _stop_all(self) -> None:
        self._halt_here()
        self.error = 10

    def _motion_status(self) -> str:
        return "3F" if self.moving() else "0"

    def _ready(self) -> str:
        self.referenced_now()
        return BUSY if self.referencing_until is not None else READY

    def _svo(self, args: list[str]) -> None:
        for _, value in pairs(args, AXES):
            if value not in (0.0, 1.0):
                raise GcsError(17)
            if not value:
                self._halt_here()
            self.servo = bool(value)

    def _frf(self, args: list[str]) -> None:
        if any(a.upper() not in AXES for a in args):
            raise GcsError(15)
        if not self.servo:
            raise GcsError(5)
        self._halt_here()
        self.is_referenced = False
        self.start = self.target = dict.fromkeys(AXES, 0.0)
        self.referencing_until = self.now + self.reference_time_s

    def _limit(self, args: list[str], side: int) -> None:
        for axis, value in pairs(args, AXES):
            low, high = TRAVEL[axis]
            if not low <= value <= high:
                raise GcsError(27)
            limits = list(self.soft[axis])
            limits[side] = value
            self.soft[axis] = (limits[0], limits[1])

    def _vmo(self, args: list[str]) -> str:
        pose = dict(self.target)
        pose.update(pairs(args, AXES))
        return "1" if self._reachable(pose) else "0"

    def _vls(self, args: list[str]) -> None:
        if len(args) != 1:
            raise GcsError(24)
        try:
            value = float(args[0])
        except ValueError:
            raise GcsError(1) from None
        if not 1e-4 <= value <= self.max_velocity:
            raise GcsError(8)
        self.velocity = value

    # -- pivot and coordinate systems -----------------------------------------------------------
    def _spi(self, args: list[str]) -> None:
        values = pairs(args, PIVOT_LETTERS)
        if any(abs(self.pose()[a]) > 1e-12 for a in ("U", "V", "W")) or self.moving():
            raise GcsError(9)
        for letter, value in values:
            self.pivot[PIVOT_LETTERS[letter]] = value

    def _spi_query(self, args: list[str]) -> str:
        letters = [a.upper() for a in args] or list(self.pivot_letters)
        if any(letter not in PIVOT_LETTERS for letter in letters):
            raise GcsError(15)
        return axis_lines((letter, _fmt(self.pivot[PIVOT_LETTERS[letter]]))
                          for letter in letters)

    def _ksd(self, args: list[str]) -> None:
        if not args:
            raise GcsError(26)
        if self.moving():
            raise GcsError(536)
        pose = dict.fromkeys(AXES, 0.0)
        pose.update(pairs(args[1:], AXES))
        self.systems[args[0]] = pose

    def _ken(self, args: list[str]) -> None:
        if len(args) != 1:
            raise GcsError(24)
        if args[0] not in self.systems:
            raise GcsError(54)
        self.enabled_system = args[0]

    def output_state(self) -> dict[str, Any]:
        return {"pose": self.pose(), "moving": self.moving(), "referenced": self.referenced_now(),
                "pivot": tuple(self.pivot), "coordinate_system": self.enabled_system}
