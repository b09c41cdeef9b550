"""Foreign keys in branches, and the constraints a merged result must meet.

A branch's copies of tables (and snapshots) carry no FOREIGN KEY clause: DuckDB would
look the referenced table up in the copy's own schema, where it is a view or absent.
So a branch checks its foreign keys itself, after every write to a table on either
side of one (``check_branch_write``): an orphan is 23503, as PostgreSQL says it.
The definitions are main's (``foreign_keys``).

Before a merge applies, ``MergeChecks`` looks at the merged result of every table the
merge changes (built by ``cellmerge.merged_sql``) and lists the rows that would break
a NOT NULL, CHECK, UNIQUE or FOREIGN KEY constraint as conflicts.
"""

from __future__ import annotations

import duckdb
from pglast import ast
from pglast.enums import ConstrType

from hati.branching import cellmerge, layout
from hati.branching.catalog import Branch
from hati.branching.mergerows import Conflict, canonical_key, struct_json
from hati.branching.space import Space
from hati.branching.tablemerge import TableMerge
from hati.errors import ForeignKeyViolation
from hati.pg import foreignkeys as pg_foreignkeys
from hati.pg.foreignkeys import ForeignKey
from hati.storage.duckdb_backend import qident

_M = "\x00M"  # stands for the alias of the merged row in a condition


def foreign_keys(cur: duckdb.DuckDBPyConnection, schema: str = layout.MAIN) -> list[ForeignKey]:
    """Main's foreign keys (or another schema's), named as PostgreSQL names them
    (``<table>_<cols>_fkey``): DuckDB's, and on main those hati keeps itself (with
    actions, ``pg/foreignkeys.py``)."""
    rows = cur.execute(
        "SELECT table_name, constraint_column_names, referenced_table, referenced_column_names "
        "FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = ? AND constraint_type = 'FOREIGN KEY'",
        [schema],
    ).fetchall()
    duck = [
        ForeignKey(r[0], tuple(r[1]), r[2], tuple(r[3]), f"{r[0]}_{'_'.join(r[1])}_fkey")
        for r in rows
    ]
    kept = [fk for fk in pg_foreignkeys.load(cur) if fk.schema == schema == fk.pschema]
    return duck + kept


def main_foreign_keys(space: Space, cur: duckdb.DuckDBPyConnection) -> list[ForeignKey]:
    """``foreign_keys`` of main (cached until DDL on main, ``Space.cached``)."""
    return list(space.main_fact("foreign_keys", lambda: foreign_keys(cur)))


def referenced_tables(node: ast.Node) -> list[str]:
    """The unqualified tables a CREATE TABLE's foreign keys reference."""
    if not isinstance(node, ast.CreateStmt):
        return []
    out: list[str] = []
    for elt in node.tableElts or ():
        found = (
            [elt]
            if isinstance(elt, ast.Constraint)
            else list(getattr(elt, "constraints", None) or ())
        )
        for c in found:
            ref = c.pktable if c.contype == ConstrType.CONSTR_FOREIGN else None
            if ref is not None and ref.schemaname is None and str(ref.relname) not in out:
                out.append(str(ref.relname))
    return out


def orphan_sql(fk: ForeignKey, child_rel: str, parent_rel: str) -> str:
    """The child's rows whose (non-NULL) foreign key the parent does not have."""
    c, p = qident("$fk_c"), qident("$fk_p")
    set_ = " AND ".join(f"{c}.{qident(x)} IS NOT NULL" for x in fk.cols)
    match = " AND ".join(
        f"{p}.{qident(y)} = {c}.{qident(x)}" for x, y in zip(fk.cols, fk.pcols, strict=True)
    )
    return (
        f"SELECT {', '.join(f'{c}.{qident(x)}' for x in fk.cols)} FROM {child_rel} {c} "
        f"WHERE {set_} AND NOT EXISTS (SELECT 1 FROM {parent_rel} {p} WHERE {match})"
    )


def may_orphan(node: ast.Node, fk: ForeignKey, child: bool, parent: bool) -> tuple[bool, bool]:
    """Whether the statement can leave the child's key dangling (from the child's side,
    from the parent's): a DELETE never does from the child's, a plain INSERT never from
    the parent's, an UPDATE only when it assigns the key's columns."""
    if getattr(node, "withClause", None) is not None:
        return child, parent  # a CTE may write anything
    if isinstance(node, ast.DeleteStmt):
        return False, parent
    if isinstance(node, ast.InsertStmt) and node.onConflictClause is None:
        return child, False
    if isinstance(node, ast.UpdateStmt):
        assigned = {str(t.name).lower() for t in node.targetList or ()}
        return (
            child and bool(assigned & {c.lower() for c in fk.cols}),
            parent and bool(assigned & {c.lower() for c in fk.pcols}),
        )
    return child, parent


