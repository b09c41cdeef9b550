"""Three-way row merge and diff, as SQL over three relations.

base = the parent's table as the branch forked from it, ours = the parent's table
now, theirs = the branch's table. Rows are identified by primary key when the
branch's table has one; otherwise a row *is* its value and tables are multisets:
for each distinct value we compare its count in base, ours and theirs.

Keyed tables merge per cell (cellmerge.py): a conflict is a cell both sides changed
differently, or a row one side deleted and the other changed, or one key inserted on
both sides with different values. Multisets merge per value: a change made on one
side only is applied; identical changes on both sides are applied once; anything
else is a conflict. Without a key, an UPDATE is a delete of the old value plus an
insert of the new one.

Every name this SQL makes up (columns of its temp tables, aliases of its
subqueries) starts with a prefix no column of the table starts with
(``Names``), so a user's columns can be called anything.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from hati.branching import cellmerge
from hati.branching.mergerows import (
    CONSTRAINT_KINDS,
    ROW_KINDS,
    Conflict,
    Names,
    Side,
    TableCounts,
    _cols,
    _proj,
    _same,
    _struct,
    canonical_key,
    struct_json,
)
from hati.storage.duckdb_backend import qident

__all__ = ["CONSTRAINT_KINDS", "ROW_KINDS", "Conflict", "Side", "TableCounts", "TableMerge"]


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
        self.n = Names(list(self.types))
        # Row shape used for comparison: the branch's columns (what the branch decided).
        self.cols = theirs.names or ours.names or base.names
        self.same_base = base.rel is not None and base.rel == ours.rel
        # Row-delta tables (delta.py): the parent's real table when ``ours`` is cut down
        # to the changed keys, and (schema, key) when the parent is unchanged since the
        # fork so the delta applies directly.
        self.real_ours: str | None = ours.rel
        self.real_theirs: str | None = theirs.rel  # the branch's whole table
        self.fast: tuple[str, list[str]] | None = None
        self.bag_delta = False  # with ``fast``: the delta of a table without a key
        self.planned = False  # plan() built the diffs (and, keyed, cellmerge's work table)
        # Multiset values whose added copies a constraint conflict keeps out (merge.py).
        self.dropped: set[str] = set()

    # ----------------------------------------------------------------- helpers
    def t(self, name: str) -> str:
        """A temp table of this merge."""
        return f"_m_{self.tag}_{name}"

    def _rel(self, side: Side) -> str:
        if side.rel is None:
            nulls = ", ".join(f"NULL::{self.types[c]} AS {qident(c)}" for c in self.cols)
            return f"(SELECT {nulls} WHERE false)"
        return side.rel

    def sel(self, side: Side) -> str:
        """``side`` in the shape of ``cols`` (columns it lacks are NULL)."""
        s = self.n("s")
        return f"(SELECT {_proj(self.cols, set(side.names), s, self.types)} FROM {self._rel(side)} {s})"

    def cleanup(self, inputs: bool = True) -> None:
        """Drop this merge's temp tables (``inputs``: also the cut-down sides)."""
        if self.fast is not None and not self.planned:
            return  # a delta applied as it is: no temp table was made
        for n in ("t", "o", "c", "a", "w", "k", *(("rb", "ro", "rt") if inputs else ())):
            self.cur.execute(f"DROP TABLE IF EXISTS {self.t(n)}")

    # ----------------------------------------------------------------- diffs
    def diff_sql(self, other: Side) -> str:
        """base -> other. Key mode: one row per changed key (the key, ``was_absent``,
        ``now_absent``, and per column i the old value ``b<i>`` and the new ``x<i>``).
        Bag mode: one row per changed value (its columns, ``delta``, ``base_n``)."""
        n = self.n
        b, x = n("b"), n("x")
        if self.key:
            k0 = qident(self.key[0])
            keys = ", ".join(
                f"coalesce({x}.{qident(k)}, {b}.{qident(k)}) AS {qident(k)}" for k in self.key
            )
            on = " AND ".join(f"{b}.{qident(k)} = {x}.{qident(k)}" for k in self.key)
            vals = ", ".join(
                f"{b}.{qident(c)} AS {n(f'b{i}')}, {x}.{qident(c)} AS {n(f'x{i}')}"
                for i, c in enumerate(self.cols)
            )
            changed = " OR ".join(
                f"{b}.{qident(c)} IS DISTINCT FROM {x}.{qident(c)}" for c in self.cols
            )
            return (
                f"SELECT {keys}, {b}.{k0} IS NULL AS {n('was_absent')}, "
                f"{x}.{k0} IS NULL AS {n('now_absent')}, {vals} "
                f"FROM {self.sel(self.base)} {b} FULL OUTER JOIN {self.sel(other)} {x} ON {on} "
                f"WHERE {b}.{k0} IS NULL OR {x}.{k0} IS NULL OR {changed or 'false'}"
            )
        s, cnt = n("s"), n("n")
        cols = _cols(self.cols, s)
        vals = ", ".join(
            f"coalesce({x}.{qident(c)}, {b}.{qident(c)}) AS {qident(c)}" for c in self.cols
        )
        return (
            f"SELECT {vals}, coalesce({x}.{cnt}, 0) - coalesce({b}.{cnt}, 0) AS {n('delta')}, "
            f"coalesce({b}.{cnt}, 0) AS {n('base_n')} FROM "
            f"(SELECT {cols}, count(*) AS {cnt} FROM {self.sel(self.base)} {s} GROUP BY ALL) {b} "
            f"FULL OUTER JOIN "
            f"(SELECT {cols}, count(*) AS {cnt} FROM {self.sel(other)} {s} GROUP BY ALL) {x} "
            f"ON {_same(self.cols, b, x)} WHERE coalesce({x}.{cnt}, 0) <> coalesce({b}.{cnt}, 0)"
        )

    def row_json(self, prefix: str, alias: str) -> str:
        """The JSON object of columns ``<prefix><i>`` of a keyed diff row."""
        return struct_json(
            [(c, f"{alias}.{self.n(f'{prefix}{i}')}") for i, c in enumerate(self.cols)]
        )

    def branch_changed(self) -> bool:
        """True when theirs differs from base in columns or rows."""
        if [(c.name, c.type) for c in self.theirs.columns] != [
            (c.name, c.type) for c in self.base.columns
        ]:
            return True
        row = self.cur.execute(f"SELECT 1 FROM ({self.diff_sql(self.theirs)}) LIMIT 1").fetchone()
        return row is not None

    def diff_rows(self) -> list[tuple[str, str, str, str | None, str | None]]:
        """(table, change, key, old_values, new_values) for base -> theirs."""
        n, d = self.n, self.n("d")
        sql = self.diff_sql(self.theirs)
        if self.key:
            was, now = f"{d}.{n('was_absent')}", f"{d}.{n('now_absent')}"
            rows = self.cur.execute(
                f"SELECT {_struct(self.key, d)}, CASE WHEN {was} THEN 'insert' WHEN {now} "
                f"THEN 'delete' ELSE 'update' END, CASE WHEN {was} THEN NULL ELSE "
                f"{self.row_json('b', d)} END, CASE WHEN {now} THEN NULL ELSE "
                f"{self.row_json('x', d)} END FROM ({sql}) {d} ORDER BY 1, 2"
            ).fetchall()
            return [(self.table, r[1], str(r[0]), _j(r[2]), _j(r[3])) for r in rows]
        delta = f"{d}.{n('delta')}"
        rows = self.cur.execute(
            f"SELECT {_struct(self.cols, d)}, {delta} FROM ({sql}) {d}, "
            f"range(abs({delta})) ORDER BY {delta}, 1"
        ).fetchall()
        out: list[tuple[str, str, str, str | None, str | None]] = []
        for value, change in rows:
            value = str(value)
            if change > 0:
                out.append((self.table, "insert", value, None, value))
            else:
                out.append((self.table, "delete", value, value, None))
        return out

    # ----------------------------------------------------------------- three-way
    def plan(self) -> list[Conflict]:
        """Build temp tables of both sides' changes; return the conflicts."""
        self.cleanup(inputs=False)
        self.cur.execute(f"CREATE TEMP TABLE {self.t('t')} AS {self.diff_sql(self.theirs)}")
        if self.same_base:
            self.cur.execute(
                f"CREATE TEMP TABLE {self.t('o')} AS SELECT * FROM {self.t('t')} WHERE false"
            )
        else:
            self.cur.execute(f"CREATE TEMP TABLE {self.t('o')} AS {self.diff_sql(self.ours)}")
        if self.key:
            return cellmerge.plan(self)
        self.planned = True
        return self._plan_bag()

    def _plan_bag(self) -> list[Conflict]:
        n = self.n
        t, o, c = n("t"), n("o"), n("c")
        delta, base_n = n("delta"), n("base_n")
        self.cur.execute(
            f"CREATE TEMP TABLE {self.t('c')} AS SELECT {_cols(self.cols, t)}, {t}.{base_n}, "
            f"{t}.{delta} AS {n('d_t')}, {o}.{delta} AS {n('d_o')} FROM {self.t('t')} {t} "
            f"JOIN {self.t('o')} {o} ON {_same(self.cols, t, o)} WHERE {t}.{delta} <> {o}.{delta}"
        )
        rows = self.cur.execute(
            f"SELECT {_struct(self.cols, c)}, {c}.{base_n}, {c}.{n('d_t')}, {c}.{n('d_o')} "
            f"FROM {self.t('c')} {c} ORDER BY 1"
        ).fetchall()
        return [
            Conflict(
                self.table,
                canonical_key(str(v)),
                f'{{"count": {bn}}}',
                f'{{"count": {bn + do}}}',
                f'{{"count": {bn + dt}}}',
                _bag_kind(bn, bn + do, bn + dt),
                list(self.cols),
            )
            for v, bn, dt, do in rows
        ]

    def apply(
        self, take_theirs: set[str], custom: dict[str, dict[str, Any]], ours_rel: str
    ) -> TableCounts:
        """Apply non-conflicting changes plus conflicts whose key is in ``take_theirs``.

        ``custom`` maps conflict keys to explicit row values (manual resolution).
        """
        if self.key:
            return cellmerge.apply(self, take_theirs, custom, ours_rel)
        t, c, n = self.t("t"), self.t("c"), self.n
        # Conflicts not taken from the branch are removed from the apply set.
        conflicts = self.cur.execute(
            f"SELECT {_struct(self.cols, n('c'))} FROM {c} {n('c')}"
        ).fetchall()
        skip = [canonical_key(str(r[0])) for r in conflicts]
        skip = [k for k in skip if k not in take_theirs] + sorted(self.dropped)
        if skip:
            skipped = [[json.loads(k).get(col) for col in self.cols] for k in skip]
            a = self.t("a")
            self.cur.execute(
                f"CREATE TEMP TABLE {a} AS SELECT {_cols(self.cols, 'x')} FROM {t} x WHERE false"
            )
            self.cur.executemany(
                f"INSERT INTO {a} VALUES ({', '.join('?' for _ in self.cols)})", skipped
            )
            self.cur.execute(
                f"DELETE FROM {t} {n('t')} USING {a} {n('a')} WHERE {_same(self.cols, n('t'), n('a'))}"
            )
        counts = self._apply_bag(ours_rel)
        for key, values in custom.items():
            self._apply_count(ours_rel, key, values, counts)
        return counts

    def _apply_bag(self, ours: str) -> TableCounts:
        n = self.n
        t, o, a, x, rid, rn = n("t"), n("o"), n("a"), n("x"), n("rid"), n("rn")
        delta, cnt, vid = n("delta"), n("n"), n("vid")
        # Net change per value to bring ours to the merged count.
        apply_sql = (
            f"SELECT {_cols(self.cols, t)}, CASE WHEN {o}.{delta} IS NULL THEN {t}.{delta} "
            f"ELSE {t}.{delta} - {o}.{delta} END AS {cnt}, row_number() OVER () AS {vid} "
            f"FROM {self.t('t')} {t} LEFT JOIN {self.t('o')} {o} ON {_same(self.cols, t, o)}"
        )
        at = self.t("a")
        self.cur.execute(f"DROP TABLE IF EXISTS {at}")
        self.cur.execute(
            f"CREATE TEMP TABLE {at} AS SELECT * FROM ({apply_sql}) {n('q')} WHERE {cnt} <> 0"
        )
        if any(c.lower() == "rowid" for c in self.cols):
            return self._apply_bag_by_value(ours)
        deleted = self.cur.execute(
            f"DELETE FROM {ours} WHERE rowid IN (SELECT {rid} FROM (SELECT {o}.rowid AS {rid}, "
            f"{a}.{cnt}, row_number() OVER (PARTITION BY {a}.{vid} ORDER BY {o}.rowid DESC) AS {rn} "
            f"FROM {ours} {o} JOIN {at} {a} ON {_same(self.cols, o, a)} WHERE {a}.{cnt} < 0) {n('q')} "
            f"WHERE {rn} <= -{cnt})"
        ).fetchone()
        inserted = self.cur.execute(
            f"INSERT INTO {ours} ({', '.join(qident(c) for c in self.cols)}) "
            f"SELECT {_cols(self.cols, x)} FROM (SELECT {x}.rowid AS {rid}, {_cols(self.cols, x)}, "
            f"{a}.{cnt}, row_number() OVER (PARTITION BY {a}.{vid} ORDER BY {x}.rowid DESC) AS {rn} "
            f"FROM {self.theirs.rel} {x} JOIN {at} {a} ON {_same(self.cols, x, a)} "
            f"WHERE {a}.{cnt} > 0) {x} WHERE {rn} <= {cnt} ORDER BY {rid}"
        ).fetchone()
        return TableCounts(
            int(inserted[0]) if inserted else 0, 0, int(deleted[0]) if deleted else 0
        )

    def _apply_bag_by_value(self, ours: str) -> TableCounts:
        """A table with a column named ``rowid`` hides DuckDB's row ids: bring each
        changed value to its merged count by deleting all its copies and inserting
        the merged number (the same multiset)."""
        n = self.n
        o, a, cnt, k = n("o"), n("a"), n("n"), n("k")
        at, names = self.t("a"), ", ".join(qident(c) for c in self.cols)
        self.cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.t('k')} AS SELECT {_cols(self.cols, a)}, "
            f"(SELECT count(*) FROM {ours} {o} WHERE {_same(self.cols, o, a)}) + {a}.{cnt} AS {k} "
            f"FROM {at} {a}"
        )
        self.cur.execute(
            f"DELETE FROM {ours} {o} USING {self.t('k')} {a} WHERE {_same(self.cols, o, a)}"
        )
        self.cur.execute(
            f"INSERT INTO {ours} ({names}) SELECT {_cols(self.cols, a)} FROM {self.t('k')} {a}, "
            f"range({a}.{k})"
        )
        row = self.cur.execute(
            f"SELECT coalesce(sum({cnt}) FILTER (WHERE {cnt} > 0), 0), "
            f"coalesce(-sum({cnt}) FILTER (WHERE {cnt} < 0), 0) FROM {at}"
        ).fetchone()
        assert row is not None
        return TableCounts(int(row[0]), 0, int(row[1]))

    def _apply_count(
        self, ours: str, key: str, values: dict[str, Any], counts: TableCounts
    ) -> None:
        """A multiset conflict is about how many copies of one value there are
        (branch_conflicts shows {"count": n}); {"count": n} settles it, and column
        values replace every copy of it by one row of those values."""
        kv = json.loads(key)
        cols = self.cols
        where = " AND ".join(f"{qident(c)} IS NOT DISTINCT FROM ?" for c in cols)
        res = self.cur.execute(
            f"DELETE FROM {ours} WHERE {where}", [kv.get(c) for c in cols]
        ).fetchone()
        removed = int(res[0]) if res else 0
        names = ", ".join(qident(c) for c in cols)
        marks = ", ".join("?" for _ in cols)
        if set(values) == {"count"}:
            n = int(values["count"])
            if n > 0:
                self.cur.executemany(
                    f"INSERT INTO {ours} ({names}) VALUES ({marks})",
                    [[kv.get(c) for c in cols]] * n,
                )
            counts.inserted += max(n - removed, 0)
            counts.deleted += max(removed - n, 0)
            return
        row = [values.get(c, kv.get(c)) for c in cols]
        self.cur.execute(f"INSERT INTO {ours} ({names}) VALUES ({marks})", row)
        if removed:
            counts.updated += 1
        else:
            counts.inserted += 1


def _bag_kind(base: int, ours: int, theirs: int) -> str:
    if base == 0:
        return "insert/insert"
    if ours == 0:
        return "delete/update"
    if theirs == 0:
        return "update/delete"
    return "update/update"


def _j(v: Any) -> str | None:
    return None if v is None else str(v)
