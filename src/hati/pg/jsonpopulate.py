"""PostgreSQL's json_populate_record / json_to_record conversion of one field.

``json_populate_record(null::t, doc)`` fills each field of ``t`` from the object's key
of that name, by the field's type (``populate_record_field`` in PostgreSQL's
``jsonfuncs.c``): a scalar from the value's text (a string's contents, else the JSON
text), json from the value's own text, jsonb from its normalized text, an array from a
JSON array (its dimensions from the first element's nesting, every sub-array of one
size) or from an array literal in a string, a composite from an object (missing keys:
the given record's fields) or from a record literal in a string.

:func:`populate` (registered as ``hati_json_populate``) answers the converted field as
the JSON object ``{"v": value}`` with DuckDB-readable scalars (ISO timestamps, padded
``char(n)``, json as its text in a string); the translation (``translate/jsonrecord.py``)
casts it to the field's structure and then to its type. The field's type comes as a
*spec*: ``["s", type, length]``, ``["a", dimensions, element spec]`` or
``["r", [[name, spec], ...]]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import duckdb
from duckdb.sqltypes import BOOLEAN, VARCHAR

from hati.errors import (
    ArraySubscriptError,
    FeatureNotSupported,
    InvalidParameter,
    InvalidTextRepresentation,
    NullValueNotAllowed,
    NumericValueOutOfRange,
    StringDataRightTruncation,
)
from hati.pg import datetime_in, jsonb, jsonb_assign

# --------------------------------------------------------------------------- JSON


class _Node:
    """A parsed JSON value that keeps its own text (json fields answer it unchanged)."""

    __slots__ = ("items", "kind", "raw", "value")

    def __init__(self, kind: str, raw: str, items: list[Any] | None = None, value: Any = None):
        self.kind = kind  # object, array, string, number, true, false, null
        self.raw = raw
        self.items = items or []  # array: nodes; object: (key, node)
        self.value = value  # a string's contents


_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_STRING = json.decoder.scanstring  # type: ignore[attr-defined]


def _parse(text: str) -> _Node:
    try:
        node, end = _value(text, _SPACE.match(text, 0).end())  # type: ignore[union-attr]
    except (ValueError, IndexError):
        raise InvalidTextRepresentation("invalid input syntax for type json") from None
    if _SPACE.match(text, end).end() != len(text):  # type: ignore[union-attr]
        raise InvalidTextRepresentation("invalid input syntax for type json")
    return node


def _value(text: str, pos: int) -> tuple[_Node, int]:  # noqa: C901 - one branch per JSON kind
    ch = text[pos]
    if ch == '"':
        s, end = _STRING(text, pos + 1)
        return _Node("string", text[pos:end], value=s), end
    if ch in "[{":
        close = "]" if ch == "[" else "}"
        items: list[Any] = []
        p = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        if text[p] == close:
            return _Node("array" if ch == "[" else "object", text[pos : p + 1]), p + 1
        while True:
            if ch == "{":
                if text[p] != '"':
                    raise ValueError
                key, p = _STRING(text, p + 1)
                p = _SPACE.match(text, p).end()  # type: ignore[union-attr]
                if text[p] != ":":
                    raise ValueError
                p = _SPACE.match(text, p + 1).end()  # type: ignore[union-attr]
                node, p = _value(text, p)
                items.append((key, node))
            else:
                node, p = _value(text, p)
                items.append(node)
            p = _SPACE.match(text, p).end()  # type: ignore[union-attr]
            if text[p] == close:
                kind = "array" if ch == "[" else "object"
                return _Node(kind, text[pos : p + 1], items), p + 1
            if text[p] != ",":
                raise ValueError
            p = _SPACE.match(text, p + 1).end()  # type: ignore[union-attr]
    for word in ("true", "false", "null"):
        if text.startswith(word, pos):
            return _Node(word, word), pos + len(word)
    m = _NUMBER.match(text, pos)
    if m is None:
        raise ValueError
    return _Node("number", m.group()), m.end()


# --------------------------------------------------------------------------- scalars

_INT_RANGE = {"int2": (16, "smallint"), "int4": (32, "integer"), "int8": (64, "bigint")}
_TRUE = {"t", "tr", "tru", "true", "y", "ye", "yes", "on", "1"}
_FALSE = {"f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0"}
_FLOATS = {"float4": "real", "float8": "double precision", "numeric": "numeric"}


def _scalar(text: str, spec: list[Any]) -> Any:  # noqa: C901 - one branch per type
    """A scalar field's value from its text (PostgreSQL's input function of the type)."""
    kind, length = spec[1], spec[2]
    if kind in _INT_RANGE:
        bits, name = _INT_RANGE[kind]
        s = text.strip()
        if not re.fullmatch(r"[+-]?\d+", s):
            raise InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')
        n = int(s)
        if not -(2 ** (bits - 1)) <= n < 2 ** (bits - 1):
            raise NumericValueOutOfRange(f'value "{text}" is out of range for type {name}')
        return n
    if kind == "bool":
        s = text.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')
    if kind in _FLOATS:
        s = text.strip()
        try:
            Decimal(s)
        except InvalidOperation:
            if s.lower() not in ("nan", "infinity", "-infinity", "inf", "-inf"):
                raise InvalidTextRepresentation(
                    f'invalid input syntax for type {_FLOATS[kind]}: "{text}"'
                ) from None
        return s
    if kind in ("text", "varchar", "bpchar"):
        return _chars(text, kind, length)
    if kind in ("timestamp", "date"):
        return _datetime(text, kind)
    if kind == "timestamptz":
        return text
    if kind == "json":
        jsonb.validate(text)
        return text
    if kind == "jsonb":
        return jsonb.out(text)
    raise FeatureNotSupported(f"a field of type {kind} is not supported here")


def _chars(text: str, kind: str, length: int | None) -> str:
    if length is None or length < 0:
        return text
    if len(text) > length:
        if text[length:].strip(" "):
            name = "character" if kind == "bpchar" else "character varying"
            raise StringDataRightTruncation(f"value too long for type {name}({length})")
        text = text[:length]
    return text.ljust(length) if kind == "bpchar" else text


def _datetime(text: str, kind: str) -> str:
    try:
        f = datetime_in.parse(text, "MDY", "timestamp" if kind == "timestamp" else "date")
    except datetime_in.Unknown:
        if not re.match(r"\s*[0-9A-Za-z+-]", text) or text.lstrip()[:1] in "[{":
            raise datetime_in.InvalidDatetimeFormat(
                f'invalid input syntax for type {kind}: "{text}"'
            ) from None
        return text
    if f.special is not None:
        return f.special
    if f.year <= 0:
        return text  # BC: DuckDB reads PostgreSQL's spelling
    day = f"{f.year:04d}-{f.month:02d}-{f.day:02d}"
    if kind == "date":
        return day
    return f"{day} {f.hour:02d}:{f.minute:02d}:{f.second:02d}.{f.micro:06d}"


# --------------------------------------------------------------------------- fields


def _text_of(node: _Node) -> str:
    return str(node.value) if node.kind == "string" else node.raw


def _field(node: _Node | None, spec: list[Any], key: str, base: Any) -> Any:
    """One value of type ``spec`` from a JSON node (None or JSON null: NULL)."""
    if node is None or node.kind == "null":
        return None
    if spec[0] == "s":
        if spec[1] == "json":
            return node.raw
        if spec[1] == "jsonb":
            return jsonb.out(node.raw)
        return _scalar(_text_of(node), spec)
    if spec[0] == "a":
        if node.kind == "string":
            return _from_text(str(node.value), spec)
        if node.kind != "array":
            raise InvalidTextRepresentation(
                "expected JSON array", hint=f'See the value of key "{key}".'
            )
        return _array(node, spec, key)
    if node.kind == "string":
        return _from_text(str(node.value), spec)
    if node.kind != "object":
        what = "an array" if node.kind == "array" else "a scalar"
        raise InvalidParameter(f"cannot call populate_composite on {what}")
    return _record(node, spec, base)


def _record(node: _Node, spec: list[Any], base: Any) -> dict[str, Any]:
    members: dict[str, _Node] = {}
    for k, v in node.items:
        members[k] = v  # the last of duplicate keys
    out: dict[str, Any] = {}
    for name, sub in spec[1]:
        given = base.get(name) if isinstance(base, dict) else None
        if name in members:
            out[name] = _field(members[name], sub, name, given)
        else:
            out[name] = given
    return out


def _array(node: _Node, spec: list[Any], key: str) -> Any:
    """A JSON array as PostgreSQL's array of the element type (populate_array_json): the
    first element's nesting sets the dimensions; every sub-array of a dimension has one
    size; a non-array above them is an error."""
    shape: list[int] = []
    n: _Node = node
    while n.kind == "array":
        shape.append(len(n.items))
        if not n.items:
            break
        n = n.items[0]
    ndims = len(shape)
    element = spec[2]

    def build(n: _Node, level: int, path: str) -> Any:
        if level < ndims:
            if n.kind != "array":
                raise InvalidTextRepresentation(
                    "expected JSON array", hint=f'See the array element {path} of key "{key}".'
                )
            if len(n.items) != shape[level]:
                raise InvalidTextRepresentation(
                    "malformed JSON array",
                    detail="Multidimensional arrays must have sub-arrays with matching dimensions.",
                )
            return [build(c, level + 1, f"{path}[{i}]") for i, c in enumerate(n.items)]
        return _field(n, element, key, None)

    out = build(node, 0, "")
    if 0 in shape:
        return []  # an empty array has no dimensions
    _same_depth(ndims, spec[1])
    return out


def _same_depth(ndims: int, depth: int) -> None:
    """DuckDB's lists nest as deep as the field's declaration; PostgreSQL's arrays take
    the dimensions of the value."""
    if ndims != depth:
        raise FeatureNotSupported(
            f"an array of {ndims} dimension(s) in a field declared with {depth} is not supported",
            hint="Declare the field with as many [] as the value's arrays nest.",
        )


# --------------------------------------------------------------------------- literals


def _from_text(text: str, spec: list[Any]) -> Any:
    """A value from its text form: an array or record literal, or a scalar's text."""
    if spec[0] == "s":
        return _scalar(text, spec)
    if spec[0] == "a":
        items, depth = _array_literal(text)
        if not items:
            return []
        _same_depth(depth, spec[1])
        return _map_leaves(items, spec[2])
    fields = _record_literal(text)
    if len(fields) != len(spec[1]):
        msg = "too few columns" if len(fields) < len(spec[1]) else "too many columns"
        raise InvalidTextRepresentation(f'malformed record literal: "{text}"', detail=msg)
    return {
        name: (None if value is None else _from_text(value, sub))
        for (name, sub), value in zip(spec[1], fields, strict=True)
    }


