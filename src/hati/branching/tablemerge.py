"""Three-way row merge and diff, as SQL over three relations.

base = the parent's table as the branch forked from it, ours = the parent's table
now, theirs = the branch's table. Rows are identified by primary key when the
branch's table has one; otherwise a row *is* its value and tables are multisets:
for each distinct value we compare its count in base, ours and theirs.

Rules (both modes): a change made on one side only is applied; identical changes on
both sides are applied once; anything else is a conflict that the strategy decides.
Without a key, an UPDATE is a delete of the old value plus an insert of the new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from hati.storage.duckdb_backend import Column, qident


def _cols(cols: list[str], alias: str) -> str:
    return ", ".join(f"{alias}.{qident(c)}" for c in cols)


def _proj(cols: list[str], available: set[str], alias: str, types: dict[str, str]) -> str:
    """Project ``cols`` from ``alias``; columns it lacks become typed NULLs."""
    parts = []
    for c in cols:
        if c in available:
            parts.append(f"{alias}.{qident(c)} AS {qident(c)}")
        else:
            parts.append(f"NULL::{types[c]} AS {qident(c)}")
    return ", ".join(parts)


def _struct(cols: list[str], alias: str) -> str:
    if not cols:
        return "NULL"
    return (
        "to_json(struct_pack("
        + ", ".join(f"{qident(c)} := {alias}.{qident(c)}" for c in cols)
        + "))"
    )


def _distinct(cols: list[str], a: str, b: str) -> str:
    if not cols:
        return "false"
    return (
        "(" + " OR ".join(f"{a}.{qident(c)} IS DISTINCT FROM {b}.{qident(c)}" for c in cols) + ")"
    )


def _same(cols: list[str], a: str, b: str) -> str:
    return (
        " AND ".join(f"{a}.{qident(c)} IS NOT DISTINCT FROM {b}.{qident(c)}" for c in cols)
        or "true"
    )


def canonical_key(key: Any) -> str:
    """One spelling for a row key, so resolutions match conflicts however they were typed."""
    if isinstance(key, str):
        try:
            key = json.loads(key)
        except json.JSONDecodeError:
            return key
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class Side:
    """One of the three relations: a SQL relation name (or None: absent) and its columns."""

    rel: str | None
    columns: list[Column] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass
class Conflict:
    table: str
    key: str
    base: str | None
    ours: str | None
    theirs: str | None


class TableMerge:
    """Diff and merge of one table. Temp tables are per cursor and dropped at the end."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        table: str,
        base: Side,
        ours: Side,
        theirs: Side,
        key: list[str],
        tag: str,
    ) -> None:
        self.cur, self.table, self.base, self.ours, self.theirs = cur, table, base, ours, theirs
        self.key = key
        self.tag = tag
        self.types = {c.name: c.type for side in (base, ours, theirs) for c in side.columns}
        # Row shape used for comparison: the branch's columns (what the branch decided).
        self.cols = theirs.names or ours.names or base.names
        self.same_base = base.rel is not None and base.rel == ours.rel
        # Row-delta tables (delta.py): the parent's real table when ``ours`` is cut down
        # to the changed keys, and (schema, key) when the parent is unchanged since the
        # fork so the delta applies directly.
        self.real_ours: str | None = ours.rel
        self.real_theirs: str | None = theirs.rel  # the branch's whole table
        self.fast: tuple[str, list[str]] | None = None

    # ----------------------------------------------------------------- helpers
    def _t(self, name: str) -> str:
        return f"_m_{self.tag}_{name}"

    def _rel(self, side: Side) -> str:
        if side.rel is None:
            return f"(SELECT {', '.join(f'NULL::{self.types[c]} AS {qident(c)}' for c in self.cols)} WHERE false)"
        return side.rel

    def _side_proj(self, side: Side, alias: str) -> str:
        return _proj(self.cols, set(side.names), alias, self.types)

    def _sel(self, side: Side) -> str:
        return f"(SELECT {self._side_proj(side, 's')} FROM {self._rel(side)} s)"

    def cleanup(self, inputs: bool = True) -> None:
        """Drop this merge's temp tables (``inputs``: also the cut-down sides)."""
        for n in ("t", "o", "c", "a", *(("rb", "ro") if inputs else ())):
            self.cur.execute(f"DROP TABLE IF EXISTS {self._t(n)}")

    # ----------------------------------------------------------------- diffs
    def _diff_sql(self, other: Side) -> str:
        """base -> other. Key mode: one row per changed key. Bag mode: one row per changed value."""
        b, x = self._sel(self.base), self._sel(other)
        if self.key:
            k0 = qident(self.key[0])
            keys = ", ".join(
                f"coalesce(x.{qident(k)}, b.{qident(k)}) AS {qident(k)}" for k in self.key
            )
            on = " AND ".join(f"b.{qident(k)} = x.{qident(k)}" for k in self.key)
            return (
                f"SELECT {keys}, b.{k0} IS NULL AS was_absent, x.{k0} IS NULL AS now_absent, "
                f"{_struct(self.cols, 'b')} AS old_row, {_struct(self.cols, 'x')} AS new_row "
                f"FROM {b} b FULL OUTER JOIN {x} x ON {on} "
                f"WHERE b.{k0} IS NULL OR x.{k0} IS NULL OR {_distinct(self.cols, 'b', 'x')}"
            )
        cols = _cols(self.cols, "s")
        vals = ", ".join(
            f"coalesce(x.{qident(c)}, b.{qident(c)}) AS {qident(c)}" for c in self.cols
        )
        return (
            f"SELECT {vals}, coalesce(x.n, 0) - coalesce(b.n, 0) AS delta, coalesce(b.n, 0) AS base_n FROM "
            f"(SELECT {cols}, count(*) AS n FROM {b} s GROUP BY ALL) b FULL OUTER JOIN "
            f"(SELECT {cols}, count(*) AS n FROM {x} s GROUP BY ALL) x ON {_same(self.cols, 'b', 'x')} "
            f"WHERE coalesce(x.n, 0) <> coalesce(b.n, 0)"
        )

    def branch_changed(self) -> bool:
        """True when theirs differs from base in columns or rows."""
        if [(c.name, c.type) for c in self.theirs.columns] != [
            (c.name, c.type) for c in self.base.columns
        ]:
            return True
        row = self.cur.execute(f"SELECT 1 FROM ({self._diff_sql(self.theirs)}) LIMIT 1").fetchone()
        return row is not None

    def diff_rows(self) -> list[tuple[str, str, str, str | None, str | None]]:
        """(table, change, key, old_values, new_values) for base -> theirs."""
        sql = self._diff_sql(self.theirs)
        if self.key:
            rows = self.cur.execute(
                f"SELECT {_struct(self.key, 'd')}, CASE WHEN was_absent THEN 'insert' WHEN now_absent "
                f"THEN 'delete' ELSE 'update' END, CASE WHEN was_absent THEN NULL ELSE old_row END, "
                f"CASE WHEN now_absent THEN NULL ELSE new_row END FROM ({sql}) d ORDER BY ALL"
            ).fetchall()
            return [(self.table, r[1], str(r[0]), _j(r[2]), _j(r[3])) for r in rows]
        rows = self.cur.execute(
            f"SELECT {_struct(self.cols, 'd')}, delta FROM ({sql}) d, range(abs(delta)) ORDER BY delta, 1"
        ).fetchall()
        out: list[tuple[str, str, str, str | None, str | None]] = []
        for value, delta in rows:
            value = str(value)
            if delta > 0:
                out.append((self.table, "insert", value, None, value))
            else:
                out.append((self.table, "delete", value, value, None))
        return out

    # ----------------------------------------------------------------- three-way
    def plan(self) -> list[Conflict]:
        """Build temp tables of both sides' changes; return the conflicts."""
        self.cleanup(inputs=False)
        self.cur.execute(f"CREATE TEMP TABLE {self._t('t')} AS {self._diff_sql(self.theirs)}")
        if self.same_base:
            self.cur.execute(
                f"CREATE TEMP TABLE {self._t('o')} AS SELECT * FROM {self._t('t')} WHERE false"
            )
        else:
            self.cur.execute(f"CREATE TEMP TABLE {self._t('o')} AS {self._diff_sql(self.ours)}")
        t, o = self._t("t"), self._t("o")
        if self.key:
            on = " AND ".join(f"t.{qident(k)} = o.{qident(k)}" for k in self.key)
            self.cur.execute(
                f"CREATE TEMP TABLE {self._t('c')} AS SELECT t.*, o.new_row AS ours_row, o.now_absent AS ours_absent "
                f"FROM {t} t JOIN {o} o ON {on} "
                f"WHERE NOT (t.now_absent AND o.now_absent) "
                f"AND (t.now_absent <> o.now_absent OR t.new_row IS DISTINCT FROM o.new_row)"
            )
            rows = self.cur.execute(
                f"SELECT {_struct(self.key, 'c')}, CASE WHEN was_absent THEN NULL ELSE old_row END, "
                f"CASE WHEN ours_absent THEN NULL ELSE ours_row END, "
                f"CASE WHEN now_absent THEN NULL ELSE new_row END FROM {self._t('c')} c ORDER BY ALL"
            ).fetchall()
            return [
                Conflict(self.table, canonical_key(str(r[0])), _j(r[1]), _j(r[2]), _j(r[3]))
                for r in rows
            ]
        self.cur.execute(
            f"CREATE TEMP TABLE {self._t('c')} AS SELECT t.* EXCLUDE (delta, base_n), t.base_n, "
            f"t.delta AS d_t, o.delta AS d_o FROM {t} t JOIN {o} o ON {_same(self.cols, 't', 'o')} "
            f"WHERE t.delta <> o.delta"
        )
        rows = self.cur.execute(
            f"SELECT {_struct(self.cols, 'c')}, base_n, d_t, d_o FROM {self._t('c')} c ORDER BY ALL"
        ).fetchall()
        return [
            Conflict(
                self.table,
                canonical_key(str(v)),
                f'{{"count": {bn}}}',
                f'{{"count": {bn + do}}}',
                f'{{"count": {bn + dt}}}',
            )
            for v, bn, dt, do in rows
        ]

    def apply(
        self, take_theirs: set[str], custom: dict[str, dict[str, Any]], ours_rel: str
    ) -> TableCounts:
        """Apply non-conflicting changes plus conflicts whose key is in ``take_theirs``.

        ``custom`` maps conflict keys to explicit row values (manual resolution).
        """
        t, c = self._t("t"), self._t("c")
        counts = TableCounts()
        # Conflicts not taken from the branch are removed from the apply set.
        struct_key = _struct(self.key or self.cols, "c")
        conflict_keys = [
            canonical_key(str(r[0]))
            for r in self.cur.execute(f"SELECT {struct_key} FROM {c} c").fetchall()
        ]
        skip = [k for k in conflict_keys if k not in take_theirs]
        if skip:
            self.cur.execute(f"CREATE TEMP TABLE {self._t('a')}(k VARCHAR)")
            self.cur.executemany(f"INSERT INTO {self._t('a')} VALUES (?)", [[k] for k in skip])
            sk = _struct(self.key or self.cols, "t")
            self.cur.execute(
                f"DELETE FROM {t} WHERE rowid IN (SELECT t.rowid FROM {t} t JOIN {self._t('a')} a "
                f"ON json({sk})::VARCHAR = json(a.k)::VARCHAR)"
            )
        counts = self._apply_keyed(ours_rel) if self.key else self._apply_bag(ours_rel)
        for key, values in custom.items():
            self._apply_custom(ours_rel, key, values, counts)
        return counts

    def _apply_keyed(self, ours: str) -> TableCounts:
        t = self._t("t")
        on_o = " AND ".join(f"o.{qident(k)} = d.{qident(k)}" for k in self.key)
        present = self.cur.execute(
            f"SELECT count(*) FILTER (WHERE NOT d.now_absent AND o.{qident(self.key[0])} IS NULL), "
            f"count(*) FILTER (WHERE NOT d.now_absent AND o.{qident(self.key[0])} IS NOT NULL), "
            f"count(*) FILTER (WHERE d.now_absent AND o.{qident(self.key[0])} IS NOT NULL) "
            f"FROM {t} d LEFT JOIN {ours} o ON {on_o}"
        ).fetchone()
        assert present is not None
        counts = TableCounts(int(present[0]), int(present[1]), int(present[2]))
        ours_cols = set(self.ours.names) if self.ours.rel else set(self.cols)
        insert_cols = [c for c in self.cols if c in ours_cols]
        on_x = " AND ".join(f"x.{qident(k)} = d.{qident(k)}" for k in self.key)
        changed = (
            f"(SELECT x.rowid AS _rid, {_cols(insert_cols, 'x')} FROM {self.theirs.rel} x "
            f"JOIN {t} d ON {on_x} WHERE NOT d.now_absent)"
        )
        # Deletes: the branch removed the key.
        self.cur.execute(f"DELETE FROM {ours} o USING {t} d WHERE {on_o} AND d.now_absent")
        # Updates in place, so columns only the parent has (added after the fork) keep
        # their values: the branch never saw them and so never changed them.
        set_cols = [c for c in insert_cols if c not in self.key]
        on_u = " AND ".join(f"o.{qident(k)} = x.{qident(k)}" for k in self.key)
        if set_cols:
            self.cur.execute(
                f"UPDATE {ours} o SET "
                + ", ".join(f"{qident(c)} = x.{qident(c)}" for c in set_cols)
                + f" FROM {changed} x WHERE {on_u}"
            )
        # Inserts: keys the parent does not have.
        self.cur.execute(
            f"INSERT INTO {ours} ({', '.join(qident(c) for c in insert_cols)}) "
            f"SELECT {_cols(insert_cols, 'x')} FROM {changed} x "
            f"WHERE NOT EXISTS (SELECT 1 FROM {ours} o WHERE {on_u}) ORDER BY x._rid"
        )
        return counts

    def _apply_bag(self, ours: str) -> TableCounts:
        t, o = self._t("t"), self._t("o")
        # Net change per value to bring ours to the merged count.
        apply_sql = (
            f"SELECT {_cols(self.cols, 't')}, CASE WHEN o.delta IS NULL THEN t.delta "
            f"ELSE t.delta - o.delta END AS n, row_number() OVER () AS vid "
            f"FROM {t} t LEFT JOIN {o} o ON {_same(self.cols, 't', 'o')}"
        )
        a = self._t("a")
        self.cur.execute(f"DROP TABLE IF EXISTS {a}")
        self.cur.execute(f"CREATE TEMP TABLE {a} AS SELECT * FROM ({apply_sql}) WHERE n <> 0")
        deleted = self.cur.execute(
            f"DELETE FROM {ours} WHERE rowid IN (SELECT rid FROM (SELECT o.rowid AS rid, a.n, "
            f"row_number() OVER (PARTITION BY a.vid ORDER BY o.rowid DESC) AS rn FROM {ours} o "
            f"JOIN {a} a ON {_same(self.cols, 'o', 'a')} WHERE a.n < 0) WHERE rn <= -n)"
        ).fetchone()
        inserted = self.cur.execute(
            f"INSERT INTO {ours} ({', '.join(qident(c) for c in self.cols)}) "
            f"SELECT {_cols(self.cols, 'x')} FROM (SELECT x.rowid AS rid, x.*, a.n, "
            f"row_number() OVER (PARTITION BY a.vid ORDER BY x.rowid DESC) AS rn "
            f"FROM {self.theirs.rel} x JOIN {a} a ON {_same(self.cols, 'x', 'a')} WHERE a.n > 0) x "
            f"WHERE rn <= n ORDER BY rid"
        ).fetchone()
        return TableCounts(
            int(inserted[0]) if inserted else 0, 0, int(deleted[0]) if deleted else 0
        )

    def _apply_custom(
        self, ours: str, key: str, values: dict[str, Any], counts: TableCounts
    ) -> None:
        kv = json.loads(key)
        cols = self.key or self.cols
        where = " AND ".join(f"{qident(c)} IS NOT DISTINCT FROM ?" for c in cols)
        res = self.cur.execute(
            f"DELETE FROM {ours} WHERE {where}", [kv.get(c) for c in cols]
        ).fetchone()
        removed = int(res[0]) if res else 0
        if not self.key and set(values) == {"count"}:
            # A multiset conflict is about how many copies of one value there are
            # (branch_conflicts shows {"count": n}); {"count": n} settles it.
            n = int(values["count"])
            if n > 0:
                names = list(self.cols)
                self.cur.executemany(
                    f"INSERT INTO {ours} ({', '.join(qident(c) for c in names)}) "
                    f"VALUES ({', '.join('?' for _ in names)})",
                    [[kv.get(c) for c in names]] * n,
                )
            counts.inserted += max(n - removed, 0)
            counts.deleted += max(removed - n, 0)
            return
        names = [c for c in self.cols if c in values or c in kv]
        row = [values.get(c, kv.get(c)) for c in names]
        self.cur.execute(
            f"INSERT INTO {ours} ({', '.join(qident(c) for c in names)}) VALUES ({', '.join('?' for _ in names)})",
            row,
        )
        if removed:
            counts.updated += 1
        else:
            counts.inserted += 1


def _j(v: Any) -> str | None:
    return None if v is None else str(v)
