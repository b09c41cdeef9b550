"""PostgreSQL's text of a value DuckDB holds: what ``x::text`` answers in PostgreSQL.

DuckDB casts a list to ``[1, 2]``, a row to ``(1, a, NULL)``, a blob to ``\\xDE\\xAD``,
a double to ``3.0`` and an interval to ``1 month``; PostgreSQL answers ``{1,2}``,
``(1,a,)``, ``\\xdead``, ``3`` and ``1 mon``. A cast to text of such a value runs
:func:`pg_text` (registered as ``hati_pg_text``) on the value's DuckDB type (``typeof``)
and its JSON (``to_json``): the type says how to read the JSON (a blob, an interval and
a string are all JSON strings; a float4 is printed as a double), the output rules are
those of PostgreSQL's ``array_out`` and ``record_out`` and, for each scalar, the wire's
own text encoders (``hati.wire.text_out``), so a value reads the same cast or sent.

:func:`parse_type` reads DuckDB's type text (``STRUCT(a INTEGER, "b c" VARCHAR[])[]``);
:func:`pg_type_name` maps it to PostgreSQL's name for ``pg_typeof`` (``integer[]``).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import PythonUDFType
from duckdb.sqltypes import INTEGER, VARCHAR

from hati.wire import text_out

# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class DuckType:
    """One DuckDB type: ``kind`` is list, struct (named fields), tuple (unnamed), map,
    or scalar (``name`` as DuckDB spells it, ``args`` its parenthesized part)."""

    kind: str
    name: str = ""
    args: str = ""
    element: DuckType | None = None
    fields: tuple[tuple[str, DuckType], ...] = ()


_TOKEN = re.compile(r"""\s*(?:("(?:[^"]|"")*")|('(?:[^']|'')*')|([A-Za-z_][\w$]*)|(\d+)|(.))""")


def _tokens(text: str) -> list[str]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        tok = next(g for g in m.groups() if g is not None)
        out.append(tok)
    return out


class _Reader:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        if self.take() != tok:
            raise ValueError(tok)

    def balanced(self) -> str:
        """The text of a parenthesized group, the parentheses excluded."""
        self.expect("(")
        depth, parts = 1, list[str]()
        while True:
            tok = self.take()
            depth += {"(": 1, ")": -1}.get(tok, 0)
            if depth == 0:
                return " ".join(parts)
            parts.append(tok)

    def name(self) -> str:
        tok = self.take()
        return tok[1:-1].replace('""', '"') if tok.startswith('"') else tok

    def type(self) -> DuckType:
        head = self.take()
        upper = head.upper()
        if upper in ("STRUCT", "UNION") or (upper == "TUPLE" and self.peek() == "("):
            self.expect("(")
            fields: list[tuple[str, DuckType]] = []
            while True:
                if upper == "TUPLE":
                    fields.append(("", self.type()))
                else:
                    fname = self.name()
                    fields.append((fname, self.type()))
                if self.take() == ")":
                    break
            kind = {"STRUCT": "struct", "TUPLE": "tuple", "UNION": "union"}[upper]
            base = DuckType(kind, upper, fields=tuple(fields))
        elif upper == "MAP" and self.peek() == "(":
            self.expect("(")
            key = self.type()
            self.expect(",")
            value = self.type()
            self.expect(")")
            base = DuckType("map", upper, fields=(("key", key), ("value", value)))
        else:
            words = [head[1:-1] if head.startswith('"') else upper]
            while self.peek() is not None and self.peek() not in (",", ")", "(", "["):
                words.append(self.take().upper())
            args = self.balanced() if self.peek() == "(" else ""
            base = DuckType("scalar", " ".join(words), args)
        while self.peek() == "[":
            self.take()
            if self.peek() != "]":
                self.take()  # a fixed size: ARRAY
            self.expect("]")
            base = DuckType("list", element=base)
        return base


