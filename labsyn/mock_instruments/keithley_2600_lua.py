"""The Lua 5.0 subset of the simulated Keithley 2600B (TSP): lexer, parser, values, operators.

Statements and expressions become tuples ``(kind, line, ...)`` that `keithley_2600_tsp`
executes. A syntax error raises `TspError` with code -285 and the instrument's wording
(``TSP Syntax error at line 1: unexpected symbol near `*'``); nothing of the chunk runs.
Lua 5.0 has no ``#`` or ``%`` operator, and variable arguments (``...``) are not simulated.
Values are Python ``None`` (nil), ``bool``, ``float`` (every number), ``str``, `LuaTable`,
`LuaFunction` and host `Builtin` functions; `binary` applies Lua's operator rules (``0`` is
true, ``1 == true`` is false, arithmetic coerces numeric strings, division by zero is ±inf).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

SYNTAX_ERROR, RUNTIME_ERROR = -285, -286

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+) | (?P<newline>\n)
  | (?P<comment>--\[\[.*?\]\]|--[^\n]*)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\[\[.*?\]\])
  | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|[-+*/^%\#<>=(){}\[\];:,.])
""", re.VERBOSE | re.DOTALL)
KEYWORDS = frozenset("and break do else elseif end false for function if in local nil not or "
                     "repeat return then true until while".split())
BINARY = {"or": (1, 1), "and": (2, 2), "<": (3, 3), ">": (3, 3), "<=": (3, 3), ">=": (3, 3),
          "~=": (3, 3), "==": (3, 3), "..": (5, 4), "+": (6, 6), "-": (6, 6), "*": (7, 7),
          "/": (7, 7), "^": (10, 9)}
UNARY_PRIORITY = 8
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", '"': '"', "'": "'", "\n": "\n"}


class TspError(Exception):
    """An entry for the instrument's error queue (code, message); stops the running chunk."""

    def __init__(self, code: int, detail: str, line: int | None = None) -> None:
        self.code, self.detail, self.line = code, detail, line
        super().__init__(self.message)

    @property
    def message(self) -> str:
        kind = {SYNTAX_ERROR: "Syntax", RUNTIME_ERROR: "Runtime"}.get(self.code)
        if kind is None:
            return self.detail
        return f"TSP {kind} error at line {self.line or 1}: {self.detail}"


# -- lexing -------------------------------------------------------------------------------------
def tokenize(source: str, first_line: int = 1) -> list[tuple[str, Any, int]]:
    tokens: list[tuple[str, Any, int]] = []
    line, pos = first_line, 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise TspError(SYNTAX_ERROR, f"unexpected symbol near `{source[pos]}'", line)
        kind, text = match.lastgroup, match.group()
        if kind == "number":
            tokens.append(("number", float(int(text, 16)) if text[:2].lower() == "0x"
                           else float(text), line))
        elif kind == "name":
            tokens.append(("keyword" if text in KEYWORDS else "name", text, line))
        elif kind == "string":
            tokens.append(("string", _unquote(text, line), line))
        elif kind == "op":
            tokens.append(("op", text, line))
        line += text.count("\n")
        pos = match.end()
    tokens.append(("eof", "<eof>", line))
    return tokens


