"""jsonb as PostgreSQL defines it: its text form, containment, existence, changes.

jsonb keeps a document normalized: an object's keys sorted (shorter first, then by
bytes) with the last of duplicate keys kept, numbers as numeric prints them (``1.5e3``
is ``1500``), printed with ``", "`` and ``": "`` between items (:func:`out`). Casts to
jsonb and jsonb's operators answer that text.

DuckDB's ``json_contains`` looks for the needle anywhere in the document; PostgreSQL's
``@>`` compares structure from the top (``JsonbDeepContains``): an object contains an
object whose every key it has with a contained value, an array contains an array whose
every element equals one of its scalars or is contained by one of its containers, and a
scalar only itself. ``?``, ``?|`` and ``?&`` ask for top-level object keys, array
strings or the scalar string itself. The functions are registered with DuckDB (see
:func:`register`) under the names the translation (``translate/jsonops.py``) calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import duckdb
from duckdb.sqltypes import BIGINT, BOOLEAN, VARCHAR

from hati.errors import InvalidParameter, InvalidTextRepresentation, NullValueNotAllowed


def _load(text: str) -> Any:
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            object_pairs_hook=dict,
            parse_constant=_no_constant,
        )
    except ValueError:
        raise InvalidTextRepresentation("invalid input syntax for type json") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are no JSON


def load(text: str) -> Any:
    """A JSON document as Python values (numbers as Decimal), or PostgreSQL's error."""
    return _load(text)


def dump(v: Any) -> str:
    """jsonb's text of Python values."""
    return _dump(v)


def validate(text: str) -> None:
    """Raise PostgreSQL's error unless ``text`` is a JSON document."""
    _load(text)


def _key(k: str) -> tuple[int, bytes]:
    b = k.encode()
    return (len(b), b)


def _number(d: Decimal) -> str:
    text = format(d, "f")
    return "0" if text.lstrip("-").strip("0.") == "" and "." not in text else text


def _dump(v: Any) -> str:
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: _key(kv[0]))
        return "{" + ", ".join(f"{_dump(k)}: {_dump(x)}" for k, x in items) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_dump(x) for x in v) + "]"
    if isinstance(v, Decimal):
        return _number(v)
    return json.dumps(v, ensure_ascii=False)


def out(text: str) -> str:
    """jsonb's text of a JSON document."""
    return _dump(_load(text))


def as_text(text: str) -> str | None:
    """``->>``'s answer for an element's JSON text: a string's value, NULL for null,
    else the element's jsonb text."""
    v = _load(text)
    if v is None:
        return None
    return v if isinstance(v, str) else _dump(v)


def elements(a: str) -> list[str]:
    """jsonb_array_elements: each element's jsonb text."""
    v = _load(a)
    if not isinstance(v, list):
        raise InvalidParameter(
            "cannot extract elements from " + ("an object" if isinstance(v, dict) else "a scalar")
        )
    return [_dump(x) for x in v]


def concat(a: str, b: str) -> str:
    """``a || b``: objects merge (b's keys win), anything else concatenates as arrays."""
    x, y = _load(a), _load(b)
    if isinstance(x, dict) and isinstance(y, dict):
        return _dump({**x, **y})
    xs = x if isinstance(x, list) else [x]
    ys = y if isinstance(y, list) else [y]
    return _dump(xs + ys)


def delete_key(a: str, key: str) -> str:
    """``a - 'key'``: the key from an object, equal strings from an array."""
    v = _load(a)
    if isinstance(v, dict):
        v.pop(key, None)
    elif isinstance(v, list):
        v = [x for x in v if not (isinstance(x, str) and x == key)]
    else:
        raise InvalidParameter("cannot delete from scalar")
    return _dump(v)


def delete_keys(a: str, keys: list[str | None]) -> str:
    """``a - keys``: every key (NULL keys: none) deleted, one after the other."""
    out = a
    for k in keys:
        if k is not None:
            out = delete_key(out, k)
    return out if keys else _dump(_load(a))


def delete_index(a: str, index: int) -> str:
    """``a - n``: element n of an array (negative: from the end)."""
    v = _load(a)
    if isinstance(v, dict):
        raise InvalidParameter("cannot delete from object using integer index")
    if not isinstance(v, list):
        raise InvalidParameter("cannot delete from scalar")
    if -len(v) <= index < len(v):
        del v[index]
    return _dump(v)


