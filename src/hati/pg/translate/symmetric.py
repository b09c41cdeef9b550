"""``x [NOT] BETWEEN SYMMETRIC a AND b``, which DuckDB's grammar lacks: PostgreSQL's
meaning, ``x BETWEEN a AND b OR x BETWEEN b AND a`` (negated as a whole)."""

from __future__ import annotations

import copy

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType

from hati.pg.analyze import children
from hati.pg.translate import replace_child, walk

_SYMMETRIC = (A_Expr_Kind.AEXPR_BETWEEN_SYM, A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM)


def _between(x: ast.Node, low: ast.Node, high: ast.Node) -> ast.A_Expr:
    return ast.A_Expr(
        kind=A_Expr_Kind.AEXPR_BETWEEN,
        name=(ast.String(sval="BETWEEN"),),
        lexpr=copy.deepcopy(x),
        rexpr=(copy.deepcopy(low), copy.deepcopy(high)),
    )


def _rewrite(node: ast.A_Expr) -> ast.Node:
    a, b = tuple(node.rexpr or ())
    either = ast.BoolExpr(
        boolop=BoolExprType.OR_EXPR,
        args=(_between(node.lexpr, a, b), _between(node.lexpr, b, a)),
    )
    if node.kind == A_Expr_Kind.AEXPR_BETWEEN_SYM:
        return either
    return ast.BoolExpr(boolop=BoolExprType.NOT_EXPR, args=(either,))


def between_symmetric(stmt: ast.Node) -> ast.Node:
    for parent in list(walk(stmt)):
        for attr, child in list(children(parent)):
            if isinstance(child, ast.A_Expr) and child.kind in _SYMMETRIC:
                replace_child(parent, attr, child, _rewrite(child))
    return stmt
