"""Simulated MPI SENTIO prober: the remote command language over a wafer map and a moving chuck.

Every command gets one line ``<errc>,<cmd_id>,<message>``: ``errc & 1023`` is the error,
``errc >> 10`` the status bits (1 end of route, 2 last site); ``cmd_id`` is 0 (no command runs
asynchronously here). Modelled: ``move_chuck_contact`` / ``_separation`` / ``_hover`` /
``_home``, ``get_chuck_z <ref>``, ``get_chuck_site_heights [site]``, ``get_chuck_xy``,
``map:step_first_die``, ``map:step_next_die``, ``map:step_die <col>, <row>[, <site>]``,
``map:die:get_current_index``, ``map:get_num_dies``, ``map:die:get_status <col>, <row>``,
``status:get_version``. Stepping while in contact is refused with error 38 (stepping with wrong
Z) and nothing moves; a step past the last die of the route answers error 11 with the
end-of-route status bit (``1035,0,...``: the status-with-error form is ~, read in
SentioProberControl's step_next_die, which raises on it). Move durations come from the chuck's
XY and Z velocities plus a settle time, and a reply is ready only when its move is done.

`ProberChuck`, the wafer map and chuck state, is shared with the FormFactor Velox twin. Its
route is six dies by default, or every die within a radius (`round_wafer(radius)`: any
(column, row) a batch map asks for on a round wafer, in serpentine order); subsites
0 … `subsites` − 1 are accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .scpi import Reply
from .sim_instrument import ScpiInstrument

Die = tuple[int, int]
END_OF_ROUTE, LAST_SITE = 1, 2
ERRORS = {  # SENTIO RemoteCommandError numbers (reference §5.1 ✔)
    2: "Execution error.", 4: "Invalid command.", 6: "Invalid parameter.",
    7: "Wrong number of parameters.", 8: "Argument out of bounds.", 11: "End of route.",
    38: "Stepping with wrong Z: move the chuck to separation first.",
}
DEFAULT_DIES: tuple[Die, ...] = ((0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1))


def round_wafer(radius_dies: float) -> list[Die]:
    """Every die with sqrt(col² + row²) <= radius, row by row from the top, serpentine."""
    if not radius_dies >= 0:
        raise ValueError(f"wafer radius {radius_dies!r} must be >= 0 dies")
    n = math.floor(radius_dies)
    dies: list[Die] = []
    for k, row in enumerate(range(n, -n - 1, -1)):
        columns = [c for c in range(-n, n + 1) if math.hypot(c, row) <= radius_dies]
        dies += [(c, row) for c in (columns if k % 2 == 0 else reversed(columns))]
    return dies


class ProberError(Exception):
    """A refused command: its error code and message."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.message = ERRORS.get(code, "Error.") + (f" {detail}" if detail else "")
        super().__init__(f"{code}: {self.message}")


@dataclass
class ProberChuck:
    """The wafer map (dies in route order) and the chuck: height state, die, timing.

    Heights are µm above the chuck's zero; gaps are below the contact height. Only the die
    under the probes and the height state matter to the bench; XY is die × pitch."""

    dies: list[Die] = field(default_factory=lambda: list(DEFAULT_DIES))
    pitch_um: tuple[float, float] = (5000.0, 5000.0)
    contact_um: float = 10000.0
    separation_gap_um: float = 100.0
    hover_gap_um: float = 30.0
    xy_speed_um_s: float = 50000.0
    z_speed_um_s: float = 2000.0
    settle_s: float = 0.05
    state: str = "separation"
    index: int = 0
    subsite: int = 0
    subsites: int = 1  # subsites 0 … subsites − 1 of every die are accepted
    visited: list[Die] = field(default_factory=list)  # every die stepped to, in order

    def __post_init__(self) -> None:
        self.set_dies(self.dies)
        if self.subsites < 1:
            raise ValueError(f"subsites {self.subsites!r} must be >= 1")

    def set_dies(self, dies: list[Die]) -> None:
        """A new route (the chuck goes to its first die's index; nothing moves)."""
        dies = [(int(c), int(r)) for c, r in dies]
        if not dies or len(set(dies)) != len(dies):
            raise ValueError(f"a wafer map needs distinct dies, got {dies!r}")
        self.dies = dies
        self._positions = {die: i for i, die in enumerate(dies)}
        self.index = 0

    def on_map(self, die: Die) -> bool:
        return die in self._positions

    @property
    def die(self) -> Die:
        return self.dies[self.index]

    def z_um(self) -> float:
        gap = {"contact": 0.0, "hover": self.hover_gap_um,
               "separation": self.separation_gap_um}[self.state]
        return self.contact_um - gap

    def xy_um(self) -> tuple[float, float]:
        col, row = self.die
        return col * self.pitch_um[0], row * self.pitch_um[1]

    def move_z(self, state: str) -> float:
        """Go to `state`'s height; returns the move time (s)."""
        before = self.z_um()
        self.state = state
        distance = abs(self.z_um() - before)
        return distance / self.z_speed_um_s + (self.settle_s if distance else 0.0)

    def step_to(self, die: Die, subsite: int = 0) -> float:
        """Move the chuck under `die` (refused in contact: error 38); returns the move time."""
        if self.state == "contact":
            raise ProberError(38)
        if die not in self._positions:
            raise ProberError(8, f"die {die} is not on the wafer map")
        if not 0 <= subsite < self.subsites:
            raise ProberError(8, f"subsite {subsite} (this map has subsites 0–"
                              f"{self.subsites - 1})")
        x0, y0 = self.xy_um()
        self.index = self._positions[die]
        self.subsite = subsite
        self.visited.append(die)
        x1, y1 = self.xy_um()
        distance = math.hypot(x1 - x0, y1 - y0)
        return distance / self.xy_speed_um_s + self.settle_s

    def next_die(self) -> Die | None:
        return self.dies[self.index + 1] if self.index + 1 < len(self.dies) else None

    def probed(self) -> tuple[bool, Die]:
        """(the probes touch the pads, the die under them): what the bench's DUT follows
        (see mock_instruments/wafer.py). Only contact touches; hover and separation do not."""
        return self.state == "contact", self.die


