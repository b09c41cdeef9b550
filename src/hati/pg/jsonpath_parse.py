"""The SQL/JSON path language's grammar (PostgreSQL's ``jsonpath_gram.y``) as a small
recursive-descent parser: :func:`parse` gives (strict, tree), the tree of tuples
``pg/jsonpath.py`` evaluates (``("chain", primary, steps)``, ``("cmp", op, l, r)``, ...).
A syntax error raises 42601."""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any

from hati.errors import InvalidParameter, SyntaxError_

Node = tuple[Any, ...]


class _Lexer:
    _TOKEN = re.compile(
        r"""\s*(?:
        (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
        |(?P<str>"(?:[^"\\]|\\.)*")
        |(?P<var>\$(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")?)
        |(?P<op>==|!=|<>|<=|>=|&&|\|\||\*\*|[@.\[\](),?*<>!+\-/%{}])
        |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
        )""",
        re.X,
    )

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos, text = 0, text.rstrip()
        while pos < len(text):
            m = self._TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise _syntax(text[pos:].strip()[:1] or "end")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def accept(self, value: str) -> bool:
        kind, text = self.peek()
        if kind in ("op", "word") and text == value:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise _syntax(self.peek()[1] or "end")


def _syntax(near: str) -> SyntaxError_:
    return SyntaxError_(f'syntax error at or near "{near}" of jsonpath input')


def _string(token: str) -> str:
    body = token[1:-1]
    out, i = [], 0
    simple = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif nxt == "u" and body[i + 2 : i + 3] == "{":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3 : end], 16)))
            i = end + 1
        elif nxt == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


_COMPARE = ("==", "!=", "<>", "<", "<=", ">", ">=")
_METHODS = frozenset({"type", "size", "double", "ceiling", "floor", "abs", "keyvalue", "datetime"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.lex = _Lexer(text)

    def path(self) -> tuple[bool, Node]:
        strict = False
        if self.lex.peek() == ("word", "strict"):
            self.lex.take()
            strict = True
        elif self.lex.peek() == ("word", "lax"):
            self.lex.take()
        node = self.disjunction()
        if self.lex.peek()[0] != "end":
            raise _syntax(self.lex.peek()[1])
        return strict, node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.lex.accept("||"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.lex.accept("&&"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.lex.accept("!"):
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        kind, text = self.lex.peek()
        if kind == "op" and text in _COMPARE:
            self.lex.take()
            return ("cmp", "!=" if text == "<>" else text, left, self.additive())
        if self.lex.accept("like_regex"):
            kind, pattern = self.lex.take()
            if kind != "str":
                raise _syntax(pattern or "end")
            flags = ""
            if self.lex.accept("flag"):
                kind, flag = self.lex.take()
                if kind != "str":
                    raise _syntax(flag or "end")
                flags = _string(flag)
            return ("like_regex", left, _regex(_string(pattern), flags))
        if self.lex.peek() == ("word", "starts"):
            self.lex.take()
            self.lex.expect("with")
            return ("starts", left, self.additive())
        if self.lex.peek() == ("word", "is"):
            self.lex.take()
            self.lex.expect("unknown")
            return ("is_unknown", left)
        return left

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.lex.peek() in (("op", "+"), ("op", "-")):
            node = ("arith", self.lex.take()[1], node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.lex.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            node = ("arith", self.lex.take()[1], node, self.unary())
        return node

    def unary(self) -> Node:
        if self.lex.peek() in (("op", "+"), ("op", "-")):
            return ("unary", self.lex.take()[1], self.unary())
        return self.accessors(self.primary())

    def primary(self) -> Node:
        kind, text = self.lex.take()
        if kind == "num":
            return ("value", Decimal(text))
        if kind == "str":
            return ("value", _string(text))
        if kind == "var":
            if text == "$":
                return ("root",)
            name = _string(text[1:]) if text[1:2] == '"' else text[1:]
            return ("var", name)
        if kind == "op" and text == "@":
            return ("current",)
        if kind == "op" and text == "(":
            node = self.disjunction()
            self.lex.expect(")")
            return node
        if kind == "word":
            constants = {"true": True, "false": False, "null": None}
            if text in constants:
                return ("value", constants[text])
            if text == "last":
                return ("last",)
            if text == "exists" and self.lex.accept("("):
                node = self.disjunction()
                self.lex.expect(")")
                return ("exists", node)
        raise _syntax(text or "end")

    def accessors(self, node: Node) -> Node:
        steps: list[Node] = []
        while True:
            if self.lex.accept("."):
                steps.append(self.member())
            elif self.lex.accept("["):
                steps.append(self.subscripts())
            elif self.lex.accept("?"):
                self.lex.expect("(")
                pred = self.disjunction()
                self.lex.expect(")")
                steps.append(("filter", pred))
            else:
                break
        return ("chain", node, tuple(steps)) if steps else node

    def member(self) -> Node:
        kind, text = self.lex.take()
        if kind == "op" and text == "*":
            return ("members",)
        if kind == "op" and text == "**":
            return ("any", *self.levels())
        if kind == "str":
            return ("key", _string(text))
        if kind == "word":
            if text in _METHODS and self.lex.peek() == ("op", "("):
                self.lex.take()
                if text == "datetime" and self.lex.peek()[0] == "str":
                    self.lex.take()
                self.lex.expect(")")
                return ("method", text)
            return ("key", text)
        raise _syntax(text or "end")

    def levels(self) -> tuple[int, int]:
        if not self.lex.accept("{"):
            return (0, -1)
        first = self.level()
        last = self.level() if self.lex.accept("to") else first
        self.lex.expect("}")
        return (first, last)

    def level(self) -> int:
        kind, text = self.lex.take()
        if kind == "word" and text == "last":
            return -1
        if kind == "num" and text.isdigit():
            return int(text)
        raise _syntax(text or "end")

    def subscripts(self) -> Node:
        if self.lex.accept("*"):
            self.lex.expect("]")
            return ("elements",)
        ranges: list[tuple[Node, Node | None]] = []
        while True:
            low = self.disjunction()
            high = self.disjunction() if self.lex.accept("to") else None
            ranges.append((low, high))
            if self.lex.accept("]"):
                return ("index", tuple(ranges))
            self.lex.expect(",")


def _regex(pattern: str, flags: str) -> re.Pattern[str]:
    bits = 0
    for f in flags:
        if f == "i":
            bits |= re.I
        elif f == "s":
            bits |= re.S
        elif f == "m":
            bits |= re.M
        elif f == "x":
            bits |= re.X
        elif f == "q":
            pattern = re.escape(pattern)
        else:
            raise SyntaxError_(f'invalid input syntax for type jsonpath: unrecognized flag "{f}"')
    try:
        return re.compile(pattern, bits)
    except re.error as e:
        raise InvalidParameter(f"invalid regular expression: {e}") from None


@functools.lru_cache(maxsize=256)
def parse(text: str) -> tuple[bool, Node]:
    """(strict, tree) of a jsonpath's text; a syntax error raises 42601."""
    try:
        return _Parser(text).path()
    except (ValueError, IndexError):
        raise _syntax(text) from None
