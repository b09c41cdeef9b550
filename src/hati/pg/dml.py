"""What a plain INSERT, UPDATE or DELETE changes, read off its parse tree.

Row-level copy-on-write and undo snapshots need to know which rows a write touches
before it runs: the target table, its alias, the WHERE clause (printed on its own, with
the client's parameters renumbered from $1) and the columns an UPDATE assigns. Writes
that cannot say (joins, CTEs, upserts, self-references, volatile conditions) give None,
and the caller takes the general path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from hati.pg import render
from hati.pg.analyze import DEFAULT_SCHEMAS
from hati.pg.frontend import Compiled
from hati.pg.translate import walk

# Functions whose value can change between two evaluations of one WHERE clause.
VOLATILE = frozenset(
    {
        "random",
        "uuid",
        "gen_random_uuid",
        "uuid_generate_v4",
        "nextval",
        "setseed",
        "currval",
        "setval",
        "clock_timestamp",
        "timeofday",
        "txid_current",
    }
)


@dataclass
class PlainWrite:
    table: str
    kind: str  # INSERT / UPDATE / DELETE
    alias: str
    cond: str | None = None  # the WHERE clause for DuckDB, parameters numbered from $1
    cond_params: list[Any] = field(default_factory=list)
    set_columns: list[str] | None = None  # UPDATE's assigned columns (None: unknown)
    # The WHERE clause as the statement itself numbers its parameters (to run inside
    # the statement, e.g. in a WITH clause before it: branching/undo.py).
    stmt_cond: str | None = None
    # The statement reads other tables too (in its WHERE, say): its rows are the ones
    # its own transaction selects, which another transaction may not see alike.
    reads_others: bool = False

    def may_break_keys(self, key: list[str]) -> bool:
        """True when the statement can create a key the base already has."""
        if self.kind == "INSERT":
            return True
        if self.kind == "UPDATE":
            return self.set_columns is None or bool(set(self.set_columns) & set(key))
        return False


def plain_write(c: Compiled, params: list[Any]) -> PlainWrite | None:  # noqa: C901 - one rule per shape
    """The PlainWrite ``c`` is, or None when it needs the general path."""
    node = c.node
    if not isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
        return None
    a = c.analysis
    if len(a.writes) != 1 or getattr(node, "withClause", None) is not None:
        return None
    target = a.writes[0]
    if target.schema not in (None, "public", "main"):
        return None
    if any(t.name == target.name for t in a.tables if t is not target):
        return None  # the statement also reads its own target (subquery, self-join)
    alias = node.relation.alias.aliasname if node.relation.alias else target.name
    if isinstance(node, ast.InsertStmt):
        if node.onConflictClause is not None:
            return None
        return PlainWrite(target.name, "INSERT", alias)
    if isinstance(node, ast.UpdateStmt) and node.fromClause:
        return None
    if isinstance(node, ast.DeleteStmt) and node.usingClause:
        return None
    where = node.whereClause
    if where is not None and any(
        isinstance(n, ast.FuncCall) and n.funcname[-1].sval in VOLATILE for n in walk(where)
    ):
        return None
    kind = "UPDATE" if isinstance(node, ast.UpdateStmt) else "DELETE"
    pw = PlainWrite(target.name, kind, alias, reads_others=len(a.tables) > 1)
    if where is not None:
        pw.cond, pw.cond_params = _where(c, where, params)
        pw.stmt_cond, _ = _where(c, where, params, renumber=False)
    if isinstance(node, ast.UpdateStmt):
        targets = node.targetList or ()
        if all(isinstance(t, ast.ResTarget) and t.name and not t.indirection for t in targets):
            pw.set_columns = [t.name for t in targets]
    return pw


def _where(
    c: Compiled, where: ast.Node, params: list[Any], renumber: bool = True
) -> tuple[str, list[Any]]:
    """The WHERE clause printed alone; its client parameters renumbered from $1 (not
    ``renumber``: kept as the statement numbers them) and lifted literals put back."""
    numbering: dict[int, int] = {}
    used: list[Any] = []

    def substitute(node: ast.Node) -> str | None:
        if isinstance(node, ast.RangeVar) and node.schemaname in DEFAULT_SCHEMAS:
            return render.relation(node, None)  # where the session's search path finds it
        if not isinstance(node, ast.ParamRef):
            return None
        n = node.number
        if n > c.params:
            return c.literals[n - c.params - 1]
        if not renumber:
            return f"${n}"
        if n not in numbering:
            numbering[n] = len(numbering) + 1
            used.append(params[n - 1] if n <= len(params) else None)
        return f"${numbering[n]}"

    return render.render(where, substitute), used
