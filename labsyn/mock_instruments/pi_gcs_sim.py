"""Base of the simulated PI GCS 2.0 controllers (C-887 hexapod, E-712 fast alignment).

GCS as the reference (instruments.md §0, §4, §7) has it: one command per LF-ended line, set
commands never reply, queries answer ``axis=value`` lines where every line but the last ends
``" \\n"``, ``ERR?`` returns the latched error code and clears it (only the last error is kept —
unconfirmed ?), and the single-character commands (#5, #7, #24) act on the byte at once, with
no LF, wherever they fall in the input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .scpi import Reply
from .sim_instrument import ReplyQueue, fault_last_reply

if TYPE_CHECKING:
    from .bench import Bench

Handler = Callable[[list[str]], "str | None"]


class GcsError(Exception):
    """A command failed with PI error `code` (latched for ``ERR?``)."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"GCS error {code}")


def axis_lines(values: Iterable[tuple[str, str]]) -> str:
    """``X=1 \\nY=2\\n``: the GCS multi-line form."""
    lines = [f"{key}={value}" for key, value in values]
    return " \n".join(lines)


def pairs(args: list[str], allowed: Iterable[str]) -> list[tuple[str, float]]:
    """``X 1 Y 0.5`` → [("X", 1.0), ("Y", 0.5)]; error 15 for an unknown axis, 1 for syntax."""
    names = set(allowed)
    if not args or len(args) % 2:
        raise GcsError(1)
    found: list[tuple[str, float]] = []
    for key, value in zip(args[::2], args[1::2], strict=True):
        if key.upper() not in names:
            raise GcsError(15)
        try:
            found.append((key.upper(), float(value)))
        except ValueError:
            raise GcsError(1) from None
    return found


class GcsSimInstrument(ReplyQueue):
    """A GCS controller: subclasses fill `commands` (header → handler) and `singles`."""

    idn = "(c)2024 Physik Instrumente (PI) GmbH & Co. KG, SIMULATED, 0, 0"

    def __init__(self, name: str) -> None:
        self.name = name
        self.bench: Bench | None = None
        self.output: deque[Reply] = deque()
        self.error = 0
        self._line = b""
        self._last_reply = b"0\n"
        self.received: list[str] = []  # every line and single-character command, for tests
        self.commands: dict[str, Handler] = {"*IDN?": lambda a: self.idn,
                                             "ERR?": self._err}
        self.singles: dict[int, Callable[[], str | None]] = {}

    # -- bench glue -----------------------------------------------------------------------------
    def attach(self, bench: Bench) -> None:
        self.bench = bench

    @property
    def now(self) -> float:
        return self.bench.clock.now() if self.bench is not None else 0.0

    def receive(self, data: bytes, now: float) -> None:
        for byte in data:
            if byte in self.singles:
                self.received.append(f"#{byte}")
                self._reply(self.singles[byte]())
            elif byte == 0x0A:
                line, self._line = self._line, b""
                self._execute(line.decode("latin-1").strip())
            else:
                self._line += bytes([byte])

    def _execute(self, line: str) -> None:
        if not line:
            return
        self.received.append(line)
        header, *args = line.split()
        handler = self.commands.get(header.upper())
        if handler is None:
            self.error = 2
            return
        try:
            reply = handler(args)
        except GcsError as exc:
            self.error = exc.code
            reply = None
        self._reply(reply)

    def _reply(self, text: str | None) -> None:
        if text is not None:
            self.output.append(Reply((text + "\n").encode("latin-1"), self.now))

    def _err(self, args: list[str]) -> str:
        code, self.error = self.error, 0
        return str(code)

    def device_clear(self) -> None:
        super().device_clear()
        self._line = b""

    def status_byte(self) -> int:
        return 0

    def trigger(self, now: float) -> None:
        """GCS has no GET."""

    def inject(self, kind: str, error: tuple[int, str]) -> None:
        if kind == "error":
            self.error = error[0]
        else:
            fault_last_reply(self.output, kind, self._last_reply)

    def output_state(self) -> dict[str, Any]:
        return {}
