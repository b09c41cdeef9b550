"""Result column names and row shapes as PostgreSQL gives them: select-list names,
VALUES' column1..n, set-returning functions in the select list."""

from __future__ import annotations

from pglast import ast
from pglast.enums import SetOperation

from hati.errors import UndefinedTable
from hati.pg.analyze import returning_list
from hati.pg.colnames import column_name, is_star
from hati.pg.translate import walk

# The one column DuckDB selects where PostgreSQL's select list is empty (``SELECT FROM
# t``): DuckDB needs at least one. ``statements.columns_of`` never describes it.
NO_COLUMNS = "?hati.no columns?"


def _values_alias(n: int, given: tuple[ast.Node, ...] | None = None) -> tuple[ast.String, ...]:
    names = [g.sval for g in given or () if isinstance(g, ast.String)]
    return tuple(
        ast.String(sval=names[i] if i < len(names) else f"column{i + 1}") for i in range(n)
    )


def _is_values(node: ast.Node | None) -> bool:
    return isinstance(node, ast.SelectStmt) and bool(node.valuesLists)


def _values_as_select(values: ast.SelectStmt) -> ast.SelectStmt:
    """``VALUES ...`` as ``SELECT * FROM (VALUES ...) AS "*VALUES*"(column1, ...)``:
    PostgreSQL names VALUES columns column1..n, DuckDB col0..n-1."""
    width = len(values.valuesLists[0])
    inner = ast.SelectStmt(valuesLists=values.valuesLists, op=SetOperation.SETOP_NONE)
    sub = ast.RangeSubselect(
        subquery=inner, alias=ast.Alias(aliasname="*VALUES*", colnames=_values_alias(width))
    )
    star = ast.ResTarget(val=ast.ColumnRef(fields=(ast.A_Star(),)))
    return ast.SelectStmt(
        targetList=(star,),
        fromClause=(sub,),
        sortClause=values.sortClause,
        limitCount=values.limitCount,
        limitOffset=values.limitOffset,
        limitOption=values.limitOption,
        withClause=values.withClause,
        op=SetOperation.SETOP_NONE,
    )


def _name_targets(targets: tuple[ast.Node, ...]) -> None:
    for target in targets:
        unnamed = isinstance(target, ast.ResTarget) and target.name is None
        if unnamed and not is_star(target.val):
            target.name = column_name(target.val)


def name_columns(stmt: ast.Node) -> ast.Node:
    """Give every unnamed select-list item PostgreSQL's name for it, and VALUES lists
    PostgreSQL's column1..n (in FROM, in CTEs and as a statement of their own); an empty
    select list selects the hidden ``NO_COLUMNS``."""
    if _is_values(stmt):
        stmt = _values_as_select(stmt)
    for node in walk(stmt):
        returning = returning_list(node)
        if returning and not isinstance(node, ast.SelectStmt):
            _name_targets(returning)
        if isinstance(node, ast.SelectStmt):
            if node.targetList:
                _name_targets(node.targetList)
            elif node.op == SetOperation.SETOP_NONE and not node.valuesLists:
                node.targetList = (ast.ResTarget(name=NO_COLUMNS, val=ast.A_Const(isnull=True)),)
            if node.op != SetOperation.SETOP_NONE and _is_values(node.larg):
                node.larg = _values_as_select(node.larg)
        elif isinstance(node, ast.RangeSubselect) and _is_values(node.subquery):
            width = len(node.subquery.valuesLists[0])
            if node.alias is None:
                node.alias = ast.Alias(aliasname="*VALUES*")
            node.alias.colnames = _values_alias(width, node.alias.colnames)
        elif isinstance(node, ast.CommonTableExpr) and _is_values(node.ctequery):
            node.ctequery = _values_as_select(node.ctequery)
    return stmt


# Set-returning functions PostgreSQL allows in a select list; DuckDB returns them as
# one list value unless they are unnested.
_LIST_SRFS = frozenset({"generate_series"})


def srfs_in_select_list(stmt: ast.Node) -> ast.Node:
    """``SELECT generate_series(1, 3)``: three rows, as in PostgreSQL."""
    for node in walk(stmt):
        if not isinstance(node, ast.SelectStmt) or not node.targetList:
            continue
        for target in node.targetList:
            val = target.val if isinstance(target, ast.ResTarget) else None
            if isinstance(val, ast.FuncCall) and val.funcname[-1].sval in _LIST_SRFS:
                if target.name is None:
                    target.name = column_name(val)
                target.val = ast.FuncCall(funcname=(ast.String(sval="unnest"),), args=(val,))
            elif isinstance(val, ast.FuncCall) and val.funcname[-1].sval == "string_to_table":
                # DuckDB has string_to_array; unnested, it is PostgreSQL's string_to_table.
                if target.name is None:
                    target.name = column_name(val)
                val.funcname = (ast.String(sval="string_to_array"),)
                target.val = ast.FuncCall(funcname=(ast.String(sval="unnest"),), args=(val,))
    return stmt


# PostgreSQL function -> DuckDB function of the same meaning and arguments.


def insert_alias(stmt: ast.Node) -> ast.Node:
    """``INSERT INTO t AS x ... RETURNING x.a``: DuckDB knows no alias in RETURNING (it
    does in ON CONFLICT's SET); the alias's columns are the target's own."""
    if not isinstance(stmt, ast.InsertStmt) or stmt.relation is None or not stmt.relation.alias:
        return stmt
    alias, table = stmt.relation.alias.aliasname, stmt.relation.relname
    for n in (x for part in returning_list(stmt) or () for x in walk(part)):
        fields = getattr(n, "fields", None) if isinstance(n, ast.ColumnRef) else None
        first = getattr(fields[0], "sval", None) if fields and len(fields) == 2 else None
        if first == table and table != alias:
            raise UndefinedTable(
                f'invalid reference to FROM-clause entry for table "{table}"',
                hint=f'Perhaps you meant to reference the table alias "{alias}".',
            )
        if first == alias:
            n.fields = (ast.String(sval=table), fields[1])
    return stmt
