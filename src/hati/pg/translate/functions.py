"""PostgreSQL functions DuckDB knows by another name, and those hati emulates."""

from __future__ import annotations

from pglast import ast

from hati.pg import catalog as catalog_views
from hati.pg.translate import walk

CATALOG_SCHEMA = catalog_views.HIDDEN

FUNCTION_NAMES = {
    "btrim": "trim",
    "char_length": "length",
    "character_length": "length",
    "json_build_object": "json_object",
    "jsonb_build_object": "json_object",
    "json_build_array": "json_array",
    "jsonb_build_array": "json_array",
    "jsonb_extract_path_text": "json_extract_path_text",
    "jsonb_extract_path": "json_extract_path",
    "to_jsonb": "to_json",
    "array_agg": "array_agg",
}


# PostgreSQL functions hati answers with macros of its own (catalog.py).
EMULATED_FUNCTIONS = frozenset({"current_setting", "hati_text_score"})


def function_names(stmt: ast.Node) -> ast.Node:
    for node in walk(stmt):
        if isinstance(node, ast.FuncCall):
            name = node.funcname[-1].sval
            if name in EMULATED_FUNCTIONS and len(node.funcname) <= 2:
                node.funcname = (ast.String(sval=CATALOG_SCHEMA), ast.String(sval=name))
                continue
            mapped = FUNCTION_NAMES.get(name)
            if mapped is not None and mapped != name:
                node.funcname = (ast.String(sval=mapped),)
    return stmt