def check_branch_write(
    space: Space, cur: duckdb.DuckDBPyConnection, b: Branch, written: set[str], node: ast.Node
) -> None:
    """23503 if a write in ``b`` (statement ``node``) to the tables ``written`` left a
    foreign key dangling. It reads both tables whole, so only writes that can break
    the key pay for it."""
    if not written:
        return
    for fk in main_foreign_keys(space, cur):
        if fk.managed:
            continue  # checked, with its actions, by the session (referential.py)
        child, parent = fk.child.lower() in written, fk.parent.lower() in written
        child, parent = may_orphan(node, fk, child, parent) if child or parent else (False, False)
        if not (child or parent):
            continue
        crel = space.current_rel(cur, b.id, fk.child)
        prel = space.current_rel(cur, b.id, fk.parent)
        if crel is None or prel is None:
            continue
        row = cur.execute(orphan_sql(fk, crel, prel) + " LIMIT 1").fetchone()
        if row is None:
            continue
        shown = f"({', '.join(fk.cols)})=({', '.join(str(v) for v in row)})"
        if child:
            raise ForeignKeyViolation(
                f'insert or update on table "{fk.child}" violates foreign key constraint '
                f'"{fk.name}"',
                detail=f'Key {shown} is not present in table "{fk.parent}".',
            )
        pshown = f"({', '.join(fk.pcols)})=({', '.join(str(v) for v in row)})"
        raise ForeignKeyViolation(
            f'update or delete on table "{fk.parent}" violates foreign key constraint '
            f'"{fk.name}" on table "{fk.child}"',
            detail=f'Key {pshown} is still referenced from table "{fk.child}".',
        )


