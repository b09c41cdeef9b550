"""The branching engine: fork, route, copy-on-write, snapshot, merge, discard, GC.

Storage layout (see docs/storage.md):
- main's tables live in schema ``main``; branch ``b`` owns schema ``_hb_<id>``.
- A branch schema starts empty. Unqualified reads of tables the branch has not
  written fall through ``search_path`` to main (zero copy). A branch table appears
  when the branch first writes it (copy-on-write), or as a view when its base is a
  snapshot or a parent branch's table.
- ``_hati_snap`` keeps snapshots that parents take before they change a table a
  live child still reads; the child's base (and merge base) is that snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from hati.branching import delta, undo
from hati.branching.analysis import Analysis
from hati.branching.catalog import MAIN_ID, Branch, Catalog, Snapshot
from hati.branching.journal import FOLD_AFTER_LINES, BranchJournal
from hati.branching.merge import Conflict, Side, TableCounts, TableMerge, canonical_key
from hati.branching.names import validate_name, validate_strategy
from hati.branching.rwlock import RWLock
from hati.errors import (
    DependentObjectsStillExist,
    DuplicateObject,
    DuplicateTable,
    HatiError,
    InsufficientPrivilege,
    InvalidParameter,
    LockNotAvailable,
    SerializationFailure,
    UndefinedObject,
    UndefinedTable,
)
from hati.storage.duckdb_backend import META, SNAP, Database, qident, qname, transaction

FORK_WAIT_SECONDS = 10.0
SCHEMA_POOL_BATCH = 64  # empty branch schemas created ahead, in one transaction


@dataclass
class MergeResult:
    branch: str
    strategy: str
    inserted: int
    updated: int
    deleted: int
    conflicts: int
    status: str


_CREATE_HEAD = re.compile(
    r'^\s*CREATE\s+TABLE\s+(?:(?:"(?:[^"]|"")*"|[^\s(."]+)\.)*(?:"(?:[^"]|"")*"|[^\s(."]+)\s*\(',
    re.IGNORECASE,
)


_INDEX_HEAD = re.compile(
    r'^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:"(?:[^"]|"")*"|[^\s"]+)\s+ON\s+'
    r'(?:(?:"(?:[^"]|"")*"|[^\s(."]+)\.)*(?:"(?:[^"]|"")*"|[^\s(."]+)\s*\(',
    re.IGNORECASE,
)


_READ_HEAD = re.compile(r"\s*(?:SELECT|VALUES|TABLE|FROM|WITH)\b", re.IGNORECASE)
_NOT_PLAIN_READ = re.compile(
    r"\b(?:INTO|RETURNING|INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|COPY|TRUNCATE)\b",
    re.IGNORECASE,
)


_OTHER_UNIQUE = re.compile(r"\b(UNIQUE|REFERENCES)\b", re.IGNORECASE)


def _branch_row(b: Branch) -> list[Any]:
    return [b.id, b.name, b.parent_id, b.fork_epoch, b.created_by, b.created_at, b.expires_at]


def _insert_new(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any], race: str) -> None:
    """An ``INSERT ... WHERE NOT EXISTS`` (1 ms, where INSERT OR IGNORE costs 3). The
    same key inserted by a transaction not yet committed is a lost race: 40001, which
    an autocommit branch write retries."""
    try:
        cur.execute(sql, params)
    except duckdb.ConstraintException as exc:
        raise SerializationFailure(race, hint="Retry the statement.") from exc


def _points_at(view_sql: str, rel: str) -> bool:
    """Does a view's stored SQL read ``rel``? DuckDB stores it re-printed, quoting
    identifiers only where needed, so match either spelling as a whole name."""
    for spelling in {rel, ".".join(qident_if_needed(p) for p in _split(rel))}:
        if re.search(r'(?<![\w."])' + re.escape(spelling) + r'(?![\w"])', view_sql):
            return True
    return False


def qident_if_needed(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else qident(name)


def _split(rel: str) -> tuple[str, str]:
    schema, table = (p.strip('"').replace('""', '"') for p in rel.split(".", 1))
    return schema, table


@dataclass
class Namespace:
    local: set[str]
    views: dict[str, str]
    dropped: set[str]
    deltas: set[str]


@dataclass
class StatementPlan:
    """What prepare_statement arranged; finish_statement undoes it."""

    delta: tuple[delta.DeltaWrite, str] | None = None  # (the write, its base relation)
    # delta_columns rows this statement inserted: known once its transaction commits
    marked: list[tuple[int, str, str]] = field(default_factory=list)


class BranchEngine:
    """All branch state transitions. Thread-safe; callers pass their own cursor."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.catalog = Catalog()
        self.gate = RWLock()
        # Branch reads hold this shared from choosing their tables until DuckDB has
        # started their statement; a parent registers a new snapshot exclusively, so
        # a read never picks the live table and then sees the write that follows.
        self.read_gate = RWLock()
        self._snap_lock = threading.Lock()
        self.journal = BranchJournal(db.path.with_name(db.path.name + ".branches"))
        self._schema_pool: list[int] = []
        self._keys: dict[tuple[int, str], list[str]] = {}  # (branch, delta table) -> key
        self._undo: set[str] = set()  # snapshots that keep only changed rows (undo.py)
        # (branch, table, column) marks known committed in _hati.delta_columns: a write
        # that assigns the same column again need not insert (1 ms) what is there.
        self._marked: set[tuple[int, str, str]] = set()
        cur = db.cursor()
        try:
            self._fold_journal(cur, *self.journal.pending())
        finally:
            cur.close()
        self._load()

    def close(self) -> None:
        self.journal.close()

    def _fold_journal(
        self,
        cur: duckdb.DuckDBPyConnection,
        branches: list[Branch],
        epoch: int,
        at_start: bool = True,
    ) -> None:
        """Record ``branches`` and the epoch in ``_hati`` (one transaction), empty the log.
        Only rows not there yet are written, in one statement per 1000, so folding
        thousands of live branches takes one pause of milliseconds, not seconds."""
        if branches or epoch:
            taken = {
                r[0]: r[1] for r in cur.execute(f"SELECT name, id FROM {META}.branches").fetchall()
            }
            ids = set(taken.values())
            # A name whose older branch survived a lost retirement keeps the older one.
            new = [b for b in branches if b.id not in ids and taken.get(b.name, b.id) == b.id]
            with transaction(cur):
                for i in range(0, len(new), 1000):
                    chunk = new[i : i + 1000]
                    cur.execute(
                        f"INSERT OR IGNORE INTO {META}.branches VALUES "
                        + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                        [v for b in chunk for v in _branch_row(b)],
                    )
                if at_start:  # a journal-only branch whose schema is gone gets it back
                    have = {
                        r[0]
                        for r in cur.execute(
                            "SELECT schema_name FROM duckdb_schemas() "
                            "WHERE database_name = current_database()"
                        ).fetchall()
                    }
                    for b in new:
                        if b.schema not in have:
                            cur.execute(f"CREATE SCHEMA {qident(b.schema)}")
                cur.execute(
                    f"UPDATE {META}.state SET value = greatest(value, ?) WHERE key = 'epoch'",
                    [epoch],
                )
        self.journal.truncate()

    @staticmethod
    def _persist(cur: duckdb.DuckDBPyConnection, b: Branch) -> None:
        _insert_new(  # the epoch stays in the journal until a fold records it
            cur,
            f"INSERT INTO {META}.branches SELECT $1, $2, $3, $4, $5, $6, $7 "
            f"WHERE NOT EXISTS (SELECT 1 FROM {META}.branches WHERE id = $1)",
            _branch_row(b),
            f'another session is recording branch "{b.name}"',
        )

    def _take_schema(self, cur: duckdb.DuckDBPyConnection) -> int:
        """An id whose empty ``_hb_<id>`` schema already exists (made in batches)."""
        if not self._schema_pool:
            with transaction(cur):
                ids = [
                    int(r[0])
                    for r in cur.execute(
                        f"SELECT nextval('{META}.ids') FROM range({SCHEMA_POOL_BATCH})"
                    ).fetchall()
                ]
                for bid in ids:
                    cur.execute(f"CREATE SCHEMA {qident(f'_hb_{bid}')}")
            self._schema_pool = sorted(ids, reverse=True)
        return self._schema_pool.pop()

    # ------------------------------------------------------------------ state
    def _load(self) -> None:
        cur = self.db.cursor()
        self.catalog.epoch = int(
            cur.execute(
                f"SELECT greatest((SELECT value FROM {META}.state WHERE key = 'epoch'), "
                f"(SELECT coalesce(max(tag), 0) FROM {META}.snapshots))"
            ).fetchone()[0]  # type: ignore[index]
        )
        for row in cur.execute(
            f"SELECT id, name, parent_id, fork_epoch, created_by, created_at, expires_at FROM {META}.branches"
        ).fetchall():
            self.catalog.add(Branch(*row))
        for bid, name in cur.execute(  # one query, however many branches
            "SELECT regexp_extract(schema_name, '^_hbd?_([0-9]+)$', 1)::BIGINT, table_name "
            "FROM duckdb_tables() WHERE regexp_matches(schema_name, '^_hbd?_[0-9]+$') "
            "AND database_name = current_database() "
            "UNION ALL SELECT regexp_extract(schema_name, '^_hb_([0-9]+)$', 1)::BIGINT, view_name "
            "FROM duckdb_views() WHERE regexp_matches(schema_name, '^_hb_[0-9]+$') "
            "AND database_name = current_database() "
            f"UNION ALL SELECT branch_id, table_name FROM {META}.dropped"
        ).fetchall():
            b = self.catalog.branches.get(bid)
            if b is not None:
                b.touched.add(name.removesuffix(delta.HIDE_SUFFIX).lower())
        for owner, table, tag, snap in cur.execute(
            f"SELECT owner_id, table_name, tag, snap_table FROM {META}.snapshots"
        ).fetchall():
            self.catalog.add_snapshot(owner, table, Snapshot(tag, snap))
        self._undo = set(self.db.views_in(cur, SNAP))
        cur.close()

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

    @property
    def has_branches(self) -> bool:
        return bool(self.catalog.branches)

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
        if not self.gate.acquire_exclusive(FORK_WAIT_SECONDS):
            raise LockNotAvailable(
                "could not fork: a write transaction on main has been open too long",
                hint="Commit or roll back open transactions, then retry branch_create.",
            )
        try:
            with self.catalog.lock:
                if self.catalog.get(name) is not None:
                    raise DuplicateObject(
                        f'branch "{name}" already exists',
                        hint="Pick another name, or branch_discard it first.",
                    )
                parent_id = MAIN_ID if parent in (None, "", "main") else self.branch(parent).id
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                expires = now + dt.timedelta(seconds=ttl_seconds) if ttl_seconds else None
                if self.journal.lines >= FOLD_AFTER_LINES:
                    self._fold_journal(cur, self.live(), self.catalog.epoch, at_start=False)
                epoch = self.catalog.epoch + 1
                b = Branch(self._take_schema(cur), name, parent_id, epoch, agent, now, expires)
                b.persisted, b.pristine = False, True
                self.journal.created(b)  # the fork is durable from here: no DuckDB commit
                self.catalog.epoch = epoch
                self.catalog.add(b)
                return b
        finally:
            self.gate.release_exclusive()

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

    def discard(self, cur: duckdb.DuckDBPyConnection, name: str) -> None:
        with self.catalog.lock:
            b = self._childless(name)
            with transaction(cur):
                self._retire(cur, b)
            self.catalog.remove(b.id)
            self._drop_owner_snapshots(b.id)
            self.collect_garbage(cur)

    def _retire(self, cur: duckdb.DuckDBPyConnection, b: Branch) -> None:
        """Remove a branch's schema and metadata inside the caller's transaction."""
        self.journal.dropped(b.id)  # before the commit: see journal.py
        cur.execute(f"DROP SCHEMA IF EXISTS {qident(b.schema)} CASCADE")
        cur.execute(f"DROP SCHEMA IF EXISTS {qident(delta.delta_schema(b.id))} CASCADE")
        for k in [k for k in self._keys if k[0] == b.id]:
            self._keys.pop(k, None)
        self._marked = {m for m in self._marked if m[0] != b.id}
        for table in ("branches",):
            cur.execute(f"DELETE FROM {META}.{table} WHERE id = ?", [b.id])
        cur.execute(f"DELETE FROM {META}.dropped WHERE branch_id = ?", [b.id])
        cur.execute(f"DELETE FROM {META}.resolutions WHERE branch_id = ?", [b.id])
        cur.execute(f"DELETE FROM {META}.delta_columns WHERE branch_id = ?", [b.id])

    def _drop_owner_snapshots(self, owner_id: int) -> None:
        for key in [k for k in self.catalog.snapshots if k[0] == owner_id]:
            self.catalog.snapshots.pop(key, None)

    def collect_garbage(self, cur: duckdb.DuckDBPyConnection) -> int:
        """Drop snapshots no live branch reads; return how many went."""
        with self.catalog.lock:
            dead = self.catalog.unused_snapshots()
            for owner, table, snap in dead:
                self.catalog.drop_snapshot(owner, table, snap)
            # Snapshot entries of owners that no longer exist.
            live_owners = {MAIN_ID, *self.catalog.branches}
            rows = cur.execute(f"SELECT DISTINCT owner_id FROM {META}.snapshots").fetchall()
            stale_owners = [r[0] for r in rows if r[0] not in live_owners]
            if not dead and not stale_owners:
                return 0
            used = {s.table for snaps in self.catalog.snapshots.values() for s in snaps if s.table}
            with transaction(cur):
                for owner, table, snap in dead:
                    cur.execute(
                        f"DELETE FROM {META}.snapshots WHERE owner_id = ? AND table_name = ? AND tag = ?",
                        [owner, table, snap.tag],
                    )
                for owner in stale_owners:
                    cur.execute(f"DELETE FROM {META}.snapshots WHERE owner_id = ?", [owner])
                for v in self.db.views_in(cur, SNAP):  # undo snapshots, before their tables
                    if undo.owner_of(v) not in used:
                        cur.execute(f"DROP VIEW IF EXISTS {qname(SNAP, v)}")
                        self._undo.discard(v)
                for t in self.db.tables_in(cur, SNAP):
                    if undo.owner_of(t) not in used:
                        cur.execute(f"DROP TABLE IF EXISTS {qname(SNAP, t)}")
            return len(dead)

    def expire(self, cur: duckdb.DuckDBPyConnection) -> list[str]:
        """Discard branches whose TTL has passed (children first)."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        gone: list[str] = []
        for b in sorted(self.live(), key=lambda b: -b.fork_epoch):
            if b.expires_at is not None and b.expires_at <= now:
                try:
                    self.discard(cur, b.name)
                    gone.append(b.name)
                except HatiError:
                    continue
        return gone

    # ------------------------------------------------------------------ resolution
    def local_tables(self, cur: duckdb.DuckDBPyConnection, b: Branch) -> set[str]:
        return self.db.tables_in(cur, b.schema)

    def dropped_tables(self, cur: duckdb.DuckDBPyConnection, b: Branch) -> set[str]:
        rows = cur.execute(
            f"SELECT table_name FROM {META}.dropped WHERE branch_id = ?", [b.id]
        ).fetchall()
        return {r[0] for r in rows}

    def current_rel(self, cur: duckdb.DuckDBPyConnection, owner_id: int, table: str) -> str | None:
        """The physical table holding ``owner``'s current version of ``table`` (None: absent)."""
        if owner_id == MAIN_ID:
            return qname("main", table) if self.db.table_exists(cur, "main", table) else None
        b = self.catalog.branches[owner_id]
        if self.db.table_exists(cur, b.schema, table):
            return qname(b.schema, table)
        if self.db.table_exists(cur, delta.delta_schema(b.id), table):
            return qname(b.schema, table)  # the overlay view (kept pointing at its base)
        if table in self.dropped_tables(cur, b):
            return None
        return self.base_rel(cur, b, table)

    def base_rel(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str) -> str | None:
        """The physical table holding ``table`` as the parent had it when ``b`` forked."""
        snap = self.catalog.base_snapshot(b, table)
        if snap is not None:
            if snap.table is None:
                return None
            if self.db.relation_exists(cur, SNAP, snap.table):
                return qname(SNAP, snap.table)
            # The snapshot was taken after this cursor's transaction began, so the
            # parent's write that caused it is not visible to this transaction either:
            # the parent's table as this transaction sees it is still the fork version.
        return self.current_rel(cur, b.parent_id, table)

    # ------------------------------------------------------------------ writes
    def writing(self) -> AbstractContextManager[None]:
        """Hold the fork gate shared for one write (see rwlock.py)."""
        return self.gate.shared()

    def before_write(
        self,
        owner_id: int,
        tables: list[str],
        merging: Branch | None = None,
        write: delta.DeltaWrite | None = None,
    ) -> None:
        """Preserve tables live children still read, before ``owner`` changes them.
        A child being merged is retired by the same transaction: it needs no snapshot.
        ``merging`` or ``write`` (main's plain UPDATE/DELETE) say which rows change, so
        main can keep just those (undo.py). (Returns before taking catalog.lock when
        there is nothing to write: readers call this while holding read_gate, which a
        snapshot takes exclusively.)"""
        if not tables or not self.catalog.children(owner_id):
            return
        with self.catalog.lock:
            for table in tables:
                if owner_id == MAIN_ID:
                    self._keep_undo(table, merging, write)
                if self.catalog.needs_snapshot(owner_id, table, merging):
                    self._snapshot(owner_id, table, merging, write)
                self.catalog.last_write[(owner_id, table)] = self.catalog.epoch

    def _undo_key(
        self,
        cur: duckdb.DuckDBPyConnection,
        table: str,
        key: list[str],
        merging: Branch | None,
        write: delta.DeltaWrite | None,
    ) -> bool:
        """Can main's coming write to ``table`` say which keys it changes?"""
        if not key:
            return False
        if merging is not None:
            return self.db.table_exists(cur, delta.delta_schema(merging.id), table) and set(
                self._delta_key(cur, merging, table)
            ) == set(key)
        return (
            write is not None
            and write.table == table
            and write.kind in ("UPDATE", "DELETE")
            and not write.may_break_keys(key)
        )

    def _capture(
        self,
        cur: duckdb.DuckDBPyConnection,
        table: str,
        snap: str,
        key: list[str],
        merging: Branch | None,
        write: delta.DeltaWrite | None,
    ) -> None:
        live = qname("main", table)
        if merging is not None:
            dschema = delta.delta_schema(merging.id)
            keys = delta.changed_keys_sql(dschema, table, self._delta_key(cur, merging, table))
            undo.capture_keys(cur, snap, live, key, keys)
        else:
            assert write is not None
            undo.capture_where(cur, snap, live, key, write)

    def _keep_undo(
        self, table: str, merging: Branch | None, write: delta.DeltaWrite | None
    ) -> None:
        """Before main writes ``table``: extend each undo snapshot of it with the rows
        the write changes, or make it a full copy when the write cannot say which."""
        snaps = [s.table for s in self.catalog.snapshots.get((MAIN_ID, table), [])]
        snaps = [s for s in snaps if s in self._undo]
        if not snaps:
            return
        cur = self.db.cursor()
        try:
            for snap in snaps:
                rows = undo.rows_table(snap)
                key = self.db.column_names(cur, SNAP, delta.hide_table(rows))
                full = not self._undo_key(cur, table, key, merging, write)
                with transaction(cur):
                    if full:
                        ddl = self.db.table_sql(cur, SNAP, rows)
                        m = _CREATE_HEAD.match(ddl)
                        assert m is not None
                        undo.materialize(cur, snap, ddl[m.end() :])
                    else:
                        self._capture(cur, table, snap, key, merging, write)
                if full:
                    self._undo.discard(snap)
        finally:
            cur.close()

    def _snapshot(
        self,
        owner_id: int,
        table: str,
        merging: Branch | None = None,
        write: delta.DeltaWrite | None = None,
    ) -> None:
        cur = self.db.cursor()
        try:
            tag = self.catalog.epoch
            src = self.current_rel(cur, owner_id, table)
            snap_name: str | None = None
            kept_rows = False
            with transaction(cur):
                if src is not None:
                    info = None
                    if owner_id == MAIN_ID and src == qname("main", table):
                        info = self.db.table_info(cur, "main", table)
                    m = _CREATE_HEAD.match(info.ddl) if info else None
                    if src.startswith(qident(SNAP) + "."):
                        snap_name = src.split(".", 1)[1].strip('"')  # immutable already: share it
                    elif (
                        info is not None
                        and m is not None
                        and self._undo_key(cur, table, info.primary_key, merging, write)
                    ):
                        snap_name = f"s{self.db.next_id(cur)}"
                        key_types = [(k, info.types[k]) for k in info.primary_key]
                        undo.create(cur, snap_name, info.ddl[m.end() :], key_types, src)
                        self._capture(cur, table, snap_name, info.primary_key, merging, write)
                        kept_rows = True
                    else:
                        snap_name = f"s{self.db.next_id(cur)}"
                        self.copy_table(cur, src, SNAP, snap_name)
                cur.execute(
                    f"INSERT INTO {META}.snapshots VALUES (?, ?, ?, ?)",
                    [owner_id, table, tag, snap_name],
                )
                if snap_name is not None:
                    self._repoint_children(cur, owner_id, table, qname(SNAP, snap_name))
            if kept_rows and snap_name is not None:
                self._undo.add(snap_name)
            self.read_gate.acquire_exclusive()
            try:
                self.catalog.add_snapshot(owner_id, table, Snapshot(tag, snap_name))
            finally:
                self.read_gate.release_exclusive()
        finally:
            cur.close()

    def _repoint_children(
        self, cur: duckdb.DuckDBPyConnection, owner_id: int, table: str, snap: str
    ) -> None:
        """In the snapshot's own transaction, point the views of children that read
        the owner's live table at the new snapshot, so a committed view is never stale
        (a session re-pointing it later would conflict with concurrent writers)."""
        for c in self.catalog.children(owner_id):
            if self.catalog.base_snapshot(c, table) is not None:
                continue  # an older snapshot is still its base
            if table not in self.db.views_in(cur, c.schema):
                continue  # reads fall through, or the child has its own full copy
            if self.db.table_exists(cur, delta.delta_schema(c.id), table):
                self._create_overlay(cur, c, table, snap, self._delta_key(cur, c, table))
            else:
                cur.execute(
                    f"CREATE OR REPLACE VIEW {qname(c.schema, table)} AS SELECT * FROM {snap}"
                )

    def copy_table(self, cur: duckdb.DuckDBPyConnection, src: str, schema: str, name: str) -> None:
        """Copy a table with its constraints (CTAS would drop the primary key)."""
        src_schema, src_table = self._physical(cur, src)
        ddl = self.db.table_sql(cur, src_schema, src_table)
        m = _CREATE_HEAD.match(ddl)
        if m is None:
            cur.execute(f"CREATE TABLE {qname(schema, name)} AS SELECT * FROM {src}")
            return
        cur.execute(f"CREATE TABLE {qname(schema, name)}(" + ddl[m.end() :])
        if schema != SNAP:  # snapshots are only read whole: no index needed
            # Before the rows: DuckDB cannot index a table with uncommitted changes.
            self.copy_indexes(cur, src_schema, src_table, schema, name)
        cur.execute(f"INSERT INTO {qname(schema, name)} SELECT * FROM {src}")

    def copy_indexes(
        self,
        cur: duckdb.DuckDBPyConnection,
        src_schema: str,
        src_table: str,
        schema: str,
        name: str,
    ) -> None:
        """Create on ``schema.name`` the secondary indexes ``src`` has and it lacks."""
        q = (
            "SELECT index_name, sql FROM duckdb_indexes() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?"
        )
        have = {r[0] for r in cur.execute(q, [schema, name]).fetchall()}
        for index, sql in cur.execute(q, [src_schema, src_table]).fetchall():
            m = _INDEX_HEAD.match(sql or "")
            if index in have or m is None:
                continue
            body = sql[m.end() :].rstrip().rstrip(";")
            cur.execute(
                f"CREATE {m.group(1) or ''}INDEX {qident(index)} ON {qname(schema, name)}(" + body
            )

    # ------------------------------------------------------------------ routing
    def prepare_statement(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        a: Analysis,
        sql: str = "",
        params: list[Any] | None = None,
    ) -> StatementPlan | None:
        """Make the branch schema ready for a statement. None: skip it (IF NOT EXISTS)."""
        schema = b.schema
        for ref in [*a.writes, *a.drops, *a.creates]:
            if ref.schema is not None and ref.schema not in (schema,):
                raise InsufficientPrivilege(
                    f'cannot write "{ref.schema}.{ref.name}" from branch "{b.name}"',
                    hint="Inside a branch use unqualified table names; RESET hatidata_branch to write main.",
                )
        b.touched.update(r.name.lower() for r in [*a.writes, *a.drops, *a.creates])
        plan = StatementPlan()
        if not b.persisted and (a.writes or a.drops or a.creates):
            self._persist(cur, b)  # in the write's transaction: its data never orphans
            b.persisted = True  # the session sets it back if the transaction rolls back
        ns = Namespace(set(), {}, set(), set()) if b.pristine else self._namespace(cur, b)
        b.pristine = False
        local, views, dropped, deltas = ns.local, ns.views, ns.dropped, ns.deltas
        # Children of this branch must keep reading the version they forked from,
        # whether or not the table is already materialized here.
        self.before_write(b.id, [r.name for r in [*a.writes, *a.drops, *a.creates]])
        dw = delta.plan_write(a, sql, params or []) if a.writes and not a.drops else None
        if dw is not None and any(r.name in deltas and r.name != dw.table for r in a.reads):
            dw = None  # the statement reads another branch table through its delta schema
        for ref in a.creates:
            if ref.name in local or (ref.name not in dropped and self.base_rel(cur, b, ref.name)):
                if a.if_not_exists:
                    return None
                raise DuplicateTable(f'relation "{ref.name}" already exists')
            if ref.name in views:
                cur.execute(f"DROP VIEW {qname(schema, ref.name)}")
        for ref in [*a.writes, *a.drops]:
            if ref.name in local:
                continue
            if ref.name in deltas:
                if dw is not None and dw.table == ref.name:
                    plan.delta = (dw, self._delta_base(cur, b, ref.name, views))
                else:
                    self._to_full(cur, b, ref.name)
                    local.add(ref.name)
                continue
            src = None if ref.name in dropped else self.base_rel(cur, b, ref.name)
            if src is None:
                if a.if_exists:
                    continue
                raise UndefinedTable(f'relation "{ref.name}" does not exist in branch "{b.name}"')
            if ref.name in views:
                cur.execute(f"DROP VIEW {qname(schema, ref.name)}")
            if dw is not None and dw.table == ref.name and self._start_delta(cur, b, src, ref.name):
                deltas.add(ref.name)
                plan.delta = (dw, src)
                continue
            self.copy_table(cur, src, schema, ref.name)
            local.add(ref.name)
        written = {r.name for r in [*a.writes, *a.drops, *a.creates]}
        for ref in a.reads:
            if ref.schema is not None or ref.name in local or ref.name in written:
                continue
            if ref.name in deltas:
                self._delta_base(cur, b, ref.name, views)
                continue
            if ref.name in dropped:
                raise UndefinedTable(f'relation "{ref.name}" does not exist in branch "{b.name}"')
            src = self.base_rel(cur, b, ref.name)
            if src is None:
                if self.db.table_exists(cur, "main", ref.name):
                    raise UndefinedTable(
                        f'relation "{ref.name}" does not exist in branch "{b.name}"',
                        detail="It was created in the parent after this branch forked.",
                    )
                continue
            if src == qname("main", ref.name) and ref.name not in views:
                continue  # zero copy: search_path falls through to main
            want = f"SELECT * FROM {src}"
            if not _points_at(views.get(ref.name, ""), src):
                cur.execute(f"CREATE OR REPLACE VIEW {qname(schema, ref.name)} AS {want}")
        if plan.delta is not None:
            dw, src = plan.delta
            key = self._delta_key(cur, b, dw.table)
            if dw.kind in ("UPDATE", "DELETE"):
                delta.pull(cur, dw, src, delta.delta_schema(b.id), key)
            cur.execute(
                f"SET search_path = '{qident(delta.delta_schema(b.id))},{self.search_path(b)}'"
            )
        return plan

    def finish_statement(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, plan: StatementPlan, ok: bool
    ) -> bool:
        """Undo what prepare_statement set for one statement and check delta keys.
        False: the search_path could not be reset (the statement aborted the DuckDB
        transaction); the caller must call ``reset_search_path`` after the rollback."""
        if plan.delta is None:
            return True
        try:
            self.reset_search_path(cur, b)
        except duckdb.Error:
            if ok:
                raise
            return False
        dw, src = plan.delta
        key = self._delta_key(cur, b, dw.table)
        if ok and dw.may_break_keys(key):
            delta.check_unique(cur, src, delta.delta_schema(b.id), dw.table, key)
        if ok:
            deleted_before = dw.kind == "INSERT" and "-" in self._assigned(cur, b, dw.table)
            for col in delta.marks(dw, key, deleted_before):
                if (b.id, dw.table, col) in self._marked:
                    continue
                plan.marked.append((b.id, dw.table, col))
                _insert_new(
                    cur,
                    f"INSERT INTO {META}.delta_columns SELECT $1, $2, $3 WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {META}.delta_columns "
                    "WHERE branch_id = $1 AND table_name = $2 AND col = $3)",
                    [b.id, dw.table, col],
                    f'another session is writing "{dw.table}" in branch "{b.name}"',
                )
        return True

    def marks_committed(self, marks: list[tuple[int, str, str]]) -> None:
        """The caller's transaction committed these delta_columns rows."""
        self._marked.update(m for m in marks if m[0] in self.catalog.branches)

    def _assigned(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str) -> set[str]:
        rows = cur.execute(
            f"SELECT col FROM {META}.delta_columns WHERE branch_id = ? AND table_name = ?",
            [b.id, table],
        ).fetchall()
        return {r[0] for r in rows}

    def reset_search_path(self, cur: duckdb.DuckDBPyConnection, b: Branch) -> None:
        cur.execute(f"SET search_path = '{self.search_path(b)}'")

    # ------------------------------------------------------------------ row deltas
    def _delta_key(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str) -> list[str]:
        k = (b.id, table)
        key = self._keys.get(k)
        if key is None:
            # The hidden-keys table's columns are the key, in the order the delta uses.
            key = self.db.column_names(cur, delta.delta_schema(b.id), delta.hide_table(table))
            self._keys[k] = key
        return key

    def _physical(self, cur: duckdb.DuckDBPyConnection, rel: str) -> tuple[str, str]:
        """The table whose DDL and keys ``rel`` has: for a branch's overlay view, its
        touched-rows table."""
        schema, table = _split(rel)
        if schema.startswith("_hb_") and not self.db.table_exists(cur, schema, table):
            return delta.delta_schema(int(schema[4:])), table
        if schema == SNAP and not self.db.table_exists(cur, schema, table):
            return schema, undo.rows_table(table)  # an undo snapshot's kept rows
        return schema, table

    def _start_delta(self, cur: duckdb.DuckDBPyConnection, b: Branch, src: str, table: str) -> bool:
        """Begin row-level copy-on-write of ``table``; False if it needs a full copy."""
        info = self.db.table_info(cur, *self._physical(cur, src))
        key, m = info.primary_key, _CREATE_HEAD.match(info.ddl)
        if m is None or not key or _OTHER_UNIQUE.search(info.ddl) or info.unique_index:
            return False
        key_types = [(k, info.types[k]) for k in key]
        delta.create(cur, info.ddl[m.end() :], key_types, delta.delta_schema(b.id), table)
        self._create_overlay(cur, b, table, src, key)
        self._keys[(b.id, table)] = key
        return True

    def _delta_base(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str, views: dict[str, str]
    ) -> str:
        """The base a delta table overlays; re-point the view if the parent moved it
        (the parent wrote the table after the fork, so the base is now a snapshot)."""
        if b.parent_id == MAIN_ID and self.catalog.base_snapshot(b, table) is None:
            # main has not written the table since the fork (a drop would have taken
            # a snapshot), so it is still there: no catalog lookup needed.
            src = qname("main", table)
        else:
            src = self.base_rel(cur, b, table)
        assert src is not None, "a delta table always has a base"
        if not _points_at(views.get(table, ""), src):
            self._create_overlay(cur, b, table, src, self._delta_key(cur, b, table))
            views[table] = src
        return src

    @staticmethod
    def _create_overlay(
        cur: duckdb.DuckDBPyConnection, b: Branch, table: str, base: str, key: list[str]
    ) -> None:
        """(Re)create the view a branch reads ``table`` through: ``base`` plus its
        touched rows."""
        cur.execute(
            f"CREATE OR REPLACE VIEW {qname(b.schema, table)} AS "
            + delta.overlay_sql(base, delta.delta_schema(b.id), table, key)
        )

    def _to_full(self, cur: duckdb.DuckDBPyConnection, owner: Branch, table: str) -> None:
        """Replace a delta table by a full copy (for statements a delta cannot take)."""
        dschema = delta.delta_schema(owner.id)
        src = self.base_rel(cur, owner, table)
        assert src is not None
        key = self._delta_key(cur, owner, table)
        ddl = self.db.table_sql(cur, dschema, table)
        m = _CREATE_HEAD.match(ddl)
        assert m is not None
        cur.execute(f"DROP VIEW IF EXISTS {qname(owner.schema, table)}")
        cur.execute(f"CREATE TABLE {qname(owner.schema, table)}(" + ddl[m.end() :])
        src_schema, src_table = _split(src)
        self.copy_indexes(cur, src_schema, src_table, owner.schema, table)
        cur.execute(
            f"INSERT INTO {qname(owner.schema, table)} "
            + delta.overlay_sql(src, dschema, table, key)
        )
        cur.execute(f"DROP TABLE {qname(dschema, table)}")
        cur.execute(f"DROP TABLE {qname(dschema, delta.hide_table(table))}")
        self._keys.pop((owner.id, table), None)

    def after_statement(self, cur: duckdb.DuckDBPyConnection, b: Branch, a: Analysis) -> None:
        """Record drops (so main's copy stays hidden) and un-drop re-created tables."""
        for ref in a.drops:
            if not a.is_view:
                cur.execute(f"INSERT OR IGNORE INTO {META}.dropped VALUES (?, ?)", [b.id, ref.name])
        for ref in a.creates:
            cur.execute(
                f"DELETE FROM {META}.dropped WHERE branch_id = ? AND table_name = ?",
                [b.id, ref.name],
            )

    def _namespace(self, cur: duckdb.DuckDBPyConnection, b: Branch) -> Namespace:
        """The branch schema's tables, its views (name -> SQL), its dropped tables and
        its delta tables, in one catalog query (this runs before every statement)."""
        rows = cur.execute(  # each catalog function costs ~0.7 ms: one scan of tables
            "SELECT CASE schema_name WHEN $1 THEN 't' ELSE 'x' END, table_name, NULL "
            "FROM duckdb_tables() WHERE schema_name IN ($1, $3) "
            "AND database_name = current_database() "
            "UNION ALL SELECT 'v', view_name, sql FROM duckdb_views() WHERE schema_name = $1 "
            "AND NOT internal AND database_name = current_database() "
            f"UNION ALL SELECT 'd', table_name, NULL FROM {META}.dropped WHERE branch_id = $2",
            [b.schema, b.id, delta.delta_schema(b.id)],
        ).fetchall()
        return Namespace(
            local={r[1] for r in rows if r[0] == "t"},
            views={r[1]: r[2] for r in rows if r[0] == "v"},
            dropped={r[1] for r in rows if r[0] == "d"},
            deltas={r[1] for r in rows if r[0] == "x" and not r[1].endswith(delta.HIDE_SUFFIX)},
        )

    def plain_read(self, b: Branch, sql: str) -> bool:
        """True when ``sql`` is a read that needs no preparation in ``b``: it names no
        table the branch or its ancestors changed, so search_path fall-through to
        main is already right. Conservative (a substring test): False costs only the
        full analysis."""
        m = _READ_HEAD.match(sql)
        if m is None or _NOT_PLAIN_READ.search(sql):
            return False
        low = sql.lower()
        # No catalog.lock here: a parent may hold it while waiting for read_gate.
        return not any(name in low for name in self.catalog.special_names(b))

    def reading(self) -> AbstractContextManager[None]:
        """Hold read_gate shared from choosing a read's tables until it has started."""
        return self.read_gate.shared()

    def search_path(self, b: Branch) -> str:
        return f"{qident(b.schema)},main"

    # ------------------------------------------------------------------ merge
    def _table_merges(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        tag: str,
        merging: bool = False,
        only: str | None = None,
    ) -> list[TableMerge]:
        ns = self._namespace(cur, b)
        out = []
        for i, table in enumerate(sorted(ns.local | ns.dropped | ns.deltas)):
            if only is not None and table != only:
                continue
            base_rel = self.base_rel(cur, b, table)
            ours_rel = self.current_rel(cur, b.parent_id, table)
            if table in ns.deltas:
                out.append(
                    self._delta_merge(cur, b, table, base_rel, ours_rel, f"{tag}_{i}", merging)
                )
                continue
            theirs_rel = qname(b.schema, table) if table in ns.local else None
            sides = [self._side(cur, r) for r in (base_rel, ours_rel, theirs_rel)]
            key_src = theirs_rel or ours_rel or base_rel
            key = self._primary_key(cur, key_src) if key_src else []
            out.append(TableMerge(cur, table, *sides, key=key, tag=f"{tag}_{i}"))
        return out

    def _delta_merge(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        table: str,
        base_rel: str | None,
        ours_rel: str | None,
        tag: str,
        merging: bool,
    ) -> TableMerge:
        """A TableMerge over the changed keys only: theirs is the touched-rows table,
        base and ours are cut down to those keys (or not read at all when the parent
        has not changed the table since the fork)."""
        dschema = delta.delta_schema(b.id)
        key = self._delta_key(cur, b, table)
        theirs = self._side(cur, qname(dschema, table))
        assert base_rel is not None
        if merging and base_rel == ours_rel:
            base = self._side(cur, base_rel)  # and ours: the parent has not changed it
            tm = TableMerge(cur, table, base, base, theirs, key=key, tag=tag)
            tm.fast = (dschema, key)
            return tm
        keys_sql = delta.changed_keys_sql(dschema, table, key)
        cut_base = f"_m_{tag}_rb"
        delta.restrict(cur, base_rel, keys_sql, key, cut_base)
        base = Side(cut_base, self._side(cur, base_rel).columns)
        if ours_rel == base_rel:
            ours = base
        elif ours_rel is None:
            ours = Side(None)
        else:
            cut_ours = f"_m_{tag}_ro"
            delta.restrict(cur, ours_rel, keys_sql, key, cut_ours)
            ours = Side(cut_ours, self._side(cur, ours_rel).columns)
        tm = TableMerge(cur, table, base, ours, theirs, key=key, tag=tag)
        tm.real_ours = ours_rel
        tm.real_theirs = qname(b.schema, table)  # the overlay view
        return tm

    def _side(self, cur: duckdb.DuckDBPyConnection, rel: str | None) -> Side:
        if rel is None:
            return Side(None)
        return Side(rel, self.db.columns(cur, *_split(rel)))

    def _primary_key(self, cur: duckdb.DuckDBPyConnection, rel: str) -> list[str]:
        return self.db.primary_key(cur, *_split(rel))

    def diff(self, cur: duckdb.DuckDBPyConnection, name: str) -> list[tuple[Any, ...]]:
        b = self.branch(name)
        rows: list[tuple[Any, ...]] = []
        for tm in self._table_merges(cur, b, "d"):
            try:
                if tm.theirs.rel is None:
                    rows.append((tm.table, "drop_table", "*", None, None))
                    continue
                if tm.base.rel is None:
                    rows.append((tm.table, "create_table", "*", None, None))
                rows.extend(tm.diff_rows())
            finally:
                tm.cleanup()
        return rows

    def conflicts(
        self, cur: duckdb.DuckDBPyConnection, name: str, table: str | None = None
    ) -> list[Conflict]:
        b = self.branch(name)
        out: list[Conflict] = []
        for tm in self._table_merges(cur, b, "c", only=table):
            try:
                out.extend(self._plan(tm))
            finally:
                tm.cleanup()
        return out

    def _plan(self, tm: TableMerge) -> list[Conflict]:
        if tm.fast is not None:
            return []  # the parent has not changed the table: nothing can conflict
        if tm.theirs.rel is None:  # dropped in the branch
            if tm.same_base or tm.ours.rel is None:
                return []
            return [Conflict(tm.table, "*", "table", "changed", "dropped")]
        if tm.ours.rel is None and tm.base.rel is not None:  # dropped in the parent
            if not tm.branch_changed():
                return []
            return [Conflict(tm.table, "*", "table", "dropped", "changed")]
        self._check_schema(tm)
        return tm.plan()

    def _check_schema(self, tm: TableMerge) -> None:
        base = {c.name: c.type for c in tm.base.columns}
        ours = {c.name: c.type for c in tm.ours.columns}
        theirs = {c.name: c.type for c in tm.theirs.columns}
        if tm.base.rel is None and tm.ours.rel is not None and ours != theirs:
            raise SerializationFailure(
                f'table "{tm.table}" was created on both sides with different columns',
                hint="Drop or rename it in the branch, then merge again.",
            )
        if tm.base.rel is None or theirs == base or ours in (base, theirs):
            return
        for col in set(base) | set(ours) | set(theirs):
            o, t, bb = ours.get(col), theirs.get(col), base.get(col)
            if o != bb and t != bb and o != t:
                raise SerializationFailure(
                    f'incompatible schema changes to "{tm.table}": column "{col}" is '
                    f"{o or 'dropped'} in the parent and {t or 'dropped'} in the branch",
                    hint="Make the column agree on one side, then merge again.",
                )

    def _apply_schema(self, cur: duckdb.DuckDBPyConnection, tm: TableMerge, ours_rel: str) -> None:
        """Bring the parent table's columns in line with the branch's changes."""
        base = {c.name: c.type for c in tm.base.columns}
        ours = {c.name: c.type for c in tm.ours.columns}
        for c in tm.theirs.columns:
            if c.name not in base and c.name not in ours:
                cur.execute(f"ALTER TABLE {ours_rel} ADD COLUMN {qident(c.name)} {c.type}")
            elif c.name in base and c.type != base[c.name] and ours.get(c.name) == base[c.name]:
                cur.execute(f"ALTER TABLE {ours_rel} ALTER COLUMN {qident(c.name)} TYPE {c.type}")
        theirs = {c.name for c in tm.theirs.columns}
        for name in base:
            if name not in theirs and name in ours:
                cur.execute(f"ALTER TABLE {ours_rel} DROP COLUMN {qident(name)}")
        tm.ours = self._side(cur, ours_rel)

    def record_resolution(
        self, cur: duckdb.DuckDBPyConnection, name: str, table: str, key: str, choice: str
    ) -> str:
        b = self.branch(name)
        values: str | None = None
        if choice not in ("main", "branch", "ours", "theirs"):
            try:
                parsed = json.loads(choice)
            except json.JSONDecodeError as exc:
                raise InvalidParameter(
                    "resolution must be 'main', 'branch' or a JSON object of column values"
                ) from exc
            if not isinstance(parsed, dict):
                raise InvalidParameter("a JSON resolution must be an object of column values")
            if set(parsed) == {"count"} and not (
                isinstance(parsed["count"], int)
                and not isinstance(parsed["count"], bool)
                and parsed["count"] >= 0
            ):
                raise InvalidParameter('{"count": n} needs a whole number n >= 0')
            values, choice = json.dumps(parsed), "values"
        choice = {"ours": "main", "theirs": "branch"}.get(choice, choice)
        row_key = canonical_key(key)
        if row_key not in {c.key for c in self.conflicts(cur, name, table)}:
            raise InvalidParameter(
                f'branch "{name}" has no conflict on table "{table}" at key {row_key}',
                hint=f"SELECT * FROM branch_conflicts('{name}') lists the rows to resolve.",
            )
        if values is not None and choice == "values":
            rel = self.current_rel(cur, b.id, table)
            columns = {c.name for c in self._side(cur, rel).columns}
            unknown = sorted(set(json.loads(values)) - columns - {"count"})
            if unknown:
                raise InvalidParameter(
                    f'table "{table}" has no column {", ".join(unknown)}',
                    hint=f"Its columns: {', '.join(sorted(columns))}.",
                )
        cur.execute(
            f"INSERT OR REPLACE INTO {META}.resolutions VALUES (?, ?, ?, ?, ?)",
            [b.id, table, row_key, choice, values],
        )
        return choice

    def merge(
        self, cur: duckdb.DuckDBPyConnection, name: str, strategy: str = "branch_wins"
    ) -> MergeResult:
        validate_strategy(strategy)
        b = self._childless(name)
        with self.writing(), self.catalog.lock:
            ns = self._namespace(cur, b)
            tables = sorted(ns.local | ns.dropped | ns.deltas)
            if b.parent_id != MAIN_ID:
                self.catalog.branches[b.parent_id].pristine = False  # the merge writes it
            self.before_write(b.parent_id, tables, merging=b)
            parent_schema = (
                None if b.parent_id == MAIN_ID else self.catalog.branches[b.parent_id].schema
            )
            resolutions = {
                (t, k): (c, v)
                for t, k, c, v in cur.execute(
                    f"SELECT table_name, row_key, choice, row_values FROM {META}.resolutions WHERE branch_id = ?",
                    [b.id],
                ).fetchall()
            }
            cur.execute("BEGIN")
            try:
                result = self._merge_in_txn(cur, b, strategy, tables, parent_schema, resolutions)
                if result.status == "merged":
                    self._retire(cur, b)
                    cur.execute("COMMIT")
                    self.catalog.remove(b.id)
                    self._drop_owner_snapshots(b.id)
                else:
                    cur.execute("ROLLBACK")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        if result.status == "merged":
            self.collect_garbage(cur)
        return result

    def _merge_in_txn(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        strategy: str,
        tables: list[str],
        parent_schema: str | None,
        resolutions: dict[tuple[str, str], tuple[str, str | None]],
    ) -> MergeResult:
        total = TableCounts()
        merges = self._table_merges(cur, b, "m", merging=True)
        plans = [(tm, self._plan(tm)) for tm in merges]
        conflicts = [c for _, cs in plans for c in cs]
        if conflicts and strategy == "abort":
            first = conflicts[0]
            raise SerializationFailure(
                f'merge of "{b.name}" aborted: {len(conflicts)} conflicting row(s)',
                detail=f"first conflict: table {first.table}, key {first.key}",
                hint="SELECT * FROM branch_conflicts('<branch>') lists them; merge with "
                "'branch_wins', 'main_wins' or resolve them and use 'manual'.",
            )
        if strategy == "manual":
            unresolved = [c for c in conflicts if (c.table, c.key) not in resolutions]
            if unresolved:
                for tm in merges:
                    tm.cleanup()
                return MergeResult(b.name, strategy, 0, 0, 0, len(unresolved), "conflicts")
        for tm, cs in plans:
            take: set[str] = set()
            custom: dict[str, dict[str, Any]] = {}
            for c in cs:
                if strategy == "branch_wins":
                    take.add(c.key)
                elif strategy == "manual":
                    choice, values = resolutions[(c.table, c.key)]
                    if choice == "branch":
                        take.add(c.key)
                    elif choice == "values" and values:
                        custom[c.key] = json.loads(values)
            counts = self._apply_table(cur, b, tm, parent_schema, take, custom, bool(cs))
            total.inserted += counts.inserted
            total.updated += counts.updated
            total.deleted += counts.deleted
            tm.cleanup()
        return MergeResult(
            b.name, strategy, total.inserted, total.updated, total.deleted, len(conflicts), "merged"
        )

    def _apply_table(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        tm: TableMerge,
        parent_schema: str | None,
        take: set[str],
        custom: dict[str, dict[str, Any]],
        conflicted: bool,
    ) -> TableCounts:
        target_schema = parent_schema or "main"
        target = qname(target_schema, tm.table)
        if parent_schema is not None and self.db.table_exists(
            cur, delta.delta_schema(b.parent_id), tm.table
        ):
            self._to_full(cur, self.catalog.branches[b.parent_id], tm.table)
        if tm.theirs.rel is None:  # dropped in the branch
            if tm.ours.rel is not None and (not conflicted or "*" in take):
                if parent_schema is not None and tm.ours.rel != target:
                    cur.execute(
                        f"INSERT OR IGNORE INTO {META}.dropped VALUES (?, ?)",
                        [b.parent_id, tm.table],
                    )
                    return TableCounts()
                cur.execute(f"DROP TABLE {target}")
            return TableCounts()
        if tm.ours.rel is None:  # created in the branch (or dropped in the parent)
            if tm.base.rel is not None and "*" not in take:
                return TableCounts()  # the parent's drop stands
            assert tm.real_theirs is not None
            self.copy_table(cur, tm.real_theirs, target_schema, tm.table)
            if parent_schema is not None:
                cur.execute(
                    f"DELETE FROM {META}.dropped WHERE branch_id = ? AND table_name = ?",
                    [b.parent_id, tm.table],
                )
            n = cur.execute(f"SELECT count(*) FROM {target}").fetchone()
            return TableCounts(inserted=int(n[0]) if n else 0)
        if tm.real_ours != target:
            # The parent is a branch that still reads this table through: materialize it.
            assert tm.real_ours is not None
            cur.execute(f"DROP VIEW IF EXISTS {target}")
            self.copy_table(cur, tm.real_ours, target_schema, tm.table)
        if tm.fast is not None:  # the parent's table is as the branch forked it
            dschema, key = tm.fast
            counts = delta.apply_unchanged_base(
                cur,
                target,
                dschema,
                tm.table,
                key,
                tm.theirs.names,
                self._assigned(cur, b, tm.table),
            )
            return TableCounts(*counts)
        if tm.base.rel is not None and {c.name: c.type for c in tm.theirs.columns} != {
            c.name: c.type for c in tm.base.columns
        }:
            self._apply_schema(cur, tm, target)
        # Indexes the branch created on the table come along (before any row changes).
        self.copy_indexes(cur, b.schema, tm.table, target_schema, tm.table)
        return tm.apply(take, custom, target)
