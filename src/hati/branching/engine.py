"""The branching engine: the one facade over branches, and the owner of their locks.

Branch operations (``create``, ``discard``, ``merge``, ``diff``, ``conflicts``,
``record_resolution``, ``expire``, ``list``) run here, each in its own transaction.
A session routes its statements through an :class:`EngineSession`: where its cursor's
unqualified names resolve, the fork gate a write holds, and what its open transaction
did to branch state. The work itself is done by the units this composes (see
docs/architecture.md): ``store`` (metadata), ``space`` (where tables live), ``copy``,
``snapshots``, ``router`` (one statement in a branch) and ``merge``.

Locks, always taken in this order: each owner's fork ``gate`` (a readers-writer lock,
main's or a branch's) is held shared by every write to its tables and by a merge into
it, exclusively by a fork from it for a moment, so a fork never lands between a write's
snapshot check and its commit (a fork also waits for the merges queued at the tables,
so forks come in batches that share main's snapshots); ``merging`` (keylocks.py): a
merge holds the tables it writes and the branch it retires, so merges of different
tables run side by side; ``catalog.lock`` guards the in-memory catalog (held for a
whole merge only when the merge changes the parent's catalog: tables created, dropped,
copied). ``read_gate`` is held shared by a branch read from choosing its tables until
DuckDB has started it, exclusively to register a new snapshot.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from hati.branching import layout, store, undo
from hati.branching.catalog import MAIN_ID, Branch, Catalog, Snapshot, utcnow
from hati.branching.journal import FOLD_AFTER_LINES, BranchJournal
from hati.branching.merge import Merger, MergeResult
from hati.branching.names import validate_name, validate_strategy
from hati.branching.router import Router, StatementPlan
from hati.branching.rwlock import RWLock
from hati.branching.snapshots import Fuse, Snapshots
from hati.branching.space import UNCACHED, Namespace, Space, table_lock
from hati.branching.tablemerge import Conflict
from hati.errors import (
    DependentObjectsStillExist,
    DuplicateObject,
    HatiError,
    InvalidParameter,
    LockNotAvailable,
    SerializationFailure,
    UndefinedObject,
)
from hati.pg.analyze import Analysis
from hati.pg.dml import PlainWrite
from hati.storage.duckdb_backend import Database, transaction
from hati.storage.duckdb_backend import begin as storage_begin
from hati.storage.duckdb_backend import commit as storage_commit

FORK_WAIT_SECONDS = 10.0
MERGE_TRIES = 3  # a branch whose writers keep adding tables while it merges
SCHEMA_POOL_BATCH = 64  # empty branch schemas created ahead, in one transaction

__all__ = ["BranchEngine", "BranchInfo", "EngineSession", "MergeResult"]


class MainWrite(Protocol):
    """What ``before_main_write`` reads of a statement (pipeline.Statement)."""

    compiled: Any
    capture: Any

    @property
    def analysis(self) -> Analysis: ...

    @property
    def sql(self) -> str: ...

    def write(self) -> PlainWrite | None: ...


@dataclass(frozen=True)
class BranchInfo:
    """One row of branch_list()."""

    name: str
    parent: str
    created_by: str | None
    created_at: dt.datetime
    tables_materialized: int
    rows_changed: int
    expires_at: dt.datetime | None


class BranchEngine:
    """All branch state transitions. Thread-safe; callers pass their own cursor."""

    def __init__(self, db: Database, shared_schemas: frozenset[str] = frozenset()) -> None:
        self.db = db
        self.catalog = Catalog()
        self._gates: dict[int, RWLock] = {}  # owner -> its fork gate, see ``gate``
        self._read_gate = RWLock()
        self.space = Space(db, self.catalog)
        self.snapshots = Snapshots(self.space, self._read_gate)
        self.router = Router(self.space, self.snapshots, shared_schemas)
        self.merger = Merger(self.space)
        self.journal = BranchJournal(db.path.with_name(db.path.name + ".branches"))
        self._schema_pool: list[int] = []
        self.merging = self.space.merging  # held by merges (and discards), see keylocks.py
        cur = db.cursor()
        try:
            store.bootstrap(cur)
            self._fold_journal(cur, *self.journal.pending(), at_start=True)
            self._load(cur)
        finally:
            cur.close()

    def close(self) -> None:
        self.journal.close()

    def _fold_journal(
        self, cur: duckdb.DuckDBPyConnection, branches: list[Branch], epoch: int, at_start: bool
    ) -> None:
        """Record the journal's branches and epoch in the metadata, then empty it."""
        store.fold(cur, branches, epoch, restore_schemas=at_start)
        self.journal.truncate()

    def _load(self, cur: duckdb.DuckDBPyConnection) -> None:
        loaded = store.load(cur)
        self.catalog.epoch = loaded.epoch
        for b in loaded.branches:
            self.catalog.add(b)
        for bid, table in loaded.touched:
            owner = self.catalog.branches.get(bid)
            if owner is not None:
                owner.touched.add(table.lower())
        for owner_id, table, tag, snap in loaded.snapshots:
            self.catalog.add_snapshot(owner_id, table, Snapshot(tag, snap))
        self.space.undo = set(self.db.views_in(cur, layout.SNAP))
        self.snapshots.upgrade_undo(cur)

    def _take_schema(self, cur: duckdb.DuckDBPyConnection) -> int:
        """An id whose empty branch schema already exists (made in batches)."""
        if not self._schema_pool:
            ids = store.make_branch_schemas(cur, SCHEMA_POOL_BATCH)
            self._schema_pool = sorted(ids, reverse=True)
        return self._schema_pool.pop()

    # ------------------------------------------------------------------ lookups
    def branch(self, name: str) -> Branch:
        b = self.catalog.get(name)
        if b is None:
            raise UndefinedObject(
                f'branch "{name}" does not exist',
                hint="SELECT * FROM branch_list() shows the live branches.",
            )
        return b

    def live(self) -> list[Branch]:
        return sorted(self.catalog.branches.values(), key=lambda b: (b.created_at, b.id))

    def merges_into_main(self, name: str) -> bool:
        return self.branch(name).parent_id == MAIN_ID

    def list_branches(self, cur: duckdb.DuckDBPyConnection) -> list[BranchInfo]:
        """Every live branch, oldest first (after discarding expired ones)."""
        self.expire(cur)
        counts = store.materialized_counts(cur)
        out = []
        for b in self.live():
            parent = "main" if b.parent_id == MAIN_ID else self.catalog.branches[b.parent_id].name
            changed = len(self.merger.diff(cur, b)) if counts.get(b.id) else 0
            out.append(
                BranchInfo(
                    b.name,
                    parent,
                    b.created_by,
                    b.created_at,
                    counts.get(b.id, 0),
                    changed,
                    b.expires_at,
                )
            )
        return out

    # ------------------------------------------------------------------ create / discard
    def create(
        self,
        cur: duckdb.DuckDBPyConnection,
        name: str,
        parent: str | None = None,
        ttl_seconds: float | None = None,
        agent: str | None = None,
    ) -> Branch:
        validate_name(name)
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise InvalidParameter("ttl_seconds must be positive")
        parent_id = MAIN_ID if parent in (None, "", "main") else self.branch(parent).id
        gate = self.gate(parent_id)
        if not gate.acquire_exclusive(FORK_WAIT_SECONDS):
            raise LockNotAvailable(
                "could not fork: a write transaction on "
                + ("main" if parent_id == MAIN_ID else f'branch "{parent}"')
                + " has been open too long",
                hint="Commit or roll back open transactions, then retry branch_create.",
            )
        try:
            with self.catalog.lock:
                if self.catalog.get(name) is not None:
                    raise DuplicateObject(
                        f'branch "{name}" already exists',
                        hint="Pick another name, or branch_discard it first.",
                    )
                if parent_id != MAIN_ID and parent_id not in self.catalog.branches:
                    self.branch(str(parent))  # merged or discarded meanwhile: 42704
                now = utcnow()
                expires = now + dt.timedelta(seconds=ttl_seconds) if ttl_seconds else None
                if self.journal.lines >= FOLD_AFTER_LINES:
                    self._fold_journal(cur, self.live(), self.catalog.epoch, at_start=False)
                epoch = self.catalog.epoch + 1
                b = Branch(self._take_schema(cur), name, parent_id, epoch, agent, now, expires)
                b.persisted, b.pristine, b.resolved, b.marks = False, True, False, False
                self.journal.created(b)  # the fork is durable from here: no DuckDB commit
                self.catalog.epoch = epoch
                self.catalog.add(b)
                return b
        finally:
            gate.release_exclusive()

    def gate(self, owner_id: int) -> RWLock:
        """The fork gate of ``owner`` (main or a branch): held shared by every write to
        its tables, exclusively by a fork of a child from it."""
        g = self._gates.get(owner_id)
        return g if g is not None else self._gates.setdefault(owner_id, RWLock())

    def _childless(self, name: str) -> Branch:
        """The branch ``name``; a branch with live children cannot end before them."""
        b = self.branch(name)
        kids = self.catalog.children(b.id)
        if kids:
            raise DependentObjectsStillExist(
                f'branch "{name}" has live child branches: ' + ", ".join(k.name for k in kids),
                hint="Merge or discard the child branches first.",
            )
        return b

    def _retire(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, ns: Namespace | None = None
    ) -> None:
        """Remove a branch's schemas and metadata inside the caller's transaction
        (``ns``: its namespace as the transaction sees it, if known)."""
        self.journal.dropped(b.id)  # before the commit: see journal.py
        store.retire(cur, b, dropped=ns is None or bool(ns.dropped))
        self.space.forget(b.id)

    def _forget(self, b: Branch) -> None:
        """After the retiring transaction committed."""
        self.catalog.remove(b.id)
        self.snapshots.drop_owner(b.id)
        self._gates.pop(b.id, None)

    def discard(self, cur: duckdb.DuckDBPyConnection, name: str) -> None:
        with self.merging.holding([_branch_lock(self.branch(name).id)]), self.catalog.lock:
            b = self._childless(name)
            with transaction(cur):
                self._retire(cur, b)
            self._forget(b)
            self.collect_garbage(cur)

    def collect_garbage(self, cur: duckdb.DuckDBPyConnection) -> int:
        """Drop snapshots no live branch reads; return how many went."""
        return self.snapshots.collect_garbage(cur)

    def expire(self, cur: duckdb.DuckDBPyConnection) -> list[str]:
        """Discard branches whose TTL has passed (children first)."""
        now = utcnow()
        gone: list[str] = []
        for b in sorted(self.live(), key=lambda b: -b.fork_epoch):
            if b.expires_at is not None and b.expires_at <= now:
                try:
                    self.discard(cur, b.name)
                    gone.append(b.name)
                except HatiError:
                    continue
        return gone

    # ------------------------------------------------------------------ merge
    def diff(self, cur: duckdb.DuckDBPyConnection, name: str) -> list[tuple[Any, ...]]:
        return self.merger.diff(cur, self.branch(name))

    def conflicts(
        self, cur: duckdb.DuckDBPyConnection, name: str, table: str | None = None
    ) -> list[Conflict]:
        return self.merger.conflicts(cur, self.branch(name), table)

    def record_resolution(
        self, cur: duckdb.DuckDBPyConnection, name: str, table: str, key: str, choice: str
    ) -> str:
        """Record how ``branch_merge(name, 'manual')`` settles one conflicting row."""
        b = self.branch(name)
        row_key, choice, values = self.merger.check_resolution(cur, b, table, key, choice)
        b.resolved = True  # before the row exists: retire deletes it
        store.record_resolution(cur, b.id, table, row_key, choice, values)
        return choice

    def merge(
        self, cur: duckdb.DuckDBPyConnection, name: str, strategy: str = "branch_wins"
    ) -> MergeResult:
        validate_strategy(strategy)
        b = self._childless(name)
        for _ in range(MERGE_TRIES):
            ns = self.space.cached_namespace(cur, b, None)
            # Row deltas merged into main change no catalog but the branch's own: such a
            # merge holds only the locks of the tables it writes (KeyLocks); any other
            # also holds catalog.lock throughout, one at a time.
            lane = b.parent_id == MAIN_ID and not (ns.local or ns.dropped)
            names = [_branch_lock(b.id), *(table_lock(b.parent_id, t) for t in ns.changed)]
            # The parent's fork gate first: a fork waits for the merges queued here too,
            # so forks come in batches, which share the snapshots main's writes keep.
            with self.gate(b.parent_id).shared(), self.merging.holding(names):
                if self.catalog.branches.get(b.id) is not b:
                    raise UndefinedObject(f'branch "{name}" does not exist')
                whole = self.catalog.lock if not lane else contextlib.nullcontext()
                with whole:
                    with self.catalog.lock:
                        self._childless(name)  # no fork lands while the gate is held
                        since = self.space.ns_seq
                        ns = self.space.cached_namespace(cur, b, None)
                    locked = {n[2] for n in names if n[0] == "table"}
                    done = {t.lower() for t in ns.changed} <= locked and (
                        not lane or not (ns.local or ns.dropped)
                    )
                    if done:
                        result = self._merge(cur, b, strategy, ns, since, lane)
                if done:
                    if result.status == "merged":  # with the tables still held
                        self.snapshots.collect_garbage(cur, holding=set(names))
                    return result
            # The branch changed other tables meanwhile: lock those too.
        raise SerializationFailure(
            f'branch "{name}" kept changing while it was being merged',
            hint="Let the branch's writers finish, then merge again.",
        )

    def _merge(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        strategy: str,
        ns: Namespace,
        since: int,
        lane: bool,
    ) -> MergeResult:
        """The merge itself, holding the gate shared and the locks ``merge`` took."""
        tables = ns.changed
        changes = [b.id] if lane else [b.id, b.parent_id]  # the parent's catalog changes
        if b.parent_id != MAIN_ID:
            self.catalog.branches[b.parent_id].pristine = False  # the merge writes it
        resolutions = store.resolutions(cur, b.id) if strategy == "manual" else {}
        with (
            self.space.changing(changes),
            self.space.seeing(since),
            transaction(cur) as txn,
        ):
            # Every snapshot registered so far committed before this transaction:
            # main's undo rows for the merged keys are kept in it (one commit).
            writer = (cur, self.catalog.snap_seq)
            untouched: set[str] = set()
            self.snapshots.before_write(
                b.parent_id, tables, merging=b, writer=writer, untouched=untouched
            )
            # The namespace read before is the transaction's if no change to the
            # branch's schemas committed since (or is committing besides this).
            seen = ns if self.space.unchanged(b.id, since) else None
            if seen is None and lane:
                now = self.space.namespace(cur, b)
                if now.local or now.dropped or not set(now.changed) <= set(tables):  # rare
                    raise SerializationFailure(
                        f'branch "{b.name}" changed other tables while it was being merged',
                        hint="Merge it again.",
                    )
            result = self.merger.apply(cur, b, strategy, resolutions, seen, untouched)
            if result.status == "merged":
                self._retire(cur, b, seen)
            else:
                txn.rollback_only()
        if result.status == "merged":
            with self.catalog.lock:
                self._forget(b)
        return result

    # ------------------------------------------------------------------ sessions
    def open_session(self, cur: duckdb.DuckDBPyConnection) -> EngineSession:
        return EngineSession(self, cur)


