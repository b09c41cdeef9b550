"""What the ``query`` and ``execute`` tools check before SQL reaches hati.

``query`` promises to change nothing (its tool annotation says ``readOnlyHint``, so
clients may run it without asking the user). hati accepts ``BEGIN READ ONLY`` but does
not refuse writes inside it, so the promise is kept here: the statement is parsed with
PostgreSQL's own parser (pglast) and must be a read. The ``query`` tool also runs it in
a transaction that is always rolled back, so a write the check missed still leaves
nothing behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast
from pglast.visitors import Visitor

# Functions that change state even inside a SELECT: sequences, and hati's branch calls
# that create, write, merge or drop (branch_list/diff/conflicts only read).
WRITING_FUNCTIONS = frozenset(
    {
        "nextval",
        "setval",
        "branch_create",
        "branch_query",
        "branch_merge",
        "branch_discard",
        "branch_resolve",
    }
)
_READ_STATEMENTS = (ast.SelectStmt, ast.ExplainStmt, ast.VariableShowStmt)
_WRITE_NODES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)
_KIND = {
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
    "CreateStmt": "CREATE TABLE",
    "CreateTableAsStmt": "CREATE TABLE AS",
    "DropStmt": "DROP",
    "AlterTableStmt": "ALTER TABLE",
    "TruncateStmt": "TRUNCATE",
    "IndexStmt": "CREATE INDEX",
    "ViewStmt": "CREATE VIEW",
    "VariableSetStmt": "SET",
    "TransactionStmt": "a transaction command",
    "CopyStmt": "COPY",
}
# SET/RESET of hati's per-connection tags, for SQL pglast cannot parse (DuckDB syntax).
_SET_HATI = re.compile(r"\b(?:SET|RESET)\s+(?:SESSION\s+|LOCAL\s+)?(hatidata_\w+)", re.I)


@dataclass(frozen=True)
class Refusal:
    """Why a statement may not run through a tool, as a PostgreSQL error."""

    sqlstate: str
    message: str
    hint: str


def _kind(node: Any) -> str:
    name = type(node).__name__
    return _KIND.get(name, name.removesuffix("Stmt").upper())


class _Writes(Visitor):
    """Collects the first reason a parse tree may write."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def _note(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def visit_SelectStmt(self, ancestors: Any, node: ast.SelectStmt) -> None:
        if node.intoClause is not None:
            self._note("SELECT INTO creates a table")
        if node.lockingClause:
            self._note("SELECT ... FOR UPDATE/SHARE locks rows")

    def visit_FuncCall(self, ancestors: Any, node: ast.FuncCall) -> None:
        name = node.funcname[-1].sval.lower() if node.funcname else ""
        if name in WRITING_FUNCTIONS:
            self._note(f"{name}() changes state")

    def visit(self, ancestors: Any, node: Any) -> None:
        if isinstance(node, _WRITE_NODES):
            self._note(f"it contains {_kind(node)}")


def parse(sql: str) -> tuple[ast.RawStmt, ...] | Refusal:
    try:
        return pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        return Refusal(
            "42601",
            f"query could not parse this SQL as PostgreSQL: {exc}",
            "Write the read in PostgreSQL syntax (query checks it is read-only before it "
            "runs), or run DuckDB-only syntax with execute.",
        )


def check_read_only(sql: str) -> Refusal | None:
    """None if ``sql`` is exactly one statement that only reads; else why not."""
    parsed = parse(sql)
    if isinstance(parsed, Refusal):
        return parsed
    if len(parsed) != 1:
        return Refusal(
            "42601",
            f"query runs exactly one statement, got {len(parsed)}",
            "Send the statements one per query call.",
        )
    stmt = parsed[0].stmt
    writes = _Writes()
    if stmt is not None:
        writes(stmt)
    reason = writes.reason
    if not isinstance(stmt, _READ_STATEMENTS):
        reason = f"it is {_kind(stmt)}"
    if reason is None:
        return None
    return Refusal(
        "25006",
        f"query only reads, and this statement would change state: {reason}",
        "Use execute to change main, or branch_create + branch_query to try the change "
        "in a branch first.",
    )


def check_session_settings(sql: str) -> Refusal | None:
    """Refuse SET/RESET of ``hatidata_*``: they would stick to the shared connection.

    Branch and agent tags are set per tool call (``branch_query``, ``agent_id``);
    a ``SET hatidata_branch`` would silently move every later call into a branch.
    """
    parsed = parse(sql)
    if isinstance(parsed, Refusal):
        names = [m.group(1) for m in _SET_HATI.finditer(sql)]
    else:
        names = [
            raw.stmt.name
            for raw in parsed
            if isinstance(raw.stmt, ast.VariableSetStmt)
            and (raw.stmt.name or "").lower().startswith("hatidata_")
        ]
    if not names:
        return None
    return Refusal(
        "0A000",
        f"SET/RESET of {names[0]} is not available through execute",
        "Run SQL inside a branch with branch_query(branch, sql); pass agent_id to tag a "
        "call with another agent.",
    )