def _map_leaves(items: Any, element: list[Any]) -> Any:
    if isinstance(items, list):
        return [_map_leaves(i, element) for i in items]
    return None if items is None else _from_text(items, element)


def _quoted_items(body: str, open_: str, close: str) -> list[tuple[str, bool]]:
    """The comma-separated items of ``body`` (text, quoted), quotes and backslashes read
    as array_in and record_in read them; a nested ``open_ ... close`` kept whole."""
    out: list[tuple[str, bool]] = []
    cur: list[str] = []
    quoted = any_quote = False
    depth = i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cur.append(body[i + 1] if depth == 0 else body[i : i + 2])
            any_quote = any_quote or depth == 0
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
            if depth > 0:
                cur.append(ch)
            else:
                any_quote = True
        elif not quoted and ch == open_:
            depth += 1
            cur.append(ch)
        elif not quoted and ch == close:
            depth -= 1
            cur.append(ch)
        elif not quoted and depth == 0 and ch == ",":
            out.append(("".join(cur), any_quote))
            cur, any_quote = [], False
        else:
            cur.append(ch)
        i += 1
    out.append(("".join(cur), any_quote))
    return out


def _array_literal(text: str) -> tuple[Any, int]:
    s = text.strip()
    if not s.startswith("{") or not s.endswith("}"):
        raise InvalidTextRepresentation(
            f'malformed array literal: "{text}"',
            detail='Array value must start with "{" or dimension information.',
        )
    body = s[1:-1]
    if not body.strip():
        return [], 1
    parts = _quoted_items(body, "{", "}")
    if all(not q and t.strip().startswith("{") for t, q in parts):
        subs = [_array_literal(t) for t, _ in parts]
        return [sub for sub, _ in subs], subs[0][1] + 1
    items: list[str | None] = []
    for t, q in parts:
        t = t if q else t.strip()
        items.append(None if not q and t.upper() == "NULL" else t)
    return items, 1


