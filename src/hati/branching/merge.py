"""Merge a branch into its parent: plan every table it changed, then apply the plans.

For each table the branch materialized, dropped or keeps as a row delta, a
``TableMerge`` (tablemerge.py) compares base (the parent's table as of the fork), ours
(the parent's table now) and theirs (the branch's). ``diff`` and ``conflicts`` read
those plans; ``apply`` runs them inside the caller's transaction, the one that also
retires the branch.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import duckdb

from hati.branching import cellmerge, copy, delta, layout, store
from hati.branching.catalog import MAIN_ID, Branch
from hati.branching.constraints import MergeChecks, foreign_keys, main_foreign_keys
from hati.branching.space import Namespace, Space
from hati.branching.tablemerge import Conflict, Side, TableCounts, TableMerge, canonical_key
from hati.errors import InvalidParameter, SerializationFailure
from hati.storage.duckdb_backend import qident, qname


@dataclass
class MergeResult:
    branch: str
    strategy: str
    inserted: int
    updated: int
    deleted: int
    conflicts: int
    status: str


def _types(side: Side) -> dict[str, str]:
    return {c.name: c.type for c in side.columns}


class Merger:
    def __init__(self, space: Space) -> None:
        self.space = space
        self.db = space.db

    def _side(self, cur: duckdb.DuckDBPyConnection, rel: str | None) -> Side:
        return Side(None) if rel is None else Side(rel, self.space.columns(cur, rel))

    # ------------------------------------------------------------------ plans
    def table_merges(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        tag: str,
        merging: bool = False,
        only: str | None = None,
        ns: Namespace | None = None,
        untouched: Collection[str] = (),
    ) -> list[TableMerge]:
        """``ns``: the branch's namespace as the cursor's transaction sees it (read here
        if not given); ``untouched``: tables whose merged keys main has not changed
        since the fork (Snapshots.before_write)."""
        if ns is None:
            ns = self.space.namespace(cur, b)
        out = []
        # A table on either side of a foreign key merges through the checked path, and
        # referenced tables merge first (a created table's rows may reference theirs).
        # Foreign keys in a branch's schema are on tables it created (its copies of the
        # parent's tables have none).
        fks = main_foreign_keys(self.space, cur)
        if ns.local:
            fks += foreign_keys(cur, b.schema)
        linked = {t.lower() for fk in fks for t in (fk.child, fk.parent)}
        parents = {fk.parent.lower() for fk in fks}
        order = sorted(enumerate(ns.changed), key=lambda it: (it[1].lower() not in parents, it[0]))
        for i, table in order:
            if only is not None and table != only:
                continue
            base_rel = self.space.base_rel(cur, b, table)
            ours_rel = self.space.current_rel(cur, b.parent_id, table)
            if table in ns.deltas:
                fast = merging and table.lower() not in linked
                clean = fast and table in untouched and self._no_other_unique(cur, table)
                out.append(
                    self._delta_merge(cur, b, table, base_rel, ours_rel, f"{tag}_{i}", fast, clean)
                )
                continue
            theirs_rel = qname(b.schema, table) if table in ns.local else None
            base, ours, theirs = (self._side(cur, r) for r in (base_rel, ours_rel, theirs_rel))
            key_src = theirs_rel or ours_rel or base_rel
            key = self.space.primary_key(cur, key_src) if key_src else []
            out.append(TableMerge(cur, table, base, ours, theirs, key=key, tag=f"{tag}_{i}"))
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
        untouched: bool = False,
    ) -> TableMerge:
        """A TableMerge over the changed keys only: theirs is the touched-rows table,
        base and ours are cut down to those keys (or not read at all when the parent
        has not changed the table since the fork, or, ``untouched``, main has changed
        none of the keys the branch touched: main's rows there are the base's)."""
        dschema = layout.delta_schema(b.id)
        key = self.space.delta_key(cur, b, table)
        bag = self.space.is_bag(cur, b, table)
        row_key = [] if bag else key  # a bag's rows are their values (tablemerge.py)
        assert base_rel is not None
        if merging and (base_rel == ours_rel or (untouched and ours_rel is not None and not bag)):
            assert ours_rel is not None
            base = self._side(cur, ours_rel)  # as ours at every key the merge writes
            # The touched-rows table has the columns of the base it was made from (a
            # change of shape in the branch makes a full copy; in the parent, a snapshot).
            theirs = Side(qname(dschema, table), base.columns)
            tm = TableMerge(cur, table, base, base, theirs, key=row_key, tag=tag)
            tm.fast = (dschema, key)
            tm.bag_delta = bag
            return tm
        theirs = self._side(cur, qname(dschema, table))
        keys_sql = delta.changed_keys_sql(dschema, table, key)
        cut_base = f"_m_{tag}_rb"
        delta.restrict(cur, base_rel, keys_sql, key, cut_base, bag)
        base = Side(cut_base, self._side(cur, base_rel).columns)
        if ours_rel == base_rel:
            ours = base
        elif ours_rel is None:
            ours = Side(None)
        else:
            cut_ours = f"_m_{tag}_ro"
            delta.restrict(cur, ours_rel, keys_sql, key, cut_ours, bag)
            ours = Side(cut_ours, self._side(cur, ours_rel).columns)
        if bag:
            # Base rows of a changed value that the branch did not take over (it inserted
            # one more copy) are still the branch's: cut its whole table, not the delta.
            cut_theirs = f"_m_{tag}_rt"
            delta.restrict(cur, qname(b.schema, table), keys_sql, key, cut_theirs, bag)
            theirs = Side(cut_theirs, theirs.columns)
        tm = TableMerge(cur, table, base, ours, theirs, key=row_key, tag=tag)
        tm.real_ours = ours_rel
        tm.real_theirs = qname(b.schema, table)  # the overlay view
        return tm

    def _no_other_unique(self, cur: duckdb.DuckDBPyConnection, table: str) -> bool:
        """Has main's ``table`` no unique constraint but its primary key? (A clash with a
        row main wrote since the fork at another key would be a conflict to settle.)"""

        def count() -> int:
            row = cur.execute(
                "SELECT (SELECT count(*) FROM duckdb_constraints() WHERE database_name = "
                "current_database() AND schema_name = $1 AND table_name = $2 AND "
                "constraint_type = 'UNIQUE') + (SELECT count(*) FROM duckdb_indexes() WHERE "
                "database_name = current_database() AND schema_name = $1 AND table_name = $2 "
                "AND is_unique)",
                [layout.MAIN, table],
            ).fetchone()
            return int(row[0]) if row else 1

        return self.space.main_fact(("other_unique", table), count) == 0

    def plan(self, tm: TableMerge, listing: bool = False) -> list[Conflict]:
        if tm.fast is not None:
            return []  # the parent has not changed the table: nothing can conflict
        if tm.theirs.rel is None:  # dropped in the branch
            if tm.same_base or tm.ours.rel is None:
                return []
            return [Conflict(tm.table, "*", "table", "changed", "dropped", "schema")]
        if tm.ours.rel is None and tm.base.rel is not None:  # dropped in the parent
            if not tm.branch_changed():
                return []
            return [Conflict(tm.table, "*", "table", "dropped", "changed", "schema")]
        problem = _schema_problem(tm)
        if problem is not None:
            if not listing:
                raise problem[0]
            return [_schema_conflict(tm, problem[1])]
        return tm.plan()

    # ------------------------------------------------------------------ reads
    def diff(self, cur: duckdb.DuckDBPyConnection, b: Branch) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for tm in self.table_merges(cur, b, "d"):
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
        self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str | None = None
    ) -> list[Conflict]:
        """Row conflicts, then the constraints the merged result would break (with the
        recorded resolutions, and the branch's side where none is recorded)."""
        merges = self.table_merges(cur, b, "c")
        try:
            plans = [(tm, self.plan(tm, listing=True)) for tm in merges]
            out = [c for _, cs in plans for c in cs]
            resolutions = store.resolutions(cur, b.id)
            for tm, cs in plans:
                if tm.planned and tm.key:
                    cellmerge.mark_taken(tm, _listing_take(cs, resolutions))
            out += MergeChecks(self.space, cur, b, merges).violations()
        finally:
            for tm in merges:
                tm.cleanup()
        return [c for c in out if table is None or c.table == table]

    def check_resolution(
        self, cur: duckdb.DuckDBPyConnection, b: Branch, table: str, key: str, choice: str
    ) -> tuple[str, str, str | None]:
        """(row key, choice, JSON values) of a valid branch_resolve, or InvalidParameter:
        only a row branch_conflicts lists, and only the table's columns."""
        values: str | None = None
        if choice not in ("main", "branch", "ours", "theirs"):
            values, choice = _resolution_values(choice), "values"
        choice = {"ours": "main", "theirs": "branch"}.get(choice, choice)
        row_key = canonical_key(key)
        if row_key not in {c.key for c in self.conflicts(cur, b) if c.table == table}:
            raise InvalidParameter(
                f'branch "{b.name}" has no conflict on table "{table}" at key {row_key}',
                hint=f"SELECT * FROM branch_conflicts('{b.name}') lists the rows to resolve.",
            )
        if values is not None:
            rel = self.space.current_rel(cur, b.id, table)
            columns = {c.name for c in self._side(cur, rel).columns}
            unknown = sorted(set(json.loads(values)) - columns - {"count"})
            if unknown:
                raise InvalidParameter(
                    f'table "{table}" has no column {", ".join(unknown)}',
                    hint=f"Its columns: {', '.join(sorted(columns))}.",
                )
        return row_key, choice, values

    # ------------------------------------------------------------------ apply
    def apply(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        strategy: str,
        resolutions: dict[tuple[str, str], tuple[str, str | None]],
        ns: Namespace | None = None,
        untouched: Collection[str] = (),
    ) -> MergeResult:
        """Merge ``b`` into its parent inside the caller's transaction. A result whose
        status is not "merged" changed nothing (roll the transaction back). ``ns``: the
        branch's namespace as the transaction sees it (read here if not given);
        ``untouched``: see ``table_merges``."""
        parent_schema = (
            None if b.parent_id == MAIN_ID else self.space.catalog.branches[b.parent_id].schema
        )
        merges = self.table_merges(cur, b, "m", merging=True, ns=ns, untouched=untouched)
        try:
            result = self._apply(cur, b, strategy, resolutions, merges, parent_schema)
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction drops them
                for tm in merges:
                    tm.cleanup()
            raise
        for tm in merges:
            tm.cleanup()
        return result

    def _apply(
        self,
        cur: duckdb.DuckDBPyConnection,
        b: Branch,
        strategy: str,
        resolutions: dict[tuple[str, str], tuple[str, str | None]],
        merges: list[TableMerge],
        parent_schema: str | None,
    ) -> MergeResult:
        plans = [(tm, self.plan(tm)) for tm in merges]
        conflicts = [c for _, cs in plans for c in cs]
        if conflicts and strategy == "abort":
            raise _aborted(b, conflicts)
        choices = {}
        for tm, cs in plans:
            if strategy == "manual":
                take = _listing_take(cs, resolutions)  # what branch_conflicts assumed
                known = [c for c in cs if (c.table, c.key) in resolutions]
                _, custom = _choices(strategy, known, resolutions)
            else:
                take, custom = _choices(strategy, cs, resolutions)
            choices[tm.table] = (take, custom)
            if tm.planned and tm.key:
                cellmerge.mark_taken(tm, take)
        checks = MergeChecks(self.space, cur, b, merges)
        violations = checks.violations()
        conflicts += violations
        if violations and strategy == "abort":
            raise _aborted(b, violations)
        if strategy == "manual":
            unresolved = [c for c in conflicts if (c.table, c.key) not in resolutions]
            if unresolved:
                return MergeResult(b.name, strategy, 0, 0, 0, len(unresolved), "conflicts")
        evict = self._settle_constraints(
            b, strategy, resolutions, merges, checks, violations, choices
        )
        total = TableCounts()
        try:
            for tm, cs in plans:
                take, custom = choices[tm.table]
                target = qname(parent_schema or layout.MAIN, tm.table)
                for key in evict.get(tm.table, []):
                    checks.evict(tm, key, target)
                counts = self._apply_table(cur, b, tm, parent_schema, take, custom, bool(cs))
                total.inserted += counts.inserted
                total.updated += counts.updated
                total.deleted += counts.deleted
        except duckdb.ConstraintException as exc:
            raise SerializationFailure(
                f'merge of "{b.name}" aborted: the merged rows violate a constraint',
                detail=str(exc).split("\n", 1)[0],
                hint="SELECT * FROM branch_conflicts('<branch>') lists the rows; resolve "
                "them with branch_resolve, then merge with 'manual'.",
            ) from exc
        return MergeResult(
            b.name, strategy, total.inserted, total.updated, total.deleted, len(conflicts), "merged"
        )

    def _settle_constraints(
        self,
        b: Branch,
        strategy: str,
        resolutions: dict[tuple[str, str], tuple[str, str | None]],
        merges: list[TableMerge],
        checks: MergeChecks,
        violations: list[Conflict],
        choices: dict[str, tuple[set[str], dict[str, dict[str, Any]]]],
    ) -> dict[str, list[str]]:
        """Decide the constraint conflicts (drop the branch's side, take its row, or the
        given values) until the merged result breaks none; 40001 if it still would.
        Returns the rows whose unique clashes main's rows make way for."""
        by_table = {tm.table: tm for tm in merges}
        evict: dict[str, list[str]] = {}
        decided: set[tuple[str, str, str]] = set()
        for _ in range(4):
            pending = [
                c
                for c in violations
                if (c.table, c.key, c.kind) not in decided
                and not (c.kind == "unique" and c.key in evict.get(c.table, []))
            ]
            if not pending:
                return evict
            for c in pending:
                if strategy == "manual":
                    if (c.table, c.key) not in resolutions:  # the resolutions made it
                        raise _aborted(b, [c], settled=True)
                    choice, values = resolutions[(c.table, c.key)]
                else:
                    choice, values = ("branch" if strategy == "branch_wins" else "main"), None
                _decide(by_table[c.table], c, choice, values, checks, choices, evict)
                decided.add((c.table, c.key, c.kind))
            violations = checks.violations()
            still = [
                c
                for c in violations
                if (c.table, c.key, c.kind) in decided
                and not (c.kind == "unique" and c.key in evict.get(c.table, []))
            ]
            if still:
                raise _aborted(b, still, settled=True)
        raise _aborted(b, violations, settled=True)

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
        target_schema = parent_schema or layout.MAIN
        target = qname(target_schema, tm.table)
        main = parent_schema is None
        if parent_schema is not None and self.space.has_delta(cur, b.parent_id, tm.table):
            copy.to_full(self.space, cur, self.space.catalog.branches[b.parent_id], tm.table)
        if tm.theirs.rel is None:  # dropped in the branch
            if tm.ours.rel is not None and (not conflicted or "*" in take):
                if parent_schema is not None and tm.ours.rel != target:
                    store.record_drop(cur, b.parent_id, tm.table)
                    return TableCounts()
                cur.execute(f"DROP TABLE {target}")
            return TableCounts()
        if tm.ours.rel is None:  # created in the branch (or dropped in the parent)
            if tm.base.rel is not None and "*" not in take:
                return TableCounts()  # the parent's drop stands
            assert tm.real_theirs is not None
            copy.copy_table(self.space, cur, tm.real_theirs, target_schema, tm.table)
            if parent_schema is not None:
                store.record_undrop(cur, b.parent_id, tm.table)
            n = cur.execute(f"SELECT count(*) FROM {target}").fetchone()
            return TableCounts(inserted=int(n[0]) if n else 0)
        if tm.real_ours != target:
            # The parent is a branch that still reads this table through: materialize it.
            assert tm.real_ours is not None
            cur.execute(f"DROP VIEW IF EXISTS {target}")
            copy.copy_table(self.space, cur, tm.real_ours, target_schema, tm.table)
        if tm.fast is not None:  # the parent's table is as the branch forked it
            dschema, key = tm.fast
            if tm.bag_delta:
                return TableCounts(
                    *delta.apply_bag_unchanged_base(cur, target, dschema, tm.table, key)
                )
            assigned = store.assigned_columns(cur, b.id, tm.table) if b.marks else set()
            counts = delta.apply_unchanged_base(
                cur, target, dschema, tm.table, key, tm.theirs.names, assigned, seeded=not main
            )
            return TableCounts(*counts)
        if tm.base.rel is not None and _types(tm.theirs) != _types(tm.base):
            self._apply_schema(cur, tm, target)
        # Indexes the branch created on the table come along (before any row changes).
        copy.copy_indexes(cur, b.schema, tm.table, target_schema, tm.table)
        return tm.apply(take, custom, target)

    def _apply_schema(self, cur: duckdb.DuckDBPyConnection, tm: TableMerge, ours_rel: str) -> None:
        """Bring the parent table's columns in line with the branch's changes."""
        base, ours = _types(tm.base), _types(tm.ours)
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


def _schema_conflict(tm: TableMerge, col: str | None) -> Conflict:
    """branch_conflicts' row for schema changes that cannot merge (the merge fails)."""
    base, ours, theirs = (_types(s) for s in (tm.base, tm.ours, tm.theirs))
    if col is None:  # created on both sides
        return Conflict(tm.table, "*", None, json.dumps(ours), json.dumps(theirs), "schema")
    return Conflict(
        tm.table,
        "*",
        json.dumps({col: base.get(col)}),
        json.dumps({col: ours.get(col)}),
        json.dumps({col: theirs.get(col)}),
        "schema",
        [col],
    )


def _schema_problem(tm: TableMerge) -> tuple[SerializationFailure, str | None] | None:
    """Schema changes that cannot merge: the error, and the column (None: the table)."""
    base, ours, theirs = _types(tm.base), _types(tm.ours), _types(tm.theirs)
    if tm.base.rel is None and tm.ours.rel is not None and ours != theirs:
        return SerializationFailure(
            f'table "{tm.table}" was created on both sides with different columns',
            hint="Drop or rename it in the branch, then merge again.",
        ), None
    if tm.base.rel is None or theirs == base or ours in (base, theirs):
        return None
    for col in sorted(set(base) | set(ours) | set(theirs)):
        o, t, bb = ours.get(col), theirs.get(col), base.get(col)
        if o != bb and t != bb and o != t:
            return SerializationFailure(
                f'incompatible schema changes to "{tm.table}": column "{col}" is '
                f"{o or 'dropped'} in the parent and {t or 'dropped'} in the branch",
                hint="Make the column agree on one side, then merge again.",
            ), col
    return None


def _decide(
    tm: TableMerge,
    c: Conflict,
    choice: str,
    values: str | None,
    checks: MergeChecks,
    choices: dict[str, tuple[set[str], dict[str, dict[str, Any]]]],
    evict: dict[str, list[str]],
) -> None:
    """Settle one constraint conflict: 'branch' takes the branch's whole row (main's
    rows that clash on a unique key make way); otherwise the branch's side is dropped,
    and JSON values are set over the merged row."""
    if not tm.key:  # a multiset: the copies of its value the branch added
        if choice != "branch":
            tm.dropped.add(c.key)
        if choice == "values" and values:
            choices[c.table][1][c.key] = json.loads(values)
    elif choice == "branch":
        cellmerge.mark_taken(tm, {c.key}, "wb")
        if c.kind == "unique":
            evict.setdefault(c.table, []).append(c.key)
    else:
        if choice == "values" and values:
            row = checks.merged_row(tm, c.key) or {}
            choices[c.table][1][c.key] = {**row, **json.loads(values)}
        cellmerge.mark_taken(tm, {c.key}, "dr")


def _aborted(b: Branch, conflicts: list[Conflict], settled: bool = False) -> SerializationFailure:
    first = conflicts[0]
    what = f"{first.kind} conflict" if first.kind else "conflict"
    if settled:
        return SerializationFailure(
            f'merge of "{b.name}" aborted: the merged rows would still violate a constraint',
            detail=f"{what}: table {first.table}, key {first.key}, columns "
            f"{', '.join(first.columns)}",
            hint="Resolve the row with branch_resolve(..., 'main') or a JSON row that "
            "meets the constraint, then merge with 'manual'.",
        )
    return SerializationFailure(
        f'merge of "{b.name}" aborted: {len(conflicts)} conflicting row(s)',
        detail=f"first conflict: table {first.table}, key {first.key} ({what})",
        hint="SELECT * FROM branch_conflicts('<branch>') lists them; merge with "
        "'branch_wins', 'main_wins' or resolve them and use 'manual'.",
    )


def _listing_take(
    conflicts: list[Conflict], resolutions: dict[tuple[str, str], tuple[str, str | None]]
) -> set[str]:
    """The conflict keys whose branch side the merged result has, as branch_conflicts
    shows it: recorded as 'branch', or not resolved yet."""
    return {
        c.key
        for c in conflicts
        if resolutions.get((c.table, c.key), ("branch", None))[0] == "branch"
    }


def _choices(
    strategy: str,
    conflicts: list[Conflict],
    resolutions: dict[tuple[str, str], tuple[str, str | None]],
) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """The conflict keys taken from the branch, and rows given explicit values."""
    take: set[str] = set()
    custom: dict[str, dict[str, Any]] = {}
    for c in conflicts:
        if strategy == "branch_wins":
            take.add(c.key)
        elif strategy == "manual":
            choice, values = resolutions[(c.table, c.key)]
            if choice == "branch":
                take.add(c.key)
            elif choice == "values" and values:
                custom[c.key] = json.loads(values)
    return take, custom


def _resolution_values(choice: str) -> str:
    """A JSON object of column values, normalized; InvalidParameter for anything else."""
    try:
        parsed = json.loads(choice)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(
            "resolution must be 'main', 'branch' or a JSON object of column values"
        ) from exc
    if not isinstance(parsed, dict):
        raise InvalidParameter("a JSON resolution must be an object of column values")
    n = parsed.get("count")
    if set(parsed) == {"count"} and not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
        raise InvalidParameter('{"count": n} needs a whole number n >= 0')
    return json.dumps(parsed)