@lru_cache(maxsize=512)
def parse_type(text: str) -> DuckType:
    """DuckDB's type text (what ``typeof`` answers) as a :class:`DuckType`."""
    reader = _Reader(text)
    got = reader.type()
    if reader.peek() is not None:
        raise ValueError(text)
    return got


# DuckDB's scalar type -> PostgreSQL's name (format_type), for pg_typeof
_PG_NAMES = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric",
    "UHUGEINT": "numeric",
    "DECIMAL": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "BLOB": "bytea",
    "BIT": "bit",
    "DATE": "date",
    "TIME": "time without time zone",
    "TIME WITH TIME ZONE": "time with time zone",
    "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMP_S": "timestamp without time zone",
    "TIMESTAMP_MS": "timestamp without time zone",
    "TIMESTAMP_NS": "timestamp without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "json",
    "NULL": "unknown",
}


@lru_cache(maxsize=512)
def pg_type_name(text: str) -> str:
    """PostgreSQL's name of the type DuckDB calls ``text`` (``DECIMAL(10,2)[]`` is
    ``numeric[]``; a list of lists is one array type; a row is ``record``)."""
    try:
        t = parse_type(text)
    except (ValueError, IndexError):
        return text.lower()
    depth = 0
    while t.kind == "list" and t.element is not None:
        t, depth = t.element, 1
    if t.kind in ("struct", "tuple"):
        name = "record"
    elif t.kind == "scalar":
        name = _PG_NAMES.get(t.name, t.name.lower())
    else:
        name = t.name.lower()
    return name + "[]" * depth


# --------------------------------------------------------------------------- values

_ARRAY_QUOTE = re.compile(r'[{}",\\\s]|^$|^[Nn][Uu][Ll][Ll]$')
_RECORD_QUOTE = re.compile(r'[(),"\\\s]|^$')


def _array_item(text: str) -> str:
    if not _ARRAY_QUOTE.search(text):
        return text
    return '"' + re.sub(r'(["\\])', r"\\\1", text) + '"'


def _record_item(text: str) -> str:
    if not _RECORD_QUOTE.search(text):
        return text
    return '"' + re.sub(r'(["\\])', r"\1\1", text) + '"'


def float_text(v: float, single: bool) -> str:
    """A float4 (``single``) or float8 as PostgreSQL prints it (shortest exact digits,
    ``1e+20`` outside fixed notation's range: hati.wire.text_out)."""
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    digits = str(np.float32(v)) if single else repr(v)
    if abs(v) >= (2.0**24 if single else 2.0**53):
        digits = text_out._open_interval_digits(v, single, digits)
    return text_out._render(digits, 6 if single else 15)


_BLOB_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")


def blob_bytes(text: str) -> bytes:
    """The bytes of DuckDB's text of a blob (``ab\\x00``: printable ASCII as is)."""
    out = bytearray()
    pos = 0
    for m in _BLOB_ESCAPE.finditer(text):
        out += text[pos : m.start()].encode("latin-1")
        out.append(int(m.group(1), 16))
        pos = m.end()
    out += text[pos:].encode("latin-1")
    return bytes(out)


_INTERVAL_PART = re.compile(
    r"\s*(?:(-?\d+) (year|month|day)s?|(-)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?)", re.I
)
_MONTHS = {"year": 12, "month": 1}


def interval_parts(text: str) -> tuple[int, int, int]:
    """(months, days, microseconds) of DuckDB's text of an interval."""
    months = days = micros = 0
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _INTERVAL_PART.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(text)
        pos = m.end()
        if m.group(2):
            n, unit = int(m.group(1)), m.group(2).lower()
            if unit == "day":
                days += n
            else:
                months += n * _MONTHS[unit]
        else:
            us = (int(m.group(4)) * 3600 + int(m.group(5)) * 60 + int(m.group(6))) * 1_000_000
            us += int((m.group(7) or "0").ljust(6, "0"))
            micros += -us if m.group(3) else us
    return months, days, micros


