"""``SELECT ... FOR UPDATE / FOR SHARE``: DuckDB has no row locks and no such clause.

The clause leaves the tree; what it asked for is kept in the translation
(``Translation.row_locks``) and the session takes hati's table locks for it
(hati.pg.locks.RowLocks): the rows stay locked against other writers to the end of
the transaction, as in PostgreSQL, at the grain of a table.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import LockClauseStrength, LockWaitPolicy

from hati.pg.analyze import RowLocks
from hati.pg.translate import Translation, walk

_STRENGTH = {
    LockClauseStrength.LCS_FORKEYSHARE: "FOR KEY SHARE",
    LockClauseStrength.LCS_FORSHARE: "FOR SHARE",
    LockClauseStrength.LCS_FORNOKEYUPDATE: "FOR NO KEY UPDATE",
    LockClauseStrength.LCS_FORUPDATE: "FOR UPDATE",
}
_WAIT = {
    LockWaitPolicy.LockWaitBlock: "wait",
    LockWaitPolicy.LockWaitSkip: "skip",
    LockWaitPolicy.LockWaitError: "nowait",
}


def row_locks(stmt: ast.Node, ctx: Translation) -> ast.Node:
    for node in walk(stmt):
        if not isinstance(node, ast.SelectStmt) or not node.lockingClause:
            continue
        for clause in node.lockingClause:
            names = tuple(
                rv.relname.lower() for rv in clause.lockedRels or () if isinstance(rv, ast.RangeVar)
            )
            lock = RowLocks(_STRENGTH[clause.strength], _WAIT[clause.waitPolicy], names)
            ctx.row_locks = lock if ctx.row_locks is None else ctx.row_locks.join(lock)
        node.lockingClause = None
    return stmt
