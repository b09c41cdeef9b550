"""Volatile calls in a select list under ORDER BY ... LIMIT.

PostgreSQL evaluates such a select list after the sort and the limit, so
``SELECT id, nextval('s') FROM t ORDER BY id LIMIT 10`` takes ten values of the sequence.
DuckDB computes the select list for every row before it sorts: the sequence would move
past every row of the table, silently. Such a query is refused (0A000), with the
subquery that gives PostgreSQL's answer as the hint.
"""

from __future__ import annotations

from pglast import ast

from hati.errors import FeatureNotSupported
from hati.pg.analyze import children

_SEQUENCE_CALLS = frozenset({"nextval", "setval"})


def _calls_sequence(node: ast.Node) -> bool:
    """Does ``node`` call nextval/setval (outside its subqueries)?"""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.FuncCall) and n.funcname and n.funcname[-1].sval in _SEQUENCE_CALLS:
            return True
        if not isinstance(n, ast.SubLink):
            stack.extend(child for _, child in children(n))
    return False


def _check(select: ast.SelectStmt) -> None:
    limited = select.limitCount is not None or select.limitOffset is not None
    if not limited or not select.sortClause or not select.targetList:
        return
    if any(_calls_sequence(t) for t in select.targetList):
        raise FeatureNotSupported(
            "nextval() or setval() in a select list with ORDER BY and LIMIT is not supported",
            hint="Sort and limit the rows in a subquery and call the function in the outer"
            " query: SELECT q.*, nextval('s') FROM (SELECT ... ORDER BY ... LIMIT n) q.",
        )


def sequence_calls_after_limit(stmt: ast.Node) -> ast.Node:
    """Refuse the queries of the module doc, at any level of the statement."""
    stack = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.SelectStmt):
            _check(n)
        stack.extend(child for _, child in children(n))
    return stmt
