"""Simulated Keysight B2200A / B2201A switch mainframe: relay states, rules and relay counts.

Modelled: card 0 (auto-configuration, inputs 01–14, outputs 01–12 per installed card, four
cards = 48) and cards 1–4 addressed directly (``(@1IIOO)``, outputs 01–12); ``[:ROUT]:CLOS``,
``:OPEN``, ``:OPEN:CARD 0|ALL``, ``:CLOS:CARD? 0`` → ``(@00101,00202)`` (``(@)`` when none),
``:CONN:RULE 0,FREE|SROU`` and ``:CONN:SEQ 0,NSEQ|BBM|MBBR`` with their queries, ``*RST``
(all open, FREE, BBM). A channel list is checked whole before any relay moves: a bad channel
gives -222 "Data out of range", and under SROU (single route) closing a second input onto an
output, or a second output onto an input, gives -221 "Settings conflict" — in both cases
nothing is switched. (Error codes and the refusal, rather than an automatic release of the old
route, are labsyn's choice: "?" in the reference.) Each switching command takes `SETTLE_S` of
virtual time; `relay_operations` counts relays that changed state. The bench wiring does not
change: routing on the bench is not simulated here.
"""

from __future__ import annotations

from typing import Any

from .scpi import Call, CommandTree, ScpiError
from .sim_instrument import ScpiInstrument

INPUTS, OUTPUTS_PER_CARD = 14, 12
SETTLE_S = 3e-3  # relay switching + settling per command ("?": not in the reference)
RULES = {"FREE": "FREE", "SROUte": "SROU"}
SEQUENCES = {"NSEQ": "NSEQ", "BBM": "BBM", "MBBR": "MBBR"}


class SimKeysightB2200A(ScpiInstrument):
    """One simulated mainframe; `closed` holds (input, output) in card-0 numbering."""

    def __init__(self, name: str = "Keysight B2201A", model: str = "B2201A",
                 cards: int = 4) -> None:
        self.model, self.cards = model, cards
        self.idn = f"Agilent Technologies,{model},MY00000001,1.0"
        self.closed: set[tuple[int, int]] = set()
        self.rule, self.sequence = "FREE", "BBM"
        self.relay_operations = 0
        self._busy = 0.0
        super().__init__(name)

    @property
    def outputs(self) -> int:
        return OUTPUTS_PER_CARD * self.cards

    def build(self, tree: CommandTree) -> None:
        tree.add("[:ROUTe]:CLOSe", setter=lambda c: self.switch(c, close=True))
        tree.add("[:ROUTe]:OPEN", setter=lambda c: self.switch(c, close=False))
        tree.add("[:ROUTe]:OPEN:CARD", setter=self.open_card)
        tree.add("[:ROUTe]:CLOSe:CARD", query=self.closed_list)
        tree.add("[:ROUTe]:CONNection:RULE", setter=lambda c: self.mode(c, "rule", RULES),
                 query=lambda c: self.mode_query(c, self.rule))
        tree.add("[:ROUTe]:CONNection:SEQuence",
                 setter=lambda c: self.mode(c, "sequence", SEQUENCES),
                 query=lambda c: self.mode_query(c, self.sequence))

    def reset(self) -> None:
        self.set_relays(set())
        self.rule, self.sequence = "FREE", "BBM"

    # -- channel lists ---------------------------------------------------------------------------
    def parse_list(self, call: Call) -> set[tuple[int, int]]:
        call.require(1)
        text = call.params[0].replace(" ", "")
        if not (text.startswith("(@") and text.endswith(")")):
            raise ScpiError(-104, f"{call.header}: {text!r} is not a channel list (@cIIOO,...)")
        points = set()
        for item in filter(None, text[2:-1].split(",")):
            if len(item) != 5 or not item.isdigit():
                raise ScpiError(-222, f"{call.header}: channel {item!r} is not cIIOO "
                                "(range lists are not simulated)")
            card, inp, out = int(item[0]), int(item[1:3]), int(item[3:5])
            per_card = self.outputs if card == 0 else OUTPUTS_PER_CARD
            if card > self.cards or not 1 <= inp <= INPUTS or not 1 <= out <= per_card:
                raise ScpiError(-222, f"{call.header}: channel {item} does not exist (card "
                                f"0-{self.cards}, input 01-{INPUTS}, output 01-{per_card})")
            points.add((inp, out if card == 0 else (card - 1) * OUTPUTS_PER_CARD + out))
        return points

    def switch(self, call: Call, close: bool) -> None:
        points = self.parse_list(call)
        if not close:
            self.set_relays(self.closed - points)
            return
        after = self.closed | points
        if self.rule == "SROU":
            self.check_single_route(after)
        self.set_relays(after)

    @staticmethod
    def check_single_route(after: set[tuple[int, int]]) -> None:
        for index, role, other in ((1, "output", "input"), (0, "input", "output")):
            seen: dict[int, tuple[int, int]] = {}
            for point in sorted(after):
                if point[index] in seen:
                    raise ScpiError(-221, f"single route: {role} {point[index]:02d} already "
                                    f"connected to {other} {seen[point[index]][1 - index]:02d}")
                seen[point[index]] = point

    def set_relays(self, after: set[tuple[int, int]]) -> None:
        changed = len(after ^ self.closed)
        if changed and self.bench is not None:
            self._busy = max(self._busy, self.now) + SETTLE_S
        self.relay_operations += changed
        self.closed = after

    def open_card(self, call: Call) -> None:
        call.require(1)
        text = call.params[0].strip().upper()
        if text not in ("0", "ALL") and not (text.isdigit() and 1 <= int(text) <= self.cards):
            raise ScpiError(-222, f"{call.header}: card {text!r} (0, 1-{self.cards}, ALL)")
        if text in ("0", "ALL"):
            self.set_relays(set())
            return
        low = (int(text) - 1) * OUTPUTS_PER_CARD
        self.set_relays({p for p in self.closed if not low < p[1] <= low + OUTPUTS_PER_CARD})

    def closed_list(self, call: Call) -> str:
        call.require(1)
        if call.params[0].strip() != "0":
            raise ScpiError(-222, f"{call.header}: only card 0 is simulated for this query")
        return "(@" + ",".join(f"0{i:02d}{o:02d}" for i, o in sorted(self.closed)) + ")"

    def mode(self, call: Call, field: str, options: dict[str, str]) -> None:
        call.require(2)
        if call.params[0].strip() != "0":
            raise ScpiError(-222, f"{call.header}: card {call.params[0]!r} (only 0)")
        setattr(self, field, call.choice(1, options))

    @staticmethod
    def mode_query(call: Call, value: str) -> str:
        call.require(1)
        if call.params[0].strip() != "0":
            raise ScpiError(-222, f"{call.header}: card {call.params[0]!r} (only 0)")
        return value

    # -- timing and state ------------------------------------------------------------------------
    def reply_ready_at(self, now: float) -> float:
        return max(super().reply_ready_at(now), self._busy)

    def busy_until(self) -> float:
        return max(self.now, self._busy)

    def output_state(self) -> dict[str, Any]:
        return {"closed": sorted(self.closed), "rule": self.rule,
                "relay_operations": self.relay_operations}
