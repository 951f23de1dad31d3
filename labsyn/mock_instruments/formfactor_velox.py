"""Simulated FormFactor (Cascade) Velox prober speaking SCI commands as on GPIB.

Each command gets one reply ``<err>: <values>`` (``0: 3 4 0 1``; reference §5.2 ✔), except
``*IDN?`` which answers bare text (as pymeasure's driver notes). Modelled: ``MoveChuckContact``,
``MoveChuckSeparation``, ``MoveChuckAlign`` (the hover height) with ``[vel%]`` 0.1–100 scaling the
Z speed, ``StepFirstDie``, ``StepNextDie [col row [subsite]]`` → ``col row subdie totalSubdies``,
``ReadMapPosition`` (layout ?: ``col row x y subdie index total``), ``ReadChuckIndex Y``,
``IsAppRegistered WaferMap``, ``ReportSoftwareVersion``. Past the last die ``StepNextDie``
answers 703 (end of wafer map ✔). Codes other than 703 are the twin's choice (?): no public
Velox error table was found. The wafer map and chuck are `ProberChuck` (shared with SENTIO).
"""

from __future__ import annotations

from typing import Any

from .mpi_sentio import DEFAULT_DIES, Die, ProberChuck, ProberError
from .scpi import Reply
from .sim_instrument import ScpiInstrument

END_OF_MAP = 703
ERRORS = {  # ? except 703
    1: "Unknown command.",
    2: "Invalid parameter.",
    3: "Wrong number of parameters.",
    14: "Chuck is at contact height: move to separation before stepping.",
    15: "Die is not on the wafer map.",
    END_OF_MAP: "End of wafer map reached.",
}


class VeloxError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.message = ERRORS[code] + (f" {detail}" if detail else "")
        super().__init__(f"{code}: {self.message}")


class SimFormFactorVelox(ScpiInstrument):
    """A Velox prober on a simulated bench; `chuck` holds its wafer map and state."""

    idn = "FormFactor,Velox,0,3.2.0"
    version = "3.2.0"
    terminator = b"\n"

    def __init__(self, name: str = "FormFactor Velox", dies: list[Die] | None = None,
                 **chuck: Any) -> None:
        self.chuck = ProberChuck(dies=list(dies or DEFAULT_DIES), **chuck)
        self._busy_until = 0.0
        super().__init__(name)
        self.handlers = {
            "movechuckcontact": lambda a: self._z(a, "contact"),
            "movechuckseparation": lambda a: self._z(a, "separation"),
            "movechuckalign": lambda a: self._z(a, "hover"),
            "stepfirstdie": self._step_first,
            "stepnextdie": self._step_next,
            "readmapposition": self._map_position,
            "readchuckindex": self._index,
            "isappregistered": lambda a: "1" if a == ["WaferMap"] else "0",
            "reportsoftwareversion": lambda a: self.version,
        }

    def receive(self, data: bytes, now: float) -> None:
        text = data.decode("ascii", errors="replace").strip("\r\n ")
        if text == "*IDN?":
            self._answer(self.idn, now)
            return
        name, *args = text.split() or [""]
        handler = self.handlers.get(name.lower())
        try:
            if handler is None:
                raise VeloxError(1, repr(name[:40]))
            values = handler(args)
        except VeloxError as err:
            self._answer(f"{err.code}: {err.message}", now)
            return
        self._answer(f"0: {values}".rstrip(), now)

    def _answer(self, text: str, now: float) -> None:
        self.output.append(Reply(text.encode("ascii") + self.terminator,
                                 max(now, self._busy_until)))

    def busy_until(self) -> float:
        return max(self.now, self._busy_until)

    def device_clear(self) -> None:
        self.output.clear()

    def output_state(self) -> dict[str, Any]:
        return {"chuck": self.chuck.state, "die": self.chuck.die, "subsite": self.chuck.subsite}

    # -- commands -------------------------------------------------------------------------------
    def _z(self, args: list[str], state: str) -> str:
        _count(args, 0, 1)
        velocity = _number(args[0]) if args else 100.0
        if not 0.1 <= velocity <= 100.0:
            raise VeloxError(2, f"velocity {velocity}% (0.1–100)")
        self._busy_until = self.busy_until() + self.chuck.move_z(state) * 100.0 / velocity
        return f"{self.chuck.z_um():.1f}"

    def _go(self, die: Die, subsite: int) -> str:
        if subsite != 0:
            raise VeloxError(2, f"subdie {subsite} (this map has one subdie per die)")
        try:
            seconds = self.chuck.step_to(die, subsite)
        except ProberError as err:
            raise VeloxError(14 if err.code == 38 else 15) from None
        self._busy_until = self.busy_until() + seconds
        return f"{die[0]} {die[1]} {subsite} 1"

    def _step_first(self, args: list[str]) -> str:
        _count(args, 0, 0)
        return self._go(self.chuck.dies[0], 0)

    def _step_next(self, args: list[str]) -> str:
        if len(args) not in (0, 2, 3):
            raise VeloxError(3, f"got {len(args)}, expected 0, 2 or 3")
        if args:
            return self._go((_int(args[0]), _int(args[1])), _int(args[2]) if len(args) > 2 else 0)
        if self.chuck.state == "contact":
            raise VeloxError(14)
        die = self.chuck.next_die()
        if die is None:
            raise VeloxError(END_OF_MAP)
        return self._go(die, self.chuck.subsite)

    def _map_position(self, args: list[str]) -> str:
        _count(args, 0, 0)
        col, row = self.chuck.die
        x, y = self.chuck.xy_um()
        return (f"{col} {row} {x:.1f} {y:.1f} {self.chuck.subsite} {self.chuck.index} "
                f"{len(self.chuck.dies)}")

    def _index(self, args: list[str]) -> str:
        _count(args, 0, 1)
        return "{:.1f} {:.1f}".format(*self.chuck.pitch_um)


def _count(args: list[str], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        raise VeloxError(3, f"got {len(args)}, expected {low}–{high}")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise VeloxError(2, f"{text!r} is not a number") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise VeloxError(2, f"{text!r} is not an integer") from None
