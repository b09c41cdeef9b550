"""``UPDATE t SET (a, b) = (SELECT x, y ...)``: DuckDB takes no sub-select for several
columns at once; each column gets the sub-select of its own value (``SET a = (SELECT
x ...), b = (SELECT y ...)``), which PostgreSQL's single evaluation equals for any
sub-select without volatile functions. One with them is refused (0A000)."""

from __future__ import annotations

import copy

from pglast import ast
from pglast.enums import SubLinkType

from hati.errors import FeatureNotSupported
from hati.pg.dml import VOLATILE
from hati.pg.translate import walk


def multi_assign(stmt: ast.Node) -> ast.Node:
    if not isinstance(stmt, ast.UpdateStmt) or not stmt.targetList:
        return stmt
    out = []
    for target in stmt.targetList:
        val = target.val
        source = getattr(val, "source", None) if isinstance(val, ast.MultiAssignRef) else None
        sub = getattr(source, "subselect", None) if isinstance(source, ast.SubLink) else None
        if not isinstance(sub, ast.SelectStmt) or not sub.targetList:
            out.append(target)
            continue
        if any(isinstance(n, ast.FuncCall) and n.funcname[-1].sval in VOLATILE for n in walk(sub)):
            raise FeatureNotSupported(
                "UPDATE ... SET (a, b) = (SELECT ...) with a volatile function is not supported",
                hint="Compute the values in a FROM clause: UPDATE t SET a = s.x, b = s.y "
                "FROM (SELECT ...) s WHERE ...",
            )
        one = copy.deepcopy(sub)
        one.targetList = (one.targetList[val.colno - 1],)
        link = ast.SubLink(subLinkType=SubLinkType.EXPR_SUBLINK, subselect=one)
        out.append(ast.ResTarget(name=target.name, indirection=target.indirection, val=link))
    stmt.targetList = tuple(out)
    return stmt