def _record_literal(text: str) -> list[str | None]:
    s = text.strip()
    if not s.startswith("(") or not s.endswith(")"):
        raise InvalidTextRepresentation(
            f'malformed record literal: "{text}"', detail="Missing left parenthesis."
        )
    return [t if q or t else None for t, q in _quoted_items(s[1:-1], "(", ")")]


# --------------------------------------------------------------------------- entry


@lru_cache(maxsize=256)
def _spec(text: str) -> list[Any]:
    return list(json.loads(text))


def populate(doc: str | None, key: str, spec: str, base: str | None) -> str:
    """``{"v": ...}``: the field ``key`` of the JSON object ``doc`` as type ``spec``
    (``base``: the given record's field as JSON, for a composite's missing keys)."""
    if doc is None:
        return '{"v": null}'
    node = _parse(doc)
    if node.kind != "object":
        what = "an array" if node.kind == "array" else "a scalar"
        raise InvalidParameter(f"cannot call json_populate_record on {what}")
    member: _Node | None = None
    for k, v in node.items:
        if k == key:
            member = v
    given = json.loads(base) if base else None
    return json.dumps({"v": _field(member, _spec(spec), key, given)})


def raw_elements(doc: str | None, fname: str) -> list[str]:
    """The elements of a JSON array, each as its own text (json_to_recordset's rows)."""
    if doc is None:
        return []
    node = _parse(doc)
    if node.kind != "array":
        what = "an object" if node.kind == "object" else "a scalar"
        raise InvalidParameter(f"cannot call {fname} on {what}")
    return [n.raw for n in node.items]


