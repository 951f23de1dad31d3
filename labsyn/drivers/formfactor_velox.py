"""FormFactor (Cascade) Velox prober, SCI commands over GPIB (or a VISA socket to Velox).

pymeasure's `Velox` (pymeasure/instruments/formfactor/velox.py) has the command knowledge reused
here: ``MoveChuckContact <vel%>``, ``MoveChuckSeparation <vel%>``, ``MoveChuckAlign <vel%>``
(velocity 0.1–100 %, its VELOCITY_RANGE), ``StepFirstDie``, ``StepNextDie [col row [subdie]]`` →
``col row subdie totalSubdies``, ``ReportSoftwareVersion``, replies ``<err>: <values>`` with 703 =
end of wafer map (a status), all ✔ in reference §5.2. It is wrapped, not subclassed: its read()
raises ConnectionError for an error (not labsyn's `InstrumentReportedError` with the code), its
velocity check raises ValueError (not `LimitError`), ``step_to_die`` drops subdie 0 (``if s_pos``)
and returns nothing, and it does not know the chuck height, so it would step in contact. What
labsyn adds:

- `Prober`: `contact_state()`, `separate()`, `contact()` (only from separation or hover),
  `step_die()` refused before sending while in contact or while the height is unknown (Velox has
  no height query the reference confirms, so the driver tracks the height it commanded and says
  "unknown" until its first Z move), `step_next_die()` → None at the end of the map (703);
- strict `velocity` (LimitError naming it), used for every Z move;
- `die()` from the last step reply, else ``ReadMapPosition`` (its first two fields: layout ?);
- `safe_off()`: separation, latched until `rearm()`; errors as `InstrumentReportedError`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pymeasure.instruments.formfactor.velox import VELOCITY_RANGE

from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentReportedError

from .base import LabsynInstrument
from .capabilities import Die
from .validators import limited, strict_integer_range, strict_range

END_OF_MAP = 703
MAX_INDEX = 10_000
LOW_VELOCITY, HIGH_VELOCITY = (float(v) for v in VELOCITY_RANGE)


class FormFactorVelox(LabsynInstrument):
    """A Velox prober; implements `Prober`."""

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("ReportSoftwareVersion", "0: 3.2.0")]

    def __init__(self, adapter: Any, name: str = "FormFactor Velox", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        kwargs.setdefault("timeout", 40000)  # pymeasure's default: moves answer when done
        super().__init__(adapter, name, **kwargs)
        self.version = self.command("ReportSoftwareVersion")[1]
        self._state = "unknown"
        self._die: Die | None = None
        self._velocity = 100.0

    @property
    def id(self) -> str:
        return f"FormFactor,Velox,{self.version}"

    # -- transport ------------------------------------------------------------------------------
    def command(self, command: str) -> tuple[int, str]:
        """Send one SCI command; returns (code, values). 703 is returned, anything else
        nonzero raises `InstrumentReportedError` with Velox's code and message."""
        reply = self.ask(command).strip()
        code_text, colon, values = reply.partition(":")
        try:
            code = int(code_text)
        except ValueError:
            code = -1
        if not colon or code < 0:
            raise InstrumentReplyError(self.name, command, f"reply {reply[:80]!r} is not "
                                       "'<err>: <values>'")
        values = values.strip()
        if code and code != END_OF_MAP:
            raise InstrumentReportedError(self.name, command, [(code, values)])
        return code, values

    @property
    def next_error(self) -> tuple[int, str]:
        """Velox has no error queue."""
        return 0, "No error"

    def errors(self) -> list[tuple[int, str]]:
        """Always empty: Velox reports each error in its reply (raised then)."""
        return []

    def _get_velocity(self) -> float:
        return self._velocity

    def _set_velocity(self, percent: float) -> None:
        self._velocity = strict_range("chuck Z velocity", "%")(
            percent, (LOW_VELOCITY, HIGH_VELOCITY))

    velocity = limited(_get_velocity, _set_velocity, LOW_VELOCITY, HIGH_VELOCITY,
                       "The Z-move velocity (% of the maximum) sent with every height move.")

    # -- chuck height ---------------------------------------------------------------------------
    def contact_state(self) -> str:
        """"contact", "hover" (align height), "separation", or "unknown" before the first
        Z move this driver made."""
        return self._state

    def _z_move(self, name: str, state: str) -> None:
        self._state = "unknown"
        self.command(f"{name} {self._velocity:g}")
        self._state = state

    def separate(self) -> None:
        """``MoveChuckSeparation <vel>`` (always allowed)."""
        with self.lock:
            self._z_move("MoveChuckSeparation", "separation")

    def hover(self) -> None:
        """``MoveChuckAlign <vel>``: the align height just above contact."""
        with self.lock:
            self.require_armed("MoveChuckAlign")
            self._z_move("MoveChuckAlign", "hover")

    def contact(self) -> None:
        """``MoveChuckContact <vel>``, only from separation or hover."""
        with self.lock:
            self.require_armed("MoveChuckContact")
            if self._state not in ("separation", "hover"):
                raise InstrumentError(self.name, "MoveChuckContact", f"the chuck is in "
                                      f"{self._state}; contact only from separation or hover")
            self._z_move("MoveChuckContact", "contact")

    # -- stepping -------------------------------------------------------------------------------
    def _refuse_unless_separated(self, command: str) -> None:
        self.require_armed(command)
        if self._state not in ("separation", "hover"):
            raise InstrumentError(self.name, command, f"refused: the chuck is in "
                                  f"{self._state}; separate() before stepping (nothing was sent)")

    def _step(self, command: str) -> Die | None:
        with self.lock:
            self._refuse_unless_separated(command)
            code, values = self.command(command)
            if code == END_OF_MAP:
                return None
            try:
                col, row = (int(v) for v in values.split()[:2])
            except ValueError:
                raise InstrumentReplyError(self.name, command, f"reply {values[:80]!r} is not "
                                           "'col row subdie total'") from None
            self._die = (col, row)
            return self._die

    def step_die(self, die: Die, subsite: int = 0) -> Die:
        """``StepNextDie <col> <row> <subdie>``, refused while in contact; the die reached."""
        col, row = (strict_integer_range(f"die {axis}")(v, (-MAX_INDEX, MAX_INDEX))
                    for axis, v in zip(("column", "row"), die, strict=True))
        site = strict_integer_range("subsite")(subsite, (0, MAX_INDEX))
        reached = self._step(f"StepNextDie {col} {row} {site}")
        if reached is None:
            raise InstrumentError(self.name, "StepNextDie", f"die {die} not reached (703)")
        return reached

    def step_first_die(self) -> Die:
        """``StepFirstDie`` (also clears the binning results)."""
        reached = self._step("StepFirstDie")
        if reached is None:
            raise InstrumentError(self.name, "StepFirstDie", "the wafer map is empty (703)")
        return reached

    def step_next_die(self) -> Die | None:
        """``StepNextDie``: the next die of the map, or None at its end (703)."""
        return self._step("StepNextDie")

    def die(self) -> Die:
        """The die of the last step, else ``ReadMapPosition``'s first two fields (?)."""
        if self._die is None:
            values = self.command("ReadMapPosition")[1].split()
            try:
                self._die = (int(values[0]), int(values[1]))
            except (ValueError, IndexError):
                raise InstrumentReplyError(self.name, "ReadMapPosition", f"reply {values!r} "
                                           "does not start with 'col row'") from None
        return self._die

    # -- safe state -----------------------------------------------------------------------------
    def safe_off(self) -> None:
        """Separate the chuck (from any state) and hold contact and stepping off until rearm()."""
        self.safed.set()
        problems = self.safe_steps([lambda: self._z_move("MoveChuckSeparation", "separation")])
        if problems:
            raise problems[0]
