"""A SCPI command engine shared by every simulated SCPI instrument.

It handles short/long mnemonics (``SOUR`` / ``SOURce``), case folding, optional nodes, numeric
suffixes, ``;``-chained message units with SCPI's relative header paths, queries vs settings, the
IEEE 488.2 common commands, the status byte and an error queue with the standard SCPI codes.
Instruments declare their commands on a `CommandTree` with patterns such as
``"[:SOURce#]:VOLTage[:LEVel]:ILIMit[:LEVel]"`` (``#`` = optional numeric suffix, default 1).
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# SCPI-99 / IEEE 488.2 error codes used by the simulators.
SCPI_ERRORS: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -200: "Execution error",
    -211: "Trigger ignored",
    -221: "Settings conflict",
    -222: "Data out of range",
    -223: "Too much data",
    -224: "Illegal parameter value",
    -225: "Out of memory",
    -230: "Data corrupt or stale",
    -285: "Program syntax error",
    -350: "Queue overflow",
    -363: "Input buffer overrun",
    1133: "Parameter 4, Syntax error, expected valid name parameters",
    -410: "Query INTERRUPTED",
    -420: "Query UNTERMINATED",
}

ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME = 0x01, 0x04, 0x08, 0x10, 0x20
STB_EAV, STB_MAV, STB_ESB, STB_RQS = 0x04, 0x10, 0x20, 0x40


class ScpiError(Exception):
    """Raised by a handler; becomes an entry in the instrument's error queue."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        base = SCPI_ERRORS.get(code, "Device-specific error")
        self.message = f"{base}; {detail}" if detail else base
        super().__init__(f"{code},{self.message}")


@dataclass
class Call:
    """One parsed message unit handed to a handler."""

    header: str
    params: list[str]
    suffixes: tuple[int, ...]
    is_query: bool

    def require(self, low: int, high: int | None = None) -> None:
        high = low if high is None else high
        if len(self.params) < low:
            raise ScpiError(-109, f"{self.header} needs {low} parameter(s)")
        if len(self.params) > high:
            raise ScpiError(-108, f"{self.header} takes at most {high} parameter(s)")

    def number(self, index: int, low: float = -math.inf, high: float = math.inf,
              minimum: float | None = None, maximum: float | None = None,
              default: float | None = None) -> float:
        """Parameter `index` as a number within [low, high]; MIN/MAX/DEF keywords allowed."""
        text = self.params[index].strip().upper()
        named = {"MIN": minimum, "MINIMUM": minimum, "MAX": maximum, "MAXIMUM": maximum,
                 "DEF": default, "DEFAULT": default}
        if text in named and named[text] is not None:
            return float(named[text])  # type: ignore[arg-type]
        try:
            value = float(text)
        except ValueError:
            raise ScpiError(-104, f"{self.header}: {self.params[index]!r} is not a number"
                            ) from None
        if math.isnan(value) or not low <= value <= high:
            raise ScpiError(-222, f"{self.header}: {value:g} outside [{low:g}, {high:g}]")
        return value

    def integer(self, index: int, low: int, high: int) -> int:
        value = self.number(index, low, high)
        if value != int(value):
            raise ScpiError(-104, f"{self.header}: {self.params[index]!r} is not an integer")
        return int(value)

    def boolean(self, index: int) -> bool:
        text = self.params[index].strip().upper()
        if text in ("ON", "1"):
            return True
        if text in ("OFF", "0"):
            return False
        raise ScpiError(-104, f"{self.header}: {self.params[index]!r} is not ON/OFF/1/0")

    def choice(self, index: int, options: dict[str, str]) -> str:
        """Match a character parameter against mnemonics ``{"NORMal": "NORM", ...}``."""
        text = self.params[index].strip().upper()
        for mnemonic, value in options.items():
            if text in (_short(mnemonic), mnemonic.upper()):
                return value
        raise ScpiError(-224, f"{self.header}: {self.params[index]!r} not in "
                        f"{', '.join(options)}")

    def string(self, index: int) -> str:
        text = self.params[index].strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text


