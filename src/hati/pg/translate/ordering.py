"""Orderings DuckDB does not spell: ``ORDER BY x USING <`` and ``FETCH FIRST n ROWS
WITH TIES``.

- ``USING <`` / ``USING >`` (and the pattern operators ``~<~`` / ``~>~``, which order
  text byte-wise as DuckDB's default collation does) are the btree ordering operators:
  ASC, or DESC with NULLS FIRST unless written otherwise, as PostgreSQL takes them. Any
  other operator is no ordering operator (42809).
- ``... ORDER BY k OFFSET o FETCH FIRST n ROWS WITH TIES``: the rows after the first
  o whose rank in the ordering is at most o + n (the n-th row and every row tied with
  it), in the query's order: the query gets ``rank()`` and ``row_number()`` over its
  ORDER BY, and a query around it keeps those rows. A query with DISTINCT or a set
  operation (whose window would be computed before the rows it orders) is refused.
"""

from __future__ import annotations

import copy
from typing import Any

from pglast import ast
from pglast.enums import LimitOption, SortByDir, SortByNulls

from hati.errors import FeatureNotSupported, InvalidRowCountInLimitClause, WrongObjectType
from hati.pg.analyze import children
from hati.pg.render import StarExcluding
from hati.pg.translate import NeedsLiteral, Translation, replace_child, walk

_ASCENDING = {"<": False, "~<~": False, ">": True, "~>~": True}  # operator -> descending
_RANK, _ROW = "hati$rank", "hati$row"


def _sort_using(node: ast.SortBy) -> None:
    op = str(node.useOp[-1].sval) if node.useOp else ""
    if op not in _ASCENDING:
        raise WrongObjectType(
            f"operator {op} is not a valid ordering operator",
            hint='Ordering operators must be "<" or ">" members of btree operator families.',
        )
    desc = _ASCENDING[op]
    node.sortby_dir = SortByDir.SORTBY_DESC if desc else SortByDir.SORTBY_ASC
    node.useOp = None
    if node.sortby_nulls == SortByNulls.SORTBY_NULLS_DEFAULT:
        # PostgreSQL's default follows the operator: NULLS FIRST for ">"
        node.sortby_nulls = (
            SortByNulls.SORTBY_NULLS_FIRST if desc else SortByNulls.SORTBY_NULLS_LAST
        )


def _key(node: ast.Node, targets: tuple[Any, ...], ctx: Translation) -> ast.Node:
    """A sort key as an expression over the FROM clause: ``ORDER BY 1`` and ``ORDER BY
    alias`` name the select list's entries."""
    if isinstance(node, ast.ParamRef) and ctx.params is not None and node.number > ctx.params:
        raise NeedsLiteral  # ORDER BY 1, lifted out as a marker
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
        i = int(node.val.ival)
        if 1 <= i <= len(targets):
            return copy.deepcopy(targets[i - 1].val)
    if isinstance(node, ast.ColumnRef) and len(node.fields) == 1:
        name = getattr(node.fields[0], "sval", None)
        for t in targets:
            if t.name is not None and t.name == name:
                return copy.deepcopy(t.val)
    return copy.deepcopy(node)


def _window(func: str, keys: tuple[ast.SortBy, ...], name: str) -> ast.ResTarget:
    call = ast.FuncCall(
        funcname=(ast.String(sval=func),),
        over=ast.WindowDef(orderClause=keys, frameOptions=1058),
    )
    return ast.ResTarget(name=name, val=call)


def _ref(name: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=(ast.String(sval="hati_ties"), ast.String(sval=name)))


def _with_ties(node: ast.SelectStmt, ctx: Translation) -> ast.Node:
    """The query with its WITH TIES rows (module doc)."""
    if node.distinctClause is not None or node.op or node.valuesLists:
        raise FeatureNotSupported(
            "FETCH FIRST ... WITH TIES of a query with DISTINCT or a set operation is not "
            "supported",
            hint="Put the query in a subquery: SELECT * FROM (...) s ORDER BY ... FETCH "
            "FIRST n ROWS WITH TIES.",
        )
    count, offset = node.limitCount, node.limitOffset
    if isinstance(count, ast.A_Const) and count.isnull:
        raise InvalidRowCountInLimitClause(
            "row count cannot be null in FETCH FIRST ... WITH TIES clause"
        )
    targets = tuple(node.targetList or ())
    keys = tuple(
        ast.SortBy(
            node=_key(s.node, targets, ctx),
            sortby_dir=s.sortby_dir,
            sortby_nulls=s.sortby_nulls,
            useOp=s.useOp,
        )
        for s in node.sortClause or ()
    )
    node.targetList = (*targets, _window("rank", keys, _RANK), _window("row_number", keys, _ROW))
    node.sortClause = None
    node.limitCount = node.limitOffset = None
    node.limitOption = LimitOption.LIMIT_OPTION_DEFAULT
    count = count if count is not None else ast.A_Const(val=ast.Integer(ival=1))
    bound: ast.Node = count
    where: ast.Node | None = None
    if offset is not None:
        bound = ast.A_Expr(kind=0, name=(ast.String(sval="+"),), lexpr=offset, rexpr=count)
        where = ast.A_Expr(
            kind=0, name=(ast.String(sval=">"),), lexpr=_ref(_ROW), rexpr=copy.deepcopy(offset)
        )
    within = ast.A_Expr(kind=0, name=(ast.String(sval="<="),), lexpr=_ref(_RANK), rexpr=bound)
    cond = within if where is None else ast.BoolExpr(boolop=0, args=(where, within))
    return ast.SelectStmt(
        targetList=(ast.ResTarget(val=StarExcluding([_RANK, _ROW])),),
        fromClause=(
            ast.RangeSubselect(
                lateral=False, subquery=node, alias=ast.Alias(aliasname="hati_ties")
            ),
        ),
        whereClause=cond,
        sortClause=(ast.SortBy(node=_ref(_ROW), sortby_dir=0, sortby_nulls=0),),
        limitOption=LimitOption.LIMIT_OPTION_DEFAULT,
        op=0,
    )


def orderings(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """``USING <`` / ``USING >`` and ``WITH TIES`` (module doc)."""
    ties: list[tuple[ast.Node | None, str, ast.SelectStmt]] = []
    parents: dict[int, tuple[ast.Node, str]] = {}
    for node in walk(stmt):
        for attr, child in children(node):
            parents[id(child)] = (node, attr)
        if isinstance(node, ast.SortBy) and node.sortby_dir == SortByDir.SORTBY_USING:
            _sort_using(node)
        if (
            isinstance(node, ast.SelectStmt)
            and node.limitOption == LimitOption.LIMIT_OPTION_WITH_TIES
        ):
            parent, attr = parents.get(id(node), (None, ""))
            ties.append((parent, attr, node))
    for parent, attr, node in reversed(ties):  # the innermost first
        new = _with_ties(node, ctx)
        if parent is None:
            stmt = new
        else:
            replace_child(parent, attr, node, new)
    return stmt