def _unquote(text: str, line: int) -> str:
    if text.startswith("[["):
        return text[2:-2].removeprefix("\n")
    out, body, i = [], text[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt.isdigit():
            digits = re.match(r"\d{1,3}", body[i + 1:]).group()  # type: ignore[union-attr]
            out.append(chr(int(digits)))
            i += 1 + len(digits)
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise TspError(SYNTAX_ERROR, f"invalid escape sequence `\\{nxt}'", line)
    return "".join(out)


class Parser:
    """Recursive descent over Lua 5.0 (no varargs); statements and expressions are tuples."""

    def __init__(self, tokens: list[tuple[str, Any, int]]) -> None:
        self.tokens, self.i = tokens, 0

    @property
    def tok(self) -> tuple[str, Any, int]:
        return self.tokens[self.i]

    def check(self, value: str) -> bool:
        kind, text, _ = self.tok
        return kind in ("op", "keyword") and text == value

    def accept(self, value: str) -> bool:
        if self.check(value):
            self.i += 1
            return True
        return False

    def expect(self, value: str, opening: str | None = None) -> None:
        if not self.accept(value):
            what = f"`{value}' expected" + (f" (to close `{opening}')" if opening else "")
            self.fail(what)

    def fail(self, what: str) -> None:
        kind, text, line = self.tok
        near = "<eof>" if kind == "eof" else (text if kind != "number" else f"{text:.14g}")
        raise TspError(SYNTAX_ERROR, f"{what} near `{near}'", line)

    def name(self) -> str:
        kind, text, _ = self.tok
        if kind != "name":
            self.fail("<name> expected")
        self.i += 1
        return str(text)

    def chunk(self) -> list[tuple]:
        body = self.block()
        if self.tok[0] != "eof":
            self.fail("`<eof>' expected")
        return body

    def block(self) -> list[tuple]:
        body: list[tuple] = []
        while not (self.tok[0] == "eof" or any(self.check(k) for k in
                                                ("end", "else", "elseif", "until"))):
            statement = self.statement()
            self.accept(";")
            body.append(statement)
            if statement[0] in ("return", "break"):
                break
        return body

    def statement(self) -> tuple:
        line = self.tok[2]
        if self.accept("if"):
            clauses = [(self.expr(), self._then_block())]
            while self.accept("elseif"):
                clauses.append((self.expr(), self._then_block()))
            orelse = self.block() if self.accept("else") else []
            self.expect("end", "if")
            return ("if", line, clauses, orelse)
        if self.accept("while"):
            cond = self.expr()
            self.expect("do")
            body = self.block()
            self.expect("end", "while")
            return ("while", line, cond, body)
        if self.accept("do"):
            body = self.block()
            self.expect("end", "do")
            return ("do", line, body)
        if self.accept("repeat"):
            body = self.block()
            self.expect("until", "repeat")
            return ("repeat", line, body, self.expr())
        if self.accept("for"):
            return self._for(line)
        if self.accept("function"):
            path, method = [self.name()], None
            while self.accept("."):
                path.append(self.name())
            if self.accept(":"):
                method = self.name()
            func = self._function_body(".".join(path) + (f":{method}" if method else ""), line,
                                       method is not None)
            target: tuple = ("name", line, path[0])
            for key in path[1:] + ([method] if method else []):
                target = ("index", line, target, ("const", line, key))
            return ("assign", line, [target], [func])
        if self.accept("local"):
            if self.accept("function"):
                name = self.name()
                return ("localfunction", line, name, self._function_body(name, line, False))
            names = [self.name()]
            while self.accept(","):
                names.append(self.name())
            values = self.exprlist() if self.accept("=") else []
            return ("local", line, names, values)
        if self.accept("return"):
            ends = self.tok[0] == "eof" or any(self.check(k) for k in
                                               ("end", "else", "elseif", "until", ";"))
            return ("return", line, [] if ends else self.exprlist())
        if self.accept("break"):
            return ("break", line)
        target = self.suffixed()
        if self.check("=") or self.check(","):
            targets = [target]
            while self.accept(","):
                targets.append(self.suffixed())
            self.expect("=")
            for t in targets:
                if t[0] not in ("name", "index"):
                    raise TspError(SYNTAX_ERROR, "syntax error near `='", line)
            return ("assign", line, targets, self.exprlist())
        if target[0] != "call":
            self.fail("syntax error")
        return ("callstat", line, target)

    def _then_block(self) -> list[tuple]:
        self.expect("then")
        return self.block()

    def _for(self, line: int) -> tuple:
        first = self.name()
        if self.accept("="):
            start = self.expr()
            self.expect(",")
            stop = self.expr()
            step = self.expr() if self.accept(",") else ("const", line, 1.0)
            self.expect("do")
            body = self.block()
            self.expect("end", "for")
            return ("numfor", line, first, start, stop, step, body)
        names = [first]
        while self.accept(","):
            names.append(self.name())
        self.expect("in")
        values = self.exprlist()
        self.expect("do")
        body = self.block()
        self.expect("end", "for")
        return ("genfor", line, names, values, body)

    def _function_body(self, name: str, line: int, method: bool) -> tuple:
        self.expect("(")
        params = ["self"] if method else []
        if not self.check(")"):
            if self.check("..."):
                self.fail("variable arguments are not simulated")
            params.append(self.name())
            while self.accept(","):
                params.append(self.name())
        self.expect(")")
        body = self.block()
        self.expect("end", "function")
        return ("function", line, params, body, name)

    def exprlist(self) -> list[tuple]:
        values = [self.expr()]
        while self.accept(","):
            values.append(self.expr())
        return values

    def expr(self, limit: int = 0) -> tuple:
        kind, text, line = self.tok
        if (kind == "keyword" and text == "not") or (kind == "op" and text == "-"):
            self.i += 1
            left: tuple = ("unop", line, text, self.expr(UNARY_PRIORITY))
        else:
            left = self.simple()
        while True:
            kind, text, line = self.tok
            priority = BINARY.get(text) if kind in ("op", "keyword") else None
            if priority is None or priority[0] <= limit:
                return left
            self.i += 1
            left = ("binop", line, text, left, self.expr(priority[1]))

    def simple(self) -> tuple:
        kind, text, line = self.tok
        if kind in ("number", "string"):
            self.i += 1
            return ("const", line, text)
        if kind == "keyword" and text in ("nil", "true", "false"):
            self.i += 1
            return ("const", line, {"nil": None, "true": True, "false": False}[text])
        if self.check("{"):
            return self.table()
        if self.accept("function"):
            return self._function_body("?", line, False)
        if self.check("..."):
            self.fail("variable arguments are not simulated")
        return self.suffixed()

    def table(self) -> tuple:
        line = self.tok[2]
        self.expect("{")
        items: list[tuple[tuple | None, tuple]] = []
        while not self.check("}"):
            if self.accept("["):
                key = self.expr()
                self.expect("]")
                self.expect("=")
                items.append((key, self.expr()))
            elif self.tok[0] == "name" and self.tokens[self.i + 1][1] == "=" and \
                    self.tokens[self.i + 1][0] == "op":
                key = ("const", line, self.name())
                self.expect("=")
                items.append((key, self.expr()))
            else:
                items.append((None, self.expr()))
            if not (self.accept(",") or self.accept(";")):
                break
        self.expect("}", "{")
        return ("table", line, items)

    def suffixed(self) -> tuple:
        kind, text, line = self.tok
        if kind == "name":
            self.i += 1
            node: tuple = ("name", line, text)
        elif self.accept("("):
            node = ("paren", line, self.expr())
            self.expect(")", "(")
        else:
            self.fail("unexpected symbol")
        while True:
            line = self.tok[2]
            if self.accept("."):
                node = ("index", line, node, ("const", line, self.name()))
            elif self.accept("["):
                key = self.expr()
                self.expect("]", "[")
                node = ("index", line, node, key)
            elif self.accept(":"):
                method = self.name()
                node = ("call", line, node, self.args(), method)
            elif self.check("(") or self.check("{") or self.tok[0] == "string":
                node = ("call", line, node, self.args(), None)
            else:
                return node

    def args(self) -> list[tuple]:
        kind, text, line = self.tok
        if kind == "string":
            self.i += 1
            return [("const", line, text)]
        if self.check("{"):
            return [self.table()]
        self.expect("(")
        if self.accept(")"):
            return []
        values = self.exprlist()
        self.expect(")", "(")
        return values


def compile_chunk(source: str, first_line: int = 1) -> list[tuple]:
    """Parse `source`; a syntax error raises `TspError` (-285) and nothing runs."""
    return Parser(tokenize(source, first_line)).chunk()


# -- values -------------------------------------------------------------------------------------
class LuaTable:
    """A Lua table: one dict, integral float keys folded to int."""

    __slots__ = ("items",)

    def __init__(self, values: list[Any] | None = None) -> None:
        self.items: dict[Any, Any] = {i: v for i, v in enumerate(values or (), 1)}

    @staticmethod
    def key(key: Any) -> Any:
        if isinstance(key, float) and key.is_integer():
            return int(key)
        return key

    def get(self, key: Any) -> Any:
        return self.items.get(self.key(key))

    def set(self, key: Any, value: Any) -> None:
        if key is None or (isinstance(key, float) and math.isnan(key)):
            raise TspError(RUNTIME_ERROR, "table index is nil or NaN")
        if value is None:
            self.items.pop(self.key(key), None)
        else:
            self.items[self.key(key)] = value

    def length(self) -> int:
        n = len(self.items)
        while n > 0 and n not in self.items:
            n -= 1
        while n + 1 in self.items:
            n += 1
        return n

    def array(self) -> list[Any]:
        return [self.items[i] for i in range(1, self.length() + 1)]


class Builtin:
    """A host function. `mode`: plain ``fn(*args)``, context ``fn(ctx, *args)`` or generator
    ``yield from fn(ctx, *args)`` (for functions that wait on virtual time)."""

    __slots__ = ("fn", "mode", "name")

    def __init__(self, name: str, fn: Callable[..., Any], mode: str = "plain") -> None:
        self.name, self.fn, self.mode = name, fn, mode


class LuaFunction:
    __slots__ = ("body", "line", "name", "params", "scope")

    def __init__(self, params: list[str], body: list[tuple], scope: Scope, name: str,
                 line: int) -> None:
        self.params, self.body, self.scope, self.name, self.line = params, body, scope, name, line


class Scope:
    __slots__ = ("names", "parent")

    def __init__(self, parent: Scope | None = None) -> None:
        self.names: dict[str, Any] = {}
        self.parent = parent

    def find(self, name: str) -> Scope | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope
            scope = scope.parent
        return None


def type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, LuaTable):
        return "table"
    if isinstance(value, (LuaFunction, Builtin)):
        return "function"
    return "userdata"


