"""Statement shapes: a client's SQL with its literals lifted out.

Statements that differ only in their literal values (``WHERE aid = 17`` and ``WHERE aid =
42``) share one shape, so the front end parses, checks and translates a shape once and
afterwards only splices the new literals in. The scanner is PostgreSQL's own
(``pglast.parser.scan``), so a literal here is exactly a literal to PostgreSQL.

A literal is lifted only where a parameter may stand in the grammar and where its value
cannot change how the statement is translated; everything else (typed literals such as
``DATE '2024-01-01'``, bit strings, literals after an identifier) stays in the shape. A
lifted literal is replaced by a marker ``$n`` numbered after the client's own parameters;
the translated shape keeps the markers, and :func:`splice` puts the literals back, each
in one canonical spelling (a standard string constant or a plain number), never as the
client wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pglast import parser

from hati.pg.arraytext import duck_list
from hati.wire import numerics

# Tokens after which a literal is an ordinary value (an operand of an operator, a list
# item, a clause value), so that a parameter is valid in its place.
_VALUE_CONTEXT = frozenset(
    {
        "SELECT",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "THEN",
        "ELSE",
        "WHEN",
        "CASE",
        "VALUES",
        "LIKE",
        "ILIKE",
        "BETWEEN",
        "LIMIT",
        "OFFSET",
        "HAVING",
        "RETURNING",
        "ON",
        "IN_P",
        "IS",
        "ALL",
        "ANY",
        "SOME",
        "DISTINCT",
        "BY",
        "FROM",
        "EQUALS_GREATER",
        "LESS_EQUALS",
        "GREATER_EQUALS",
        "NOT_EQUALS",
        "TYPECAST",
        "Op",
    }
)
# Statements whose literals are values of the data they read or write.
_DATA_STATEMENTS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "ASCII_40"})
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PLAIN_STRING = re.compile(r"'((?:[^']|'')*)'", re.S)
_ESCAPE_STRING = re.compile(r"[eE]'((?:[^'\\]|''|\\.)*)'", re.S)
_DOLLAR_STRING = re.compile(r"(\$[A-Za-z_\x80-\uffff][\w\x80-\uffff]*\$|\$\$)(.*)\1", re.S)
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# In rendered SQL (standard strings, doubled quotes): a string constant, a quoted
# identifier, or a marker ``$n`` standing alone (not inside a word such as ``cfg$1``).
_RENDERED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<![\w$])\$(\d+)")


@dataclass(frozen=True)
class Shape:
    """One statement with its liftable literals replaced by markers."""

    key: str  # the shape's identity: the marked text plus the kinds of its literals
    sql: str  # the marked text, comments removed
    literals: tuple[str, ...]  # canonical SQL of each lifted literal, in marker order
    params: int  # the highest $n the client wrote (markers start after it)
    kinds: tuple[str, ...] = ()  # each literal's kind (:func:`literal_kind`), in marker order


def _unescape(body: str) -> str | None:
    """The value of an ``E'...'`` string's body (PostgreSQL's escapes); None if odd."""

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "xX":
            return chr(int(e[1:], 16))
        if e[0] in "01234567":
            return chr(int(e, 8))
        if e[0] in "uU" and len(e) > 1:
            return chr(int(e[1:], 16))
        return _SIMPLE.get(e, e)

    try:
        return _ESCAPE.sub(one, body.replace("''", "'"))
    except (ValueError, OverflowError):
        return None


def string_value(raw: str) -> str | None:
    """The value of a string constant as the scanner delimits it, or None when it is
    of a form this module does not lift (bit strings, Unicode escapes, continuations)."""
    m = _PLAIN_STRING.fullmatch(raw)
    if m:
        return m.group(1).replace("''", "'")
    m = _ESCAPE_STRING.fullmatch(raw)
    if m:
        return _unescape(m.group(1))
    m = _DOLLAR_STRING.fullmatch(raw)
    if m:
        return m.group(2)
    return None


def quote_string(value: str) -> str:
    """A standard-conforming string constant (backslashes are plain characters)."""
    return "'" + value.replace("'", "''") + "'"


# A JSON object or array literal right of these stays in place (see translate/jsonops.py).
_JSON_OPERATORS = frozenset({"||", "@>", "<@"})
_JSON_LOOKING = re.compile(r"'\s*(\{\s*\"|\[)")


def literal_kind(raw: str, string: bool) -> str:
    """What a lifted literal is, as far as translating its statement may care: ``s`` a
    string, ``i`` an integer, ``n<scale>`` a numeric constant printed as written (its
    digits after the point), ``z`` one with trailing zeros after the point."""
    if string:
        return "s"
    if "e" in raw or "E" in raw:
        got = numerics.literal(raw)
        if got is None:
            return "z"
        if "." not in got[0]:
            return "n0"  # a numeric all the same (2.5e1 is numeric 25)
        raw = got[0]
    if "." not in raw:
        return "i"
    fraction = raw.split(".", 1)[1]
    return "z" if fraction.endswith("0") else f"n{len(fraction)}"


def _liftable(sql: str, tok: parser.Token, prev: str) -> str | None:
    """The canonical SQL of the literal ``tok`` when it may be lifted, else None."""
    name = tok.name
    if name not in ("ICONST", "FCONST", "SCONST"):
        return None
    if prev not in _VALUE_CONTEXT and not prev.startswith("ASCII_"):
        return None
    raw = sql[tok.start : tok.end + 1]
    if name == "SCONST":
        value = string_value(raw)
        if value is None or "\x00" in value or duck_list(value) is not None:
            return None  # an array's text stays in place (see translate/arrays.py)
        if numerics.special_kind(value):
            return None  # 'NaN', 'Infinity': translate/numeric_specials.py reads them
        return quote_string(value)
    if not _NUMBER.fullmatch(raw):
        return None
    if "e" in raw or "E" in raw:  # PostgreSQL's numeric, DuckDB's double: 1.0e-2 is 0.010
        return numerics.literal_sql(raw)
    if "." in raw and numerics.literal(raw) is None:
        return None  # wider than DuckDB's DECIMAL: the translation refuses it
    return raw


def shape(sql: str) -> Shape | None:
    """The statement's shape, or None when the scanner rejects it (the parser then
    reports the error) or it holds nothing to lift and no comment to drop."""
    try:
        tokens = parser.scan(sql)
    except parser.ParseError:
        return None
    first = next((t.name for t in tokens if t.name not in ("C_COMMENT", "SQL_COMMENT")), "")
    if first not in _DATA_STATEMENTS:
        return None  # utility statements (SET, DDL, ...) keep their text, literals and all
    params = 0
    for tok in tokens:
        if tok.name == "PARAM":
            params = max(params, int(sql[tok.start + 1 : tok.end + 1]))
    out: list[str] = []
    literals: list[str] = []
    kinds: list[str] = []
    pos = 0
    prev = prev_op = ""
    for tok in tokens:
        name = tok.name
        if name in ("C_COMMENT", "SQL_COMMENT"):
            out.append(sql[pos : tok.start])
            out.append(" ")
            pos = tok.end + 1
            continue
        literal = _liftable(sql, tok, prev)
        json_operand = name == "SCONST" and prev_op in _JSON_OPERATORS
        if literal is not None and json_operand and _JSON_LOOKING.match(literal):
            literal = None  # the translation tells json's || and @> by the literal
        if literal is not None:
            out.append(sql[pos : tok.start])
            literals.append(literal)
            kinds.append(literal_kind(sql[tok.start : tok.end + 1], name == "SCONST"))
            out.append(f" ${params + len(literals)} ")
            pos = tok.end + 1
        prev = "Op" if name in ("Op", "'+'", "'-'") else name
        prev_op = sql[tok.start : tok.end + 1] if prev == "Op" else ""
    if not literals and pos == 0:
        return None
    out.append(sql[pos:])
    marked = "".join(out).strip()
    key = marked + "\x00" + ",".join(kinds)
    return Shape(key, marked, tuple(literals), params, tuple(kinds))


def splice(parts: tuple[str, ...], slots: tuple[int, ...], literals: tuple[str, ...]) -> str:
    """Join a rendered shape's text ``parts`` with the literals its markers stood for."""
    out = [parts[0]]
    for slot, part in zip(slots, parts[1:], strict=True):
        out.append(literals[slot])
        out.append(part)
    return "".join(out)


