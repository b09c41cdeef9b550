"""Where each version of a table lives: the lookups every branching unit shares.

A branch's table is in one of four places: its own full copy (``_hb_<id>.t``), its row
delta over a base (the overlay view ``_hb_<id>.t``), its parent's version as of the fork
(a snapshot, or the parent's live table), or nowhere (dropped, never created). ``Space``
answers those questions and caches what is costly to ask DuckDB again.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import re
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb

from hati.branching import delta, layout, store
from hati.branching.catalog import MAIN_ID, Branch, Catalog
from hati.branching.keylocks import KeyLocks
from hati.storage.duckdb_backend import Column, Database, TableInfo, qident, qname

T = TypeVar("T")
UNCACHED = -1  # a ``since`` no cached fact is fresh for: read DuckDB's catalog
_MISS = object()
# What the running code's DuckDB transaction sees of the catalog facts ``Space`` caches:
# ``ns_seq`` when it began, None when it begins with the read (a statement on its own),
# UNCACHED (the default) when the caller did not say. Set by ``Space.seeing``.
_SINCE: contextvars.ContextVar[int | None] = contextvars.ContextVar("since", default=UNCACHED)


@dataclass
class Namespace:
    """A branch schema's contents, read in one catalog query."""

    local: set[str]  # full copies
    views: dict[str, str]  # name -> the view's SQL
    dropped: set[str]
    deltas: set[str]  # tables kept as row deltas

    @classmethod
    def empty(cls) -> Namespace:
        return cls(set(), {}, set(), set())

    def copy(self) -> Namespace:
        return Namespace(set(self.local), dict(self.views), set(self.dropped), set(self.deltas))

    @property
    def changed(self) -> list[str]:
        """Every table the branch materialized, dropped or keeps as a delta, sorted."""
        return sorted(self.local | self.dropped | self.deltas)


def table_lock(owner: int, table: str) -> tuple[str, int, str]:
    """The KeyLocks name a merge holds while it writes ``owner``'s ``table``."""
    return ("table", owner, table.lower())


def split_rel(rel: str) -> tuple[str, str]:
    """``"schema"."table"`` -> (schema, table)."""
    schema, table = (p.strip('"').replace('""', '"') for p in rel.split(".", 1))
    return schema, table