class SimMpiSentio(ScpiInstrument):
    """A SENTIO prober on a simulated bench; `chuck` holds its wafer map and state."""

    version = "25.2.0.1234"
    terminator = b"\n"

    def __init__(self, name: str = "MPI SENTIO", dies: list[Die] | None = None,
                 **chuck: Any) -> None:
        self.chuck = ProberChuck(dies=list(dies or DEFAULT_DIES), **chuck)
        self._busy_until = 0.0
        super().__init__(name)
        self.handlers = {
            "move_chuck_contact": lambda a: self._z(a, "contact"),
            "move_chuck_separation": lambda a: self._z(a, "separation"),
            "move_chuck_hover": lambda a: self._z(a, "hover"),
            "move_chuck_home": self._home,
            "get_chuck_z": self._get_z,
            "get_chuck_site_heights": self._heights,
            "get_chuck_xy": lambda a: "{:.1f},{:.1f}".format(*self.chuck.xy_um()),
            "map:step_first_die": lambda a: self._step(self.chuck.dies[0], a, 0),
            "map:step_next_die": self._step_next,
            "map:step_die": self._step_die,
            "map:die:get_current_index": self._current,
            "map:get_num_dies": lambda a: str(len(self.chuck.dies)),
            "map:die:get_status": self._die_status,
            "status:get_version": lambda a: self.version,
        }

    # -- transport ------------------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        self._reply_time = now
        self.status_bits = 0
        try:
            text = data.decode("ascii").strip("\r\n ")
        except UnicodeDecodeError:
            self._answer(4, "Invalid command. Non-ASCII bytes.", now)
            return
        name, _, rest = text.partition(" ")
        args = [a.strip() for a in rest.split(",")] if rest.strip() else []
        handler = self.handlers.get(name.lower())
        try:
            if handler is None:
                raise ProberError(4, repr(name[:40]))
            message = handler(args)
        except ProberError as err:
            self._answer(err.code, err.message, now)
            return
        self._answer(0, message, now)

    def _answer(self, code: int, message: str, now: float) -> None:
        errc = code | (self.status_bits << 10)
        ready = max(now, self._busy_until)
        self.output.append(Reply(f"{errc},0,{message}".encode("ascii") + self.terminator, ready))

    def busy_until(self) -> float:
        return max(self.now, self._busy_until)

    def _moved(self, seconds: float) -> None:
        self._busy_until = self.busy_until() + seconds

    def device_clear(self) -> None:
        self.output.clear()

    def output_state(self) -> dict[str, Any]:
        return {"chuck": self.chuck.state, "die": self.chuck.die, "subsite": self.chuck.subsite}

    # -- commands -------------------------------------------------------------------------------
    def _z(self, args: list[str], state: str) -> str:
        _count(args, 0, 0)
        self._moved(self.chuck.move_z(state))
        return f"{self.chuck.z_um():.1f}"

    def _home(self, args: list[str]) -> str:
        _count(args, 0, 0)
        self._moved(self.chuck.move_z("separation"))
        self._moved(self.chuck.step_to(self.chuck.dies[0]))
        return "{:.1f},{:.1f}".format(*self.chuck.xy_um())

    def _get_z(self, args: list[str]) -> str:
        _count(args, 1, 1)
        refs = {"Z": 0.0, "ZERO": 0.0, "C": self.chuck.contact_um,
                "CONTACT": self.chuck.contact_um}
        ref = refs.get(args[0].upper())
        if ref is None:
            raise ProberError(6, f"reference {args[0]!r}")
        return f"{self.chuck.z_um() - ref:.1f}"

    def _heights(self, args: list[str]) -> str:
        _count(args, 0, 1)
        if args and args[0].lower() not in ("wafer", "w"):
            raise ProberError(6, f"chuck site {args[0]!r}")
        c = self.chuck
        return f"{c.contact_um:.1f},{c.separation_gap_um:.1f},0.0,{c.hover_gap_um:.1f}"

    def _step(self, die: Die, args: list[str], first: int) -> str:
        subsite = _integer(args[first]) if len(args) > first else self.chuck.subsite
        self._moved(self.chuck.step_to(die, subsite))
        if self.chuck.next_die() is None:
            self.status_bits |= LAST_SITE
        return f"{die[0]},{die[1]},{subsite}"

    def _step_next(self, args: list[str]) -> str:
        _count(args, 0, 1)
        if self.chuck.state == "contact":
            raise ProberError(38)
        die = self.chuck.next_die()
        if die is None:
            self.status_bits |= END_OF_ROUTE
            raise ProberError(11)
        return self._step(die, args, 0)

    def _step_die(self, args: list[str]) -> str:
        _count(args, 2, 3)
        return self._step((_integer(args[0]), _integer(args[1])), args, 2)

    def _current(self, args: list[str]) -> str:
        _count(args, 0, 0)
        col, row = self.chuck.die
        return f"{self.chuck.index},{col},{row}"

    def _die_status(self, args: list[str]) -> str:
        _count(args, 2, 2)
        return "1" if self.chuck.on_map((_integer(args[0]), _integer(args[1]))) else "3"


def _count(args: list[str], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        raise ProberError(7, f"got {len(args)}, expected {low}–{high}")


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProberError(6, f"{text!r} is not an integer") from None
