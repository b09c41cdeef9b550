"""Row-level copy-on-write for tables with a primary key.

Copying a whole table on a branch's first write costs seconds at millions of rows.
For a keyed table the branch instead keeps only the rows it touched:

- ``_hbd_<id>.<t>``: the branch's version of every row it touched (same DDL as t);
- ``_hbd_<id>."<t>$hide"``: the keys of base rows the branch took over;
- ``_hb_<id>.<t>``: a view, base rows whose key is not hidden plus the touched rows.

A write that qualifies (``pg.dml.plain_write``: one plain INSERT, or an UPDATE / DELETE of
one table whose WHERE reads no other copy of it) runs *unchanged* with
``search_path = _hbd_<id>, _hb_<id>, main``, so its target is the touched-rows table.
Before an UPDATE or DELETE the base rows its WHERE matches are copied in and their
keys hidden ("pulled"), so the statement sees exactly the rows it would see in the
whole table. Anything else (ALTER, MERGE, upserts, self-joins, tables with other
unique constraints) turns the table into a full copy first, as before.

Merging such a table touches only the changed keys (see ``apply_unchanged_base``).

**Tables without a primary key** (and without unique constraints) keep a delta too: a
row *is* its value, so the "key" is every column, compared null-safely
(``IS NOT DISTINCT FROM``), and ``"<t>$hide"`` holds the distinct values the branch took
over (no primary key: values may hold NULLs). That is exact for multisets: a plain
UPDATE or DELETE selects rows by their values, so identical rows are always matched
together, and a pull copies every copy of a value it hides. ``bag=True`` selects this
mode in the functions below.
"""

from __future__ import annotations

import re

import duckdb

from hati.branching.layout import hide_table
from hati.errors import UniqueViolation
from hati.pg.dml import PlainWrite
from hati.storage.duckdb_backend import qident, qname


# ---------------------------------------------------------------------- storage
def key_match(key: list[str], a: str, b: str, bag: bool = False) -> str:
    eq = "IS NOT DISTINCT FROM" if bag else "="
    return " AND ".join(f"{a}.{qident(k)} {eq} {b}.{qident(k)}" for k in key)


def overlay_sql(base_rel: str, dschema: str, table: str, key: list[str], bag: bool = False) -> str:
    """The branch's whole table: base rows not taken over, plus the touched rows.
    ``base_rel`` is a full relation (never another branch's overlay: see ``seed``), so
    the plan is one anti-join however deep the branch, and a filter on the view reaches
    the base table's scan (its zone maps and key index)."""
    hide = qname(dschema, hide_table(table))
    return (
        f"SELECT * FROM {base_rel} AS x ANTI JOIN {hide} AS h ON {key_match(key, 'h', 'x', bag)} "
        f"UNION ALL SELECT * FROM {qname(dschema, table)}"
    )


_NAME = r'(?:"(?:[^"]|"")*"|[^\s(."]+)'
# How DuckDB prints an overlay view's base: ``... FROM (main.t AS x ANTI JOIN ...``
# (older overlays: ``... FROM main.t AS x WHERE (NOT EXISTS ...``).
_OVERLAY_BASE = re.compile(rf"\bFROM\s*\(?\s*({_NAME})\.({_NAME})\s+AS\s+x\b", re.IGNORECASE)


def overlay_base(view_sql: str) -> str | None:
    """The base relation an overlay view (``overlay_sql``) reads, as ``qname`` spells it."""
    m = _OVERLAY_BASE.search(view_sql)
    if m is None:
        return None
    schema, table = (p[1:-1].replace('""', '"') if p.startswith('"') else p for p in m.groups())
    return qname(schema, table)


def seed(
    cur: duckdb.DuckDBPyConnection,
    base_rel: str,
    from_dschema: str,
    dschema: str,
    table: str,
    key: list[str],
    bag: bool = False,
) -> None:
    """Start a delta with the changes of the delta over ``base_rel`` it forks from (a
    parent's, or an ancestor's the parent reads through), so both are over the same full
    base: as hidden keys every key that delta hid or touched, as touched rows that
    delta's rows at those keys (a multiset's: also the base's copies of a value it
    added). A merge then sees the inherited rows as unchanged (they equal its base) and
    never inserts them twice."""
    keys = ", ".join(qident(k) for k in key)
    src = qname(from_dschema, table)
    hide = qname(dschema, hide_table(table))
    cur.execute(
        f"INSERT INTO {hide} SELECT {keys} FROM {qname(from_dschema, hide_table(table))} "
        f"UNION SELECT {keys} FROM {src}"
    )
    if not bag:  # a touched key the delta does not hide is not in the base
        cur.execute(f"INSERT INTO {qname(dschema, table)} SELECT * FROM {src} ORDER BY rowid")
        return
    view = overlay_sql(base_rel, from_dschema, table, key, bag)
    cur.execute(
        f"INSERT INTO {qname(dschema, table)} SELECT v.* FROM ({view}) v "
        f"SEMI JOIN {hide} h ON {key_match(key, 'h', 'v', bag)}"
    )


