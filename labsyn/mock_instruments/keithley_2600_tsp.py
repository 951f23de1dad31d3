"""Execution of TSP (Lua 5.0 subset) chunks for the simulated Keithley 2600B.

Locals, assignments, calls and method calls, ``if``/``while``/``repeat``/numeric and generic
``for``/``break``/``return``, functions and closures, table constructors, arithmetic,
comparison, ``and``/``or``/``not`` and ``..`` behave as in Lua 5.0. Runtime errors raise
`TspError` with code -286 (``TSP Runtime error at line 1: attempt to index global `smuc' (a nil
value)``) and stop the chunk there. Instrument objects (`TspNode`) are strict: reading or writing
an attribute they do not have is a runtime error, as the brief for the 2636B twin asks.

Execution is a generator: a statement that must happen at a later virtual time (after
``delay()`` or a measurement) yields that time, and the host resumes the generator when its
bench timeline gets there. So a script with delays runs on virtual time and can be interrupted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from .keithley_2600_lua import (
    RUNTIME_ERROR,
    SYNTAX_ERROR,
    Builtin,
    ExitSignal,
    LuaFunction,
    LuaTable,
    Scope,
    TspError,
    binary,
    compile_chunk,
    describe,
    lines_of,
    standard_library,
    tonumber,
    tostring,
    truthy,
    type_name,
)

__all__ = ["SYNTAX_ERROR", "Builtin", "LuaTable", "compile_chunk", "lines_of",
           "standard_library", "type_name"]

MAX_STEPS = 5_000_000
Run = Generator[float, None, Any]


ERROR_QUEUE_SIZE = 100


class TspErrorQueue:
    """The TSP error queue (`errorqueue.*`) of the 2600 and 707B twins: at most
    `ERROR_QUEUE_SIZE` entries, the last replaced by -350 "Queue overflow" when full."""

    errors: deque[tuple[int, str]]

    def push_error(self, code: int, message: str) -> None:
        if len(self.errors) >= ERROR_QUEUE_SIZE:
            self.errors[-1] = (-350, "Queue overflow")
        else:
            self.errors.append((code, message))

    def next_error(self) -> tuple[float, str, float, float]:
        """``errorqueue.next()`` → code, message, severity, node."""
        if not self.errors:
            return 0.0, "Queue Is Empty", 0.0, 0.0
        code, message = self.errors.popleft()
        return float(code), message, 20.0, 1.0


class Context:
    """One job's virtual time cursor and step budget."""

    def __init__(self, cursor: float) -> None:
        self.cursor = cursor
        self.steps = 0


class _Break(Exception):
    pass


class _Return(Exception):
    def __init__(self, values: list[Any]) -> None:
        self.values = values


