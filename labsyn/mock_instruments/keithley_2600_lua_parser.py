"""The lexer and parser of the Lua 5.0 subset of the simulated Keithley 2600B (TSP).

Statements and expressions become tuples ``(kind, line, ...)`` that `keithley_2600_tsp`
executes. A syntax error raises `TspError` with code -285 and the instrument's wording
(``TSP Syntax error at line 1: unexpected symbol near `*'``); nothing of the chunk runs.
Lua 5.0 has no ``#`` or ``%`` operator, and variable arguments (``...``) are not simulated.
"""

from __future__ import annotations

import re
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