def split_markers(sql: str, params: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Cut rendered SQL at the markers of lifted literals (those above ``params``)."""
    parts: list[str] = []
    slots: list[int] = []
    pos = 0
    for m in _RENDERED.finditer(sql):
        if m.group(1) is None:
            continue
        n = int(m.group(1))
        if n <= params:
            continue
        parts.append(sql[pos : m.start()])
        slots.append(n - params - 1)
        pos = m.end()
    parts.append(sql[pos:])
    return tuple(parts), tuple(slots)


# After these a "[" opens a value (DuckDB's list literal), not a subscript.
_LIST_CONTEXT = frozenset(
    {
        "ASCII_40",
        "ASCII_44",
        "ASCII_61",
        "ASCII_60",
        "ASCII_62",
        "Op",
        "SELECT",
        "VALUES",
        "THEN",
        "ELSE",
        "WHEN",
        "IN_P",
        "RETURNING",
        "LESS_EQUALS",
        "GREATER_EQUALS",
        "NOT_EQUALS",
    }
)


def duckdb_lists(sql: str) -> str | None:
    """``[1.0, 2.0]`` written as DuckDB's list literal (as the HatiData SDK writes
    vectors) spelled ``ARRAY[1.0, 2.0]`` for PostgreSQL's grammar; None when the text
    holds no such literal."""
    try:
        tokens = parser.scan(sql)
    except parser.ParseError:
        return None
    out: list[str] = []
    pos, prev = 0, ""
    for tok in tokens:
        if tok.name in ("C_COMMENT", "SQL_COMMENT"):
            continue
        if tok.name == "ASCII_91" and prev in _LIST_CONTEXT:
            out.append(sql[pos : tok.start])
            out.append("ARRAY")
            pos = tok.start
        prev = tok.name
    if not out:
        return None
    out.append(sql[pos:])
    return "".join(out)