def _index(v: list[Any], step: str) -> int | None:
    try:
        i = int(step)
    except ValueError:
        return None
    return i + len(v) if i < 0 else i


def delete_path(a: str, path: list[str | None]) -> str:
    """``a #- path``."""
    v = _load(a)
    if not isinstance(v, (dict, list)):
        raise InvalidParameter("cannot delete path in scalar")
    if not v:
        return _dump(v)  # an empty container: PostgreSQL reads no path
    node: Any = v
    for depth, step in enumerate(path):
        if step is None:
            raise NullValueNotAllowed(f"path element at position {depth + 1} is null")
        last = depth == len(path) - 1
        if isinstance(node, dict):
            if step not in node:
                break
            if last:
                del node[step]
            node = node.get(step)
        elif isinstance(node, list):
            i = _index(node, step)
            if i is None:
                raise InvalidTextRepresentation(
                    f'path element at position {depth + 1} is not an integer: "{step}"'
                )
            if not 0 <= i < len(node):
                break
            if last:
                del node[i]
            else:
                node = node[i]
        else:
            break
    return _dump(v)


def _set(v: Any, path: list[str | None], new: Any, create: bool, insert: int | None) -> Any:
    """jsonb_set (insert None) and jsonb_insert (insert 0: before, 1: after)."""
    if not path:
        return v
    if path[0] is None:
        raise NullValueNotAllowed("path element at position 1 is null")
    if isinstance(v, dict):
        return _set_key(v, path, new, create, insert)
    if isinstance(v, list):
        return _set_element(v, path, new, create, insert)
    raise InvalidParameter("cannot set path in scalar")


def _set_key(
    v: dict[str, Any], path: list[str | None], new: Any, create: bool, insert: int | None
) -> Any:
    step = path[0]
    assert step is not None
    if len(path) == 1:
        if insert is not None and step in v:
            raise InvalidParameter("cannot replace existing key")
        if step in v or create or insert is not None:
            v[step] = new
    elif step in v:
        v[step] = _set(v[step], path[1:], new, create, insert)
    return v


def _set_element(
    v: list[Any], path: list[str | None], new: Any, create: bool, insert: int | None
) -> Any:
    step = path[0]
    try:
        i = int(step or "")
    except ValueError:
        raise InvalidTextRepresentation(
            f'path element at position 1 is not an integer: "{step}"'
        ) from None
    n = len(v)
    if i < 0:
        i += n
    if len(path) > 1:
        if 0 <= i < n:
            v[i] = _set(v[i], path[1:], new, create, insert)
    elif insert is not None:
        v.insert(min(max(i + insert, 0), n) if i >= 0 else 0, new)
    elif 0 <= i < n:
        v[i] = new
    elif create:
        v.insert(0 if i < 0 else n, new)
    return v


def jsonb_set(a: str, path: list[str | None], new: str, create: bool) -> str:
    return _dump(_set(_load(a), path, _load(new), create, None))


def jsonb_insert(a: str, path: list[str | None], new: str, after: bool) -> str:
    return _dump(_set(_load(a), path, _load(new), False, 1 if after else 0))


def _strip(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_strip(x) for x in v]
    return v


def strip_nulls(a: str) -> str:
    return _dump(_strip(_load(a)))


def _pretty(v: Any, level: int) -> str:
    pad, inner = "    " * level, "    " * (level + 1)
    if isinstance(v, dict) and v:
        items = sorted(v.items(), key=lambda kv: _key(kv[0]))
        body = ",\n".join(f"{inner}{_dump(k)}: {_pretty(x, level + 1)}" for k, x in items)
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(v, list) and v:
        body = ",\n".join(inner + _pretty(x, level + 1) for x in v)
        return "[\n" + body + "\n" + pad + "]"
    return _dump(v)


def pretty(a: str) -> str:
    """jsonb_pretty: four spaces a level, as PostgreSQL indents."""
    return _pretty(_load(a), 0)


