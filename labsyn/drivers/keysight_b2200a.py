"""Keysight B2200A / B2201A femto-leakage switch mainframe (SCPI): a `SwitchMatrix`.

Crosspoint (input, output) maps to ``cIIOO`` on card 0, the auto-configuration card that spans
every installed card: input 01–14, output 01–48, e.g. (2, 48) is ``00248`` (✔ in labsyn's
reference, as are ``:CLOS (@…)``, ``:OPEN (@…)``, ``:OPEN:CARD 0``, ``:CLOS:CARD? 0`` →
``(@00101,…)``, ``:CONN:RULE 0,FREE|SROU``, ``:CONN:SEQ 0,NSEQ|BBM|MBBR`` and ``:SYST:ERR?``).
The query forms ``:CONN:RULE? 0`` / ``:CONN:SEQ? 0`` and the empty list reply ``(@)`` are "?".

`route()` is four transactions: ``:CLOS:CARD? 0``, one message ``:OPEN (@…);:CLOS (@…)`` (open
first, so two inputs never share an output), ``:CLOS:CARD? 0`` again, ``:SYST:ERR?``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pymeasure.instruments import Instrument

from labsyn.errors import InstrumentError, InstrumentReplyError

from .base import LabsynInstrument
from .capabilities import Crosspoint
from .matrix_routing import route_crosspoints
from .validators import strict_choice

INPUTS, OUTPUTS = 14, 48
MODELS = ("B2200A", "B2201A")


class KeysightB2200A(LabsynInstrument):
    """B2200A / B2201A in auto-configuration mode (card 0)."""

    inputs, outputs = INPUTS, OUTPUTS
    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("*IDN?", "Agilent Technologies,B2201A,MY00000001,1.0")]  # for tests

    connection_rule = Instrument.control(
        ":CONN:RULE? 0", ":CONN:RULE 0,%s",
        "Control the connection rule of card 0: FREE (any number of inputs per output) or "
        "SROU (single route: one input per output, one output per input).",
        validator=strict_choice("B2200A connection rule"), values=["FREE", "SROU"], cast=str)
    connection_sequence = Instrument.control(
        ":CONN:SEQ? 0", ":CONN:SEQ 0,%s",
        "Control the switching sequence of card 0: NSEQ, BBM (break before make) or MBBR "
        "(make before break).",
        validator=strict_choice("B2200A connection sequence"), values=["NSEQ", "BBM", "MBBR"],
        cast=str)

    def __init__(self, adapter: Any, name: str = "Keysight B2201A", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        idn = self.ask("*IDN?").strip()
        fields = [f.strip() for f in idn.split(",")]
        if len(fields) < 2 or fields[1] not in MODELS:
            raise InstrumentError(self.name, "*IDN?", f"{idn!r} is not a {' or '.join(MODELS)}")
        self.model_name = fields[1]

    # -- names ------------------------------------------------------------------------------------
    @staticmethod
    def channel_list(points: Iterable[Crosspoint]) -> str:
        return "(@" + ",".join(f"0{i:02d}{o:02d}" for i, o in sorted(points)) + ")"

    def parse_closed(self, command: str, reply: str) -> set[Crosspoint]:
        text = reply.strip()
        if not (text.startswith("(@") and text.endswith(")")):
            raise InstrumentReplyError(self.name, command, f"reply {text[:80]!r} is not a "
                                       "channel list (@cIIOO,…)")
        found: set[Crosspoint] = set()
        for item in filter(None, (p.strip() for p in text[2:-1].split(","))):
            if len(item) != 5 or not item.isdigit():
                raise InstrumentReplyError(self.name, command, f"{item!r} in {text[:80]!r} "
                                           "is not a channel cIIOO")
            found.add((int(item[1:3]), int(item[3:5])))
        return found

    # -- SwitchMatrix ----------------------------------------------------------------------------
    def closed(self) -> set[Crosspoint]:
        """The crosspoints closed now (``:CLOS:CARD? 0``)."""
        return self.parse_closed(":CLOS:CARD? 0", self.ask(":CLOS:CARD? 0"))

    def route(self, crosspoints: set[Crosspoint]) -> set[Crosspoint]:
        """Open every other crosspoint, close these, read back (four transactions). Refuses
        (LimitError, nothing sent) two inputs on one output, or while safed."""
        return route_crosspoints(
            self, crosspoints, INPUTS, OUTPUTS,
            lambda points: f":OPEN {self.channel_list(points)}",
            lambda points: f":CLOS {self.channel_list(points)}", ";")

    def open_all(self) -> None:
        """``:OPEN:CARD 0``, verified by reading back nothing closed."""
        with self.lock:
            self.write(":OPEN:CARD 0")
            still = self.closed()
        if still:
            raise InstrumentError(self.name, ":OPEN:CARD 0", "still closed after open all: "
                                  f"{self.channel_list(still)}")

    def safe_off(self) -> None:
        """Every relay open; routing is then refused until `rearm()`."""
        self.safed.set()
        problems = self.safe_steps([self.open_all])
        if problems:
            raise problems[0]
