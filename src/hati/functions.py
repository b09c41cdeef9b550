"""The branch functions (``SELECT branch_create('x')`` ...): run a call, shape its rows.

The pipeline's ``intercept`` step recognises a call; :func:`run` runs it against the
branch engine and answers with the rows the README documents. What a call needs from
the session that made it is the :class:`Caller` protocol.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import astuple
from typing import Any, Protocol

import duckdb
import pyarrow as pa
from pglast import ast

from hati import pipeline
from hati.branching.engine import BranchEngine
from hati.errors import (
    ActiveSqlTransaction,
    FeatureNotSupported,
    HatiError,
    InsufficientPrivilege,
    InvalidParameter,
)
from hati.pg import render
from hati.pipeline import BranchCall, Statement
from hati.results import Result, as_tuples, rows_result, text_columns
from hati.wire import types as pgtypes

_OWN_TRANSACTION = ("branch_create", "branch_merge", "branch_discard", "hati_compact")
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

    def compact(self) -> Any:
        """hati_compact(): compact the database file now (a hati.compactor.Compacted)."""

    def query_in(self, branch: str, sql: str) -> Result:
        """Run one statement in ``branch`` (branch_query), its rows read."""
        ...


def run(caller: Caller, call: BranchCall) -> Result:
    fn = call.function
    if fn in _OWN_TRANSACTION and caller.in_transaction:
        raise ActiveSqlTransaction(
            f"{fn} cannot run inside a transaction block",
            hint="COMMIT or ROLLBACK first; branch operations commit on their own.",
        )
    handler = _HANDLERS.get(fn)
    if handler is None:
        raise FeatureNotSupported(f"{fn} is not supported")
    if call.args and isinstance(call.args[0], str):
        caller.acted_on(call.args[0])
    return handler(caller, call.alias or fn, *call.args)


def _create(
    caller: Caller, col: str, name: str, parent: str | None = None, ttl: Any = None
) -> Result:
    seconds = _ttl_seconds(ttl)
    b = caller.engine.create(caller.cur, name, parent, seconds, caller.agent_id)
    return rows_result(text_columns(col), [(b.name,)])


MAX_TTL_SECONDS = 100 * 365 * 86400.0


def _ttl_seconds(ttl: Any) -> float | None:
    """A branch's time to live: a finite number of seconds, > 0, at most 100 years."""
    if ttl is None:
        return None
    try:
        seconds = float(ttl)
    except (TypeError, ValueError):
        seconds = math.nan
    if not 0 < seconds <= MAX_TTL_SECONDS:  # NaN fails too
        raise InvalidParameter(
            f"invalid branch time to live: {ttl}",
            hint="The TTL is a number of seconds greater than 0, at most 100 years.",
        )
    return seconds


def _query(caller: Caller, col: str, name: Any, sql: Any) -> Result:
    """The statement's rows, or one row (status, rows_affected)."""
    res = caller.query_in(str(name), str(sql))
    if res.columns is not None:
        res.tag = f"SELECT {len(res.rows)}"
        res.rowcount = len(res.rows)
        return res
    return rows_result(_STATUS_COLUMNS, [(res.tag, res.rowcount)])


def _merge(caller: Caller, col: str, name: str, strategy: str | None = None) -> Result:
    _check_merge_permission(caller, name)
    r = caller.engine.merge(caller.cur, name, strategy if strategy is not None else "branch_wins")
    if caller.branch == r.branch and r.status == "merged":
        caller.leave_branch()
    row = (r.branch, r.strategy, r.inserted, r.updated, r.deleted, r.conflicts, r.status)
    return rows_result(_MERGE_COLUMNS, [row])


def _discard(caller: Caller, col: str, name: str) -> Result:
    caller.engine.discard(caller.cur, name)
    if caller.branch == name:
        caller.leave_branch()
    return rows_result(text_columns(col), [(name,)])


def _list(caller: Caller, col: str) -> Result:
    return rows_result(_LIST_COLUMNS, [astuple(i) for i in caller.engine.list_branches(caller.cur)])


def _diff(caller: Caller, col: str, name: str) -> Result:
    return rows_result(_DIFF_COLUMNS, caller.engine.diff(caller.cur, name))


def _conflicts(caller: Caller, col: str, name: str) -> Result:
    found = caller.engine.conflicts(caller.cur, name)
    return rows_result(
        _CONFLICT_COLUMNS,
        [(c.table, c.key, c.base, c.ours, c.theirs, c.kind, list(c.columns)) for c in found],
    )


def _resolve(caller: Caller, col: str, name: str, table: str, key: Any, choice: Any) -> Result:
    recorded = caller.engine.record_resolution(caller.cur, name, table, str(key), str(choice))
    return rows_result(_RESOLVE_COLUMNS, [(name, table, str(key), recorded)])


def _compact(caller: Caller, col: str) -> Result:
    done = caller.compact()
    row = (done.bytes_before, done.bytes_after, round(done.seconds, 3), done.pause_seconds * 1000)
    return rows_result(_COMPACT_COLUMNS, [row])


_HANDLERS: dict[str, Callable[..., Result]] = {
    "branch_create": _create,
    "branch_query": _query,
    "branch_merge": _merge,
    "branch_discard": _discard,
    "branch_list": _list,
    "branch_diff": _diff,
    "branch_conflicts": _conflicts,
    "branch_resolve": _resolve,
    "hati_compact": _compact,
}


