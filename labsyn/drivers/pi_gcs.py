"""PI GCS 2.0 over VISA: what the C-887 hexapod and E-712 drivers share.

From the reference (§0, §4.1, §7 of instruments.md): LF termination ✔; set commands never reply
✔; ``ERR?`` returns one latched integer code and clears it ✔ (pipython asks it after every
command, and so do these drivers); multi-line replies end every line but the last with
``" \\n"`` ✔; the single-character commands (``#5`` motion bitmask in hex, ``#7`` ready
chr(0xB1) / busy chr(0xB0), ``#24`` stop all) are one byte with no LF ✔, their replies end with LF
(as pipython's reader expects). Error texts are pipython's ``gcserror.py`` wording, shortened.
"""

from __future__ import annotations

import math
from typing import Any

from labsyn.errors import InstrumentReplyError, InstrumentReportedError, LimitError

from .base import LabsynInstrument

GCS_ERRORS: dict[int, str] = {
    0: "No error",
    1: "Parameter syntax error",
    2: "Unknown command",
    3: "Command length out of limits or command buffer overrun",
    5: "Motion on unreferenced axis, or attempt to reference while servo is off",
    7: "Position out of limits",
    8: "Velocity out of limits",
    9: "Attempt to set pivot point while U, V and W not all 0",
    10: "Controller was stopped by command",
    15: "Invalid axis identifier",
    17: "Parameter out of range",
    23: "Illegal axis",
    24: "Incorrect number of parameters",
    26: "Parameter missing",
    27: "Soft limit out of range",
    45: "Referencing failed",
    54: "Unknown parameter",
    73: "Wave generator or fast alignment routine active",
    200: "No stage connected to axis",
    536: "Coordinate system cannot be defined as long as Hexapod is in motion",
    555: "Unknown error",
}

MOTION_STATUS = b"\x05"  # #5
CONTROLLER_READY = b"\x07"  # #7
STOP_ALL = b"\x18"  # #24
READY = "\xb1"
BUSY = "\xb0"


def error_text(code: int) -> str:
    return GCS_ERRORS.get(code, "Unknown error")


def parse_axis_reply(instrument: str, command: str, reply: str) -> dict[str, str]:
    """``X=1.000000 \\nY=0.5`` → ``{"X": "1.000000", "Y": "0.5"}`` (spacing varies ✔)."""
    found: dict[str, str] = {}
    for line in reply.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InstrumentReplyError(instrument, command,
                                       f"line {line!r} is not 'axis=value'")
        found[key.strip()] = value.strip()
    return found


def axis_floats(instrument: str, command: str, reply: str) -> dict[str, float]:
    """An ``axis=value`` reply with numeric values."""
    values: dict[str, float] = {}
    for key, text in parse_axis_reply(instrument, command, reply).items():
        try:
            values[key] = float(text)
        except ValueError:
            raise InstrumentReplyError(instrument, command,
                                       f"{key}={text!r} is not a number") from None
    return values


def finite(quantity: str, value: Any) -> float:
    """A finite float, or LimitError naming `quantity`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LimitError(quantity, value, "a finite number")
    return float(value)


def gcs_number(value: float) -> str:
    """Floats as pipython sends them (``.12g``) ✔."""
    return f"{value:.12g}"


class GcsInstrument(LabsynInstrument):
    """A GCS 2.0 controller: LF lines, ``ERR?`` integer codes, multi-line replies."""

    def __init__(self, adapter: Any, name: str, **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        kwargs.setdefault("encoding", "latin-1")  # #7 answers chr(0xB1)
        super().__init__(adapter, name, **kwargs)

    # -- transactions ---------------------------------------------------------------------------
    def query(self, command: str) -> str:
        """Write `command` and read its whole reply: lines ending in ``" "`` continue ✔."""
        with self.lock:
            text = self.ask(command)
            while text.endswith(" "):
                text += "\n" + self.read()
        return text

    def query_axes(self, command: str) -> dict[str, float]:
        return axis_floats(self.name, command, self.query(command))

    def send(self, command: str) -> None:
        """A set command, then ``ERR?``: raises `InstrumentReportedError` with PI's code."""
        with self.lock:
            self.write(command)
            self.raise_error(command)

    def raise_error(self, command: str) -> None:
        code, message = self.next_error
        if code != 0:
            raise InstrumentReportedError(self.name, command, [(code, message)])

    def single(self, byte: bytes, command: str) -> None:
        """A single-character command (one byte, no LF) ✔."""
        with self.lock:
            self._last_command = command
            try:
                self.adapter.write_bytes(byte)
            except OSError as exc:
                raise self._translate(command, exc) from exc
            except Exception as exc:
                if exc.__class__.__name__ == "VisaIOError":
                    raise self._translate(command, exc) from exc
                raise

    def single_query(self, byte: bytes, command: str) -> str:
        with self.lock:
            self.single(byte, command)
            return self.read()

    # -- errors ---------------------------------------------------------------------------------
    @property
    def next_error(self) -> tuple[int, str]:
        """``ERR?``: the latched code, cleared by reading it ✔."""
        reply = self.ask("ERR?").strip()
        try:
            code = int(reply)
        except ValueError:
            raise InstrumentReplyError(self.name, "ERR?",
                                       f"reply {reply!r} is not an integer code") from None
        return code, error_text(code)
