"""json_object_keys / json_array_elements(_text) and their jsonb siblings called in a
select list (``SELECT jsonb_object_keys(j) FROM t``): one row per key or element, as
PostgreSQL's set-returning functions give them, with its errors for the wrong kind of
document (``cannot call json_object_keys on a scalar``)."""

from __future__ import annotations

from pglast import ast

from hati.pg import catalog as catalog_views
from hati.pg.translate import Translation, walk
from hati.pg.translate.jsonnodes import as_text, call, cast, json_array, text

S = catalog_views.HIDDEN

SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_json_object_keys(j, f) AS
    CASE WHEN j IS NULL THEN NULL WHEN json_type(j) = 'OBJECT' THEN json_keys(j)
         WHEN json_type(j) = 'ARRAY' THEN error('cannot call ' || f || ' on an array')
         ELSE error('cannot call ' || f || ' on a scalar') END;
CREATE OR REPLACE MACRO {S}.pg_json_elements(j, text_values) AS
    CASE WHEN j IS NULL THEN NULL
         WHEN json_type(j) = 'ARRAY' AND text_values THEN json_extract_string(j, '$[*]')
         WHEN json_type(j) = 'ARRAY' THEN json_extract(j, '$[*]')::VARCHAR[]
         WHEN json_type(j) = 'OBJECT'
         THEN error('cannot extract elements from an object')
         ELSE error('cannot extract elements from a scalar') END;
"""

_FUNCTIONS = frozenset(
    {
        "json_object_keys",
        "jsonb_object_keys",
        "json_array_elements",
        "jsonb_array_elements",
        "json_array_elements_text",
        "jsonb_array_elements_text",
    }
)


def _items(fname: str, arg: ast.Node) -> ast.Node:
    if fname == "jsonb_array_elements":
        return json_array(call("hati_jsonb_elements", False, as_text(arg)))
    if fname == "jsonb_array_elements_text":
        return call("hati_jsonb_elements_text", False, as_text(arg))
    if fname.startswith("jsonb"):
        doc = cast(call("hati_jsonb_out", False, as_text(arg)), "json")
    else:
        doc = cast(as_text(arg), "json")
    if fname.endswith("object_keys"):
        return call("pg_json_object_keys", True, doc, text(fname))
    listed = call("pg_json_elements", True, doc, ast.A_Const(val=ast.Boolean(boolval=False)))
    if fname.endswith("_text"):
        return call("pg_json_elements", True, doc, ast.A_Const(val=ast.Boolean(boolval=True)))
    return json_array(listed)


def _srf(node: ast.Node) -> ast.Node | None:
    if not isinstance(node, ast.FuncCall) or node.over is not None or node.agg_star:
        return None
    names = [n.sval for n in node.funcname]
    if len(names) == 2 and names[0] != "pg_catalog":
        return None
    fname = str(names[-1])
    if fname not in _FUNCTIONS or len(node.args or ()) != 1 or node.func_variadic:
        return None
    return call("unnest", False, _items(fname, (node.args or ())[0]))


def select_list_functions(stmt: ast.Node, _ctx: Translation) -> ast.Node:
    """Rewrite the set-returning json functions of every select list (see module doc)."""
    for node in walk(stmt):
        if not isinstance(node, ast.SelectStmt):
            continue
        for target in node.targetList or ():
            if not isinstance(target, ast.ResTarget) or target.val is None:
                continue
            new = _srf(target.val)
            if new is not None:
                if target.name is None:
                    target.name = str(target.val.funcname[-1].sval)
                target.val = new
    return stmt
