"""Keithley 707B / 708B switching matrix mainframe in its TSP (Lua) language: a `SwitchMatrix`.

Crosspoint (input, output) maps to the channel name ``<slot><row><column>``: input = row
(1 = A … 8 = H), output = column (01 … 12), e.g. (2, 3) on slot 1 is ``"1B03"`` (7174A 8×12
card; rows A–H and columns 01–12 are "?" in labsyn's reference). Relied on (✔ in the reference):
``channel.close("1A01,1B02")``, ``channel.open("…")``, ``channel.open("allslots")``,
``print(channel.getclose("slot1"))`` → ``1A01;1B02`` or ``nil``; the error queue is read as on
the 2600 (``errorqueue.count`` / ``errorqueue.next()``, "?" for the 707B).

`route()` is four transactions: read what is closed, one message that opens what must open and
then closes what must close (break before make, so two inputs never share an output even for a
moment), read back, read the error count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from labsyn.errors import InstrumentError, InstrumentReplyError, LimitError

from .base import LabsynInstrument
from .capabilities import Crosspoint
from .keithley_2600 import Keithley2600
from .matrix_routing import route_crosspoints
from .validators import check_range, limited

ROWS = "ABCDEFGH"
COLUMNS = 12
SLOTS = {"707B": 6, "708B": 1}
NAME = re.compile(r"^(\d)([A-H])(\d\d)$")


class Keithley707B(LabsynInstrument):
    """Keithley 707B (six slots) or 708B (one slot) with an 8×12 matrix card on `slot`."""

    inputs, outputs = len(ROWS), COLUMNS
    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("print(localnode.model)", "707B")]  # for tests

    next_error = Keithley2600.next_error
    errors = Keithley2600.errors

    def __init__(self, adapter: Any, name: str = "Keithley 707B", slot: int = 1,
                 **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        model = self.ask("print(localnode.model)").strip()
        if model not in SLOTS:
            raise InstrumentError(self.name, "print(localnode.model)",
                                  f"model {model!r} is not one of {', '.join(SLOTS)}")
        self.model_name = model
        self._slot = 1
        self.slot = slot

    def _get_slot(self) -> int:
        return self._slot

    def _set_slot(self, value: Any) -> None:
        number = check_range("matrix card slot", value, 1, SLOTS.get(
            getattr(self, "model_name", "707B"), 6))
        if number != int(number):
            raise LimitError("matrix card slot", value, "an integer")
        self._slot = int(number)

    slot = limited(_get_slot, _set_slot, 1, 6, "The mainframe slot of the matrix card "
                   "(1 … 6 on a 707B, 1 on a 708B); nothing is sent.")

    # -- names ------------------------------------------------------------------------------------
    def channel_name(self, point: Crosspoint) -> str:
        return f"{self._slot}{ROWS[point[0] - 1]}{point[1]:02d}"

    def channel_list(self, points: Iterable[Crosspoint]) -> str:
        return ",".join(self.channel_name(p) for p in sorted(points))

    def parse_closed(self, command: str, reply: str) -> set[Crosspoint]:
        text = reply.strip()
        if text == "nil" or not text:
            return set()
        found: set[Crosspoint] = set()
        for name in text.split(";"):
            match = NAME.match(name.strip())
            if match is None or not 1 <= int(match[3]) <= COLUMNS:
                raise InstrumentReplyError(self.name, command, f"{name!r} in {text[:80]!r} is "
                                           "not a channel name like 1A01")
            if int(match[1]) == self._slot:
                found.add((ROWS.index(match[2]) + 1, int(match[3])))
        return found

    # -- SwitchMatrix ----------------------------------------------------------------------------
    def closed(self) -> set[Crosspoint]:
        """The crosspoints closed on this card, read back (``channel.getclose("slotN")``)."""
        command = f'print(channel.getclose("slot{self._slot}"))'
        return self.parse_closed(command, self.ask(command))

    def route(self, crosspoints: set[Crosspoint]) -> set[Crosspoint]:
        """Open every other crosspoint of the card, close these, read back (four transactions).
        Refuses (LimitError, nothing sent) two inputs on one output, or while safed."""
        return route_crosspoints(
            self, crosspoints, self.inputs, self.outputs,
            lambda points: f'channel.open("{self.channel_list(points)}")',
            lambda points: f'channel.close("{self.channel_list(points)}")', "\n")

    def open_all(self) -> None:
        """``channel.open("allslots")``, verified by reading back nothing closed."""
        with self.lock:
            self.write('channel.open("allslots")')
            command = 'print(channel.getclose("allslots"))'
            reply = self.ask(command).strip()
        if reply != "nil":
            raise InstrumentError(self.name, command, f"still closed after open all: {reply}")

    def safe_off(self) -> None:
        """Every relay of every slot open; routing is then refused until `rearm()`."""
        self.safed.set()
        problems = self.safe_steps([self.open_all])
        if problems:
            raise problems[0]
