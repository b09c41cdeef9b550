"""Reading jsonb by subscripts: ``('{"d": [1, 2]}'::jsonb)['d'][0]``.

DuckDB reads a subscripted json value itself (``json_extract``), printing its answer
compactly and taking a slice of the text for ``[1:2]``; on a value spelled as jsonb (a
cast to it, a jsonb function) the answer is normalized as jsonb prints, and a slice or a
numeric subscript is PostgreSQL's 42804. Assignments: ``pg/jsonb_assign.py``.
"""

from __future__ import annotations

from pglast import ast

from hati.errors import DatatypeMismatch
from hati.pg.translate import Translation
from hati.pg.translate.jsonnodes import as_text, call, cast


def _numeric(idx: ast.Node | None, ctx: Translation) -> bool:
    """Whether a subscript is a numeric constant (in place or lifted out)."""
    if isinstance(idx, ast.A_Const):
        return isinstance(idx.val, ast.Float)
    if isinstance(idx, ast.ParamRef) and ctx.params is not None:
        at = (idx.number or 0) - ctx.params - 1
        kinds = ctx.literal_kinds
        return 0 <= at < len(kinds) and kinds[at] != "i" and kinds[at] != "s"
    return False


def read(
    node: ast.A_Indirection, done: set[int], jsonb_spelled: bool, ctx: Translation
) -> ast.Node | None:
    """The normalized read of a jsonb value's subscripts (None: not one)."""
    if id(node) in done or not jsonb_spelled:
        return None
    steps = tuple(node.indirection or ())
    if not steps or not all(isinstance(s, ast.A_Indices) for s in steps):
        return None
    for s in steps:
        if s.is_slice:
            raise DatatypeMismatch("jsonb subscript does not support slices")
        if _numeric(s.uidx, ctx):
            raise DatatypeMismatch("subscript type numeric is not supported")
    done.add(id(node))
    return cast(call("hati_jsonb_out", False, as_text(node)), "json")
