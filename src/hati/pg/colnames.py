"""Result column names as PostgreSQL gives them.

A port of ``FigureColnameInternal`` (src/backend/parser/parse_target.c): an unnamed
select-list item is named after its column, its function, its cast type, or one of a few
keywords, and ``?column?`` otherwise. The front end writes these names as explicit
aliases, so DuckDB's own naming (``count_star()``, ``CAST('a' AS text)``, ``col0``)
never reaches a client.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import A_Expr_Kind, MinMaxOp, SQLValueFunctionOp, SubLinkType

UNNAMED = "?column?"

_SQL_VALUE_NAMES = {
    SQLValueFunctionOp.SVFOP_CURRENT_DATE: "current_date",
    SQLValueFunctionOp.SVFOP_CURRENT_TIME: "current_time",
    SQLValueFunctionOp.SVFOP_CURRENT_TIME_N: "current_time",
    SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP: "current_timestamp",
    SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N: "current_timestamp",
    SQLValueFunctionOp.SVFOP_LOCALTIME: "localtime",
    SQLValueFunctionOp.SVFOP_LOCALTIME_N: "localtime",
    SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP: "localtimestamp",
    SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N: "localtimestamp",
    SQLValueFunctionOp.SVFOP_CURRENT_ROLE: "current_role",
    SQLValueFunctionOp.SVFOP_CURRENT_USER: "current_user",
    SQLValueFunctionOp.SVFOP_USER: "user",
    SQLValueFunctionOp.SVFOP_SESSION_USER: "session_user",
    SQLValueFunctionOp.SVFOP_CURRENT_CATALOG: "current_catalog",
    SQLValueFunctionOp.SVFOP_CURRENT_SCHEMA: "current_schema",
}


def _last_string(items: tuple[ast.Node, ...] | None) -> str | None:
    name = None
    for item in items or ():
        if isinstance(item, ast.String):
            name = item.sval
    return name


def _figure(node: ast.Node | None) -> tuple[int, str]:  # noqa: C901 - one case per node kind, as in PostgreSQL
    """(strength, name): 2 for a sure name, 1 for a weak one (a cast's type), 0 none."""
    if isinstance(node, ast.ColumnRef):
        name = _last_string(node.fields)
        return (2, name) if name else (0, UNNAMED)
    if isinstance(node, ast.A_Indirection):
        name = _last_string(node.indirection)
        return (2, name) if name else _figure(node.arg)
    if isinstance(node, ast.FuncCall):
        return 2, node.funcname[-1].sval
    if isinstance(node, ast.A_Expr):
        if node.kind == A_Expr_Kind.AEXPR_NULLIF:
            return 2, "nullif"
        return 0, UNNAMED
    if isinstance(node, ast.TypeCast):
        strength, name = _figure(node.arg)
        if strength <= 1 and node.typeName is not None:
            return 1, node.typeName.names[-1].sval
        return strength, name
    if isinstance(node, ast.CollateClause):
        return _figure(node.arg)
    if isinstance(node, ast.GroupingFunc):
        return 2, "grouping"
    if isinstance(node, ast.SubLink):
        kind = node.subLinkType
        if kind == SubLinkType.EXISTS_SUBLINK:
            return 2, "exists"
        if kind == SubLinkType.ARRAY_SUBLINK:
            return 2, "array"
        if kind == SubLinkType.EXPR_SUBLINK:
            return 2, first_column_name(node.subselect)
        return 0, UNNAMED
    if isinstance(node, ast.CaseExpr):
        strength, name = _figure(node.defresult)
        return (1, "case") if strength <= 1 else (strength, name)
    if isinstance(node, ast.A_ArrayExpr):
        return 2, "array"
    if isinstance(node, ast.RowExpr):
        return 2, "row"
    if isinstance(node, ast.CoalesceExpr):
        return 2, "coalesce"
    if isinstance(node, ast.MinMaxExpr):
        return 2, "greatest" if node.op == MinMaxOp.IS_GREATEST else "least"
    if isinstance(node, ast.SQLValueFunction):
        return 2, _SQL_VALUE_NAMES.get(node.op, UNNAMED)
    if isinstance(node, ast.XmlSerialize):
        return 2, "xmlserialize"
    return 0, UNNAMED


def column_name(node: ast.Node | None) -> str:
    """PostgreSQL's name for an unnamed select-list expression."""
    return _figure(node)[1]


def target_name(target: ast.ResTarget) -> str:
    return target.name or column_name(target.val)


def first_column_name(select: ast.Node | None) -> str:
    """The name of a subquery's first result column (leftmost arm of a set operation)."""
    while isinstance(select, ast.SelectStmt) and select.op != 0 and select.larg is not None:
        select = select.larg
    if isinstance(select, ast.SelectStmt):
        if select.valuesLists:
            return "column1"
        if select.targetList:
            return target_name(select.targetList[0])
    return UNNAMED


def is_star(node: ast.Node | None) -> bool:
    """``*`` or ``t.*`` (named by the columns it expands to)."""
    if isinstance(node, ast.ColumnRef):
        return bool(node.fields) and isinstance(node.fields[-1], ast.A_Star)
    if isinstance(node, ast.A_Indirection):
        return bool(node.indirection) and isinstance(node.indirection[-1], ast.A_Star)
    return False
