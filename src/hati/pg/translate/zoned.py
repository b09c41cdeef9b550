"""timestamptz operations DuckDB's ICU answers differently in a session's zone.

With DuckDB's TimeZone following the session's (pg/timezones.py), ICU computes most
timestamptz operations as PostgreSQL does. Two it does not: ``tstz::time`` (DuckDB has no
such cast: the time of day in the zone, through timestamp) and ``tstz - tstz`` (ICU's
difference counts calendar days in the zone, 2 days for 47 hours across DST; PostgreSQL's
is the elapsed time, as the difference of the UTC timestamps). Only operands whose type
the statement shows are rewritten (a column's type is not known here).
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import A_Expr_Kind

from hati.pg.analyze import children
from hati.pg.translate import Translation, func_call, replace_child, typeof, walk
from hati.pg.translate import const as _const


def _type(name: str) -> ast.TypeName:
    return ast.TypeName(names=(ast.String(sval="pg_catalog"), ast.String(sval=name)))


def _zoned(node: ast.Node, ctx: Translation) -> ast.Node | None:
    if isinstance(node, ast.TypeCast) and node.typeName is not None and node.arg is not None:
        names = node.typeName.names or ()
        is_time = bool(names) and getattr(names[-1], "sval", None) == "time"
        if (
            is_time
            and not node.typeName.arrayBounds
            and typeof.infer(node.arg, ctx) == "timestamptz"
        ):
            local = ast.TypeCast(arg=node.arg, typeName=_type("timestamp"))
            return ast.TypeCast(arg=local, typeName=node.typeName)
    if (
        isinstance(node, ast.A_Expr)
        and node.kind == A_Expr_Kind.AEXPR_OP
        and node.name
        and node.name[-1].sval == "-"
        and node.lexpr is not None
        and all(typeof.infer(x, ctx) == "timestamptz" for x in (node.lexpr, node.rexpr))
    ):
        utc = [
            func_call("timezone", _const("UTC"), x, hidden=False) for x in (node.lexpr, node.rexpr)
        ]
        return ast.A_Expr(kind=node.kind, name=node.name, lexpr=utc[0], rexpr=utc[1])
    return None


def zoned(stmt: ast.Node, ctx: Translation) -> ast.Node:
    for node in walk(stmt):
        for attr, child in children(node):
            new = _zoned(child, ctx)
            if new is not None:
                replace_child(node, attr, child, new)
    return stmt