def interval_text(text: str) -> str:
    """DuckDB's text of an interval as PostgreSQL prints it (IntervalStyle postgres:
    ``1 year 2 mons -3 days +04:05:06.5``)."""
    months, days, micros = interval_parts(text)
    years = int(months / 12)
    parts = []
    negative = False
    for value, unit in ((years, "year"), (months - years * 12, "mon"), (days, "day")):
        if value:
            sign = "+" if negative and value > 0 else ""
            parts.append(f"{sign}{value} {unit}{'' if value == 1 else 's'}")
            negative = value < 0
    if micros or not parts:
        a = abs(micros)
        sign = "-" if micros < 0 else "+" if negative else ""
        secs, frac = divmod(a, 1_000_000)
        clock = f"{sign}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        parts.append(clock + (f".{frac:06d}".rstrip("0") if frac else ""))
    return " ".join(parts)


def _json_text(v: Any) -> str:
    """A JSON value as jsonb prints it (``{"a": 1, "b": [1, 2]}``)."""
    if isinstance(v, _Object):
        return "{}"
    if isinstance(v, list) and v and isinstance(v[0], _Pair):
        pairs = (f"{json.dumps(p.key, ensure_ascii=False)}: {_json_text(p.value)}" for p in v)
        return "{" + ", ".join(pairs) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_json_text(x) for x in v) + "]"
    if isinstance(v, _Number):
        return v.text
    return json.dumps(v, ensure_ascii=False)


class _Number:
    def __init__(self, text: str) -> None:
        self.text = text


class _Pair:
    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value


class _Object(list[Any]):
    """An empty JSON object (a non-empty one is a list of pairs)."""


def _pairs(items: list[tuple[str, Any]]) -> list[Any]:
    return [_Pair(k, v) for k, v in items] if items else _Object()


def _load(text: str) -> Any:
    return json.loads(
        text,
        parse_float=_Number,
        parse_int=_Number,
        parse_constant=_Number,
        object_pairs_hook=_pairs,
    )


def _scalar(t: DuckType, v: Any, nested: bool) -> str:
    name = t.name
    if isinstance(v, bool):
        return ("t" if v else "f") if nested else ("true" if v else "false")
    if name == "JSON":
        return _json_text(v)
    if isinstance(v, _Number):
        text = v.text
        if name in ("DOUBLE", "FLOAT"):
            return float_text(float(text), name == "FLOAT")
        if name == "DECIMAL":
            shown = _shown(t.args)
            return text if shown is None else shown(Decimal(text))
        return text
    if isinstance(v, str):
        if name == "BLOB":
            return "\\x" + blob_bytes(v).hex()
        if name == "INTERVAL":
            return interval_text(v)
        if name in ("DOUBLE", "FLOAT"):  # NaN and the infinities
            return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(v.lower(), v)
        return v
    return _json_text(v)


def _shown(args: str) -> Any:
    try:
        p, s = (int(a) for a in args.replace(" ", "").split(","))
    except ValueError:
        return None
    return text_out._SHOWN.get((p, s))


def _text(t: DuckType, v: Any, nested: bool) -> str | None:
    if v is None:
        return None
    if t.kind == "list" and t.element is not None and isinstance(v, list):
        inner = t.element
        items = []
        for x in v:
            got = _text(inner, x, True)
            if got is None:
                items.append("NULL")
            elif inner.kind == "list":
                items.append(got)
            else:
                items.append(_array_item(got))
        return "{" + ",".join(items) + "}"
    if t.kind in ("struct", "tuple") and isinstance(v, list):
        values = [p.value for p in v] if v and isinstance(v[0], _Pair) else list(v)
        parts = []
        for (_name, ft), x in zip(t.fields, values, strict=False):
            got = _text(ft, x, True)
            parts.append("" if got is None else _record_item(got))
        return "(" + ",".join(parts) + ")"
    if t.kind == "scalar":
        return _scalar(t, v, nested)
    return _json_text(v)