# ---------------------------------------------------------------------- merges
class MergeChecks:
    """The constraints the merged result of a set of table merges must meet."""

    def __init__(
        self, space: Space, cur: duckdb.DuckDBPyConnection, b: Branch, merges: list[TableMerge]
    ) -> None:
        self.space, self.cur, self.b = space, cur, b
        self.merges = {tm.table.lower(): tm for tm in merges}
        self.fks = (
            main_foreign_keys(space, cur)
            if any(_checkable(tm) or _bag(tm) for tm in merges)
            else []
        )
        # (table, canonical key) -> unique column sets whose clash a 'branch' choice settles
        self.unique: dict[tuple[str, str], list[list[str]]] = {}
        self.raw: dict[tuple[str, str], str] = {}  # canonical key -> the key as merged_sql has it

    def final_rel(self, table: str) -> str | None:
        """``table`` as the merge would leave it."""
        tm = self.merges.get(table.lower())
        if tm is None:
            return self.space.current_rel(self.cur, self.b.parent_id, table)
        if _checkable(tm):
            assert tm.real_ours is not None
            return f"({cellmerge.final_sql(tm, tm.real_ours, self._ours_cols(tm))})"
        if tm.fast is not None:
            return self.space.current_rel(self.cur, self.b.id, table)
        if tm.theirs.rel is None:
            return None
        # A multiset: the rows of both sides (a row either keeps is referenced).
        return f"(SELECT * FROM {tm.sel(tm.ours)} UNION ALL SELECT * FROM {tm.sel(tm.theirs)})"

    def _ours_cols(self, tm: TableMerge) -> set[str]:
        assert tm.real_ours is not None
        return {c.name for c in self.space.columns(self.cur, tm.real_ours)}

    def violations(self) -> list[Conflict]:
        out: dict[tuple[str, str, str], Conflict] = {}
        self.unique.clear()
        for tm in self.merges.values():
            if not _checkable(tm):
                continue
            for kind, cols, where in self._row_rules(tm):
                merged = f"({cellmerge.merged_sql(tm)})"
                for c in self._rows(tm, merged, where, kind, cols):
                    out.setdefault((c.table, c.key, kind), c)
        for fk in self.fks:
            for c in self._foreign_key(fk):
                out.setdefault((c.table, c.key, "foreign_key"), c)
        return list(out.values())

    def _rows(
        self, tm: TableMerge, rel: str, where: str, kind: str, cols: list[str]
    ) -> list[Conflict]:
        n, m = tm.n, tm.n("m")
        got = self.cur.execute(
            f"SELECT {m}.{n('key')}, {m}.{n('bj')}, {m}.{n('oj')}, {m}.{n('tj')} "
            f"FROM {rel} {m} WHERE {where.replace(_M, m)} ORDER BY 1"
        ).fetchall()
        out = []
        for key, bj, oj, tj in got:
            ck = canonical_key(str(key))
            self.raw[(tm.table, ck)] = str(key)
            if kind == "unique":
                self.unique.setdefault((tm.table, ck), []).append(cols)
            out.append(Conflict(tm.table, ck, _s(bj), _s(oj), _s(tj), kind, list(cols)))
        return out

    def _row_rules(self, tm: TableMerge) -> list[tuple[str, list[str], str]]:
        """(kind, columns, condition on a merged row ``$m``) for each constraint."""
        schema, table = self.space.physical(self.cur, tm.real_ours or "")
        q = (
            "SELECT constraint_type, constraint_column_names, expression FROM duckdb_constraints() "
            "WHERE database_name = current_database() AND schema_name = ? AND table_name = ?"
        )
        rules: list[tuple[str, list[str], str]] = []
        present = {c.lower(): c for c in tm.cols}
        uniques: list[list[str]] = []
        for ctype, cols, expr in self.cur.execute(q, [schema, table]).fetchall():
            cols = [present.get(c.lower(), c) for c in cols]
            if any(c not in tm.cols for c in cols):
                continue  # a column the branch does not have: the parent's rows keep it
            if ctype == "NOT NULL":
                rules.append(("not_null", cols, f"{_M}.{qident(cols[0])} IS NULL"))
            elif ctype == "CHECK" and expr:
                rules.append(("check", cols, f"NOT coalesce(({expr}), true)"))
            elif ctype in ("UNIQUE", "PRIMARY KEY") and set(cols) != set(tm.key):
                uniques.append(cols)
        idx = self.cur.execute(
            "SELECT expressions FROM duckdb_indexes() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? AND is_unique",
            [schema, table],
        ).fetchall()
        for (exprs,) in idx:
            cols = [present.get(_unquote(e).lower(), "") for e in _expr_list(exprs)]
            if cols and all(cols) and set(cols) != set(tm.key):
                uniques.append(cols)
        assert tm.real_ours is not None
        final = self.final_rel(tm.table)
        for cols in uniques:
            f = qident("$u_f")
            same = " AND ".join(f"{f}.{qident(c)} = {_M}.{qident(c)}" for c in cols)
            other = " OR ".join(
                f"{f}.{qident(k)} IS DISTINCT FROM {_M}.{qident(k)}" for k in tm.key
            )
            rules.append(
                ("unique", cols, f"EXISTS (SELECT 1 FROM {final} {f} WHERE {same} AND ({other}))")
            )
        return rules

    def _foreign_key(self, fk: ForeignKey) -> list[Conflict]:
        out: list[Conflict] = []
        child, parent = self.merges.get(fk.child.lower()), self.merges.get(fk.parent.lower())
        prel, crel = self.final_rel(fk.parent), self.final_rel(fk.child)
        if prel is None or crel is None:
            return out
        match = " AND ".join(
            f"{qident('$fk_p')}.{qident(y)} = {_M}.{qident(x)}"
            for x, y in zip(fk.cols, fk.pcols, strict=True)
        )
        set_ = " AND ".join(f"{_M}.{qident(x)} IS NOT NULL" for x in fk.cols)
        orphan = f"{set_} AND NOT EXISTS (SELECT 1 FROM {prel} {qident('$fk_p')} WHERE {match})"
        if child is not None and _checkable(child):
            merged = f"({cellmerge.merged_sql(child)})"
            out += self._rows(child, merged, orphan, "foreign_key", list(fk.cols))
        elif child is not None and _bag(child) and all(x in child.cols for x in fk.cols):
            out += self._bag_rows(child, orphan, list(fk.cols))
        if parent is not None and _checkable(parent):
            # A value the parent's changed rows had in ours that the merge removes while
            # the child still references it.
            c, p = qident("$fk_c"), qident("$fk_p")
            ref = " AND ".join(
                f"{c}.{qident(x)} = {_M}.{qident(y)}"
                for x, y in zip(fk.cols, fk.pcols, strict=True)
            )
            keep = " AND ".join(f"{p}.{qident(y)} = {_M}.{qident(y)}" for y in fk.pcols)
            where = (
                f"{_M}.{parent.n('present')} AND EXISTS (SELECT 1 FROM {crel} {c} WHERE {ref}) "
                f"AND NOT EXISTS (SELECT 1 FROM {prel} {p} WHERE {keep})"
            )
            changed = f"({cellmerge.changed_sql(parent)})"
            out += self._rows(parent, changed, where, "foreign_key", list(fk.pcols))
        return out

    def merged_row(self, tm: TableMerge, key: str) -> dict[str, object] | None:
        """The row ``key`` as the merge would leave it (None: absent)."""
        m = tm.n("m")
        raw = self.raw.get((tm.table, key))
        cols = ", ".join(f"{m}.{qident(c)}" for c in tm.cols)
        row = self.cur.execute(
            f"SELECT {cols} FROM ({cellmerge.merged_sql(tm)}) {m} WHERE {m}.{tm.n('key')}::VARCHAR = ?",
            [raw],
        ).fetchone()
        return None if row is None else dict(zip(tm.cols, row, strict=True))

    def _bag_rows(self, tm: TableMerge, where: str, cols: list[str]) -> list[Conflict]:
        """Values of a multiset the branch added copies of that meet ``where``."""
        n, m, o = tm.n, tm.n("m"), tm.n("o")
        same = " AND ".join(
            f"{m}.{qident(c)} IS NOT DISTINCT FROM {o}.{qident(c)}" for c in tm.cols
        )
        got = self.cur.execute(
            f"SELECT {struct_json([(c, f'{m}.{qident(c)}') for c in tm.cols])}, "
            f"{m}.{n('base_n')}, {m}.{n('delta')}, coalesce({o}.{n('delta')}, 0) "
            f"FROM {tm.t('t')} {m} LEFT JOIN {tm.t('o')} {o} ON {same or 'true'} "
            f"WHERE {m}.{n('delta')} > 0 AND {where.replace(_M, m)} ORDER BY 1"
        ).fetchall()
        out = []
        for value, base, dt, do in got:
            key = canonical_key(str(value))
            if key in tm.dropped:
                continue
            b, o, t = (f'{{"count": {c}}}' for c in (base, base + do, base + dt))
            out.append(Conflict(tm.table, key, b, o, t, "foreign_key", list(cols)))
        return out

    def evict(self, tm: TableMerge, key: str, ours: str) -> None:
        """A unique clash given to the branch: main's rows that clash with the branch's
        row ``key`` make way for it."""
        n, o, m, w = tm.n, tm.n("o"), tm.n("m"), tm.n("w")
        raw = self.raw[(tm.table, key)]
        kmatch = " AND ".join(f"{w}.{qident(k)} = {o}.{qident(k)}" for k in tm.key)
        for cols in self.unique.get((tm.table, key), []):
            same = " AND ".join(f"{o}.{qident(c)} = {m}.{qident(c)}" for c in cols)
            self.cur.execute(
                f"DELETE FROM {ours} {o} WHERE NOT EXISTS (SELECT 1 FROM {tm.t('w')} {w} "
                f"WHERE {kmatch}) AND EXISTS (SELECT 1 FROM ({cellmerge.merged_sql(tm)}) {m} "
                f"WHERE {m}.{n('key')}::VARCHAR = ? AND {same})",
                [raw],
            )


def _checkable(tm: TableMerge) -> bool:
    """A keyed table merged through a work table (cellmerge) into an existing table."""
    return bool(
        tm.key
        and tm.fast is None
        and tm.theirs.rel is not None
        and tm.ours.rel is not None
        and tm.real_ours is not None
        and tm.planned
    )


def _bag(tm: TableMerge) -> bool:
    """A multiset merged into an existing table."""
    return bool(not tm.key and tm.planned and tm.theirs.rel is not None and tm.ours.rel is not None)


def _expr_list(exprs: object) -> list[str]:
    if isinstance(exprs, list):
        return [str(e) for e in exprs]
    text = str(exprs or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [e.strip() for e in text.split(",") if e.strip()]


def _unquote(e: str) -> str:
    e = e.strip()
    if len(e) >= 2 and e[0] == e[-1] == '"':
        return e[1:-1].replace('""', '"')
    return e


def _s(v: object) -> str | None:
    return None if v is None else str(v)
