"""``json_object_agg(k, v)`` and ``jsonb_object_agg(k, v)``: objects built of a group's
rows, as PostgreSQL writes them (``{ "a" : 1, "b" : 2 }`` for json, normalized jsonb),
a NULL key refused as PostgreSQL refuses it."""

from __future__ import annotations

from pglast import ast

from hati.pg import catalog as catalog_views
from hati.pg.translate.jsonnodes import as_text, call, cast, text
from hati.pg.translate.jsonnodes import concat as _plus

S = catalog_views.HIDDEN

SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_json_agg_key(k) AS
    CASE WHEN k IS NULL THEN error('field name must not be null')
         ELSE to_json(k::VARCHAR)::VARCHAR END;
"""


def object_agg(node: ast.FuncCall) -> ast.Node | None:
    """The aggregate as string_agg of its ``"key" : value`` members (None for others)."""
    fname = node.funcname[-1].sval
    args = node.args or ()
    if fname not in ("json_object_agg", "jsonb_object_agg") or len(args) != 2:
        return None
    if node.over is not None or node.func_variadic:
        return None
    jsonb = fname == "jsonb_object_agg"
    key = call("pg_json_agg_key", True, args[0])
    value = call("pg_json_value", True, args[1])
    member = _plus(key, text(": " if jsonb else " : "), value)
    joined = ast.FuncCall(
        funcname=(ast.String(sval="string_agg"),),
        args=(member, text(", ")),
        agg_order=node.agg_order,
        agg_filter=node.agg_filter,
        agg_distinct=node.agg_distinct,
    )
    if jsonb:
        built = _plus(text("{"), joined, text("}"))
        return cast(call("hati_jsonb_out", False, as_text(built)), "json")
    return cast(_plus(text("{ "), joined, text(" }")), "json")
