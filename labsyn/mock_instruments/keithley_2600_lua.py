"""The Lua 5.0 subset of the simulated Keithley 2600B (TSP): values, operators, the standard
library; the lexer and parser are in `keithley_2600_lua_parser` (re-exported here).

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
from collections.abc import Callable, Iterator
from typing import Any

from .keithley_2600_lua_parser import (
    BINARY,
    KEYWORDS,
    RUNTIME_ERROR,
    SYNTAX_ERROR,
    UNARY_PRIORITY,
    Parser,
    TspError,
    compile_chunk,
    tokenize,
)

__all__ = ["BINARY", "KEYWORDS", "RUNTIME_ERROR", "SYNTAX_ERROR", "UNARY_PRIORITY", "Parser",
           "TspError", "compile_chunk", "tokenize"]


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
