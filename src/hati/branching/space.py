"""Where each version of a table lives: the lookups every branching unit shares.

A branch's table is in one of four places: its own full copy (``_hb_<id>.t``), its row
delta over a base (the overlay view ``_hb_<id>.t``), its parent's version as of the fork
(a snapshot, or the parent's live table), or nowhere (dropped, never created). ``Space``
answers those questions and caches what is costly to ask DuckDB again.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from hati.branching import delta, layout, store
from hati.branching.catalog import MAIN_ID, Branch, Catalog
from hati.storage.duckdb_backend import Column, Database, qident, qname


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
        # Main's foreign keys as constraints.py read them (None: read them again; any
        # DDL on main and every fork forget them).
        self.foreign_keys: list[Any] | None = None
        # Committed branch namespaces (reading one costs a scan of DuckDB's catalog, more
        # with every schema): see ``cached_namespace``.
        self._ns_lock = threading.Lock()
        self._ns_seq = 0  # counts committed changes to any branch's namespace
        self._ns_changed: dict[int, int] = {}  # branch -> _ns_seq of its last change
        self._ns_cache: dict[int, Namespace] = {}
        self._ns_pending: dict[int, int] = {}  # branch -> transactions about to commit

    def forget(self, branch_id: int) -> None:
        """Drop the caches of a retired branch."""
        for k in [k for k in self.keys if k[0] == branch_id]:
            self.keys.pop(k, None)
            self.bags.discard(k)
        self.marked = {m for m in self.marked if m[0] != branch_id}
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

    def committed(self, branch_ids: list[int]) -> None:
        """The transaction ``committing`` announced ended (committed or not)."""
        with self._ns_lock:
            for bid in branch_ids:
                left = self._ns_pending.get(bid, 0) - 1
                if left > 0:
                    self._ns_pending[bid] = left
                else:
                    self._ns_pending.pop(bid, None)
        self.namespace_changed(branch_ids)

    @contextlib.contextmanager
    def changing(self, branch_ids: list[int]) -> Iterator[None]:
        """Around a transaction that changes these branches' schemas."""
        self.committing(branch_ids)
        try:
            yield
        finally:
            self.committed(branch_ids)

    def cached_namespace(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, since: int | None
    ) -> Namespace:
        """``namespace``, from the cache when the caller's transaction (begun when
        ``ns_seq`` was ``since``; None: it begins with this read) sees the committed
        state the cache holds. Only what such a transaction read is cached."""
        with self._ns_lock:
            fresh = b.id not in self._ns_pending and (
                since is None or self._ns_changed.get(b.id, 0) <= since
            )
            hit = self._ns_cache.get(b.id) if fresh else None
            seen = self._ns_seq if since is None else since
        if hit is not None:
            return hit.copy()
        ns = self.namespace(cur, b)
        with self._ns_lock:
            if (
                fresh
                and b.id not in self._ns_pending
                and self._ns_changed.get(b.id, 0) <= seen
                and b.id in self.catalog.branches
            ):
                self._ns_cache[b.id] = ns.copy()
        return ns

    # ------------------------------------------------------------------ where tables are
    def current_rel(self, cur: duckdb.DuckDBPyConnection, owner_id: int, table: str) -> str | None:
        """The physical table holding ``owner``'s current version of ``table`` (None: absent)."""
        db = self.db
        if owner_id == MAIN_ID:
            main = layout.MAIN
            return qname(main, table) if db.table_exists(cur, main, table) else None
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
        return self.db.columns(cur, *split_rel(rel))

    def primary_key(self, cur: duckdb.DuckDBPyConnection, rel: str) -> list[str]:
        return self.db.primary_key(cur, *split_rel(rel))

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
