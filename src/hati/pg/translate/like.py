"""LIKE as PostgreSQL reads it: a backslash escapes the next character unless ESCAPE
says otherwise (DuckDB's LIKE has no escape character at all), and ``ESCAPE c`` itself
(PostgreSQL's parser writes it as ``like_escape(pattern, c)``, which DuckDB lacks)."""

from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType

from hati.pg.analyze import children
from hati.pg.translate import func_call, replace_child, walk

# operator -> DuckDB's function taking (string, pattern, escape)
_FUNCTIONS = {
    "~~": "like_escape",
    "!~~": "not_like_escape",
    "~~*": "ilike_escape",
    "!~~*": "not_ilike_escape",
}


def _plain(pattern: Any) -> bool:
    """A constant pattern without a backslash means the same to both."""
    return isinstance(pattern, ast.A_Const) and (
        pattern.isnull or "\\" not in str(getattr(pattern.val, "sval", ""))
    )


def like_escapes(stmt: ast.Node) -> ast.Node:
    for node in walk(stmt):
        for attr, child in children(node):
            if not (
                isinstance(child, ast.A_Expr)
                and child.kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE)
                and child.name
            ):
                continue
            function = _FUNCTIONS.get(child.name[-1].sval)
            if function is None:
                continue
            pattern: Any = child.rexpr
            escape: Any = ast.A_Const(val=ast.String(sval="\\"))
            if isinstance(pattern, ast.FuncCall) and pattern.funcname[-1].sval == "like_escape":
                args: Any = pattern.args
                pattern, escape = args
            elif _plain(pattern):
                continue
            call = ast.FuncCall(
                funcname=(ast.String(sval=function),), args=(child.lexpr, pattern, escape)
            )
            replace_child(node, attr, child, call)
    return stmt


def similar_to(node: ast.A_Expr) -> ast.Node:
    """``x [NOT] SIMILAR TO p [ESCAPE e]`` as a regular expression match: with an ESCAPE
    clause ``hati_similar_match`` (``pg/similar.py``) reads PostgreSQL's SQL regular
    expression, without one the ``pg_similar`` macro (``translate/exprs.py``)."""
    pattern = node.rexpr
    if isinstance(pattern, ast.FuncCall) and pattern.funcname[-1].sval == "similar_to_escape":
        args = tuple(pattern.args or ())
    else:
        args = (pattern,)
    if len(args) == 2:
        match = func_call("hati_similar_match", node.lexpr, *args, hidden=False)
    else:
        similar = func_call("pg_similar", args[0], hidden=True)
        match = func_call("regexp_full_match", node.lexpr, similar, hidden=False)
    if node.name[-1].sval == "!~":
        return ast.BoolExpr(boolop=BoolExprType.NOT_EXPR, args=(match,))
    return match