class EngineSession:
    """One session's view of the engine, over the session's own cursor: where its
    unqualified names resolve, the fork gate its writes hold (for the rest of a
    transaction block), and what its open transaction did to branch state (branch rows
    it recorded, delta marks it wrote), settled by ``end``."""

    def __init__(self, engine: BranchEngine, cur: duckdb.DuckDBPyConnection) -> None:
        self._engine = engine
        self._router = engine.router
        self._cur = cur
        self._gates: list[RWLock] = []  # fork gates held to the end of the transaction
        self._stale_route = False  # a failed delta write could not reset search_path
        self._persisted: list[Branch] = []
        self._marked: list[tuple[int, str, str]] = []
        # The namespace cache's count when the cursor's transaction began (None: no
        # transaction is open, each statement is its own), and the branches whose
        # schemas this transaction changed (it reads them itself until it ends).
        self._since: int | None = None
        self._dirty: set[int] = set()
        self._committing: list[int] = []
        # Catalog.snap_seq when the cursor's open transaction began (None: no
        # transaction block): which undo snapshots it can extend itself.
        self._began_seq: int | None = None
        self._main_autocommit = False  # a DDL on main without a transaction is running
        # Catalog.snap_seq when a write outside a transaction block opened one of its
        # own (``statement_transaction``), until ``main_written``.
        self._stmt_seq: int | None = None
        self._pinned: list[undo.Fused] = []  # captures carried, until they committed
        self._known: dict[int, Namespace | None] = {}  # see ``prepare``

    # ------------------------------------------------------------------ routing
    def route(self, b: Branch | None) -> None:
        """Resolve the cursor's unqualified names in ``b`` (None: main)."""
        self._router.route(self._cur, b)
        self._stale_route = False

    def stale(self) -> None:
        """The cursor's route could not be set: the next statement routes it again."""
        self._stale_route = True

    def heal(self, b: Branch) -> None:
        """Route again if a failed statement left the cursor pointing elsewhere."""
        if self._stale_route:
            self.route(b)

    def plain_read(self, b: Branch, a: Analysis) -> bool:
        return self._router.plain_read(b, a)

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """Hold read_gate shared from choosing a read's tables until it has started."""
        return self._engine._read_gate.shared()

    def writing(
        self, in_block: bool, owner_id: int = MAIN_ID
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the fork gate of the owner written (main, or a branch) shared for one
        write; in a transaction block, until ``end``."""
        gate = self._engine.gate(owner_id)
        if not in_block:
            return gate.shared()
        if gate not in self._gates:
            gate.acquire_shared()
            self._gates.append(gate)
        return contextlib.nullcontext()

    def before_main_write(self, stmt: MainWrite) -> None:
        """Before a write on main: keep what live branches still read (the statement's
        analysis and plain write are asked for only when main has live children). A
        plain write carries the rows it keeps in its own statement (``stmt.capture``,
        see undo.Fused) when it runs DuckDB's text as one statement."""
        a = stmt.analysis
        if a.kind not in ("INSERT", "UPDATE", "DELETE"):
            self._main_ddl()
        stmt.capture = None
        if not self._engine.catalog.children(MAIN_ID):
            return
        fuse = None
        if (
            a.kind in ("INSERT", "UPDATE", "DELETE")
            and not stmt.compiled.template.steps
            and stmt.sql.lstrip()[:6].upper() == a.kind  # wrap() puts a WITH before it
        ):
            seq = self._began_seq if self._began_seq is not None else self._stmt_seq
            fuse = Fuse(seq, bool(a.returning))
        fused = self._router.before_main_write(a, stmt.write(), fuse)
        if fused is not None:
            stmt.capture = fused
            self._pinned.append(fused)

    def statement_transaction(self) -> None:
        """A write outside a transaction block is about to open a transaction of its
        own (with the foreign-key actions it runs): the snapshots registered by now are
        the ones it sees."""
        self._stmt_seq = self._engine.catalog.snap_seq

    def _unpin(self) -> None:
        """The statements that carried captures ended: their snapshots may go."""
        pinned, self._pinned = self._pinned, []
        for fused in pinned:
            self._engine.snapshots.unpin(fused)

    def _main_ddl(self) -> None:
        """A statement on main that may change its catalog (DDL) is about to run: main's
        cached catalog facts are not read by this transaction (it changes them) and are
        forgotten when it commits; a statement on its own announces its commit until
        ``main_written``."""
        if self._since is not None:
            self._dirty.add(MAIN_ID)
        elif not self._main_autocommit:
            self._main_autocommit = True
            self._engine.space.committing([MAIN_ID])

    def main_written(self) -> None:
        """After a statement on main ran (or failed)."""
        self._stmt_seq = None
        if self._since is None:
            self._unpin()
        if self._main_autocommit:
            self._main_autocommit = False
            self._engine.space.committed([MAIN_ID])

    def _seeing(self) -> contextlib.AbstractContextManager[None]:
        """Which cached catalog facts of main this cursor's statement may use."""
        since = UNCACHED if MAIN_ID in self._dirty else self._since
        return self._engine.space.seeing(since)

    def prepare(
        self, b: Branch, a: Analysis, write: Callable[[], PlainWrite | None]
    ) -> StatementPlan | None:
        """Copy-on-write for one statement in ``b``; None: skip it (IF NOT EXISTS)."""
        fresh = not b.persisted
        space = self._engine.space
        if b.pristine:
            ns = Namespace.empty()
        elif b.id in self._dirty:
            ns = space.namespace(self._cur, b)
        else:
            ns = space.cached_namespace(self._cur, b, self._since)
        seen = ns.copy()
        done = False
        try:
            with self._seeing():
                plan = self._router.prepare(self._cur, b, a, write, ns)
            done = True
            return plan
        finally:
            if fresh and b.persisted:  # this transaction recorded the branch's row
                self._persisted.append(b)
            keeps = _keeps_namespace(a)
            # The namespace as this transaction leaves it, when all prepare changed is
            # deltas begun and views (re)made, which it notes exactly (cached for others
            # when the transaction commits: ``Space.committed``).
            exact = done and keeps and ns.local == seen.local and ns.dropped == seen.dropped
            self._known[b.id] = ns if exact else None
            if seen != ns or not keeps:
                self._dirty.add(b.id)
                if self._since is None:  # a read outside a transaction: its DDL committed
                    space.namespace_changed([b.id])

    def finish(self, b: Branch, a: Analysis, plan: StatementPlan, ok: bool) -> None:
        """After the statement ran (``ok``) or failed."""
        try:
            with self._seeing():
                if not self._router.finish(self._cur, b, a, plan, ok):
                    self._stale_route = True
        finally:
            if not ok:
                self._known[b.id] = None
            self._marked += plan.marked
            if self._since is None and self._dirty:  # it committed on its own
                self._engine.space.namespace_changed(sorted(self._dirty))
                self._dirty.clear()

    def commit(self) -> None:
        """COMMIT the cursor's transaction (``end`` follows, whether it worked or not)."""
        if self._dirty:
            self._committing = sorted(self._dirty)
            self._engine.space.committing(self._committing)
        storage_commit(self._cur)

    # ------------------------------------------------------------------ transactions
    def begin(self) -> None:
        """BEGIN a transaction on the cursor (a client's, or a write run in its own)."""
        self._since = self._engine.space.ns_seq
        storage_begin(self._cur)
        self._began_seq = self._engine.catalog.snap_seq

    def end(self, committed: bool) -> None:
        """The cursor's transaction ended: a branch row it recorded and did not commit
        must be recorded again by the branch's next write; marks it committed are known."""
        since, self._since = self._since, None
        if self._committing:  # others read these again
            known = {}
            if committed and since is not None:
                known = {
                    bid: ns for bid in self._committing if (ns := self._known.get(bid)) is not None
                }
            self._engine.space.committed(self._committing, known, since)
            self._committing = []
        self._dirty.clear()  # committed and announced, or rolled back: nothing changed
        self._known.clear()
        if committed:
            self._engine.space.marked.update(
                m for m in self._marked if m[0] in self._engine.catalog.branches
            )
        else:
            for b in self._persisted:
                b.persisted = False
        self._persisted.clear()
        self._marked.clear()
        self._began_seq = None
        self._unpin()
        gates, self._gates = self._gates, []
        for gate in gates:
            gate.release_shared()


def _branch_lock(bid: int) -> tuple[str, int, str]:
    return ("branch", bid, "")


def _keeps_namespace(a: Analysis) -> bool:
    """Can the statement itself not change a branch schema (no DDL)?"""
    return a.kind in ("SELECT", "INSERT", "UPDATE", "DELETE") and not (a.creates or a.drops)
