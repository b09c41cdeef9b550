"""Snapshots: what a parent keeps before it changes a table a live child still reads.

Before an owner (main, or a branch with children) writes a table, ``before_write``
asks the catalog whether a child forked after that table's last write; if so the
table's current content is kept once, tagged with the current epoch, and every child
forked in (previous tag, tag] reads that snapshot as its base. Main keeps only the
rows a write says it changes when it can (undo snapshots, undo.py); everything else
is a full copy. ``collect_garbage`` drops snapshots no live branch reads.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass

import duckdb

from hati.branching import copy, delta, layout, store, undo
from hati.branching.catalog import MAIN_ID, Branch, Snapshot
from hati.branching.rwlock import RWLock
from hati.branching.space import Space, table_lock
from hati.pg.dml import PlainWrite
from hati.storage.duckdb_backend import qident, qname, transaction

# The cursor of a writing transaction, and the Catalog.snap_seq it began at.
Writer = tuple[duckdb.DuckDBPyConnection, int]


@dataclass(frozen=True)
class Fuse:
    """A plain write on main that can carry its captures in its own statement
    (undo.Fused): the Catalog.snap_seq its transaction began at (None: the statement
    is its own transaction, it sees every registered snapshot), and whether it has a
    RETURNING list of its own (then it cannot read back the keys it writes)."""

    seq: int | None
    returning: bool


class Snapshots:
    def __init__(self, space: Space, read_gate: RWLock) -> None:
        self.space = space
        self.catalog = space.catalog
        self.db = space.db
        # Branch reads hold this shared from choosing their tables until DuckDB has
        # started their statement; a new snapshot is registered holding it exclusively.
        self.read_gate = read_gate
        # Rows of owners no longer live may be in the snapshots table (at start, and
        # once a retired branch's snapshots are forgotten): the next collection looks.
        self.stale_owners = True
        # Undo snapshots a running main write carries captures into (undo.Fused):
        # garbage collection leaves them until the write's statement ended.
        self.pinned: dict[str, int] = {}

    def before_write(
        self,
        owner_id: int,
        tables: list[str],
        merging: Branch | None = None,
        write: PlainWrite | None = None,
        writer: Writer | None = None,
        fuse: Fuse | None = None,
        untouched: set[str] | None = None,
    ) -> undo.Fused | None:
        """Preserve tables live children still read, before ``owner`` changes them.
        A child being merged is retired by the same transaction: it needs no snapshot.
        ``merging`` or ``write`` (main's plain INSERT/UPDATE/DELETE) say which rows
        change, so main can keep just those (undo.py): a merge in ``writer``'s
        transaction, a plain write in its own statement when ``fuse`` says it can carry
        them (what it must carry is returned). ``untouched`` (a merge's) gets the tables
        whose merged keys main has not changed since the merging branch forked (see
        ``_untouched``). (Returns before taking catalog.lock when
        there is nothing to write: readers call this while holding read_gate, which a
        snapshot takes exclusively.)"""
        if not tables or not self.catalog.children(owner_id):
            return None
        fused = None
        if owner_id == MAIN_ID and write is not None and write.table in tables:
            fused = undo.Fused([])
        with self.catalog.lock:
            # New snapshots first: each commits on its own, re-pointing children's
            # views, before the writer's transaction has read anything (a merge's
            # then drops the merged branch's views: no conflict with a change it could
            # not see). Then the undo snapshots there were already.
            undo_before = (
                {t: self._undo_snapshots(t) for t in tables} if owner_id == MAIN_ID else {}
            )
            for table in tables:
                mine = fused if write is not None and write.table == table else None
                if self.catalog.needs_snapshot(owner_id, table, merging):
                    self._snapshot(owner_id, table, merging, write, fuse, mine)
                self.catalog.last_write[(owner_id, table)] = self.catalog.epoch
            for table, snaps in undo_before.items():
                mine = fused if write is not None and write.table == table else None
                self._keep_undo(table, snaps, merging, write, writer, fuse, mine, untouched)
            if fused:
                for snap in fused.snapshots:
                    self.pinned[snap] = self.pinned.get(snap, 0) + 1
        return fused or None

    def unpin(self, fused: undo.Fused) -> None:
        """The statement that carried ``fused`` ended: its snapshots may be collected."""
        with self.catalog.lock:
            for snap in fused.snapshots:
                n = self.pinned.get(snap, 0) - 1
                if n > 0:
                    self.pinned[snap] = n
                else:
                    self.pinned.pop(snap, None)

    def _how(
        self,
        table: str,
        key: list[str],
        merging: Branch | None,
        write: PlainWrite | None,
        cur: duckdb.DuckDBPyConnection,
        fuse: Fuse | None,
        visible: bool,
    ) -> str:
        """How main's coming write to ``table`` keeps an undo snapshot with ``key``:
        "keys" (a merge's, undo.capture_keys), "fuse" (in the write's own statement),
        "where" (an UPDATE/DELETE's rows, in a statement before it) or "full" (the
        write cannot say its rows: a full copy first). ``visible``: the snapshot is
        seen by the transaction the write runs in."""
        if not key:
            return "full"
        if merging is not None:
            same = self.space.has_delta(cur, merging.id, table) and set(
                self.space.delta_key(cur, merging, table)
            ) == set(key)
            return "keys" if same else "full"
        if write is None or write.table != table:
            return "full"
        creates = write.kind == "INSERT" or write.may_break_keys(key)
        if fuse is not None and visible and not (creates and fuse.returning):
            return "fuse"
        # In a statement of its own, before the write: the same rows only if its WHERE
        # reads nothing the write's transaction may have changed but this table.
        return "full" if creates or write.reads_others else "where"

    def _plan(
        self,
        fused: undo.Fused | None,
        how: str,
        snap: str,
        table: str,
        key: list[str],
        write: PlainWrite | None,
    ) -> None:
        """Add the snapshot's captures to what the write carries (``how`` "fuse")."""
        assert fused is not None and write is not None and how == "fuse"
        fused.key = key
        fused.snapshots.append(snap)
        if write.kind != "INSERT":
            live = qname(layout.MAIN, table)
            fused.keep.append(undo.keep_sql(snap, live, key, write.alias, write.stmt_cond))
        if write.kind == "INSERT" or write.may_break_keys(key):
            fused.hide_new.append(snap)

    def _capture(
        self,
        cur: duckdb.DuckDBPyConnection,
        table: str,
        snap: str,
        key: list[str],
        merging: Branch | None,
        write: PlainWrite | None,
    ) -> None:
        """Keep the rows a merge (its keys) or an UPDATE/DELETE (its WHERE) changes."""
        live = qname(layout.MAIN, table)
        if merging is not None:
            dschema = layout.delta_schema(merging.id)
            merge_key = self.space.delta_key(cur, merging, table)
            undo.capture_keys(
                cur, snap, live, key, delta.changed_keys_sql(dschema, table, merge_key)
            )
        else:
            assert write is not None
            undo.capture_where(cur, snap, live, key, write)

    def _undo_snapshots(self, table: str) -> list[Snapshot]:
        return [
            s
            for s in self.catalog.snapshots.get((MAIN_ID, table), [])
            if s.table is not None and s.table in self.space.undo
        ]

    def _keep_undo(
        self,
        table: str,
        snaps: list[Snapshot],
        merging: Branch | None,
        write: PlainWrite | None,
        writer: Writer | None,
        fuse: Fuse | None,
        fused: undo.Fused | None,
        untouched: set[str] | None = None,
    ) -> None:
        """Before main writes ``table``: extend each undo snapshot of it with the rows
        the write changes, or make it a full copy when the write cannot say which.
        A plain write carries its captures in its own statement (``fused``) for the
        snapshots its transaction can see; a merge (``writer``: its transaction's
        cursor, and the snapshot sequence number it began at) keeps them inside its
        transaction. Both: kept and changed in one commit, both or neither. Otherwise,
        and for a full copy, in a transaction of their own that commits first. A
        merge's captures in its transaction go in one statement (undo.capture_keys_in)."""
        if not snaps:
            return
        batch: list[tuple[str, list[str]]] = []
        cur = self.db.cursor()
        try:
            merged: set[str] | None = None  # the merged delta's key, asked once
            if merging is not None and self.space.has_delta(cur, merging.id, table):
                merged = set(self.space.delta_key(cur, merging, table))
            for s in snaps:
                assert s.table is not None
                snap, rows = s.table, layout.rows_table(s.table)
                key = self._snapshot_key(cur, snap)
                seen = fuse is not None and (fuse.seq is None or s.seq <= fuse.seq)
                if merging is not None:
                    how = "keys" if key and set(key) == merged else "full"
                else:
                    how = self._how(table, key, merging, write, cur, fuse, seen)
                if how == "fuse":
                    self._plan(fused, how, snap, table, key, write)
                    continue
                if how == "keys" and writer is not None and s.seq <= writer[1]:
                    if merging is None:
                        self._capture(writer[0], table, snap, key, merging, write)
                        continue
                    if untouched is not None and self._untouched(writer[0], table, s, key, merging):
                        untouched.add(table)
                    batch.append((snap, key))  # kept below, in one statement
                    continue
                with transaction(cur):
                    if how == "full":
                        body = copy.ddl_body(self.db.table_sql(cur, layout.SNAP, rows))
                        assert body is not None
                        undo.materialize(cur, snap, body)
                    else:
                        self._capture(cur, table, snap, key, merging, write)
                if how == "full":
                    self.space.undo.discard(snap)
                    self.space.undo_keys.pop(snap, None)
            if batch:
                assert merging is not None and writer is not None
                merge_key = self.space.delta_key(writer[0], merging, table)
                keys_sql = delta.changed_keys_sql(layout.delta_schema(merging.id), table, merge_key)
                live = qname(layout.MAIN, table)
                undo.capture_keys_in(writer[0], batch, live, merge_key, keys_sql)
        finally:
            cur.close()

    def _snapshot_key(self, cur: duckdb.DuckDBPyConnection, snap: str) -> list[str]:
        """The key of an undo snapshot (its hidden keys' columns)."""
        key = self.space.undo_keys.get(snap)
        if key is None:
            hide = layout.hide_table(layout.rows_table(snap))
            key = self.space.undo_keys[snap] = self.db.column_names(cur, layout.SNAP, hide)
        return key

    def _untouched(
        self, cur: duckdb.DuckDBPyConnection, table: str, s: Snapshot, key: list[str], b: Branch
    ) -> bool:
        """Before the merge of ``b`` captures into ``s``: is it the branch's base, and has
        main changed none of the keys the merge writes since the fork (none is kept or
        hidden in the snapshot)? Then main's rows at those keys are the base's, and the
        merge cannot conflict there."""
        if self.catalog.base_snapshot(b, table) is not s:
            return False
        assert s.table is not None
        snap = s.table
        dschema = layout.delta_schema(b.id)
        keys_sql = delta.changed_keys_sql(dschema, table, self.space.delta_key(cur, b, table))
        rows = layout.rows_table(snap)
        hit = " OR ".join(
            f"EXISTS (SELECT 1 FROM {qname(layout.SNAP, t)} s WHERE {delta.key_match(key, 's', 'c')})"
            for t in (rows, layout.hide_table(rows))
        )
        return cur.execute(f"SELECT 1 FROM ({keys_sql}) c WHERE {hit} LIMIT 1").fetchone() is None

    def _snapshot(
        self,
        owner_id: int,
        table: str,
        merging: Branch | None = None,
        write: PlainWrite | None = None,
        fuse: Fuse | None = None,
        fused: undo.Fused | None = None,
    ) -> None:
        cur = self.db.cursor()
        try:
            tag = self.catalog.epoch
            src = self.space.current_rel(cur, owner_id, table)
            snap_name: str | None = None
            kept_rows: list[str] | None = None
            how = "full"
            below = [d.id for d in self.catalog.descendants(owner_id)]  # views re-pointed
            with self.space.changing(below), transaction(cur):
                if src is not None:
                    snap_name, kept_rows, how = self._keep(
                        cur, owner_id, table, src, merging, write, fuse
                    )
                store.record_snapshot(cur, owner_id, table, tag, snap_name)
                if snap_name is not None:
                    assert src is not None
                    snap = qname(layout.SNAP, snap_name)
                    self._repoint_children(cur, owner_id, table, snap)
                    self._repoint_descendants(cur, owner_id, table, src, snap)
            if kept_rows is not None and snap_name is not None:
                self.space.undo.add(snap_name)
                self.space.undo_keys[snap_name] = kept_rows
                if how == "fuse":  # registered below: the write's statement sees it
                    self._plan(fused, how, snap_name, table, kept_rows, write)
            self.read_gate.acquire_exclusive()
            try:
                self.catalog.add_snapshot(owner_id, table, Snapshot(tag, snap_name))
            finally:
                self.read_gate.release_exclusive()
        finally:
            cur.close()

    def _keep(
        self,
        cur: duckdb.DuckDBPyConnection,
        owner_id: int,
        table: str,
        src: str,
        merging: Branch | None,
        write: PlainWrite | None,
        fuse: Fuse | None,
    ) -> tuple[str, list[str] | None, str]:
        """Keep ``src`` as it is now: (snapshot table, its key when only changed rows
        are kept (an undo snapshot), how the coming write keeps them, see ``_how``)."""
        if src.startswith(qident(layout.SNAP) + "."):
            # immutable already: share it
            return src.split(".", 1)[1].strip('"'), None, "full"
        info = None
        if owner_id == MAIN_ID and src == qname(layout.MAIN, table):
            info = self.db.table_info(cur, layout.MAIN, table)
        body = copy.ddl_body(info.ddl) if info else None
        snap = layout.snapshot_table(store.next_id(cur))
        if info is not None and body is not None:
            key = info.primary_key
            # Registered once this transaction commits, before the write's statement
            # starts: seen by it unless it runs in a transaction that began earlier.
            seen = fuse is not None and fuse.seq is None
            how = self._how(table, key, merging, write, cur, fuse, seen)
            if how != "full":
                undo.create(cur, snap, body, [(k, info.types[k]) for k in key], src)
                if how != "fuse":
                    self._capture(cur, table, snap, key, merging, write)
                return snap, key, how
        copy.copy_table(self.space, cur, src, layout.SNAP, snap)
        return snap, None, "full"

    def _repoint_children(
        self, cur: duckdb.DuckDBPyConnection, owner_id: int, table: str, snap: str
    ) -> None:
        """In the snapshot's own transaction, point the views of children that read
        the owner's live table at the new snapshot, so a committed view is never stale
        (a session re-pointing it later would conflict with concurrent writers). Which
        children have the view, and a delta of the table: one catalog query for all."""
        kids = [
            c
            for c in self.catalog.children(owner_id)
            if self.catalog.base_snapshot(c, table) is None
        ]
        if not kids:
            return
        here = "database_name = current_database()"
        found = set(  # (an IN list of the schemas makes DuckDB's catalog scans slower)
            cur.execute(
                f"SELECT 'v', schema_name FROM duckdb_views() WHERE view_name = ? AND {here} "
                f"AND NOT internal UNION ALL SELECT 't', schema_name FROM duckdb_tables() "
                f"WHERE table_name = ? AND {here}",
                [table, table],
            ).fetchall()
        )
        for c in kids:  # an older snapshot is still the base of those left out
            if ("v", c.schema) not in found:
                continue  # reads fall through, or the child has its own full copy
            if ("t", layout.delta_schema(c.id)) in found:
                key = self.space.delta_key(cur, c, table)
                copy.create_overlay(cur, c, table, snap, key, self.space.is_bag(cur, c, table))
            else:
                cur.execute(
                    f"CREATE OR REPLACE VIEW {qname(c.schema, table)} AS SELECT * FROM {snap}"
                )

    def _repoint_descendants(
        self, cur: duckdb.DuckDBPyConnection, owner_id: int, table: str, src: str, snap: str
    ) -> None:
        """Deltas deeper down compose over the first full relation below them (delta.py):
        those composed over the owner's table ``src`` itself (main's, or a full copy;
        the owner is about to change it) read the new snapshot instead, in its
        transaction, like the children."""
        deeper = [
            d for c in self.catalog.children(owner_id) for d in self.catalog.descendants(c.id)
        ]
        if not deeper:
            return
        marks = ", ".join("?" for _ in deeper)
        rows = cur.execute(
            "SELECT schema_name, sql FROM duckdb_views() WHERE database_name = current_database() "
            f"AND view_name = ? AND schema_name IN ({marks})",
            [table, *(d.schema for d in deeper)],
        ).fetchall()
        views = dict(rows)
        for d in deeper:
            if delta.overlay_base(views.get(d.schema, "")) != src:
                continue
            if self.space.has_delta(cur, d.id, table):
                key = self.space.delta_key(cur, d, table)
                copy.create_overlay(cur, d, table, snap, key, self.space.is_bag(cur, d, table))

    def upgrade_undo(self, cur: duckdb.DuckDBPyConnection) -> None:
        """At start-up: rewrite undo snapshots of an older layout (undo.upgrade)."""
        rows = cur.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE database_name = current_database() "
            "AND schema_name = ?",
            [layout.SNAP],
        ).fetchall()
        old = [(v, sql) for v, sql in rows if v in self.space.undo and not undo.is_current(sql)]
        if not old:
            return
        with transaction(cur):
            for snap, sql in old:
                live = delta.overlay_base(sql)
                assert live is not None, f"undo snapshot {snap} reads no table"
                hide = layout.hide_table(layout.rows_table(snap))
                undo.upgrade(cur, snap, live, self.db.column_names(cur, layout.SNAP, hide))

    def drop_owner(self, owner_id: int) -> None:
        """Forget the snapshots a retired branch kept for its (gone) children."""
        for key in [k for k in self.catalog.snapshots if k[0] == owner_id]:
            self.catalog.snapshots.pop(key, None)
            self.stale_owners = True  # its rows in the metadata go at the next collection

    def collect_garbage(
        self, cur: duckdb.DuckDBPyConnection, holding: Collection[Hashable] = ()
    ) -> int:
        """Drop snapshots no live branch reads; return how many went. A snapshot of a
        table another merge is writing stays until a later collection (that merge may
        be keeping rows in it, in its open transaction); ``holding``: the merge locks
        the caller holds (a merge that committed: its tables' snapshots can go)."""
        with self.catalog.lock:
            dead = [d for d in self.catalog.unused_snapshots() if d[2].table not in self.pinned]
            names = {table_lock(o, t) for o, t, _ in dead}
            mine = self.space.merging.take_free(names - set(holding))
            try:
                ok = mine | (names & set(holding))
                dead = [d for d in dead if table_lock(d[0], d[1]) in ok]
                return self._collect(cur, dead)
            finally:
                self.space.merging.release(mine)

    def _collect(
        self, cur: duckdb.DuckDBPyConnection, dead: list[tuple[int, str, Snapshot]]
    ) -> int:
        for owner, table, snap in dead:
            self.catalog.drop_snapshot(owner, table, snap)
        # Snapshot entries of owners that no longer exist.
        live_owners = {MAIN_ID, *self.catalog.branches}
        stale_owners = []
        if self.stale_owners:
            stale_owners = [o for o in store.snapshot_owners(cur) if o not in live_owners]
            self.stale_owners = False
        if not dead and not stale_owners:
            return 0
        self.stale_owners = bool(stale_owners)  # until the transaction committed
        used = {s.table for snaps in self.catalog.snapshots.values() for s in snaps if s.table}
        with transaction(cur):
            for owner, table, snap in dead:
                store.forget_snapshot(cur, owner, table, snap.tag)
            for owner in stale_owners:
                store.forget_snapshots_of(cur, owner)
            for v in self.db.views_in(cur, layout.SNAP):  # undo snapshots, before their tables
                if layout.snapshot_of(v) not in used:
                    cur.execute(f"DROP VIEW IF EXISTS {qname(layout.SNAP, v)}")
                    self.space.undo.discard(v)
            for t in self.db.tables_in(cur, layout.SNAP):
                if layout.snapshot_of(t) not in used:
                    cur.execute(f"DROP TABLE IF EXISTS {qname(layout.SNAP, t)}")
        self.stale_owners = False
        return len(dead)
