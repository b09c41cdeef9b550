"""``UPDATE t SET j['a'][0] = value`` on a jsonb column, as PostgreSQL assigns it.

PostgreSQL's jsonb subscripting creates the whole path (``setPath`` with
``JB_PATH_CREATE | JB_PATH_FILL_GAPS | JB_PATH_CONSISTENT_POSITION``): a missing key or
element becomes an array when the next subscript is an integer, else an object; an array
is filled with nulls up to the element assigned; a negative subscript counts from the
end and may not reach before the first element; a scalar on the path is an error; a
NULL column starts as an empty array or object by the first subscript.

The translation (``translate/arrays.py``) writes an assignment to ``c[k]...`` as a call
of ``pg_array_set`` / ``pg_array_set_path``; when the column is json (the table's type,
looked up when the statement runs: ``pipeline.py``), the call is printed as
``pg_jsonb_set1`` / ``pg_jsonb_set_path``, which call :func:`assign` (registered as
``hati_jsonb_assign``) with each subscript marked ``i`` (an integer) or ``s`` (text).
"""

from __future__ import annotations

from typing import Any

from hati.errors import InvalidParameter, InvalidTextRepresentation
from hati.pg import jsonb

_SCALAR = "The path assumes key is a composite object, but it is a scalar value."


def _container(step: str) -> Any:
    return [] if step[0] == "i" else {}


def _set(v: Any, path: list[str], pos: int, new: Any) -> Any:
    step = path[pos]
    last = pos == len(path) - 1
    if isinstance(v, dict):
        key = step[1:]
        if last:
            v[key] = new
        else:
            child = v[key] if key in v else _container(path[pos + 1])
            v[key] = _set(child, path, pos + 1, new)
        return v
    if isinstance(v, list):
        text = step[1:]
        try:
            idx = int(text)
        except ValueError:
            raise InvalidTextRepresentation(
                f'path element at position {pos + 1} is not an integer: "{text}"'
            ) from None
        n = len(v)
        if idx < 0:
            if -idx > n:
                raise InvalidParameter(f"path element at position {pos + 1} is out of range: {idx}")
            idx += n
        existed = idx < n
        if not existed:
            v.extend([None] * (idx - n + 1))
        if last:
            v[idx] = new
        else:
            child = v[idx] if existed else _container(path[pos + 1])
            v[idx] = _set(child, path, pos + 1, new)
        return v
    raise InvalidParameter("cannot replace existing key", detail=_SCALAR)


def assign(doc: str | None, path: list[str], value: str | None) -> str:
    """The document with the value at ``path`` (each step ``i<n>`` or ``s<key>``)."""
    new = jsonb.load(value) if value is not None else None
    root = jsonb.load(doc) if doc is not None else _container(path[0])
    return jsonb.dump(_set(root, list(path), 0, new))