def create(
    cur: duckdb.DuckDBPyConnection,
    table_ddl_body: str,
    key_types: list[tuple[str, str]],
    dschema: str,
    table: str,
    bag: bool = False,
) -> None:
    """Create the empty touched-rows and hidden-keys tables (a bag's hidden values have
    no primary key: they may hold NULLs)."""
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {qident(dschema)}")
    cur.execute(f"CREATE TABLE {qname(dschema, table)}({table_ddl_body}")
    cols = ", ".join(f"{qident(k)} {t}" for k, t in key_types)
    pk = "" if bag else f", PRIMARY KEY ({', '.join(qident(k) for k, _ in key_types)})"
    cur.execute(f"CREATE TABLE {qname(dschema, hide_table(table))}({cols}{pk})")


PULL_KEYS_INLINE = 1000  # pulled keys hidden by one VALUES list; more: read again


def pull(
    cur: duckdb.DuckDBPyConnection,
    dw: PlainWrite,
    base_rel: str,
    dschema: str,
    key: list[str],
    into: str | None = None,
    bag: bool = False,
) -> None:
    """Copy in the base rows ``dw``'s WHERE matches and hide their keys (into the
    touched-rows table ``into``, by default the one named like the target). One scan
    of the base: the copied rows' keys come back and are hidden as values."""
    alias = qident(dw.alias)
    into = into or dw.table
    hide = qname(dschema, hide_table(into))
    h = qident("$h")
    fresh = f"{base_rel} AS {alias} ANTI JOIN {hide} AS {h} ON {key_match(key, h, alias, bag)}"
    where = f" WHERE {dw.cond}" if dw.cond else ""
    params = dw.cond_params or None
    keys = ", ".join(f"{alias}.{qident(k)}" for k in key)
    if bag:  # every copy of a value goes in, its value is hidden once
        cur.execute(
            f"INSERT INTO {qname(dschema, into)} SELECT {alias}.* FROM {fresh}{where}", params
        )
        cur.execute(f"INSERT INTO {hide} SELECT DISTINCT {keys} FROM {fresh}{where}", params)
        return
    got = cur.execute(
        f"INSERT INTO {qname(dschema, into)} SELECT {alias}.* FROM {fresh}{where} "
        f"RETURNING {', '.join(qident(k) for k in key)}",
        params,
    ).fetchmany(PULL_KEYS_INLINE + 1)
    if not got:
        return
    if len(got) <= PULL_KEYS_INLINE:
        row = "(" + ", ".join("?" for _ in key) + ")"
        cur.execute(
            f"INSERT INTO {hide} VALUES " + ", ".join(row for _ in got),
            [v for r in got for v in r],
        )
        return
    # Same predicate, same snapshot, hidden keys unchanged in between: same rows.
    cur.execute(f"INSERT INTO {hide} SELECT {keys} FROM {fresh}{where}", params)


def check_unique(
    cur: duckdb.DuckDBPyConnection, base_rel: str, dschema: str, table: str, key: list[str]
) -> None:
    """A touched row may not reuse the key of a base row the branch still shows."""
    hide = qname(dschema, hide_table(table))
    row = cur.execute(
        f"SELECT {', '.join(f'd.{qident(k)}' for k in key)} FROM {qname(dschema, table)} d "
        f"WHERE EXISTS (SELECT 1 FROM {base_rel} x WHERE {key_match(key, 'x', 'd')}) "
        f"AND NOT EXISTS (SELECT 1 FROM {hide} h WHERE {key_match(key, 'h', 'd')}) LIMIT 1"
    ).fetchone()
    if row is not None:
        shown = ", ".join(str(v) for v in row)
        raise UniqueViolation(  # the row key is the primary key, named as PostgreSQL names it
            f'duplicate key value violates unique constraint "{table}_pkey"',
            detail=f"Key ({', '.join(key)})=({shown}) already exists.",
            table=table,
            constraint=f"{table}_pkey",
        )


def changed_keys_sql(dschema: str, table: str, key: list[str]) -> str:
    cols = ", ".join(qident(k) for k in key)
    return (
        f"SELECT {cols} FROM {qname(dschema, hide_table(table))} "
        f"UNION SELECT {cols} FROM {qname(dschema, table)}"
    )


def restrict(
    cur: duckdb.DuckDBPyConnection,
    rel: str,
    keys_sql: str,
    key: list[str],
    into: str,
    bag: bool = False,
) -> None:
    """Temp table ``into``: the rows of ``rel`` whose key the branch changed."""
    ks = ", ".join(qident(k) for k in key)
    if bag:
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT r.* FROM {rel} r WHERE EXISTS "
            f"(SELECT 1 FROM ({keys_sql}) k WHERE {key_match(key, 'k', 'r', bag)})"
        )
        return
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT r.* FROM {rel} r "
        f"WHERE ({', '.join(f'r.{qident(k)}' for k in key)}) IN (SELECT ({ks}) FROM ({keys_sql}))"
        if len(key) > 1
        else f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT r.* FROM {rel} r "
        f"WHERE r.{ks} IN (SELECT {ks} FROM ({keys_sql}))"
    )


