"""A FROM list names each table once, as PostgreSQL requires (42712).

DuckDB accepts ``FROM t1 a1 JOIN t2 a2 USING (i) AS a1`` and ``UPDATE t ... FROM t`` and
answers with one of the two; PostgreSQL refuses: ``table name "a1" specified more than
once``.
"""

from __future__ import annotations

from pglast import ast

from hati.errors import DuplicateAlias
from hati.pg.translate import walk


def _names(item: ast.Node | None) -> list[str]:
    """The names a FROM item brings into its query level."""
    if isinstance(item, ast.RangeVar):
        return [str(item.alias.aliasname if item.alias else item.relname)]
    if isinstance(item, ast.RangeSubselect | ast.RangeFunction | ast.RangeTableFunc):
        return [str(item.alias.aliasname)] if item.alias is not None else []
    if isinstance(item, ast.JoinExpr):
        if item.alias is not None:
            return [str(item.alias.aliasname)]
        out = _names(item.larg) + _names(item.rarg)
        if item.join_using_alias is not None:
            out.append(str(item.join_using_alias.aliasname))
        return out
    return []


def _check(items: list[ast.Node | None]) -> None:
    seen: set[str] = set()
    for item in items:
        for name in _names(item):
            if name in seen:
                raise DuplicateAlias(
                    f'table name "{name}" specified more than once',
                    hint="Give one of them another alias.",
                )
            seen.add(name)


def refnames(stmt: ast.Node) -> ast.Node:
    """42712 for a table name used twice in one FROM list (module doc)."""
    for node in walk(stmt):
        if isinstance(node, ast.SelectStmt) and node.fromClause:
            _check(list(node.fromClause))
        elif isinstance(node, ast.JoinExpr) and node.alias is not None:
            _check([node.larg, node.rarg])
        elif isinstance(node, ast.UpdateStmt) and node.fromClause and node.relation:
            _check([node.relation, *node.fromClause])
        elif isinstance(node, ast.DeleteStmt) and node.usingClause and node.relation:
            _check([node.relation, *node.usingClause])
    return stmt
