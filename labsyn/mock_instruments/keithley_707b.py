"""Simulated Keithley 707B / 708B switching matrix: TSP commands on relay states.

Each line of a program message is one TSP chunk, run by the 2600 twin's Lua-subset interpreter
(`keithley_2600_tsp`), against these globals: ``channel.close/open/exclusiveclose/getclose``,
``errorqueue.count/next()/clear()``, ``localnode.model/serialno/revision``, ``print``,
``reset()`` and the Lua base library; ``*IDN?``, ``*RST``, ``*CLS``, ``*OPC?`` on their own line.
Channel lists are comma-separated names ``<slot><row A–H><column 01–12>`` of installed cards,
``slotN`` or ``allslots`` (closing a whole slot is refused); ranges ``1A01:1A05`` are not
simulated. A bad name is a TSP runtime error (-286) and, as the whole list is checked first,
nothing switches. ``getclose`` returns ``1A01;1B02`` (slot, row, column order) or nil.

Each command that moves relays takes `SETTLE_S` of virtual time (replies after it are ready
then); `relay_operations` counts relays that changed state. The bench wiring does not change.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from .keithley_2600_lua import ExitSignal, number_text, tostring
from .keithley_2600_tsp import (
    SYNTAX_ERROR,
    Builtin,
    Context,
    Interpreter,
    TspError,
    TspErrorQueue,
    TspNode,
    compile_chunk,
    lines_of,
    standard_library,
)
from .scpi import Reply
from .sim_instrument import ReplyQueue, fault_last_reply

if TYPE_CHECKING:
    from .bench import Bench

RUNTIME_ERROR = -286
ROWS, COLUMNS = "ABCDEFGH", 12
SETTLE_S = 3e-3  # relay actuation + settling per command ("?": not in the reference)
STB_EAV, STB_MAV = 0x04, 0x10
NAME = re.compile(r"^(\d)([A-H])(\d\d)$")

Relay = tuple[int, int, int]  # (slot, row 1-8, column 1-12)


class SimKeithley707B(TspErrorQueue, ReplyQueue):
    """One simulated mainframe with 8×12 matrix cards in `slots` (default: slot 1)."""

    serial, firmware = "04101707", "1.6.0"

    def __init__(self, name: str = "Keithley 707B", model: str = "707B",
                 slots: tuple[int, ...] = (1,)) -> None:
        self.name, self.model, self.slots = name, model, slots
        self.idn = f"Keithley Instruments Inc., Model {model}, {self.serial}, {self.firmware}"
        self.bench: Bench | None = None
        self.closed: set[Relay] = set()
        self.relay_operations = 0
        self.errors: deque[tuple[int, str]] = deque()
        self.output: deque[Reply] = deque()
        self._busy = 0.0
        self._last_reply = b"\n"
        self._chunks: dict[str, list[tuple]] = {}
        self.globals = self._environment()
        self.interpreter = Interpreter(self.globals, lambda: math.inf)

    def attach(self, bench: Bench) -> None:
        self.bench = bench

    @property
    def now(self) -> float:
        return self.bench.clock.now() if self.bench is not None else 0.0

    def _environment(self) -> dict[str, Any]:
        env = standard_library()
        env["print"] = Builtin("print", self.tsp_print, "context")
        env["reset"] = Builtin("reset", self.reset, "context")
        channel = TspNode("channel")
        channel.function("close", lambda ctx, spec: self.switch(ctx, spec, "close"), "context")
        channel.function("open", lambda ctx, spec: self.switch(ctx, spec, "open"), "context")
        channel.function("exclusiveclose",
                         lambda ctx, spec: self.switch(ctx, spec, "exclusiveclose"), "context")
        channel.function("getclose", self.getclose)
        errors = TspNode("errorqueue")
        errors.add("count", lambda: float(len(self.errors)))
        errors.function("next", self.next_error)
        errors.function("clear", self.errors.clear)
        local = TspNode("localnode")
        local.add("model", lambda: self.model)
        local.add("serialno", lambda: self.serial)
        local.add("revision", lambda: self.firmware)
        env.update(channel=channel, errorqueue=errors, localnode=local)
        return env

    # -- channels --------------------------------------------------------------------------------
    def relays(self, spec: Any, function: str, whole_slots: bool = True) -> set[Relay]:
        if not isinstance(spec, str):
            raise TspError(RUNTIME_ERROR, f"bad argument #1 to `channel.{function}' (string "
                           f"expected, got {tostring(spec)})")
        found: set[Relay] = set()
        for item in (p.strip() for p in spec.split(",")):
            slot_match = re.fullmatch(r"slot(\d)", item)
            if whole_slots and item == "allslots":
                found |= {r for s in self.slots for r in self.card(s)}
            elif whole_slots and slot_match and int(slot_match[1]) in self.slots:
                found |= self.card(int(slot_match[1]))
            elif (m := NAME.match(item)) and int(m[1]) in self.slots and 1 <= int(m[3]) <= 12:
                found.add((int(m[1]), ROWS.index(m[2]) + 1, int(m[3])))
            else:
                raise TspError(RUNTIME_ERROR, f"bad argument #1 to `channel.{function}' "
                               f"(invalid channel list: `{item}')")
        return found

    @staticmethod
    def card(slot: int) -> set[Relay]:
        return {(slot, r, c) for r in range(1, len(ROWS) + 1) for c in range(1, COLUMNS + 1)}

    def switch(self, ctx: Context, spec: Any, function: str) -> None:
        chosen = self.relays(spec, function, whole_slots=function == "open")
        after = {"close": self.closed | chosen, "open": self.closed - chosen,
                 "exclusiveclose": chosen}[function]
        changed = len(after ^ self.closed)
        if changed:
            ctx.cursor = max(ctx.cursor, self._busy) + SETTLE_S
            self._busy = ctx.cursor
        self.relay_operations += changed
        self.closed = after

    def getclose(self, spec: Any) -> tuple[str | None]:
        """One value, a string or nil (a bare None would be no value at all)."""
        chosen = self.relays(spec, "getclose") & self.closed
        return (";".join(f"{s}{ROWS[r - 1]}{c:02d}" for s, r, c in sorted(chosen)) or None,)

    def reset(self, ctx: Context | None = None) -> None:
        """``reset()`` / ``*RST``: every relay open."""
        if ctx is not None:
            self.switch(ctx, "allslots", "open")
        else:
            self.relay_operations += len(self.closed)
            self.closed = set()

    def crosspoints(self, slot: int | None = None) -> set[tuple[int, int]]:
        """(row 1–8, column 1–12) of the relays closed on `slot` (default: the first card):
        what the bench's wafer follows to know which site a source reaches."""
        card = self.slots[0] if slot is None else slot
        return {(r, c) for s, r, c in self.closed if s == card}

    def closed_names(self) -> list[str]:
        return [f"{s}{ROWS[r - 1]}{c:02d}" for s, r, c in sorted(self.closed)]

    # -- messages --------------------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            self.push_error(SYNTAX_ERROR, "TSP Syntax error at line 1: non-ASCII character")
            return
        ctx = Context(max(now, self._busy))
        for line in lines_of(text):
            self._line(line.strip(), ctx)

    def _line(self, line: str, ctx: Context) -> None:
        if line.startswith("*"):
            self._common(line.split()[0].upper(), ctx)
            return
        try:
            chunk = self._chunks.get(line) or compile_chunk(line)
            if len(self._chunks) < 10_000:
                self._chunks[line] = chunk
            run: Generator[float, None, Any] = self.interpreter.run(chunk, ctx)
            for _ in run:  # nothing here waits on the bench timeline
                pass
        except TspError as err:
            self.push_error(err.code, err.message)
        except ExitSignal:
            return

    def _common(self, word: str, ctx: Context) -> None:
        replies = {"*IDN?": self.idn, "*OPC?": "1", "*ESR?": "0", "*TST?": "0",
                   "*STB?": str(self.status_byte())}
        if word in replies:
            self.emit(replies[word] + "\n", ctx)
        elif word == "*RST":
            self.reset(ctx)
        elif word == "*CLS":
            self.errors.clear()
        elif word not in ("*OPC", "*WAI", "*TRG"):
            self.push_error(SYNTAX_ERROR, "TSP Syntax error at line 1: unexpected symbol "
                            "near `*'")

    def tsp_print(self, ctx: Context, *values: Any) -> None:
        parts = [number_text(float(v), 6) if isinstance(v, (int, float))
                 and not isinstance(v, bool) else tostring(v) for v in values]
        self.emit("\t".join(parts) + "\n", ctx)

    def emit(self, text: str, ctx: Context) -> None:
        self.output.append(Reply(text.encode("ascii"), ctx.cursor))

    # -- VISA-facing -----------------------------------------------------------------------------
    def status_byte(self) -> int:
        return (STB_EAV if self.errors else 0) | (STB_MAV if self.output else 0)

    def trigger(self, now: float) -> None:
        """GPIB GET: nothing here waits on it."""

    def inject(self, kind: str, error: tuple[int, str]) -> None:
        if kind == "error":
            self.push_error(*error)
        else:
            fault_last_reply(self.output, kind, self._last_reply)

    def output_state(self) -> dict[str, Any]:
        return {"closed": self.closed_names(), "relay_operations": self.relay_operations}
