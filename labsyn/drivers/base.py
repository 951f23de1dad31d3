"""What every labsyn driver adds to pymeasure's `Instrument`.

- One lock held across every write and its read (a VISA session is not thread-safe).
- VISA failures and unparseable replies become labsyn errors naming the instrument and the command.
- The SCPI error queue is read with `errors()`; `check_errors()` raises if it held anything.
- Waits go through the station clock, so simulated benches run on virtual time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pymeasure.instruments import Instrument, SCPIMixin
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from labsyn.clock import Clock, MonotonicClock
from labsyn.errors import (
    InstrumentCommunicationError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
)

T = TypeVar("T")
MAX_ERROR_READS = 64


class LabsynInstrument(SCPIMixin, Instrument):
    """A SCPI instrument with labsyn's locking, error translation and clock."""

    def __init__(self, adapter: Any, name: str, clock: Clock | None = None,
                 **kwargs: Any) -> None:
        self.lock = threading.RLock()
        self.clock: Clock = clock or MonotonicClock()
        self._last_command = ""
        try:
            super().__init__(adapter, name, **kwargs)
        except VisaIOError as exc:
            raise InstrumentCommunicationError(name, "open",
                                               f"cannot open {adapter!r}: {exc}") from exc

    # -- transport with locking and error translation -------------------------------------------
    def write(self, command: str, **kwargs: Any) -> None:
        with self.lock:
            self._last_command = command
            try:
                self.adapter.write(command, **kwargs)
            except VisaIOError as exc:
                raise self._io_error(command, exc) from exc

    def read(self, **kwargs: Any) -> str:
        with self.lock:
            try:
                return self.adapter.read(**kwargs)
            except VisaIOError as exc:
                raise self._io_error(self._last_command, exc) from exc
            except UnicodeDecodeError as exc:
                raise InstrumentReplyError(self.name, self._last_command,
                                           f"reply is not ASCII text: {exc}") from exc

    def read_bytes(self, count: int, **kwargs: Any) -> bytes:
        with self.lock:
            try:
                return self.adapter.read_bytes(count, **kwargs)
            except VisaIOError as exc:
                raise self._io_error(self._last_command, exc) from exc

    def ask(self, command: str, query_delay: float | None = None) -> str:
        with self.lock:
            self._last_command = command
            try:
                self.adapter.write(command)
                return self.adapter.read()
            except VisaIOError as exc:
                raise self._io_error(command, exc) from exc
            except UnicodeDecodeError as exc:
                raise InstrumentReplyError(self.name, command,
                                           f"reply is not ASCII text: {exc}") from exc

    def values(self, command: str, separator: str = ",", cast: Callable[[str], Any] = float,
               preprocess_reply: Callable[[str], str] | None = None, maxsplit: int = -1,
               **kwargs: Any) -> list[Any]:
        reply = self.ask(command, **kwargs).strip()
        if preprocess_reply is not None:
            reply = preprocess_reply(reply)
        parts = reply.split(separator, maxsplit=maxsplit)
        if cast is str:
            return parts
        try:
            if cast is bool:
                return [bool(float(p)) for p in parts]
            return [cast(p) for p in parts]
        except ValueError:
            raise InstrumentReplyError(self.name, command,
                                       f"reply {reply[:80]!r} is not a list of "
                                       f"{getattr(cast, '__name__', 'values')}") from None

    def numbers(self, command: str, expected: int | None = None) -> list[float]:
        """Query a comma-separated list of numbers, checking how many arrived."""
        result = self.values(command)
        if expected is not None and len(result) != expected:
            raise InstrumentReplyError(self.name, command,
                                       f"expected {expected} values, got {len(result)}")
        return result

    def _io_error(self, command: str, exc: VisaIOError) -> InstrumentCommunicationError:
        if exc.error_code == StatusCode.error_timeout:
            return InstrumentTimeout(self.name, command, "no reply before the VISA timeout "
                                     "(device clear with clear_interface() to recover)")
        if exc.error_code == StatusCode.error_connection_lost:
            return InstrumentCommunicationError(self.name, command, "connection lost")
        return InstrumentCommunicationError(self.name, command, str(exc))

    # -- instrument-level helpers ---------------------------------------------------------------
    def clear_interface(self) -> None:
        """VISA device clear: drop pending input/output so the next query is answered afresh.

        Backends without device clear (stock pyvisa-sim) are skipped: there is nothing pending.
        """
        with self.lock:
            try:
                self.adapter.connection.clear()
            except NotImplementedError:
                return
            except VisaIOError as exc:
                raise self._io_error("device clear", exc) from exc

    def errors(self) -> list[tuple[int, str]]:
        """Read and empty the error queue: ``[(code, message), ...]``."""
        found: list[tuple[int, str]] = []
        with self.lock:
            for _ in range(MAX_ERROR_READS):
                code, message = parse_error(self.name, self.ask(":SYST:ERR?"))
                if code == 0:
                    break
                found.append((code, message))
        return found

    def check_errors(self, command: str = "") -> None:
        """Raise `InstrumentReportedError` if the error queue held anything."""
        found = self.errors()
        if found:
            raise InstrumentReportedError(self.name, command or self._last_command, found)

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


def parse_error(instrument: str, reply: str) -> tuple[int, str]:
    """``-113,"Undefined header"`` → ``(-113, "Undefined header")``."""
    code_text, _, message = reply.partition(",")
    try:
        code = int(code_text.strip())
    except ValueError:
        raise InstrumentReplyError(instrument, ":SYST:ERR?",
                                   f"reply {reply!r} is not 'code,\"message\"'") from None
    return code, message.strip().strip('"')
