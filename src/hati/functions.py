"""The branch functions (``SELECT branch_create('x')`` ...): run a call, shape its rows.

The pipeline's ``intercept`` step recognises a call; :func:`run` runs it against the
branch engine and answers with the rows the README documents. What a call needs from
the session that made it is the :class:`Caller` protocol.
"""

from __future__ import annotations

from dataclasses import astuple
from typing import Protocol

import duckdb

from hati.branching.calls import BranchCall
from hati.branching.engine import BranchEngine
from hati.errors import ActiveSqlTransaction, FeatureNotSupported, InsufficientPrivilege
from hati.results import Result, rows_result, text_columns
from hati.wire import types as pgtypes

_OWN_TRANSACTION = ("branch_create", "branch_merge", "branch_discard")
_MERGE_COLUMNS = [
    ("branch", pgtypes.TEXT),
    ("strategy", pgtypes.TEXT),
    ("inserted", pgtypes.INT8),
    ("updated", pgtypes.INT8),
    ("deleted", pgtypes.INT8),
    ("conflicts", pgtypes.INT8),
    ("status", pgtypes.TEXT),
]
_LIST_COLUMNS = [
    ("name", pgtypes.TEXT),
    ("parent", pgtypes.TEXT),
    ("created_by", pgtypes.TEXT),
    ("created_at", pgtypes.TIMESTAMP),
    ("tables_materialized", pgtypes.INT8),
    ("rows_changed", pgtypes.INT8),
    ("expires_at", pgtypes.TIMESTAMP),
]


class Caller(Protocol):
    """The session a branch function runs for."""

    cur: duckdb.DuckDBPyConnection
    branch: str | None  # the branch the session works in (None: main)

    @property
    def engine(self) -> BranchEngine: ...

    @property
    def agent_id(self) -> str | None: ...

    @property
    def in_transaction(self) -> bool: ...

    @property
    def merge_agents(self) -> list[str] | None: ...

    def acted_on(self, branch: str) -> None:
        """The audit record names the branch the call acted on."""

    def leave_branch(self) -> None: ...

    def query_in(self, branch: str, sql: str) -> Result:
        """Run one statement in ``branch`` (branch_query), its rows read."""
        ...


def run(caller: Caller, call: BranchCall) -> Result:
    fn, args = call.function, call.args
    if fn in _OWN_TRANSACTION and caller.in_transaction:
        raise ActiveSqlTransaction(
            f"{fn} cannot run inside a transaction block",
            hint="COMMIT or ROLLBACK first; branch operations commit on their own.",
        )
    eng, cur = caller.engine, caller.cur
    col = call.alias or fn
    if args and isinstance(args[0], str):
        caller.acted_on(args[0])
    if fn == "branch_create":
        parent = args[1] if len(args) > 1 else None
        ttl = float(args[2]) if len(args) > 2 and args[2] is not None else None
        b = eng.create(cur, args[0], parent, ttl, caller.agent_id)
        return rows_result(text_columns(col), [(b.name,)])
    if fn == "branch_query":
        return _query(caller, str(args[0]), str(args[1]))
    if fn == "branch_merge":
        strategy = args[1] if len(args) > 1 and args[1] is not None else "branch_wins"
        _check_merge_permission(caller, args[0])
        r = eng.merge(cur, args[0], strategy)
        if caller.branch == r.branch and r.status == "merged":
            caller.leave_branch()
        row = (r.branch, r.strategy, r.inserted, r.updated, r.deleted, r.conflicts, r.status)
        return rows_result(_MERGE_COLUMNS, [row])
    if fn == "branch_discard":
        eng.discard(cur, args[0])
        if caller.branch == args[0]:
            caller.leave_branch()
        return rows_result(text_columns(col), [(args[0],)])
    if fn == "branch_list":
        return rows_result(_LIST_COLUMNS, [astuple(i) for i in eng.list(cur)])
    if fn == "branch_diff":
        cols = text_columns("table_name", "change", "key", "old_values", "new_values")
        return rows_result(cols, eng.diff(cur, args[0]))
    if fn == "branch_conflicts":
        cols = text_columns("table_name", "key", "base_values", "main_values", "branch_values")
        rows = [(c.table, c.key, c.base, c.ours, c.theirs) for c in eng.conflicts(cur, args[0])]
        return rows_result(cols, rows)
    if fn == "branch_resolve":
        choice = eng.record_resolution(cur, args[0], args[1], str(args[2]), str(args[3]))
        return rows_result(
            text_columns("branch_name", "table_name", "key", "resolution"),
            [(args[0], args[1], str(args[2]), choice)],
        )
    raise FeatureNotSupported(f"{fn} is not supported")


def _check_merge_permission(caller: Caller, name: str) -> None:
    into_main = caller.engine.merges_into_main(name)  # first: an unknown branch is 42704
    allowed = caller.merge_agents
    if allowed is not None and into_main and caller.agent_id not in allowed:
        raise InsufficientPrivilege(
            f'agent "{caller.agent_id}" may not merge into main',
            hint="Ask an agent listed in merge_agents (hati.toml) to merge, or discard the branch.",
        )


def _query(caller: Caller, name: str, sql: str) -> Result:
    """branch_query: the statement's rows, or one row (status, rows_affected)."""
    res = caller.query_in(name, sql)
    if res.columns is not None:
        res.tag = f"SELECT {len(res.rows)}"
        res.rowcount = len(res.rows)
        return res
    return rows_result(
        [("status", pgtypes.TEXT), ("rows_affected", pgtypes.INT8)], [(res.tag, res.rowcount)]
    )