def jsonb_elements_text(doc: str | None) -> list[str | None]:
    """jsonb_array_elements_text: a string's value, NULL for null, else jsonb's text."""
    if doc is None:
        return []
    v = jsonb.load(doc)
    if not isinstance(v, list):
        what = "an object" if isinstance(v, dict) else "a scalar"
        raise InvalidParameter(f"cannot extract elements from {what}")
    return [x if isinstance(x, str) or x is None else jsonb.dump(x) for x in v]


_TEXTS = duckdb.list_type(VARCHAR)
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_json_populate": (populate, [VARCHAR, VARCHAR, VARCHAR, VARCHAR], VARCHAR),
    "hati_jsonb_assign": (jsonb_assign.assign, [VARCHAR, _TEXTS, VARCHAR], VARCHAR),
    "hati_json_raw_elements": (raw_elements, [VARCHAR, VARCHAR], _TEXTS),
    "hati_jsonb_elements_text": (jsonb_elements_text, [VARCHAR], _TEXTS),
}


# --------------------------------------------------------------------------- json_object


def _flat(text: str) -> tuple[list[str | None], int, int]:
    """A text array literal's items, its dimensions and the size of its second."""
    items, depth = _array_literal(text)
    if depth == 1:
        return items, (1 if items else 0), 0
    if depth > 2:
        return [], depth, 0
    width = len(items[0]) if items else 0
    if any(len(row) != width for row in items):
        raise InvalidTextRepresentation(
            f'malformed array literal: "{text}"',
            detail="Multidimensional arrays must have sub-arrays with matching dimensions.",
        )
    return [x for row in items for x in row], 2, width


def json_object(keys: str, values: str | None, as_jsonb: bool) -> str:
    """json_object(text[]) / json_object(keys text[], values text[]) (and jsonb's)."""
    items, dims, width = _flat(keys)
    if values is None:
        if dims == 1 and len(items) % 2:
            raise ArraySubscriptError("array must have even number of elements")
        if dims == 2 and width != 2:
            raise ArraySubscriptError("array must have two columns")
        if dims > 2:
            raise ArraySubscriptError("wrong number of array subscripts")
        pairs = list(zip(items[::2], items[1::2], strict=True))
    else:
        vals, vdims, _ = _flat(values)
        if dims > 1 or vdims > 1:
            raise ArraySubscriptError("wrong number of array subscripts")
        if len(items) != len(vals):
            raise ArraySubscriptError("mismatched array dimensions")
        pairs = list(zip(items, vals, strict=True))
    out: dict[str, str | None] = {}
    for k, v in pairs:
        if k is None:
            raise NullValueNotAllowed("null value not allowed for object key")
        out[k] = v
    if as_jsonb:
        return jsonb.dump(out)
    body = ", ".join(f"{json.dumps(k, ensure_ascii=False)} : {_json_text(v)}" for k, v in pairs)
    return "{" + body + "}"


def _json_text(v: str | None) -> str:
    return "null" if v is None else json.dumps(v, ensure_ascii=False)


_TREATMENT = (
    'null_value_treatment must be "delete_key", "return_target", "use_json_null", or '
    '"raise_exception"'
)


def jsonb_set_lax(
    target: str | None,
    path: list[str | None] | None,
    new: str | None,
    create: bool | None,
    treatment: str | None,
) -> list[str]:
    """jsonb_set_lax: jsonb_set, and for a NULL value what ``treatment`` says (a list of
    none or one: NULL for a NULL target, path or create flag)."""
    if target is None or path is None or create is None:
        return []
    if treatment is None:
        raise NullValueNotAllowed(_TREATMENT)
    if new is not None:
        return [jsonb.jsonb_set(target, path, new, create)]
    if treatment == "raise_exception":
        raise NullValueNotAllowed(
            "JSON value must not be null",
            detail='Exception was raised because null_value_treatment is "raise_exception".',
            hint="To avoid, either change the null_value_treatment argument or ensure that "
            "an SQL NULL is not passed.",
        )
    if treatment == "use_json_null":
        return [jsonb.jsonb_set(target, path, "null", create)]
    if treatment == "delete_key":
        return [jsonb.delete_path(target, path)]
    if treatment == "return_target":
        return [jsonb.out(target)]
    raise InvalidParameter(_TREATMENT)


FUNCTIONS["hati_jsonb_set_lax"] = (
    jsonb_set_lax,
    [VARCHAR, _TEXTS, VARCHAR, duckdb.sqltypes.BOOLEAN, VARCHAR],
    _TEXTS,
)
FUNCTIONS["hati_json_object"] = (json_object, [VARCHAR, VARCHAR, BOOLEAN], VARCHAR)
