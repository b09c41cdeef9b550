"""Waiting writers on main, as PostgreSQL's writers wait for each other.

DuckDB's transactions are optimistic: a transaction that updates a row another open
transaction has changed fails at once ("Conflict on update"). PostgreSQL makes the
second writer wait until the first commits or rolls back, then goes on. hati gets the
same behaviour with a lock per table on main, taken before a statement that updates
or deletes rows of the table (and by DDL on it) and held to the end of the
transaction — so the waiting transaction's snapshot starts after the other one ended
(DuckDB takes a transaction's snapshot when it first touches the database).

Plain INSERTs on main take no lock (DuckDB appends concurrently, as PostgreSQL does).
In a branch every write locks its tables, named by the branch's schema, so sessions of
one branch wait for each other as main's do, and sessions of different branches never
wait for each other. The lock
is per table, coarser than PostgreSQL's row locks: two transactions updating different
rows of one table run one after the other instead of side by side, but neither fails.

A wait that would close a cycle of transactions waiting for each other fails at once
with 40P01, as PostgreSQL's deadlock detector would after ``deadlock_timeout``; a wait
longer than ``lock_timeout`` fails with 55P03, and a cancel request ends it with 57014.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from pglast import ast

from hati.errors import DeadlockDetected, LockNotAvailable, QueryCanceled
from hati.pg.analyze import Analysis, RowLocks

# Statements whose rows DuckDB would report as a write-write conflict.
_LOCKING = frozenset({"UPDATE", "DELETE", "MERGE", "ALTER", "DROP", "TRUNCATE"})


def tables_to_lock(node: ast.Node, a: Analysis) -> list[str]:
    """The tables of main a statement must hold before it runs (plain INSERTs: none)."""
    upsert = isinstance(node, ast.InsertStmt) and node.onConflictClause is not None
    if a.kind not in _LOCKING and not upsert:
        return []
    return [f"{(t.schema or 'main').lower()}.{t.name.lower()}" for t in a.writes + a.drops]


def branch_tables_to_lock(a: Analysis, branch_schema: str) -> list[str]:
    """The tables a write in a branch must hold before it runs: every table it writes,
    drops or creates, INSERTs too (a branch's first write of a table creates its copy or
    delta, which two sessions of the branch must not do at once). The branch's tables
    are named by its schema; a shared schema's are main's own (the same locks as main's
    writers)."""
    return sorted(
        {
            f"{(t.schema or branch_schema).lower()}.{t.name.lower()}"
            for t in [*a.writes, *a.drops, *a.creates]
        }
    )


_SLICE_S = 0.05  # how often a waiter looks at its cancel flag and its deadline


class TableLocks:
    """Exclusive write locks on main's tables, owned by sessions."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: dict[str, int] = {}  # table -> the session holding it
        self._held: dict[int, set[str]] = {}  # session -> the tables it holds
        self._waiting: dict[int, str] = {}  # session -> the table it waits for
        self._cancelled: set[int] = set()

    def acquire(self, session: int, tables: Iterable[str], timeout_s: float | None = None) -> None:
        """Take every table for ``session``, waiting for their holders to end, at most
        ``timeout_s`` seconds (None or 0: no limit, as lock_timeout = 0)."""
        if not tables:
            return
        deadline = time.monotonic() + timeout_s if timeout_s else None
        with self._cond:
            self._cancelled.discard(session)
            for table in sorted(set(tables)):
                self._take(session, table, deadline)

    def _take(self, session: int, table: str, deadline: float | None) -> None:
        try:
            self._wait_for(session, table, deadline)
        finally:
            self._waiting.pop(session, None)

    def _wait_for(self, session: int, table: str, deadline: float | None) -> None:
        while True:
            holder = self._owner.get(table)
            if holder is None or holder == session:
                self._owner[table] = session
                self._held.setdefault(session, set()).add(table)
                return
            if self._closes_cycle(session, holder):
                raise DeadlockDetected(
                    "deadlock detected",
                    detail=f"This transaction waits for a lock on {table} held by another "
                    "transaction that waits, directly or not, for this one.",
                    hint="Retry the transaction; take locks in one order to avoid this.",
                )
            if session in self._cancelled:
                self._cancelled.discard(session)
                raise QueryCanceled("canceling statement due to user request")
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise LockNotAvailable(f'canceling statement due to lock timeout on "{table}"')
            if self._waiting.get(session) != table:
                # Once per wait, not at every wake-up: waiters that woke each other
                # would spin (and a holder would share the CPU with them).
                self._waiting[session] = table
                self._cond.notify_all()  # observers (wait_for_waiters) see the new waiter
            self._cond.wait(_SLICE_S if left is None else min(_SLICE_S, left))

    def _closes_cycle(self, session: int, holder: int) -> bool:
        """Would ``session`` waiting for ``holder`` close a cycle of waits?"""
        seen: set[int] = set()
        current: int | None = holder
        while current is not None and current not in seen:
            if current == session:
                return True
            seen.add(current)
            table = self._waiting.get(current)
            current = self._owner.get(table) if table is not None else None
        return False

    def try_acquire(self, session: int, tables: Iterable[str], take: bool = True) -> bool:
        """Take every table for ``session`` if none is held by another session, without
        waiting (NOWAIT, SKIP LOCKED); ``take`` False: only look."""
        with self._cond:
            wanted = sorted(set(tables))
            if any(self._owner.get(t, session) != session for t in wanted):
                return False
            if take:
                for t in wanted:
                    self._owner[t] = session
                    self._held.setdefault(session, set()).add(t)
            return True

    def release(self, session: int, table: str) -> None:
        """One table ``session`` holds is free again (advisory unlock)."""
        with self._cond:
            if self._owner.get(table) == session:
                del self._owner[table]
            self._held.get(session, set()).discard(table)
            self._cond.notify_all()

    def release_all(self, session: int) -> None:
        """End of ``session``'s transaction: every table it held is free."""
        with self._cond:
            for table in self._held.pop(session, set()):
                if self._owner.get(table) == session:
                    del self._owner[table]
            self._cancelled.discard(session)
            self._cond.notify_all()

    def cancel(self, session: int) -> None:
        """A cancel request: a wait of ``session`` ends with 57014."""
        with self._cond:
            if session in self._waiting:
                self._cancelled.add(session)
                self._cond.notify_all()

    def wait_for_waiters(self, n: int, timeout_s: float) -> bool:
        """Block until ``n`` sessions wait for a lock (for tests and tools that must
        know a writer is waiting); False when that did not happen in time."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._waiting) >= n, timeout_s)

    def holds(self, session: int) -> set[str]:
        with self._cond:
            return set(self._held.get(session, set()))


def lock_rows(
    locks: TableLocks,
    session: int,
    rl: RowLocks,
    names: list[str],
    timeout_s: float,
    in_block: bool,
) -> bool:
    """Take the locks of ``SELECT ... FOR UPDATE / SHARE`` to the end of the transaction
    (outside a transaction block, only wait for their holders); False: SKIP LOCKED skips
    the rows (another transaction holds a table); NOWAIT raises 55P03."""
    if rl.wait == "wait":
        locks.acquire(session, names, timeout_s)
        if not in_block:  # the statement is the transaction: nothing to hold
            locks.release_all(session)
        return True
    if locks.try_acquire(session, names, take=in_block):
        return True
    if rl.wait == "skip":
        return False
    held = names[0].split(".")[-1] if names else ""
    raise LockNotAvailable(
        f'could not obtain lock on row in relation "{held}"',
        hint=f"Another transaction holds it: retry, or leave NOWAIT out of {rl.strength}.",
    )
