"""PostgreSQL's hypothetical-set aggregates, which DuckDB lacks: ``rank(v, ...) WITHIN
GROUP (ORDER BY x, ...)`` and ``dense_rank``, ``percent_rank``, ``cume_dist``.

Each answers where a row of the arguments would sort among the group's rows, so each is
a count of the rows that sort before it (or are its peers) under the ORDER BY's own
directions and NULL placement:

- ``rank`` = 1 + rows before; ``dense_rank`` = 1 + distinct rows before;
- ``percent_rank`` = rows before / rows (0 for an empty group);
- ``cume_dist`` = (rows before or peers + 1) / (rows + 1).
"""

from __future__ import annotations

import copy

from pglast import ast
from pglast.enums import (
    A_Expr_Kind,
    BoolExprType,
    CoercionForm,
    NullTestType,
    SortByDir,
    SortByNulls,
)

from hati.errors import FeatureNotSupported, UndefinedFunction
from hati.pg.analyze import children
from hati.pg.translate import replace_child, walk

_KINDS = frozenset({"rank", "dense_rank", "percent_rank", "cume_dist"})


def _bool(op: BoolExprType, *args: ast.Node) -> ast.Node:
    return args[0] if len(args) == 1 else ast.BoolExpr(boolop=op, args=args)


def _null(node: ast.Node, is_null: bool) -> ast.NullTest:
    kind = NullTestType.IS_NULL if is_null else NullTestType.IS_NOT_NULL
    return ast.NullTest(arg=copy.deepcopy(node), nulltesttype=kind)


def _op(name: str, left: ast.Node, right: ast.Node) -> ast.A_Expr:
    return ast.A_Expr(
        kind=A_Expr_Kind.AEXPR_OP,
        name=(ast.String(sval=name),),
        lexpr=copy.deepcopy(left),
        rexpr=copy.deepcopy(right),
    )


def _before(key: ast.SortBy, value: ast.Node) -> ast.Node:
    """The row's ``key`` sorts strictly before ``value``."""
    if key.sortby_dir == SortByDir.SORTBY_USING:
        raise FeatureNotSupported(
            "ORDER BY ... USING in a hypothetical-set aggregate is not supported",
            hint="Write ORDER BY ... ASC or DESC.",
        )
    desc = key.sortby_dir == SortByDir.SORTBY_DESC
    nulls_first = key.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST or (
        key.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT and desc
    )
    x = key.node
    if nulls_first:  # a NULL key sorts before every value
        nulls = _bool(BoolExprType.AND_EXPR, _null(x, True), _null(value, False))
    else:  # every value sorts before a NULL
        nulls = _bool(BoolExprType.AND_EXPR, _null(value, True), _null(x, False))
    return _bool(BoolExprType.OR_EXPR, nulls, _op(">" if desc else "<", x, value))


def _peer(key: ast.SortBy, value: ast.Node) -> ast.Node:
    return ast.A_Expr(
        kind=A_Expr_Kind.AEXPR_NOT_DISTINCT,
        name=(ast.String(sval="="),),
        lexpr=copy.deepcopy(key.node),
        rexpr=copy.deepcopy(value),
    )


def _sorts_before(keys: tuple[ast.SortBy, ...], values: tuple[ast.Node, ...]) -> ast.Node:
    """Lexicographic: the first key that is not a peer decides."""
    terms = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        peers = [_peer(k, v) for k, v in zip(keys[:i], values[:i], strict=True)]
        terms.append(_bool(BoolExprType.AND_EXPR, *peers, _before(key, value)))
    return _bool(BoolExprType.OR_EXPR, *terms)


def _all_peers(keys: tuple[ast.SortBy, ...], values: tuple[ast.Node, ...]) -> ast.Node:
    return _bool(BoolExprType.AND_EXPR, *(_peer(k, v) for k, v in zip(keys, values, strict=True)))


def _count(where: ast.Node | None, distinct: tuple[ast.Node, ...] = ()) -> ast.FuncCall:
    name = (ast.String(sval="count"),)
    if distinct:  # a row of the keys: a NULL key is a value here
        keys = ast.RowExpr(
            args=tuple(copy.deepcopy(d) for d in distinct),
            row_format=CoercionForm.COERCE_EXPLICIT_CALL,
        )
        return ast.FuncCall(funcname=name, args=(keys,), agg_distinct=True, agg_filter=where)
    return ast.FuncCall(funcname=name, agg_star=True, agg_filter=where)


def _and(a: ast.Node | None, b: ast.Node) -> ast.Node:
    return b if a is None else _bool(BoolExprType.AND_EXPR, copy.deepcopy(a), b)


def _float8(node: ast.Node) -> ast.TypeCast:
    name = ast.TypeName(names=(ast.String(sval="pg_catalog"), ast.String(sval="float8")))
    return ast.TypeCast(arg=node, typeName=name)


def _one_plus(node: ast.Node) -> ast.A_Expr:
    return _op("+", ast.A_Const(val=ast.Integer(ival=1)), node)


def _rewrite(call: ast.FuncCall, kind: str) -> ast.Node:
    keys = tuple(call.agg_order or ())
    values = tuple(call.args or ())
    if len(keys) != len(values):
        raise UndefinedFunction(
            f"function {kind}({', '.join('unknown' for _ in values)}) does not exist",
            hint="To use the hypothetical-set aggregate, the number of hypothetical "
            "direct arguments (here "
            f"{len(values)}) must match the number of ordering columns (here {len(keys)}).",
        )
    filt = call.agg_filter
    before = _sorts_before(keys, values)
    if kind == "rank":
        return _one_plus(_count(_and(filt, before)))
    if kind == "dense_rank":
        return _one_plus(_count(_and(filt, before), tuple(k.node for k in keys)))
    rows = _count(copy.deepcopy(filt))
    if kind == "percent_rank":
        ratio = _op("/", _float8(_count(_and(filt, before))), rows)
        empty = _op("=", rows, ast.A_Const(val=ast.Integer(ival=0)))
        zero = _float8(ast.A_Const(val=ast.Integer(ival=0)))
        return ast.CaseExpr(args=(ast.CaseWhen(expr=empty, result=zero),), defresult=ratio)
    at_or_before = _bool(BoolExprType.OR_EXPR, before, _all_peers(keys, values))
    return _op("/", _float8(_one_plus(_count(_and(filt, at_or_before)))), _one_plus(rows))


def _is_hypothetical(node: ast.Node) -> str | None:
    if not isinstance(node, ast.FuncCall) or not node.agg_within_group:
        return None
    names = [n.sval for n in node.funcname]
    if names[-1] not in _KINDS or names[:-1] not in ([], ["pg_catalog"]) or node.over:
        return None
    return names[-1]


def hypothetical_sets(stmt: ast.Node) -> ast.Node:
    """Rewrite every hypothetical-set aggregate into counts DuckDB runs."""
    for node in list(walk(stmt)):
        for attr, child in list(children(node)):
            kind = _is_hypothetical(child)
            if kind is not None:
                replace_child(node, attr, child, _rewrite(child, kind))
    return stmt
