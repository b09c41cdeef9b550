"""``json_object('{a,1,b,2}')``, ``json_object(keys, values)`` and ``jsonb_object``:
PostgreSQL's objects from text arrays, given as array literals (a two-dimensional one
too, which DuckDB's lists cannot hold), built by ``hati_json_object``
(``pg/jsonpopulate.py``)."""

from __future__ import annotations

from pglast import ast

from hati.pg.translate import Translation
from hati.pg.translate.jsonnodes import boolean, call, cast, string_literal, text


def _literal(node: ast.Node, ctx: Translation) -> str | None:
    """An array literal's text: ``'{a,b}'`` or ``'{a,b}'::text[]``."""
    if (
        isinstance(node, ast.TypeCast)
        and node.typeName is not None
        and node.typeName.arrayBounds
        and str(node.typeName.names[-1].sval) in ("text", "varchar")
        and node.arg is not None
    ):
        node = node.arg
    return string_literal(node, ctx)


def rewrite(node: ast.FuncCall, ctx: Translation) -> ast.Node | None:
    name = str(node.funcname[-1].sval)
    args = tuple(node.args or ())
    if name not in ("json_object", "jsonb_object") or len(args) not in (1, 2):
        return None
    texts = [_literal(a, ctx) for a in args]
    if any(t is None for t in texts):
        return None  # not literals: DuckDB's own json_object, or its error
    keys = text(str(texts[0]))
    values: ast.Node = text(str(texts[1])) if len(texts) == 2 else ast.A_Const(isnull=True)
    got = call("hati_json_object", False, keys, values, boolean(name == "jsonb_object"))
    return cast(got, "json")
