"""SQL/JSON path (``pg/jsonpath.py``) in the translation: ``@?`` and ``@@`` with a path on
the right, ``jsonb_path_exists`` / ``_match`` / ``_query_array`` / ``_query_first`` (and
their ``_tz`` forms) as values, ``jsonb_path_query`` in FROM and in a select list
(unnested), and a ``'...'::jsonpath`` literal checked for its syntax."""

from __future__ import annotations

from pglast import ast

from hati.pg import jsonpath
from hati.pg.translate import Translation
from hati.pg.translate.jsonnodes import (
    as_text,
    boolean,
    call,
    cast,
    first,
    json_array,
    name,
    string_literal,
    text,
)


def path_operand(node: ast.Node, ctx: Translation) -> bool:
    """Whether ``node`` is a jsonpath by its spelling: a cast to jsonpath or a string
    constant (``@@`` is text search's operator too)."""
    if isinstance(node, ast.TypeCast) and node.typeName is not None:
        return node.typeName.names[-1].sval == "jsonpath"
    return isinstance(node, ast.ParamRef) or string_literal(node, ctx) is not None


_PATH_FUNCTIONS = {
    "jsonb_path_exists": "hati_jsonpath_exists",
    "jsonb_path_match": "hati_jsonpath_match",
    "jsonb_path_query_array": "hati_jsonpath_array",
    "jsonb_path_query_first": "hati_jsonpath_first",
}


def path_call(name: str, args: tuple[ast.Node, ...], silent: bool = False) -> ast.FuncCall:
    """A jsonpath function of (target, path[, vars[, silent]])."""
    target, path = args[0], args[1]
    variables = args[2] if len(args) > 2 else text("{}")
    flag = args[3] if len(args) > 3 else boolean(silent)
    return call(name, False, as_text(target), as_text(path), as_text(variables), cast(flag, "bool"))


def path_query(call: ast.FuncCall) -> ast.Node | None:
    """jsonb_path_query(target, path[, vars[, silent]]): its items as a json[]."""
    fname = (call.funcname[-1].sval or "").removesuffix("_tz")
    if fname != "jsonb_path_query" or not 2 <= len(call.args or ()) <= 4:
        return None
    if len(call.funcname) == 2 and call.funcname[0].sval != "pg_catalog":
        return None
    items = path_call("hati_jsonpath_query", tuple(call.args))
    return json_array(items)


def path_rows(node: ast.RangeFunction) -> ast.RangeFunction | None:
    """jsonb_path_query in FROM: its items unnested."""
    if node.ordinality or node.is_rowsfrom or len(node.functions or ()) != 1:
        return None
    call = node.functions[0][0]
    if not isinstance(call, ast.FuncCall) or path_query(call) is None:
        return None
    alias = node.alias or ast.Alias(aliasname="jsonb_path_query")
    names = tuple(c.sval for c in alias.colnames or ()) or ("jsonb_path_query",)
    return ast.RangeFunction(
        functions=((call("unnest", False, path_query(call)), None),),
        alias=ast.Alias(aliasname=alias.aliasname, colnames=(name(names[0]),)),
    )


def path_function(fname: str, args: tuple[ast.Node, ...]) -> ast.Node | None:
    """jsonb_path_exists / _match / _query_array / _query_first (and their _tz forms)."""
    name = _PATH_FUNCTIONS.get(fname.removesuffix("_tz"))
    if name is None or not 2 <= len(args) <= 4:
        return None
    got: ast.Node = first(path_call(name, args))
    if name in ("hati_jsonpath_array", "hati_jsonpath_first"):
        got = cast(got, "json")
    return got


def path_cast(node: ast.TypeCast, ctx: Translation) -> None:
    """``'...'::jsonpath``: the literal's syntax checked (42601)."""
    if isinstance(node.arg, (ast.A_Const, ast.ParamRef)):
        got = string_literal(node.arg, ctx)
        if got is not None:
            jsonpath.validate(got)
