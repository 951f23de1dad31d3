"""What every labsyn driver adds to pymeasure's `Instrument`.

- One lock held across every write and its read (a VISA session is not thread-safe).
- VISA failures and unparseable replies become labsyn errors naming the instrument and the command.
- The SCPI error queue is read with `errors()`; `check_errors()` raises if it held anything.
- Waits go through the station clock, so simulated benches run on virtual time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from pymeasure.instruments import Instrument, SCPIMixin
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from labsyn.clock import Clock, MonotonicClock
from labsyn.drivers.validators import strict_choice
from labsyn.errors import (
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
)

MAX_ERROR_READS = 64


class LabsynInstrument(SCPIMixin, Instrument):
    """A SCPI instrument with labsyn's locking, error translation and clock."""

    def __init__(self, adapter: Any, name: str, clock: Clock | None = None,
                 **kwargs: Any) -> None:
        self.lock = threading.RLock()
        self.clock: Clock = clock or MonotonicClock()
        self.dry_run = False  # static replies (pyvisa-sim): accept the buffer counts they give
        self.safed = threading.Event()  # set by safe_off(): outputs stay off until rearm()
        self.interlock: Callable[[str], None] | None = None  # set by the station (matrices)
        self._last_command = ""
        try:
            super().__init__(adapter, name, **kwargs)
        except (VisaIOError, OSError, ValueError) as exc:
            # VISA backends report a missing library or bus driver as OSError or ValueError.
            raise InstrumentCommunicationError(name, "open",
                                               f"cannot open {adapter!r}: {exc}") from exc

    # -- transport with locking and error translation -------------------------------------------
    # Each method is written out (not wrapped) because ask() is every query's hot path.
    def write(self, command: str, **kwargs: Any) -> None:
        with self.lock:
            self._last_command = command
            try:
                self.adapter.write(command, **kwargs)
            except (VisaIOError, OSError) as exc:
                raise self._translate(command, exc) from exc

    def read(self, **kwargs: Any) -> str:
        with self.lock:
            try:
                return self.adapter.read(**kwargs)
            except (VisaIOError, OSError, UnicodeDecodeError) as exc:
                raise self._translate(self._last_command, exc) from exc

    def read_bytes(self, count: int, **kwargs: Any) -> bytes:
        with self.lock:
            try:
                return self.adapter.read_bytes(count, **kwargs)
            except (VisaIOError, OSError) as exc:
                raise self._translate(self._last_command, exc) from exc

    def ask(self, command: str, query_delay: float | None = None) -> str:
        with self.lock:
            self._last_command = command
            try:
                self.adapter.write(command)
                return self.adapter.read()
            except (VisaIOError, OSError, UnicodeDecodeError) as exc:
                raise self._translate(command, exc) from exc

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

    def number(self, command: str) -> float:
        """Query exactly one number."""
        reply = self.ask(command)
        try:
            return float(reply)
        except ValueError:
            raise InstrumentReplyError(self.name, command,
                                       f"reply {reply[:80]!r} is not one number") from None

    def _translate(self, command: str, exc: Exception) -> Exception:
        """A transport failure or undecodable reply as a labsyn error naming the command."""
        if isinstance(exc, UnicodeDecodeError):
            return InstrumentReplyError(self.name, command, f"reply is not ASCII text: {exc}")
        if not isinstance(exc, VisaIOError):
            return InstrumentCommunicationError(self.name, command, f"transport failed: {exc}")
        if exc.error_code == StatusCode.error_timeout:
            return InstrumentTimeout(self.name, command, "no reply before the VISA timeout "
                                     "(device clear with clear_interface() to recover)")
        if exc.error_code == StatusCode.error_connection_lost:
            return InstrumentCommunicationError(self.name, command, "connection lost")
        return InstrumentCommunicationError(self.name, command, str(exc))

    # -- instrument-level helpers ---------------------------------------------------------------
    def clear_interface(self, locked: bool = True) -> None:
        """VISA device clear: drop pending input/output so the next query is answered afresh.

        `locked=False` is for an emergency stop from another thread: the clear goes out while a
        worker may hold the lock (it aborts the instrument's transfer instead of waiting for it).
        Backends without device clear (stock pyvisa-sim) are skipped: there is nothing pending.
        """
        if locked:
            with self.lock:
                self.clear_interface(locked=False)
            return
        try:
            self.adapter.connection.clear()
        except NotImplementedError:
            return
        except (VisaIOError, OSError) as exc:
            raise self._translate("device clear", exc) from exc

    # -- the safe state -------------------------------------------------------------------------
    def safe_steps(self, steps: Iterable[Callable[[], object]]) -> list[Exception]:
        """What every safe_off() does: a device clear before taking the lock (a worker may hold
        it in a read that never ends), then each of `steps` under the lock, every one tried
        whatever the ones before raised. Returns what they raised, in order; the caller raises
        the first once it has tidied up."""
        problems: list[Exception] = []
        try_each((lambda: self.clear_interface(locked=False),), problems)
        with self.lock:
            try_each(steps, problems)
        return problems

    def rearm(self) -> None:
        """Allow outputs again after safe_off() (the engine does this at the start of a run)."""
        self.safed.clear()

    def check_interlock(self, action: str) -> None:
        """Ask the station's interlock (if any) before `action`; it raises to refuse."""
        if self.interlock is not None:
            self.interlock(action)

    def require_armed(self, action: str) -> None:
        """Refuse to turn on or drive an output while the safe state holds."""
        if self.safed.is_set():
            raise InstrumentError(self.name, action, "outputs are held off after safe_off(); "
                                  "rearm() first (the engine rearms at the start of a run)")

    @property
    def next_error(self) -> tuple[int, str]:
        """Get the oldest entry of the error queue as (code, message)."""
        return parse_error(self.name, self.ask(":SYST:ERR?"))

    def errors(self) -> list[tuple[int, str]]:
        """Read and empty the error queue: ``[(code, message), ...]``."""
        found: list[tuple[int, str]] = []
        with self.lock:
            for _ in range(MAX_ERROR_READS):
                code, message = self.next_error
                if code == 0:
                    break
                found.append((code, message))
        return found

    def check_errors(self, command: str = "") -> None:
        """Raise `InstrumentReportedError` if the error queue held anything."""
        found = self.errors()
        if found:
            raise InstrumentReportedError(self.name, command or self._last_command, found)