def tostring(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(float(value), 14, "g")
    if isinstance(value, str):
        return value
    return f"{type_name(value)}: 0x{id(value) & 0xFFFFFFF:08x}"


def number_text(value: float, digits: int, style: str = "e") -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if style == "g":
        return f"{value:.{digits}g}"
    return f"{value:.{max(digits - 1, 0)}e}"


def tonumber(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return None
    return None


def truthy(value: Any) -> bool:
    return value is not None and value is not False


def describe(e: tuple, value: Any) -> str:
    """How Lua 5.0 names the culprit of a runtime error."""
    what = f"(a {type_name(value)} value)"
    if e[0] == "name":
        return f"global `{e[2]}' {what}"
    if e[0] == "index" and e[3][0] == "const" and isinstance(e[3][2], str):
        return f"field `{e[3][2]}' {what}"
    return f"a {type_name(value)} value"


def binary(op: str, left: Any, right: Any, line: int) -> Any:
    if op == "==":
        return equal(left, right)
    if op == "~=":
        return not equal(left, right)
    if op == "..":
        if all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
               for v in (left, right)):
            return tostring(left) + tostring(right)
        bad = right if isinstance(left, (str, int, float)) and not isinstance(left, bool) \
            else left
        raise TspError(RUNTIME_ERROR, f"attempt to concatenate a {type_name(bad)} value", line)
    if op in ("<", ">", "<=", ">="):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      for v in (left, right))
        if not numbers and not (isinstance(left, str) and isinstance(right, str)):
            raise TspError(RUNTIME_ERROR, f"attempt to compare {type_name(left)} with "
                           f"{type_name(right)}", line)
        return {"<": left < right, ">": left > right, "<=": left <= right,
                ">=": left >= right}[op]
    a, b = tonumber(left), tonumber(right)
    if a is None or b is None:
        bad = left if a is None else right
        raise TspError(RUNTIME_ERROR, f"attempt to perform arithmetic on a {type_name(bad)} "
                       "value", line)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * (
                math.copysign(1.0, b))
        return a / b
    try:
        return a ** b
    except (OverflowError, ZeroDivisionError):
        return math.inf
    except ValueError:  # pragma: no cover - complex results
        return math.nan


def equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return float(left) == float(right)
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return left is right


def standard_library() -> dict[str, Any]:
    """The Lua base functions TSP scripts use (type, tostring, tonumber, pairs, math, table)."""

    def ipairs_next(table: LuaTable, index: float) -> tuple[Any, ...] | None:
        value = table.get(index + 1)
        return None if value is None else (index + 1, value)

    def pairs_next(table: LuaTable, key: Any) -> tuple[Any, ...] | None:
        keys = list(table.items)
        position = 0 if key is None else keys.index(LuaTable.key(key)) + 1
        if position >= len(keys):
            return None
        k = keys[position]
        return (float(k) if isinstance(k, int) else k), table.items[k]

    def table_of(value: Any, name: str) -> LuaTable:
        if not isinstance(value, LuaTable):
            raise TspError(RUNTIME_ERROR, f"bad argument #1 to `{name}' (table expected, got "
                           f"{type_name(value)})")
        return value

    def number(value: Any, name: str) -> float:
        result = tonumber(value)
        if result is None:
            raise TspError(RUNTIME_ERROR, f"bad argument #1 to `{name}' (number expected, got "
                           f"{type_name(value)})")
        return result

    def insert(table: Any, value: Any) -> None:
        t = table_of(table, "insert")
        t.set(float(t.length() + 1), value)

    maths = LuaTable()
    for name, fn in (("abs", abs), ("floor", math.floor), ("ceil", math.ceil),
                     ("sqrt", math.sqrt), ("log10", math.log10), ("exp", math.exp)):
        maths.set(name, Builtin(f"math.{name}", lambda v, f=fn, n=name: float(f(number(v, n)))))
    maths.set("max", Builtin("math.max", lambda *v: max(number(x, "max") for x in v)))
    maths.set("min", Builtin("math.min", lambda *v: min(number(x, "min") for x in v)))
    maths.set("pi", math.pi)
    maths.set("huge", math.inf)
    tables = LuaTable()
    tables.set("getn", Builtin("table.getn", lambda t: float(table_of(t, "getn").length())))
    tables.set("insert", Builtin("table.insert", insert))
    return {
        "type": Builtin("type", type_name),
        "tostring": Builtin("tostring", tostring),
        "tonumber": Builtin("tonumber", tonumber),
        "ipairs": Builtin("ipairs", lambda t: (Builtin("ipairs_next", ipairs_next),
                                               table_of(t, "ipairs"), 0.0)),
        "pairs": Builtin("pairs", lambda t: (Builtin("next", pairs_next),
                                             table_of(t, "pairs"), None)),
        "math": maths,
        "table": tables,
        "exit": Builtin("exit", _exit),
    }


class ExitSignal(Exception):
    """`exit()`: the running chunk or script ends quietly."""


def _exit() -> None:
    raise ExitSignal()


def lines_of(message: str) -> Iterator[str]:
    """A program message as TSP reads it: one command per line (LF or CR LF)."""
    for line in message.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            yield line
