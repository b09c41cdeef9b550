"""Where each version of a table lives: the lookups every branching unit shares.

A branch's table is in one of four places: its own full copy (``_hb_<id>.t``), its row
delta over a base (the overlay view ``_hb_<id>.t``), its parent's version as of the fork
(a snapshot, or the parent's live table), or nowhere (dropped, never created). ``Space``
answers those questions and caches what is costly to ask DuckDB again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb

from hati.branching import layout, store
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

    def forget(self, branch_id: int) -> None:
        """Drop the caches of a retired branch."""
        for k in [k for k in self.keys if k[0] == branch_id]:
            self.keys.pop(k, None)
            self.bags.discard(k)
        self.marked = {m for m in self.marked if m[0] != branch_id}

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
