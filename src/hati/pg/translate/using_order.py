"""``SELECT *`` over ``JOIN ... USING`` lists the joined columns first, as PostgreSQL does.

PostgreSQL's ``t1 JOIN t2 USING (b)`` has the columns ``b``, then the rest of t1's, then
the rest of t2's; DuckDB keeps b where t1 has it. For a chain of USING joins (each
joining a table or subquery to what came before) ``*`` becomes the USING columns, the
outermost join's first, and then DuckDB's ``* EXCLUDE`` of them, which lists the rest in
the order PostgreSQL does.
"""

from __future__ import annotations

from pglast import ast

from hati.pg.render import StarExcluding
from hati.pg.translate import walk


def _using_columns(join: ast.Node) -> list[str] | None:
    """The chain's USING columns, outermost join first; None when the chain is not a
    left-deep one of USING joins only (a join on its right, ON, NATURAL, an alias)."""
    out: list[str] = []
    node: ast.Node | None = join
    while isinstance(node, ast.JoinExpr):
        if node.isNatural or not node.usingClause or node.alias is not None:
            return None  # an ON join could bring another column of a USING name
        if isinstance(node.rarg, ast.JoinExpr):
            return None
        for name in node.usingClause or ():
            if isinstance(name, ast.String) and name.sval and name.sval not in out:
                out.append(name.sval)
        node = node.larg
    return out or None


def _star(target: ast.Node) -> bool:
    if not isinstance(target, ast.ResTarget) or target.name is not None:
        return False
    ref = target.val
    return (
        isinstance(ref, ast.ColumnRef)
        and len(ref.fields or ()) == 1
        and isinstance(ref.fields[0], ast.A_Star)
    )


def using_order(stmt: ast.Node) -> ast.Node:
    """USING columns first in ``SELECT *`` (module doc)."""
    for node in walk(stmt):
        if not isinstance(node, ast.SelectStmt) or not node.targetList:
            continue
        if len(node.fromClause or ()) != 1 or not isinstance(node.fromClause[0], ast.JoinExpr):
            continue
        if not any(_star(t) for t in node.targetList):
            continue
        using = _using_columns(node.fromClause[0])
        if using is None:
            continue
        targets: list[ast.Node] = []
        for t in node.targetList:
            if not _star(t):
                targets.append(t)
                continue
            targets.extend(
                ast.ResTarget(val=ast.ColumnRef(fields=(ast.String(sval=name),))) for name in using
            )
            targets.append(ast.ResTarget(val=StarExcluding(using)))
        node.targetList = tuple(targets)
    return stmt