_DIFF_COLUMNS = text_columns("table_name", "change", "key", "old_values", "new_values")
_CONFLICT_COLUMNS = [
    *text_columns("table_name", "key", "base_values", "main_values", "branch_values", "kind"),
    ("columns", pgtypes.ARRAY_OF[pgtypes.TEXT]),
]
_STATUS_COLUMNS = [("status", pgtypes.TEXT), ("rows_affected", pgtypes.INT8)]
_RESOLVE_COLUMNS = text_columns("branch_name", "table_name", "key", "resolution")
_COMPACT_COLUMNS = [
    ("bytes_before", pgtypes.INT8),
    ("bytes_after", pgtypes.INT8),
    ("seconds", pgtypes.FLOAT8),
    ("pause_ms", pgtypes.FLOAT8),
]


def columns(call: BranchCall) -> list[tuple[str, int]] | None:
    """The columns a call answers with, known before it runs (None: they depend on
    the statement branch_query runs)."""
    fixed = {
        "branch_merge": _MERGE_COLUMNS,
        "branch_list": _LIST_COLUMNS,
        "branch_diff": _DIFF_COLUMNS,
        "branch_conflicts": _CONFLICT_COLUMNS,
        "branch_resolve": _RESOLVE_COLUMNS,
        "hati_compact": _COMPACT_COLUMNS,
    }
    if call.function in fixed:
        return fixed[call.function]
    if call.function == "branch_query":
        return None
    return text_columns(call.alias or call.function)


def described(
    call: BranchCall, describe: Callable[[str], list[tuple[str, int]] | None]
) -> list[tuple[str, int]] | None:
    """The columns of a call for Describe: a ``branch_query`` of a statement given as a
    constant answers that statement's columns (described where the session is), or
    ``status, rows_affected`` for one that returns no rows."""
    if call.function != "branch_query" or len(call.args) != 2 or not isinstance(call.args[1], str):
        return columns(call)
    try:
        cols = describe(call.args[1])
    except HatiError:
        return None
    return cols if cols is not None else _STATUS_COLUMNS


def _check_merge_permission(caller: Caller, name: str) -> None:
    into_main = caller.engine.merges_into_main(name)  # first: an unknown branch is 42704
    allowed = caller.merge_agents
    if allowed is not None and into_main and caller.agent_id not in allowed:
        raise InsufficientPrivilege(
            f'agent "{caller.agent_id}" may not merge into main',
            hint="Ask an agent listed in merge_agents (hati.toml) to merge, or discard the branch.",
        )


# ---------------------------------------------------------------- in a larger query
_ARROW = {
    pgtypes.INT8: pa.int64(),
    pgtypes.TIMESTAMP: pa.timestamp("us"),
    pgtypes.BOOL: pa.bool_(),
    pgtypes.ARRAY_OF[pgtypes.TEXT]: pa.list_(pa.string()),  # branch_conflicts' columns
}
SOURCE = "__hati_fn_{}"  # a call's rows, registered on the session's cursor


def materialize(caller: Caller, stmt: Statement, describing: bool = False) -> list[str]:
    """Run the read-only branch functions a query reads in FROM (``SELECT name FROM
    branch_list()``), register their rows on the session's cursor and print each call
    as that relation; returns the names to unregister once the rows are read.
    ``describing``: before its parameters are bound, a call is its columns alone."""
    names: list[str] = []
    if not any(f[-1] in pipeline.READ_ONLY for f in stmt.analysis.functions):
        return names
    try:
        for i, (rf, call) in enumerate(pipeline.composed(stmt)):
            assert call.funcname is not None
            fn = str(call.funcname[0].sval)
            try:
                args = tuple(stmt.compiled.value(a, stmt.params) for a in call.args or ())
            except ValueError:
                if not describing:
                    raise FeatureNotSupported(
                        "branch function arguments must be constants or parameters",
                        hint="Write e.g. SELECT * FROM branch_diff('plan-a').",
                    ) from None
                args = None
            if args is None:
                cols, data = columns(BranchCall(fn, ())) or [], []
            else:
                res = run(caller, BranchCall(fn, args))
                cols = res.columns or []
                data = as_tuples(res.buffer().fetch(len(res.rows) or 1))
            table = pa.table(
                [
                    pa.array([r[j] for r in data], _ARROW.get(oid, pa.string()))
                    for j, (_, oid) in enumerate(cols)
                ],
                names=[n for n, _ in cols],
            )
            name = SOURCE.format(i)
            caller.cur.register(name, table)
            names.append(name)
            # the call's parameters stay in the text: DuckDB counts the ones it is given
            used = " AND ".join(
                f"(${a.number} IS NULL OR true)"
                for a in call.args or ()
                if isinstance(a, ast.ParamRef)
            )
            source = f"(SELECT * FROM {name} WHERE {used})" if used else name
            stmt.answers[id(rf)] = f"{source} AS {_alias(rf, fn)}"
    except BaseException:
        for name in names:
            caller.cur.unregister(name)
        raise
    return names


def with_sources(caller: Caller, stmt: Statement, run: Callable[[], Result]) -> Result:
    """``run()`` the statement with the rows of the branch functions it reads
    (``materialize``), read before they are dropped."""
    sources = materialize(caller, stmt)
    try:
        res = run()
        return res.buffer() if sources else res
    finally:
        for name in sources:
            caller.cur.unregister(name)


def _alias(rf: ast.RangeFunction, fn: str) -> str:
    alias = rf.alias
    if alias is None:
        return render.quote_name(fn)
    text = render.quote_name(alias.aliasname or fn)
    if alias.colnames:
        text += " (" + ", ".join(render.quote_name(c.sval) for c in alias.colnames) + ")"
    return text