def _scalar(v: Any) -> bool:
    return not isinstance(v, (dict, list))


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(type(a) is type(b) and a == b)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return _scalar(b) and _equal(a, b)


def equal(a: str, b: str) -> bool:
    """jsonb's ``=``: the same structure, numbers equal as numerics (1 = 1.0)."""
    return _same(_load(a), _load(b))


def _deep(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and _deep_object(a, b)
    if isinstance(a, list):
        return isinstance(b, list) and _deep_array(a, b)
    return _scalar(b) and _equal(a, b)


def _deep_object(a: dict[str, Any], b: dict[str, Any]) -> bool:
    for key, want in b.items():
        if key not in a:
            return False
        have = a[key]
        if _scalar(want):
            if not (_scalar(have) and _equal(have, want)):
                return False
        elif type(have) is not type(want) or not _deep(have, want):
            return False
    return True


def _deep_array(a: list[Any], b: list[Any]) -> bool:
    scalars = [x for x in a if _scalar(x)]
    nested = [x for x in a if not _scalar(x)]
    for want in b:
        if _scalar(want):
            if not any(_equal(x, want) for x in scalars):
                return False
        elif not any(type(x) is type(want) and _deep(x, want) for x in nested):
            return False
    return True


def contains(haystack: str, needle: str) -> bool:
    """``haystack @> needle``: a raw scalar is a one-element array, as in PostgreSQL."""
    a, b = _load(haystack), _load(needle)
    if isinstance(a, dict) != isinstance(b, dict):
        return False
    if _scalar(a) and isinstance(b, list):
        return False
    return _deep(a if not _scalar(a) else [a], b if not _scalar(b) else [b])


def exists(doc: str, key: str) -> bool:
    """``doc ? key``."""
    v = _load(doc)
    if isinstance(v, dict):
        return key in v
    if isinstance(v, list):
        return any(isinstance(x, str) and x == key for x in v)
    return isinstance(v, str) and v == key


def exists_any(doc: str, keys: list[str | None]) -> bool:
    """``doc ?| keys`` (NULL keys never match)."""
    return any(k is not None and exists(doc, k) for k in keys)


def exists_all(doc: str, keys: list[str | None]) -> bool:
    """``doc ?& keys`` (NULL keys never match; no keys: true)."""
    return all(k is not None and exists(doc, k) for k in keys)


_TEXTS = duckdb.list_type(VARCHAR)
MAYBE_NULL = frozenset({"hati_jsonb_text"})
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_jsonb_contains": (contains, [VARCHAR, VARCHAR], BOOLEAN),
    "hati_jsonb_equal": (equal, [VARCHAR, VARCHAR], BOOLEAN),
    "hati_jsonb_exists": (exists, [VARCHAR, VARCHAR], BOOLEAN),
    "hati_jsonb_exists_any": (exists_any, [VARCHAR, _TEXTS], BOOLEAN),
    "hati_jsonb_exists_all": (exists_all, [VARCHAR, _TEXTS], BOOLEAN),
    "hati_jsonb_out": (out, [VARCHAR], VARCHAR),
    "hati_jsonb_text": (as_text, [VARCHAR], VARCHAR),
    "hati_jsonb_concat": (concat, [VARCHAR, VARCHAR], VARCHAR),
    "hati_jsonb_elements": (elements, [VARCHAR], _TEXTS),
    "hati_jsonb_delete_key": (delete_key, [VARCHAR, VARCHAR], VARCHAR),
    "hati_jsonb_delete_keys": (delete_keys, [VARCHAR, _TEXTS], VARCHAR),
    "hati_jsonb_delete_index": (delete_index, [VARCHAR, BIGINT], VARCHAR),
    "hati_jsonb_delete_path": (delete_path, [VARCHAR, _TEXTS], VARCHAR),
    "hati_jsonb_set": (jsonb_set, [VARCHAR, _TEXTS, VARCHAR, BOOLEAN], VARCHAR),
    "hati_jsonb_insert": (jsonb_insert, [VARCHAR, _TEXTS, VARCHAR, BOOLEAN], VARCHAR),
    "hati_jsonb_strip_nulls": (strip_nulls, [VARCHAR], VARCHAR),
    "hati_jsonb_pretty": (pretty, [VARCHAR], VARCHAR),
}
