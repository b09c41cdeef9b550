"""Route one statement into a branch: prepare its tables, then finish after it ran.

A branch session runs with ``search_path = "_hb_<id>", main``: a table the branch has
not written falls through to main. ``prepare`` makes the branch schema right for one
statement (copy-on-write of the tables it writes, views over the snapshots it reads,
the rows a delta write takes over; the session prints such a write's table in the
delta's schema), ``finish`` checks and records what the write changed. ``plain_read`` tells a read that needs none of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from hati.branching import constraints, copy, delta, layout, store, undo
from hati.branching.catalog import MAIN_ID, Branch
from hati.branching.snapshots import Fuse, Snapshots
from hati.branching.space import Namespace, Space, points_at
from hati.errors import DuplicateTable, InsufficientPrivilege, UndefinedTable
from hati.pg.analyze import Analysis, TableRef
from hati.pg.dml import PlainWrite
from hati.storage.duckdb_backend import qident, qname


@dataclass
class StatementPlan:
    """What ``prepare`` arranged for one statement, for the session and ``finish``."""

    delta: tuple[PlainWrite, str, str] | None = None  # (the write, its base, delta schema)
    # delta-columns rows this statement inserted: known once its transaction commits
    marked: list[tuple[int, str, str]] = field(default_factory=list)
    fresh: bool = False  # the statement began the delta: nothing of it is marked yet

    @property
    def target_schema(self) -> str | None:
        """Where the statement's written table is printed: a row delta's schema (the
        statement runs unchanged against the touched-rows table); None: as it reads."""
        return self.delta[2] if self.delta is not None else None


def _targets(a: Analysis) -> list[TableRef]:
    return [*a.writes, *a.drops, *a.creates]


class Router:
    def __init__(
        self, space: Space, snapshots: Snapshots, shared_schemas: frozenset[str] = frozenset()
    ) -> None:
        self.space = space
        self.snapshots = snapshots
        self.db = space.db
        # Schemas no branch copies: a branch session reads and writes them as they are.
        self.shared_schemas = shared_schemas

    def branched(self, b: Branch, a: Analysis) -> Analysis:
        """``a`` with only the relations a branch keeps its own version of (the default
        schema's); a relation of a shared schema stays where it is; any other schema is
        refused for writing (it is not branched, and a branch may not reach past itself)."""
        if all(t.schema is None for t in a.tables):
            return a
        for ref in _targets(a):
            if ref.schema is not None and ref.schema not in self.shared_schemas:
                raise InsufficientPrivilege(
                    f'cannot write "{ref.schema}.{ref.name}" from branch "{b.name}"',
                    hint="Only the public schema is branched; RESET hatidata_branch to write "
                    "other schemas on main.",
                )
        return dataclasses.replace(a, tables=[t for t in a.tables if t.schema is None])

    # ------------------------------------------------------------------ search_path
    def search_path(self, b: Branch) -> str:
        return f"{qident(b.schema)},{layout.MAIN}"

    def route(self, cur: duckdb.DuckDBPyConnection, b: Branch | None) -> None:
        """Point the cursor's unqualified names at ``b`` (None: main)."""
        path = layout.MAIN if b is None else self.search_path(b)
        cur.execute(f"SET search_path = '{path}'")

    # ------------------------------------------------------------------ plain reads
    def plain_read(self, b: Branch, a: Analysis) -> bool:
        """True when the read ``a`` needs no preparation in ``b``: it names no table the
        branch or its ancestors changed, so search_path fall-through to main is
        already right."""
        # No catalog.lock here: a parent may hold it while waiting for read_gate.
        special = self.space.catalog.special_names(b)
        return not any(t.name.lower() in special for t in a.tables)

    # ------------------------------------------------------------------ main
    def before_main_write(
        self, a: Analysis, write: PlainWrite | None, fuse: Fuse | None = None
    ) -> undo.Fused | None:
        """Before main writes: keep what live branches still read of its tables. A
        plain write (``write``) says which rows it changes: the snapshot live branches
        need then keeps just those (undo.py), carried by the write's own statement when
        ``fuse`` says it can (returned: what the statement must carry)."""
        tables = [r.name for r in _targets(a) if r.schema is None]
        if not tables:
            return None
        return self.snapshots.before_write(MAIN_ID, tables, write=write, fuse=fuse)

    # ------------------------------------------------------------------ branches
    def prepare(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        a: Analysis,
        write: Callable[[], PlainWrite | None] = lambda: None,
        ns: Namespace | None = None,
    ) -> StatementPlan | None:
        """Make the branch schema ready for a statement. None: skip it (IF NOT EXISTS).
        ``ns``: the branch's namespace as the cursor's transaction sees it (read here
        if not given); it is updated with what this makes."""
        a = self.branched(b, a)
        targets = _targets(a)
        b.touched.update(r.name.lower() for r in targets)
        plan = StatementPlan()
        if not b.persisted and targets:
            store.persist_branch(cur, b)  # in the write's transaction: its data never orphans
            b.persisted = True  # set back by EngineSession.end if the transaction rolls back
        if ns is None:
            ns = Namespace.empty() if b.pristine else self.space.namespace(cur, b)
        b.pristine = False
        # Children of this branch must keep reading the version they forked from,
        # whether or not the table is already materialized here.
        self.snapshots.before_write(b.id, [r.name for r in targets])
        dw = write()
        if dw is not None and any(r.name in ns.deltas and r.name != dw.table for r in a.reads):
            dw = None  # the statement reads another branch table through its delta schema
        if not self._prepare_creates(cur, b, a, ns):
            return None
        self._prepare_references(cur, b, a, ns)
        self._prepare_writes(cur, b, a, ns, dw, plan)
        self._prepare_reads(cur, b, a, ns)
        if plan.delta is not None:
            dw, src, dschema = plan.delta
            key = self.space.delta_key(cur, b, dw.table)
            if dw.kind in ("UPDATE", "DELETE"):
                delta.pull(cur, dw, src, dschema, key, bag=self.space.is_bag(cur, b, dw.table))
        return plan

    def _prepare_creates(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, a: Analysis, ns: Namespace
    ) -> bool:
        """False: the statement is skipped (CREATE ... IF NOT EXISTS of a table there)."""
        for ref in a.creates:
            if ref.name in ns.local or (
                ref.name not in ns.dropped and self.space.base_rel(cur, b, ref.name)
            ):
                if a.if_not_exists:
                    return False
                raise DuplicateTable(f'relation "{ref.name}" already exists')
            if ref.name in ns.views:
                cur.execute(f"DROP VIEW {qname(b.schema, ref.name)}")
        return True

    def _prepare_references(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, a: Analysis, ns: Namespace
    ) -> None:
        """A table created with a foreign key to ``p``: DuckDB looks ``p`` up in the
        branch's schema, where it must be a table, so ``p`` becomes a full copy."""
        for name in constraints.referenced_tables(a.node) if a.creates else ():
            if name in ns.local:
                continue
            b.touched.add(name.lower())
            if name in ns.deltas:
                copy.to_full(self.space, cur, b, name)
            else:
                src = None if name in ns.dropped else self.space.base_rel(cur, b, name)
                if src is None:
                    continue  # DuckDB reports the missing table
                if name in ns.views:
                    cur.execute(f"DROP VIEW {qname(b.schema, name)}")
                copy.copy_table(self.space, cur, src, b.schema, name)
            ns.local.add(name)

    def _prepare_writes(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        a: Analysis,
        ns: Namespace,
        dw: PlainWrite | None,
        plan: StatementPlan,
    ) -> None:
        """Copy-on-write: each written table becomes the branch's own (a delta or a copy)."""
        for ref in [*a.writes, *a.drops]:
            if ref.name in ns.local:
                continue
            if ref.name in ns.deltas:
                if dw is not None and dw.table == ref.name:
                    base = self._delta_base(cur, b, ref.name, ns.views)
                    plan.delta = (dw, base, layout.delta_schema(b.id))
                else:
                    copy.to_full(self.space, cur, b, ref.name)
                    ns.local.add(ref.name)
                continue
            src = None if ref.name in ns.dropped else self.space.base_rel(cur, b, ref.name)
            if src is None:
                if a.if_exists:
                    continue
                raise UndefinedTable(f'relation "{ref.name}" does not exist in branch "{b.name}"')
            if ref.name in ns.views:
                cur.execute(f"DROP VIEW {qname(b.schema, ref.name)}")
                del ns.views[ref.name]
            if dw is not None and dw.table == ref.name:
                root = copy.start_delta(self.space, cur, b, src, ref.name)
                if root is not None:
                    ns.deltas.add(ref.name)
                    ns.views[ref.name] = self._overlay(cur, b, ref.name, root)
                    plan.delta = (dw, root, layout.delta_schema(b.id))
                    plan.fresh = True
                    continue
            copy.copy_table(self.space, cur, src, b.schema, ref.name)
            ns.local.add(ref.name)

    def _prepare_reads(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, a: Analysis, ns: Namespace
    ) -> None:
        """Each table read through a base that is not main's live table gets its view."""
        written = {r.name for r in _targets(a)}
        for ref in a.reads:
            if ref.schema is not None or ref.name in ns.local or ref.name in written:
                continue
            if ref.name in ns.deltas:
                self._delta_base(cur, b, ref.name, ns.views)
                continue
            if ref.name in ns.dropped:
                raise UndefinedTable(f'relation "{ref.name}" does not exist in branch "{b.name}"')
            src = self.space.base_rel(cur, b, ref.name)
            if src is None:
                if self.db.table_exists(cur, layout.MAIN, ref.name):
                    raise UndefinedTable(
                        f'relation "{ref.name}" does not exist in branch "{b.name}"',
                        detail="It was created in the parent after this branch forked.",
                    )
                continue
            if src == qname(layout.MAIN, ref.name) and ref.name not in ns.views:
                continue  # zero copy: search_path falls through to main
            if not points_at(ns.views.get(ref.name, ""), src):
                cur.execute(
                    f"CREATE OR REPLACE VIEW {qname(b.schema, ref.name)} AS SELECT * FROM {src}"
                )
                ns.views[ref.name] = f"SELECT * FROM {src}"

    def _delta_base(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str, views: dict[str, str]
    ) -> str:
        """The full relation a delta table is composed over (its overlay view says
        which). A view is re-pointed in the transaction that makes its base move (a
        snapshot, see snapshots.py); only a snapshot this transaction can see that the
        view does not read yet is re-pointed here."""
        src = delta.overlay_base(views.get(table, ""))
        snap = self.space.catalog.base_snapshot(b, table)
        if src is None or (
            snap is not None
            and snap.table is not None
            and src != qname(layout.SNAP, snap.table)
            and self.db.relation_exists(cur, layout.SNAP, snap.table)
        ):
            src = self.space.root_rel(cur, b, table)
            key = self.space.delta_key(cur, b, table)
            copy.create_overlay(cur, b, table, src, key, self.space.is_bag(cur, b, table))
            views[table] = self._overlay(cur, b, table, src)
        return src

    def _overlay(self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str, base: str) -> str:
        """The SQL of ``b``'s overlay view of ``table`` over ``base`` (for ``Namespace``)."""
        key = self.space.delta_key(cur, b, table)
        bag = self.space.is_bag(cur, b, table)
        return delta.overlay_sql(base, layout.delta_schema(b.id), table, key, bag)

    def finish(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, a: Analysis, plan: StatementPlan, ok: bool
    ) -> bool:
        """Undo what ``prepare`` set for one statement, check delta keys, and record
        drops and re-creations. False: the search_path could not be reset (the
        statement aborted the DuckDB transaction); ``route`` it again after the rollback."""
        a = self.branched(b, a)
        if plan.delta is not None and ok:
            self._record_delta(cur, b, plan)
        if ok:
            written = {r.name.lower() for r in a.writes}
            constraints.check_branch_write(self.space, cur, b, written, a.node)
            for ref in a.drops:  # so the parent's table stays hidden
                if not a.is_view:
                    store.record_drop(cur, b.id, ref.name)
            for ref in a.creates:
                store.record_undrop(cur, b.id, ref.name)
        return True

    def _record_delta(self, cur: duckdb.DuckDBPyConnection, b: Branch, plan: StatementPlan) -> None:
        assert plan.delta is not None
        dw, src, _ = plan.delta
        key = self.space.delta_key(cur, b, dw.table)
        if self.space.is_bag(cur, b, dw.table):
            return  # no key to keep unique; a bag merges by values, not assigned columns
        if dw.may_break_keys(key):
            delta.check_unique(cur, src, layout.delta_schema(b.id), dw.table, key)
        assigned: set[str] = set()
        if dw.kind == "INSERT" and not plan.fresh:
            assigned = store.assigned_columns(cur, b.id, dw.table)
        for col in delta.marks(dw, key, "-" in assigned):
            if (b.id, dw.table, col) in self.space.marked:
                continue
            plan.marked.append((b.id, dw.table, col))
            store.mark_column(cur, b, dw.table, col)