def try_each(steps: Iterable[Callable[[], object]], problems: list[Exception]) -> None:
    """Run every step whatever the ones before raised (a safe state must try them all), adding
    what each raises to `problems`."""
    for step in steps:
        try:
            step()
        except Exception as exc:
            problems.append(exc)


def on_off(command: str, doc: str, quantity: str) -> property:
    """A boolean control sent as ``<command> 1|0`` and queried with ``<command>?``."""
    return Instrument.control(f"{command}?", f"{command} %d", doc,
                              validator=strict_choice(quantity), values={True: 1, False: 0},
                              map_values=True)


def parse_error(instrument: str, reply: str) -> tuple[int, str]:
    """``-113,"Undefined header"`` → ``(-113, "Undefined header")``."""
    code_text, _, message = reply.partition(",")
    try:
        code = int(code_text.strip())
    except ValueError:
        raise InstrumentReplyError(instrument, ":SYST:ERR?",
                                   f"reply {reply!r} is not 'code,\"message\"'") from None
    return code, message.strip().strip('"')


def pack_messages(commands: list[str], budget: int) -> list[str]:
    """Commands joined with ';' into program messages of at most `budget` bytes (a longer
    command goes alone): a configuration in as few transactions as the instrument takes."""
    messages: list[str] = []
    for command in commands:
        if messages and len(messages[-1]) + 1 + len(command) <= budget:
            messages[-1] += ";" + command
        else:
            messages.append(command)
    return messages


def parse_count(instrument: str, command: str, reply: str) -> int:
    """A count the instrument replied (e.g. readings stored, errors queued)."""
    try:
        return int(float(reply.strip()))
    except ValueError:
        raise InstrumentReplyError(instrument, command, f"expected a count, got {reply!r}"
                                   ) from None
