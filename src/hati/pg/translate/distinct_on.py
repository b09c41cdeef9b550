"""SELECT DISTINCT ON (...) ... ORDER BY ...: the ORDER BY must start with the DISTINCT ON
expressions (42P10), as PostgreSQL requires; DuckDB answers with some row of each group.
"""

from __future__ import annotations

import re

from pglast import ast
from pglast.stream import RawStream

from hati.errors import InvalidColumnReference
from hati.pg.translate import walk


def _text(node: ast.Node) -> str:
    """The expression's text, literals aside (they are lifted out as numbered markers)."""
    return re.sub(r"\$\d+", "$", str(RawStream()(node)))


def _check(node: ast.SelectStmt) -> None:
    distinct = [d for d in node.distinctClause or () if d is not None]
    sorts = list(node.sortClause or ())
    if not distinct or not sorts:
        return
    names = {str(t.name) for t in node.targetList or () if isinstance(t, ast.ResTarget) and t.name}
    leading = [s.node for s in sorts[: len(distinct)]]
    for n in [*distinct, *leading]:  # positions and output names: PostgreSQL resolves them
        if isinstance(n, ast.A_Const | ast.ParamRef):
            return
        fields = n.fields if isinstance(n, ast.ColumnRef) else None
        if fields and len(fields) == 1 and getattr(fields[0], "sval", None) in names:
            return
    if len(sorts) < len(distinct) or {_text(d) for d in distinct} != {_text(n) for n in leading}:
        raise InvalidColumnReference(
            "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
            hint="Start the ORDER BY with the DISTINCT ON expressions.",
        )


def distinct_on(stmt: ast.Node) -> ast.Node:
    for node in walk(stmt):
        if isinstance(node, ast.SelectStmt) and node.distinctClause:
            _check(node)
    return stmt