Handler = Callable[[Call], "str | bytes | None"]


def _short(mnemonic: str) -> str:
    return "".join(ch for ch in mnemonic if ch.isupper() or ch.isdigit())


def _node_regex(node: str) -> str:
    suffix = node.endswith("#")
    name = node.rstrip("#")
    long, short = name.upper(), _short(name)
    alternatives = f"(?:{re.escape(long)}|{re.escape(short)})" if long != short else re.escape(long)
    return alternatives + (r"(\d*)" if suffix else "")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Turn ``"[:SOURce#]:VOLTage[:LEVel]"`` into a regex over an upper-cased header."""
    parts: list[str] = []
    for optional, required in re.findall(r"\[:([\w#]+)\]|:([\w#]+)", pattern):
        if optional:
            parts.append(f"(?::{_node_regex(optional)})?")
        else:
            parts.append(f":{_node_regex(required)}")
    return re.compile("^" + "".join(parts) + "$")


@dataclass
class _Command:
    regex: re.Pattern[str]
    query: Handler | None
    setter: Handler | None
    pattern: str


class CommandTree:
    """Commands of one simulated instrument, matched by compiled patterns (results cached)."""

    def __init__(self) -> None:
        self._commands: list[_Command] = []
        self._cache: dict[str, tuple[_Command, tuple[int, ...]] | None] = {}

    def add(self, pattern: str, query: Handler | None = None,
            setter: Handler | None = None) -> None:
        self._commands.append(_Command(compile_pattern(pattern), query, setter, pattern))
        self._cache.clear()

    def lookup(self, header: str) -> tuple[_Command, tuple[int, ...]] | None:
        if header in self._cache:
            return self._cache[header]
        found = None
        for command in self._commands:
            match = command.regex.match(header)
            if match:
                suffixes = tuple(int(g) if g else 1 for g in match.groups())
                found = (command, suffixes)
                break
        self._cache[header] = found
        return found


def split_units(message: str) -> list[str]:
    """Split a program message on ``;`` outside quotes."""
    units, current, quote = [], [], ""
    for ch in message:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ";":
            units.append("".join(current))
            current = []
        else:
            current.append(ch)
    units.append("".join(current))
    return [u.strip() for u in units if u.strip()]


def split_params(text: str) -> list[str]:
    """Split parameters on commas outside quotes and parentheses."""
    params, current, quote, depth = [], [], "", 0
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            params.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    last = "".join(current).strip()
    if last or params:
        params.append(last)
    return params


@dataclass
class Reply:
    """A response waiting in the output queue, readable from `ready_at` (virtual seconds)."""

    data: bytes
    ready_at: float


@dataclass
class ScpiStatus:
    """IEEE 488.2 status registers and the error queue."""

    capacity: int = 32
    esr: int = 0
    ese: int = 0
    sre: int = 0
    errors: deque[tuple[int, str]] = field(default_factory=deque)

    def push(self, code: int, message: str) -> None:
        if len(self.errors) >= self.capacity:
            self.errors[-1] = (-350, SCPI_ERRORS[-350])
        else:
            self.errors.append((code, message))
        if -199 <= code <= -100:
            self.esr |= ESR_CME
        elif -299 <= code <= -200:
            self.esr |= ESR_EXE
        elif -499 <= code <= -400:
            self.esr |= ESR_QYE
        else:
            self.esr |= ESR_DDE

    def pop(self) -> tuple[int, str]:
        return self.errors.popleft() if self.errors else (0, SCPI_ERRORS[0])


class ScpiEngine:
    """Executes program messages against a `CommandTree`; instruments subclass or embed it."""

    terminator = b"\n"

    def __init__(self, tree: CommandTree) -> None:
        self.tree = tree
        self.status = ScpiStatus()
        self.output: deque[Reply] = deque()

    # -- transport side -------------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        """Execute one program message (a whole VISA write)."""
        if self.output:
            self.output.clear()
            self.status.push(-410, SCPI_ERRORS[-410])
        try:
            message = data.decode("ascii").strip("\r\n")
        except UnicodeDecodeError:
            self.status.push(-102, "non-ASCII bytes in program message")
            return
        replies: list[bytes] = []
        path: list[str] = []
        for unit in split_units(message):
            try:
                reply, path = self._execute(unit, path)
            except ScpiError as err:
                self.status.push(err.code, err.message)
                break
            if reply is not None:
                replies.append(reply if isinstance(reply, bytes) else reply.encode("ascii"))
        if replies:
            self.output.append(Reply(b";".join(replies) + self.terminator,
                                     self.reply_ready_at(now)))

    def reply_ready_at(self, now: float) -> float:
        """Virtual time at which the reply to the last message can be read."""
        return now

    def query_interrupted(self) -> None:
        """A new message arrived before the last reply was read in full (SCPI -410)."""
        self.status.push(-410, SCPI_ERRORS[-410])

    def query_unterminated(self) -> None:
        """A read arrived with nothing to say (SCPI -420)."""
        self.status.push(-420, SCPI_ERRORS[-420])

    def device_clear(self) -> None:
        """VISA viClear / GPIB SDC: drop pending input and output."""
        self.output.clear()

    def status_byte(self) -> int:
        stb = 0
        if self.status.errors:
            stb |= STB_EAV
        if self.output:
            stb |= STB_MAV
        if self.status.esr & self.status.ese:
            stb |= STB_ESB
        if stb & self.status.sre:
            stb |= STB_RQS
        return stb

    # -- execution ------------------------------------------------------------------------------
    def _execute(self, unit: str, path: list[str]) -> tuple[str | bytes | None, list[str]]:
        head, _, rest = unit.partition(" ")
        if "\t" in head:
            head, _, more = head.partition("\t")
            rest = more + " " + rest
        params = split_params(rest.strip())
        if head.startswith("*"):
            return self.common(head.upper(), params), path
        is_query = head.endswith("?")
        bare = head[:-1] if is_query else head
        nodes = [n for n in bare.upper().split(":") if n]
        if not nodes:
            raise ScpiError(-102, f"empty header in {unit!r}")
        if not bare.startswith(":"):
            nodes = path + nodes
        header = ":" + ":".join(nodes)
        found = self.tree.lookup(header)
        if found is None:
            raise ScpiError(-113, f"{head!r}")
        command, suffixes = found
        handler = command.query if is_query else command.setter
        if handler is None:
            kind = "query" if is_query else "setting"
            raise ScpiError(-113, f"{head!r} has no {kind} form")
        reply = handler(Call(header, params, suffixes, is_query))
        return (reply if is_query else None), nodes[:-1]

    def common(self, header: str, params: list[str]) -> str | bytes | None:
        """IEEE 488.2 common commands; instruments extend `common_extra`."""
        status = self.status
        if header == "*CLS":
            status.errors.clear()
            status.esr = 0
            return None
        if header == "*ESR?":
            value, status.esr = status.esr, 0
            return str(value)
        if header == "*ESE":
            status.ese = _int_param(header, params, 0, 255)
            return None
        if header == "*ESE?":
            return str(status.ese)
        if header == "*SRE":
            status.sre = _int_param(header, params, 0, 255)
            return None
        if header == "*SRE?":
            return str(status.sre)
        if header == "*STB?":
            return str(self.status_byte())
        if header == "*OPC":
            status.esr |= ESR_OPC
            return None
        return self.common_extra(header, params)

    def common_extra(self, header: str, params: list[str]) -> str | None:
        raise ScpiError(-113, header)


def _int_param(header: str, params: list[str], low: int, high: int) -> int:
    return Call(header, params, (), False).integer(0, low, high) if params else _missing(header)


def _missing(header: str) -> int:
    raise ScpiError(-109, header)