def _quote_if_needed(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else qident(name)


def points_at(view_sql: str, rel: str) -> bool:
    """Does a view's stored SQL read ``rel``? DuckDB stores it re-printed, quoting
    identifiers only where needed, so match either spelling as a whole name."""
    for spelling in {rel, ".".join(_quote_if_needed(p) for p in split_rel(rel))}:
        if re.search(r'(?<![\w."])' + re.escape(spelling) + r'(?![\w"])', view_sql):
            return True
    return False


class Space:
    """The database, the catalog, and caches of what is on disk."""

    def __init__(self, db: Database, catalog: Catalog) -> None:
        self.db = db
        self.catalog = catalog
        self.keys: dict[tuple[int, str], list[str]] = {}  # (branch, delta table) -> key
        self.bags: set[tuple[int, str]] = set()  # delta tables without a key (delta.py)
        self.undo: set[str] = set()  # snapshots that keep only changed rows (undo.py)
        self.undo_keys: dict[str, list[str]] = {}  # undo snapshot -> its key
        # (branch, table, column) marks known committed in the delta-columns table: a
        # write that assigns the same column again need not insert (1 ms) what is there.
        self.marked: set[tuple[int, str, str]] = set()
        # Committed catalog facts of each owner (a branch: its namespace, its schema's
        # foreign keys; MAIN_ID: main's tables, their columns, keys, shapes and foreign
        # keys). Reading one costs a scan of DuckDB's catalog (~1 ms, more with every
        # schema); see ``cached``. Any committed change to an owner's schemas forgets
        # all of its facts (``namespace_changed``).
        self._ns_lock = threading.Lock()
        self._ns_seq = 0  # counts committed changes to any owner's schemas
        self._ns_changed: dict[int, int] = {}  # owner -> _ns_seq of its last change
        self._ns_cache: dict[int, dict[Hashable, Any]] = {}
        self._ns_pending: dict[int, int] = {}  # owner -> transactions about to commit
        # Merges hold the tables they write (``table_lock``) and the branch they retire.
        self.merging = KeyLocks()

    def forget(self, branch_id: int) -> None:
        """Drop the caches of a retired branch."""
        # Copies first (one C call each): other sessions add entries meanwhile.
        for k in [k for k in list(self.keys) if k[0] == branch_id]:
            self.keys.pop(k, None)
            self.bags.discard(k)
        for m in [m for m in list(self.marked) if m[0] == branch_id]:
            self.marked.discard(m)
        self.namespace_changed([branch_id])

    # ------------------------------------------------------------------ namespace cache
    @property
    def ns_seq(self) -> int:
        """The count of committed namespace changes so far (a transaction beginning now
        sees every change up to it)."""
        return self._ns_seq

    def namespace_changed(self, branch_ids: list[int]) -> None:
        """A committed transaction changed these branches' schemas (tables, views,
        deltas, drops): forget their cached namespaces."""
        with self._ns_lock:
            self._ns_seq += 1
            for bid in branch_ids:
                self._ns_changed[bid] = self._ns_seq
                self._ns_cache.pop(bid, None)

    def committing(self, branch_ids: list[int]) -> None:
        """A transaction that changed these branches' schemas is about to commit: until
        ``committed`` no one reads or fills their cache (a transaction beginning in
        between may see the commit)."""
        with self._ns_lock:
            for bid in branch_ids:
                self._ns_pending[bid] = self._ns_pending.get(bid, 0) + 1
                self._ns_cache.pop(bid, None)

    def committed(
        self,
        branch_ids: list[int],
        known: dict[int, Namespace] | None = None,
        since: int | None = None,
    ) -> None:
        """The transaction ``committing`` announced ended (committed or not). ``known``:
        the namespaces it committed (its transaction began when ``ns_seq`` was
        ``since``), cached when no other change to them committed since or is about to."""
        with self._ns_lock:
            alone = {
                bid
                for bid in known or {}
                if since is not None
                and self._ns_changed.get(bid, 0) <= since
                and self._ns_pending.get(bid, 0) == 1
            }
            for bid in branch_ids:
                left = self._ns_pending.get(bid, 0) - 1
                if left > 0:
                    self._ns_pending[bid] = left
                else:
                    self._ns_pending.pop(bid, None)
            self._ns_seq += 1
            for bid in branch_ids:
                self._ns_changed[bid] = self._ns_seq
                self._ns_cache.pop(bid, None)
            for bid in alone:
                if bid in self.catalog.branches and known is not None:
                    self._ns_cache[bid] = {"ns": known[bid].copy()}

    @contextlib.contextmanager
    def changing(self, branch_ids: list[int]) -> Iterator[None]:
        """Around a transaction that changes these branches' schemas."""
        self.committing(branch_ids)
        try:
            yield
        finally:
            self.committed(branch_ids)

    @staticmethod
    @contextlib.contextmanager
    def seeing(since: int | None) -> Iterator[None]:
        """Around code whose DuckDB transaction began when ``ns_seq`` was ``since``
        (None: each of its reads is a transaction of its own; UNCACHED: it changed the
        schemas itself, or cannot say): which cached facts it may use."""
        token = _SINCE.set(since)
        try:
            yield
        finally:
            _SINCE.reset(token)

    def cached(self, owner: int, key: Hashable, compute: Callable[[], T], since: Any = _MISS) -> T:
        """``compute()``, a read of ``owner``'s catalog, from the cache when the caller's
        transaction (see ``seeing``; or ``since`` given) sees the committed state the
        cache holds. Only what such a transaction read is cached. Values are shared:
        never change one."""
        if since is _MISS:
            since = _SINCE.get()
        with self._ns_lock:
            fresh = owner not in self._ns_pending and (
                since is None or self._ns_changed.get(owner, 0) <= since
            )
            hit = self._ns_cache.get(owner, {}).get(key, _MISS) if fresh else _MISS
            seen = self._ns_seq if since is None else since
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        value = compute()
        with self._ns_lock:
            if (
                fresh
                and owner not in self._ns_pending
                and self._ns_changed.get(owner, 0) <= seen
                and (owner == MAIN_ID or owner in self.catalog.branches)
            ):
                self._ns_cache.setdefault(owner, {})[key] = value
        return value

    def unchanged(self, owner: int, since: int) -> bool:
        """Has no change to ``owner``'s schemas committed after ``ns_seq`` was ``since``,
        and none but the caller's own is about to commit?"""
        with self._ns_lock:
            return self._ns_changed.get(owner, 0) <= since and self._ns_pending.get(owner, 0) <= 1

    def cached_namespace(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, since: Any = _MISS
    ) -> Namespace:
        """``namespace``, from the cache when the caller's transaction (begun when
        ``ns_seq`` was ``since``; None: it begins with this read; not given: as
        ``seeing`` says) sees the committed state the cache holds."""
        return self.cached(b.id, "ns", lambda: self.namespace(cur, b), since).copy()

    # ------------------------------------------------------------------ main's catalog
    def main_tables(self, cur: duckdb.DuckDBPyConnection) -> frozenset[str]:
        return self.cached(
            MAIN_ID, "tables", lambda: frozenset(self.db.tables_in(cur, layout.MAIN))
        )

    def main_fact(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A fact of main's catalog (``cached``; forgotten by DDL on main)."""
        return self.cached(MAIN_ID, key, compute)

    def table_info(self, cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> TableInfo:
        """``Database.table_info`` (cached for main's tables)."""
        if schema != layout.MAIN:
            return self.db.table_info(cur, schema, table)
        info = self.main_fact(("info", table), lambda: self.db.table_info(cur, schema, table))
        return dataclasses.replace(info, primary_key=list(info.primary_key), types=dict(info.types))

    # ------------------------------------------------------------------ where tables are
    def current_rel(self, cur: duckdb.DuckDBPyConnection, owner_id: int, table: str) -> str | None:
        """The physical table holding ``owner``'s current version of ``table`` (None: absent)."""
        db = self.db
        if owner_id == MAIN_ID:
            return qname(layout.MAIN, table) if table in self.main_tables(cur) else None
        b = self.catalog.branches[owner_id]
        if db.table_exists(cur, b.schema, table):
            return qname(b.schema, table)
        if db.table_exists(cur, layout.delta_schema(b.id), table):
            return qname(b.schema, table)  # the overlay view (kept pointing at its base)
        if table in store.dropped_tables(cur, b.id):
            return None
        return self.base_rel(cur, b, table)

    def base_rel(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str) -> str | None:
        """The physical table holding ``table`` as the parent had it when ``b`` forked."""
        snap = self.catalog.base_snapshot(b, table)
        if snap is not None:
            if snap.table is None:
                return None
            if self.db.relation_exists(cur, layout.SNAP, snap.table):
                return qname(layout.SNAP, snap.table)
            # The snapshot was taken after this cursor's transaction began, so the
            # parent's write that caused it is not visible to this transaction either:
            # the parent's table as this transaction sees it is still the fork version.
        return self.current_rel(cur, b.parent_id, table)

    def overlay_owner(self, cur: duckdb.DuckDBPyConnection, rel: str) -> Branch | None:
        """The branch whose overlay view (its row delta over a base) ``rel`` is; None
        for a physical relation (main's table, a full copy, a snapshot)."""
        schema, table = split_rel(rel)
        bid = layout.branch_of_schema(schema)
        if bid is None or bid not in self.catalog.branches:
            return None
        if self.db.table_exists(cur, schema, table):
            return None
        return self.catalog.branches[bid]

    def delta_base(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str, view_sql: str | None = None
    ) -> str:
        """The full relation ``b``'s row delta of ``table`` is composed over (the base
        its overlay view reads): read from the view (``view_sql``, or the catalog)."""
        if view_sql is None:
            view_sql = self.db.views_in(cur, b.schema).get(table, "")
        base = delta.overlay_base(view_sql)
        return base if base is not None else self.root_rel(cur, b, table)

    def root_rel(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str) -> str:
        """The first full relation below ``b``'s base of ``table``: through every
        ancestor that keeps the table as a row delta (their deltas compose, see
        ``delta.seed``) down to main's table, a full copy or a snapshot."""
        rel = self.base_rel(cur, b, table)
        assert rel is not None, "a delta table always has a base"
        for _ in range(len(self.catalog.branches) + 1):
            owner = self.overlay_owner(cur, rel)
            if owner is None:
                return rel
            rel = self.delta_base(cur, owner, table)
        raise AssertionError(f"no full relation under {rel}")

    def physical(self, cur: duckdb.DuckDBPyConnection, rel: str) -> tuple[str, str]:
        """The table whose DDL and keys ``rel`` has: for a branch's overlay view, its
        touched-rows table; for an undo snapshot, its kept rows."""
        schema, table = split_rel(rel)
        branch_id = layout.branch_of_schema(schema)
        if branch_id is not None and not self.db.table_exists(cur, schema, table):
            return layout.delta_schema(branch_id), table
        if schema == layout.SNAP and not self.db.table_exists(cur, schema, table):
            return schema, layout.rows_table(table)
        return schema, table

    def columns(self, cur: duckdb.DuckDBPyConnection, rel: str) -> list[Column]:
        schema, table = split_rel(rel)
        if schema != layout.MAIN:
            return self.db.columns(cur, schema, table)
        return list(self.main_fact(("columns", table), lambda: self.db.columns(cur, schema, table)))

    def primary_key(self, cur: duckdb.DuckDBPyConnection, rel: str) -> list[str]:
        schema, table = split_rel(rel)
        if schema != layout.MAIN:
            return self.db.primary_key(cur, schema, table)
        return list(self.main_fact(("key", table), lambda: self.db.primary_key(cur, schema, table)))

    def delta_key(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str) -> list[str]:
        """The key of a branch's delta table, in the order the delta uses (for a table
        without a key, ``is_bag``: every column)."""
        k = (b.id, table)
        key = self.keys.get(k)
        if key is None:
            # The hidden-keys table's columns are the key; a bag's has no primary key.
            dschema, hide = layout.delta_schema(b.id), layout.hide_table(table)
            key = self.db.column_names(cur, dschema, hide)
            if not self.db.primary_key(cur, dschema, hide):
                self.bags.add(k)
            self.keys[k] = key
        return key

    def is_bag(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str) -> bool:
        """Is ``b``'s delta of ``table`` keyed by whole row values (no primary key)?"""
        self.delta_key(cur, b, table)
        return (b.id, table) in self.bags

    def has_delta(self, cur: duckdb.DuckDBPyConnection, branch_id: int, table: str) -> bool:
        return self.db.table_exists(cur, layout.delta_schema(branch_id), table)

    def namespace(self, cur: duckdb.DuckDBPyConnection, b: Branch) -> Namespace:
        """The branch schema's tables, its views (name -> SQL), its dropped tables and
        its delta tables, in one catalog query (this runs before every statement)."""
        rows = cur.execute(  # each catalog function costs ~0.7 ms: one scan of tables
            "SELECT CASE schema_name WHEN $1 THEN 't' ELSE 'x' END, table_name, NULL "
            "FROM duckdb_tables() WHERE schema_name IN ($1, $3) "
            "AND database_name = current_database() "
            "UNION ALL SELECT 'v', view_name, sql FROM duckdb_views() WHERE schema_name = $1 "
            "AND NOT internal AND database_name = current_database() "
            f"UNION ALL SELECT 'd', table_name, NULL FROM {layout.DROPPED} WHERE branch_id = $2",
            [b.schema, b.id, layout.delta_schema(b.id)],
        ).fetchall()
        return Namespace(
            local={r[1] for r in rows if r[0] == "t"},
            views={r[1]: r[2] for r in rows if r[0] == "v"},
            dropped={r[1] for r in rows if r[0] == "d"},
            deltas={r[1] for r in rows if r[0] == "x" and not layout.is_hide_table(r[1])},
        )