def apply_bag_unchanged_base(
    cur: duckdb.DuckDBPyConnection, target: str, dschema: str, table: str, columns: list[str]
) -> tuple[int, int, int]:
    """``apply_unchanged_base`` for a table without a key: the parent still holds every
    copy of each value the branch took over, so those go and the touched rows come in.
    Returns (inserted, updated, deleted) as branch_diff counts them: per value, the
    copies added or removed (an UPDATE is a delete of the old value and an insert)."""
    delta, hide = qname(dschema, table), qname(dschema, hide_table(table))
    cols = ", ".join(qident(c) for c in columns)
    taken = f"EXISTS (SELECT 1 FROM {hide} h WHERE {key_match(columns, 'h', 'o', bag=True)})"
    row = cur.execute(
        "SELECT coalesce(sum(greatest(coalesce(t.n, 0) - coalesce(b.n, 0), 0)), 0), "
        "coalesce(sum(greatest(coalesce(b.n, 0) - coalesce(t.n, 0), 0)), 0) "
        f"FROM (SELECT {cols}, count(*) AS n FROM {delta} GROUP BY ALL) t FULL JOIN "
        f"(SELECT {cols}, count(*) AS n FROM {target} o WHERE {taken} GROUP BY ALL) b "
        f"ON {key_match(columns, 't', 'b', bag=True)}"
    ).fetchone()
    inserted, deleted = (int(row[0]), int(row[1])) if row else (0, 0)
    if cur.execute(f"SELECT 1 FROM {hide} LIMIT 1").fetchone():
        cur.execute(f"DELETE FROM {target} o WHERE {taken}")
    cur.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {delta} ORDER BY rowid")
    return inserted, 0, deleted


def marks(dw: PlainWrite, key: list[str], deleted_before: bool) -> list[str]:
    """What to record in ``_hati.delta_columns`` after ``dw`` ran (see that table)."""
    if dw.kind == "UPDATE":
        if dw.may_break_keys(key):  # a key moved: its old key is now a deletion
            return ["*", "-"]
        return list(dw.set_columns or [])
    if dw.kind == "DELETE":
        return ["-"]
    return ["*"] if deleted_before else []  # a re-inserted key replaces a whole row


def apply_unchanged_base(
    cur: duckdb.DuckDBPyConnection,
    target: str,
    dschema: str,
    table: str,
    key: list[str],
    columns: list[str],
    assigned: set[str],
    seeded: bool = True,
) -> tuple[int, int, int]:
    """Merge into a parent table that has not changed since the fork: no conflict is
    possible, so the touched rows are applied by key without reading the base, and
    an UPDATE writes only the columns the branch's statements assigned (in DuckDB the
    cost of updating scattered rows grows with every column written), where they
    differ. A hidden key is in the parent unless an ancestor deleted it (a seeded
    delta inherits such keys, ``seed``): a touched row at such a key is an insert.
    Not ``seeded`` (a delta over main's table, which has not changed since the fork),
    every hidden key is the parent's. Returns (inserted, updated, deleted)."""
    delta, hide = qname(dschema, table), qname(dschema, hide_table(table))
    hidden = f"EXISTS (SELECT 1 FROM {hide} h WHERE {key_match(key, 'h', 'd')})"

    def count(sql: str) -> int:
        row = cur.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    keys = ", ".join(qident(k) for k in key)
    gone = f"SELECT {keys} FROM {hide} d WHERE NOT EXISTS (SELECT 1 FROM {delta} x WHERE {key_match(key, 'x', 'd')})"
    deleted = 0
    if "-" in assigned and count(f"SELECT count(*) FROM ({gone})"):
        deleted = count(f"DELETE FROM {target} o USING ({gone}) g WHERE {key_match(key, 'o', 'g')}")
    others = [c for c in columns if c not in key and ("*" in assigned or c in assigned)]
    updated = 0
    if others:
        pick = ", ".join(f"d.{qident(c)}" for c in [*key, *others])
        differs = " OR ".join(f"o.{qident(c)} IS DISTINCT FROM d.{qident(c)}" for c in others)
        updated = count(
            f"UPDATE {target} o SET "
            + ", ".join(f"{qident(c)} = d.{qident(c)}" for c in others)
            + f" FROM (SELECT {pick} FROM {delta} d WHERE {hidden}) d "
            f"WHERE {key_match(key, 'o', 'd')} AND ({differs})"
        )
    cols = ", ".join(qident(c) for c in columns)
    values = ", ".join(f"d.{qident(c)}" for c in columns)
    inserted = count(
        f"INSERT INTO {target} ({cols}) SELECT {values} "
        f"FROM {delta} d WHERE NOT {hidden} ORDER BY d.rowid"
    )
    if not seeded:
        return inserted, updated, deleted
    inserted += count(
        f"INSERT INTO {target} ({cols}) SELECT {values} FROM {delta} d WHERE {hidden} "
        f"AND NOT EXISTS (SELECT 1 FROM {target} o WHERE {key_match(key, 'o', 'd')}) "
        "ORDER BY d.rowid"
    )
    return inserted, updated, deleted
