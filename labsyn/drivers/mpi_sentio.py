"""MPI SENTIO wafer prober, remote command set (TCP ``TCPIP0::<host>::35555::SOCKET``, GPIB, VISA).

Every command is one LF-terminated line and gets one reply ``<errc>,<cmd_id>,<message>``
(reference §5.1 ✔, from SentioProberControl's Response.py): ``errc & 1023`` is the error (0 =
ok), ``errc >> 10`` the status bits (1 end of route, 2 last site). A nonzero error becomes
`InstrumentReportedError` with SENTIO's code and message; SENTIO keeps no error queue, so
`errors()` is always empty (each error was raised when it happened).

Commands relied on (✔ unless marked): ``move_chuck_contact``, ``move_chuck_separation``,
``move_chuck_hover``, ``map:step_first_die [site]``, ``map:step_next_die [site]``,
``map:step_die <col>, <row>, <site>`` → ``col,row,site``, ``map:die:get_current_index`` →
``listIdx,col,row``, ``status:get_version``, ``get_chuck_site_heights Wafer`` → ``contact,
separation, overtravel gap, hover gap`` (µm); ``get_chuck_z Z`` (absolute z, µm: the short
reference form, ~). The end of the route is error 11 and/or the end-of-route status bit on
``map:step_next_die`` (~: SentioProberControl raises on it); `step_next_die` returns None then.

Safety: `step_die` / `step_next_die` are refused before anything is sent while the chuck is in
contact (the driver tracks the height it commanded and asks the prober when it does not know);
`contact()` only from separation or hover; `safe_off()` separates and latches until `rearm()`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentReportedError

from .base import LabsynInstrument
from .capabilities import Die
from .validators import limited, strict_integer_range, strict_range

END_OF_ROUTE = 1
ERROR_END_OF_ROUTE = 11
MAX_INDEX = 10_000  # die indices and subsites accepted before sending
Z_TOLERANCE_UM = 1.0


def parse_reply(instrument: str, command: str, reply: str) -> tuple[int, int, str]:
    """``"1035,0,End of route."`` → ``(11, 1, "End of route.")``: error, status, message."""
    fields = reply.strip().split(",", 2)
    try:
        errc, _cmd_id = int(fields[0]), int(fields[1])
    except (ValueError, IndexError):
        raise InstrumentReplyError(instrument, command, f"reply {reply[:80]!r} is not "
                                   "'errc,cmd_id,message'") from None
    return errc & 1023, errc >> 10, fields[2].strip() if len(fields) > 2 else ""


class MpiSentio(LabsynInstrument):
    """A SENTIO prober; implements `Prober`."""

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("status:get_version", "0,0,25.2.0.1234")]

    def __init__(self, adapter: Any, name: str = "MPI SENTIO", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        self.version = self.command("status:get_version")[1]
        self._state: str | None = None  # what the driver last commanded; None = ask
        self._move_timeout = 60.0

    @property
    def id(self) -> str:
        """The SENTIO version (SENTIO's own identification; ``*IDN?`` is not relied on)."""
        return f"MPI Corporation,SENTIO,{self.version}"

    # -- transport ------------------------------------------------------------------------------
    def command(self, command: str) -> tuple[int, str]:
        """Send one command; returns (status bits, message) or raises SENTIO's error."""
        reply = self.ask(command)
        code, status, message = parse_reply(self.name, command, reply)
        if code:
            raise InstrumentReportedError(self.name, command, [(code, message)])
        return status, message

    def _move(self, command: str) -> tuple[int, str]:
        """A command that moves the chuck: the reply comes when the move is done."""
        code, status, message = parse_reply(self.name, command, self._move_raw(command))
        if code:
            raise InstrumentReportedError(self.name, command, [(code, message)])
        return status, message

    def _get_move_timeout(self) -> float:
        return self._move_timeout

    def _set_move_timeout(self, seconds: float) -> None:
        self._move_timeout = strict_range("move timeout", "s")(seconds, (1.0, 600.0))

    move_timeout = limited(_get_move_timeout, _set_move_timeout, 1.0, 600.0,
                           "The longest a chuck move may take before the reply (s); the VISA "
                           "timeout is raised to it for moves. Nothing is sent when set.")

    @property
    def next_error(self) -> tuple[int, str]:
        """SENTIO has no error queue."""
        return 0, "No error"

    def errors(self) -> list[tuple[int, str]]:
        """Always empty: SENTIO reports each error in its reply (raised then), not in a queue."""
        return []

    # -- chuck height ---------------------------------------------------------------------------
    def contact_state(self) -> str:
        """"contact", "hover" or "separation"; asks the prober unless this driver moved it.
        Anything above the hover height counts as contact (the probes may touch)."""
        if self._state is None:
            with self.lock:
                heights = self._numbers("get_chuck_site_heights Wafer", 4)
                z = self._numbers("get_chuck_z Z", 1)[0]
                contact, separation, _overtravel, hover = heights
                if z > contact - hover + Z_TOLERANCE_UM:
                    self._state = "contact"
                elif z > contact - separation + Z_TOLERANCE_UM:
                    self._state = "hover"
                else:
                    self._state = "separation"
        return self._state

    def _numbers(self, command: str, count: int) -> list[float]:
        message = self.command(command)[1]
        try:
            values = [float(v) for v in message.split(",")]
        except ValueError:
            values = []
        if len(values) != count:
            raise InstrumentReplyError(self.name, command, f"expected {count} numbers, got "
                                       f"{message[:80]!r}")
        return values

    def _z_move(self, command: str, state: str) -> None:
        self._state = None  # unknown until the move is confirmed
        self._move(command)
        self._state = state

    def separate(self) -> None:
        """``move_chuck_separation`` (always allowed: it takes the probes off the wafer)."""
        with self.lock:
            self._z_move("move_chuck_separation", "separation")

    def hover(self) -> None:
        """``move_chuck_hover``: just above contact (alignment, a quick look)."""
        with self.lock:
            self.require_armed("move_chuck_hover")
            self._z_move("move_chuck_hover", "hover")

    def contact(self) -> None:
        """``move_chuck_contact``, only from separation or hover."""
        with self.lock:
            self.require_armed("move_chuck_contact")
            state = self.contact_state()
            if state not in ("separation", "hover"):
                raise InstrumentError(self.name, "move_chuck_contact", f"the chuck is in "
                                      f"{state}; contact only from separation or hover")
            self._z_move("move_chuck_contact", "contact")

    # -- stepping -------------------------------------------------------------------------------
    def _refuse_in_contact(self, command: str) -> None:
        self.require_armed(command)
        if self.contact_state() == "contact":
            raise InstrumentError(self.name, command, "refused: the chuck is in contact; "
                                  "separate() before stepping (nothing was sent)")

    def step_die(self, die: Die, subsite: int = 0) -> Die:
        """``map:step_die <col>, <row>, <site>``, refused while in contact; the die reached."""
        col, row = (strict_integer_range(f"die {axis}")(v, (-MAX_INDEX, MAX_INDEX))
                    for axis, v in zip(("column", "row"), die, strict=True))
        site = strict_integer_range("subsite")(subsite, (0, MAX_INDEX))
        command = f"map:step_die {col}, {row}, {site}"
        with self.lock:
            self._refuse_in_contact(command)
            return self._die_reply(command, self._move(command)[1])

    def step_first_die(self, subsite: int = 0) -> Die:
        """``map:step_first_die <site>``: the first die of the route."""
        site = strict_integer_range("subsite")(subsite, (0, MAX_INDEX))
        command = f"map:step_first_die {site}"
        with self.lock:
            self._refuse_in_contact(command)
            return self._die_reply(command, self._move(command)[1])

    def step_next_die(self) -> Die | None:
        """``map:step_next_die`` (same subsite): the next die, or None at the end of the route."""
        command = "map:step_next_die"
        with self.lock:
            self._refuse_in_contact(command)
            reply = self._move_raw(command)
            code, status, message = parse_reply(self.name, command, reply)
            if code == ERROR_END_OF_ROUTE or (status & END_OF_ROUTE and code == 0
                                              and message.count(",") < 2):
                return None
            if code:
                raise InstrumentReportedError(self.name, command, [(code, message)])
            return self._die_reply(command, message)

    def _move_raw(self, command: str) -> str:
        """The raw reply of a moving command, the VISA timeout raised to `move_timeout`."""
        with self.lock:
            connection = getattr(self.adapter, "connection", None)
            saved = getattr(connection, "timeout", None)
            if not isinstance(saved, (int, float)):
                saved = None  # no VISA session (e.g. a test adapter)
            if saved is not None:
                connection.timeout = max(saved, self._move_timeout * 1000)
            try:
                return self.ask(command)
            finally:
                if saved is not None:
                    connection.timeout = saved

    def _die_reply(self, command: str, message: str) -> Die:
        try:
            col, row = (int(v) for v in message.split(",")[:2])
        except ValueError:
            raise InstrumentReplyError(self.name, command, f"reply {message[:80]!r} is not "
                                       "'col,row,site'") from None
        return col, row

    def die(self) -> Die:
        """``map:die:get_current_index`` → ``listIdx,col,row``: the die under the probes."""
        message = self.command("map:die:get_current_index")[1]
        fields = message.split(",")
        try:
            return int(fields[1]), int(fields[2])
        except (ValueError, IndexError):
            raise InstrumentReplyError(self.name, "map:die:get_current_index", f"reply "
                                       f"{message[:80]!r} is not 'listIdx,col,row'") from None

    # -- safe state -----------------------------------------------------------------------------
    def safe_off(self) -> None:
        """Separate the chuck (from any state) and hold contact and stepping off until rearm()."""
        self.safed.set()
        problems = self.safe_steps([lambda: self._z_move("move_chuck_separation",
                                                         "separation")])
        if problems:
            raise problems[0]