def pg_text(type_text: str, json_text: str) -> str:
    """PostgreSQL's text of the value whose DuckDB type is ``type_text`` and whose
    ``to_json`` is ``json_text``."""
    return _text(parse_type(type_text), _load(json_text), False) or ""


def cardinality(json_text: str) -> int:
    """cardinality() of a multidimensional array (the ``to_json`` of nested lists): all
    its elements, as PostgreSQL counts them."""

    def count(v: Any) -> int:
        return sum(count(x) for x in v) if isinstance(v, list) else 1

    got = json.loads(json_text)
    return count(got) if isinstance(got, list) else 0


def array_dims(json_text: str) -> list[int]:
    """The length of each dimension of a multidimensional array (the ``to_json`` of
    nested lists): PostgreSQL's arrays are rectangular, the first elements tell."""
    dims = []
    v = json.loads(json_text)
    while isinstance(v, list) and v:
        dims.append(len(v))
        v = v[0]
    return dims


# DuckDB types whose cast to VARCHAR differs from PostgreSQL's text (a list or a row:
# see the macro pg_text in translate/exprs.py)
TEXT_TYPES = (
    "DOUBLE",
    "FLOAT",
    "INTERVAL",
    "BLOB",
    *("DECIMAL({},{})".format(*shown) for shown in text_out._SHOWN),
)


def _column_text(kind: str, texts: pa.Array) -> pa.Array | None:
    """A column of floats or numerics of one type, column-wise (hati.wire.text_out)."""
    if kind in ("DOUBLE", "FLOAT"):
        values = pc.cast(texts, pa.float64())
        if kind == "FLOAT":
            values = pc.cast(values, pa.float32())  # exact: the values are float4s
        return text_out._float(values).cast(pa.string())
    t = parse_type(kind)
    if t.kind == "scalar" and t.name == "DECIMAL" and _shown(t.args) is not None:
        p, scale = (int(a) for a in t.args.replace(" ", "").split(","))
        decimals = pc.cast(texts, pa.decimal128(p, scale))
        return text_out.column(decimals.type)(decimals).cast(pa.string())
    return None


def pg_text_column(types: pa.Array, texts: pa.Array) -> pa.Array:
    """:func:`pg_text` over DuckDB's vectors (``hati_pg_text``): a column of one scalar
    type column-wise, others value by value."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    kinds = pc.unique(types).to_pylist()
    if len(kinds) == 1 and kinds[0] is not None:
        fast = _column_text(str(kinds[0]), texts)
        if fast is not None:
            return fast
    out = [
        None if kind is None or text is None else pg_text(kind, text)
        for kind, text in zip(types.to_pylist(), texts.to_pylist(), strict=True)
    ]
    return pa.array(out, pa.string())


FUNCTIONS: dict[str, tuple[Any, list[Any], Any]] = {
    "hati_pg_type_name": (pg_type_name, [VARCHAR], VARCHAR),
    "hati_pg_cardinality": (cardinality, [VARCHAR], INTEGER),
    "hati_pg_array_dims": (array_dims, [VARCHAR], duckdb.list_type(INTEGER)),
}


def register(cur: duckdb.DuckDBPyConnection) -> None:
    """Make the functions callable from every connection of the database."""
    for name, (fn, params, returns) in FUNCTIONS.items():
        with contextlib.suppress(duckdb.InvalidInputException):
            cur.remove_function(name)
        cur.create_function(name, fn, params, returns, side_effects=False)
    with contextlib.suppress(duckdb.InvalidInputException):
        cur.remove_function("hati_pg_text")
    cur.create_function(
        "hati_pg_text", pg_text_column, [VARCHAR, VARCHAR], VARCHAR, type=PythonUDFType.ARROW,
        side_effects=False,
    )  # fmt: skip