class TspNode:
    """Instrument-side userdata (``smua.source``, ``format``...): named attributes only."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.getters: dict[str, Callable[[], Any]] = {}
        self.setters: dict[str, Callable[[Any], None]] = {}

    def add(self, name: str, get: Callable[[], Any],
            set_: Callable[[Any], None] | None = None) -> None:
        self.getters[name] = get
        if set_ is not None:
            self.setters[name] = set_

    def const(self, name: str, value: Any) -> None:
        self.getters[name] = lambda: value

    def child(self, name: str, node: Any) -> None:
        self.getters[name] = lambda: node

    def function(self, name: str, fn: Callable[..., Any], mode: str = "plain") -> None:
        builtin = Builtin(f"{self.path}.{name}", fn, mode)
        self.getters[name] = lambda: builtin

    def tsp_get(self, key: Any, line: int) -> Any:
        getter = self.getters.get(key) if isinstance(key, str) else None
        if getter is None:
            raise TspError(RUNTIME_ERROR, f"attempt to index unknown attribute "
                           f"`{tostring(key)}' of {self.path}", line)
        return getter()

    def tsp_set(self, key: Any, value: Any, line: int) -> None:
        setter = self.setters.get(key) if isinstance(key, str) else None
        if setter is None:
            what = "read-only" if key in self.getters else "unknown"
            raise TspError(RUNTIME_ERROR, f"attempt to set {what} attribute "
                           f"`{tostring(key)}' of {self.path}", line)
        try:
            setter(value)
        except TspError as err:
            if err.line is None:
                err.line = line
            raise


class TspArray:
    """A numbered collection of nodes (``trigger.timer[1]`` … ``[8]``)."""

    def __init__(self, path: str, items: dict[int, Any]) -> None:
        self.path, self.items = path, items

    def tsp_get(self, key: Any, line: int) -> Any:
        if isinstance(key, (int, float)) and not isinstance(key, bool) and key == int(key):
            return self.items.get(int(key))
        return None

    def tsp_set(self, key: Any, value: Any, line: int) -> None:
        raise TspError(RUNTIME_ERROR, f"{self.path} is read-only", line)


# -- execution -----------------------------------------------------------------------------------
class Interpreter:
    """Runs chunks against the instrument's globals; `timeline_time()` is the bench's present."""

    def __init__(self, globals_: dict[str, Any], timeline_time: Callable[[], float]) -> None:
        self.globals = globals_
        self.timeline_time = timeline_time

    def run(self, body: list[tuple], ctx: Context, scope: Scope | None = None) -> Run:
        """Execute a chunk; `exit()` ends it quietly."""
        try:
            yield from self.block(body, ctx, Scope(scope))
        except (_Break, _Return, ExitSignal):
            return

    def block(self, body: list[tuple], ctx: Context, scope: Scope) -> Run:
        for statement in body:
            ctx.steps += 1
            if ctx.steps > MAX_STEPS:
                raise TspError(RUNTIME_ERROR, "script exceeded the simulator's step limit",
                               statement[1])
            if ctx.cursor > self.timeline_time():
                yield ctx.cursor
            yield from self.statement(statement, ctx, scope)

    def statement(self, s: tuple, ctx: Context, scope: Scope) -> Run:
        kind, line = s[0], s[1]
        if kind == "callstat":
            yield from self.call(s[2], ctx, scope)
        elif kind == "assign":
            values = yield from self.values(s[3], ctx, scope, len(s[2]))
            for target, value in zip(s[2], values, strict=False):
                yield from self.store(target, value, ctx, scope)
        elif kind == "local":
            values = yield from self.values(s[3], ctx, scope, len(s[2]))
            for name, value in zip(s[2], values, strict=False):
                scope.names[name] = value
        elif kind == "if":
            for cond, body in s[2]:
                if truthy((yield from self.expr(cond, ctx, scope))):
                    yield from self.block(body, ctx, Scope(scope))
                    return
            yield from self.block(s[3], ctx, Scope(scope))
        elif kind == "numfor":
            yield from self.numeric_for(s, ctx, scope)
        elif kind == "genfor":
            yield from self.generic_for(s, ctx, scope)
        elif kind == "while":
            try:
                while truthy((yield from self.expr(s[2], ctx, scope))):
                    yield from self.block(s[3], ctx, Scope(scope))
            except _Break:
                pass
        elif kind == "repeat":
            try:
                while True:
                    inner = Scope(scope)
                    yield from self.block(s[2], ctx, inner)
                    if truthy((yield from self.expr(s[3], ctx, inner))):
                        break
            except _Break:
                pass
        elif kind == "do":
            yield from self.block(s[2], ctx, Scope(scope))
        elif kind == "localfunction":
            scope.names[s[2]] = None
            scope.names[s[2]] = self.function(s[3], scope)
        elif kind == "return":
            raise _Return((yield from self.values(s[2], ctx, scope)))
        elif kind == "break":
            raise _Break()
        else:  # pragma: no cover - the parser makes no other statements
            raise TspError(RUNTIME_ERROR, f"unknown statement {kind}", line)

    def numeric_for(self, s: tuple, ctx: Context, scope: Scope) -> Run:
        _, line, var, start_e, stop_e, step_e, body = s
        bounds = []
        for what, e in (("initial", start_e), ("limit", stop_e), ("step", step_e)):
            value = tonumber((yield from self.expr(e, ctx, scope)))
            if value is None:
                raise TspError(RUNTIME_ERROR, f"`for' {what} value must be a number", line)
            bounds.append(value)
        value, stop, step = bounds
        try:
            while (step > 0 and value <= stop) or (step <= 0 and value >= stop):
                inner = Scope(scope)
                inner.names[var] = value
                yield from self.block(body, ctx, inner)
                value += step
        except _Break:
            pass

    def generic_for(self, s: tuple, ctx: Context, scope: Scope) -> Run:
        _, line, names, exprs, body = s
        func, state, control = (yield from self.values(exprs, ctx, scope, 3))
        try:
            while True:
                results = yield from self.invoke(func, [state, control], ctx, line, "iterator")
                if not results or results[0] is None:
                    return
                control = results[0]
                inner = Scope(scope)
                for i, name in enumerate(names):
                    inner.names[name] = results[i] if i < len(results) else None
                yield from self.block(body, ctx, inner)
        except _Break:
            pass

    def function(self, e: tuple, scope: Scope) -> LuaFunction:
        return LuaFunction(e[2], e[3], scope, e[4], e[1])

    # -- expressions ---------------------------------------------------------------------------
    def values(self, exprs: list[tuple], ctx: Context, scope: Scope,
               want: int | None = None) -> Run:
        """Evaluate an expression list; the last call or script result expands."""
        out: list[Any] = []
        for i, e in enumerate(exprs):
            if i == len(exprs) - 1 and e[0] == "call":
                out.extend((yield from self.call(e, ctx, scope)))
            else:
                out.append((yield from self.expr(e, ctx, scope)))
        if want is not None:
            out = (out + [None] * want)[:want]
        return out

    def expr(self, e: tuple, ctx: Context, scope: Scope) -> Run:
        kind = e[0]
        if kind == "const":
            return e[2]
        if kind == "name":
            found = scope.find(e[2])
            return found.names[e[2]] if found is not None else self.globals.get(e[2])
        if kind == "index":
            obj = yield from self.expr(e[2], ctx, scope)
            key = yield from self.expr(e[3], ctx, scope)
            return self.index(obj, key, e)
        if kind == "call":
            results = yield from self.call(e, ctx, scope)
            return results[0] if results else None
        if kind == "paren":
            return (yield from self.expr(e[2], ctx, scope))
        if kind == "binop":
            op = e[2]
            left = yield from self.expr(e[3], ctx, scope)
            if op == "and":
                return (yield from self.expr(e[4], ctx, scope)) if truthy(left) else left
            if op == "or":
                return left if truthy(left) else (yield from self.expr(e[4], ctx, scope))
            right = yield from self.expr(e[4], ctx, scope)
            return binary(op, left, right, e[1])
        if kind == "unop":
            value = yield from self.expr(e[3], ctx, scope)
            if e[2] == "not":
                return not truthy(value)
            number = tonumber(value)
            if number is None:
                raise TspError(RUNTIME_ERROR, f"attempt to perform arithmetic on "
                               f"{describe(e[3], value)}", e[1])
            return -number
        if kind == "table":
            table = LuaTable()
            position = 1
            for n, (key_e, value_e) in enumerate(e[2]):
                if key_e is None:
                    if n == len(e[2]) - 1 and value_e[0] == "call":
                        for value in (yield from self.call(value_e, ctx, scope)):
                            table.set(float(position), value)
                            position += 1
                        continue
                    table.set(float(position), (yield from self.expr(value_e, ctx, scope)))
                    position += 1
                else:
                    key = yield from self.expr(key_e, ctx, scope)
                    table.set(key, (yield from self.expr(value_e, ctx, scope)))
            return table
        if kind == "function":
            return self.function(e, scope)
        raise TspError(RUNTIME_ERROR, f"cannot evaluate {kind}", e[1])  # pragma: no cover

    def index(self, obj: Any, key: Any, e: tuple) -> Any:
        if isinstance(obj, LuaTable):
            return obj.get(key)
        getter = getattr(obj, "tsp_get", None)
        if getter is not None:
            return getter(key, e[1])
        raise TspError(RUNTIME_ERROR, f"attempt to index {describe(e[2], obj)}", e[1])

    def store(self, target: tuple, value: Any, ctx: Context, scope: Scope) -> Run:
        if target[0] == "name":
            found = scope.find(target[2])
            (found.names if found is not None else self.globals)[target[2]] = value
            return
        obj = yield from self.expr(target[2], ctx, scope)
        key = yield from self.expr(target[3], ctx, scope)
        if isinstance(obj, LuaTable):
            obj.set(key, value)
            return
        setter = getattr(obj, "tsp_set", None)
        if setter is None:
            raise TspError(RUNTIME_ERROR, f"attempt to index {describe(target[2], obj)}",
                           target[1])
        setter(key, value, target[1])

    def call(self, e: tuple, ctx: Context, scope: Scope) -> Run:
        _, line, func_e, arg_es, method = e
        func = yield from self.expr(func_e, ctx, scope)
        args = yield from self.values(arg_es, ctx, scope)
        if method is not None:
            obj = func
            func = self.index(obj, method, ("index", line, func_e))
            args = [obj, *args]
            func_e = ("index", line, func_e, ("const", line, method))
        return (yield from self.invoke(func, args, ctx, line, func_e))

    def invoke(self, func: Any, args: list[Any], ctx: Context, line: int,
               func_e: tuple | str) -> Run:
        if isinstance(func, Builtin):
            try:
                if func.mode == "generator":
                    result = yield from func.fn(ctx, *args)
                elif func.mode == "context":
                    result = func.fn(ctx, *args)
                else:
                    result = func.fn(*args)
            except TspError as err:
                if err.line is None and err.code in (SYNTAX_ERROR, RUNTIME_ERROR):
                    err.line = line
                raise
            except TypeError as err:
                raise TspError(RUNTIME_ERROR, f"bad arguments to `{func.name}' ({err})",
                               line) from None
            return _results(result)
        if isinstance(func, LuaFunction):
            inner = Scope(func.scope)
            for i, name in enumerate(func.params):
                inner.names[name] = args[i] if i < len(args) else None
            try:
                yield from self.block(func.body, ctx, inner)
            except _Return as ret:
                return ret.values
            return []
        call = getattr(func, "tsp_call", None)
        if call is not None:
            return _results((yield from call(ctx, *args)))
        what = describe(func_e, func) if isinstance(func_e, tuple) else f"an {func_e}"
        raise TspError(RUNTIME_ERROR, f"attempt to call {what}", line)


def _results(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]
