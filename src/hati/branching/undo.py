"""Undo snapshots: main's old rows kept only where main changed them.

When main changes a table a live branch still reads, the branch must go on seeing
the table as it was at the fork. Copying the table costs its whole size (6.6 s at
10 M rows). When the write says which keys it touches, a merge of a row-level delta
(its touched keys) or a plain UPDATE/DELETE (its WHERE), the snapshot instead keeps
the old version of just those rows, with the same layout as a branch delta
(see delta.py): ``_hati_snap."<s>$rows"`` holds the rows as they were,
``"<s>$rows$hide"`` every key main changed since, and the view ``_hati_snap.<s>``
shows main's live rows for the other keys plus the kept ones.

Every later write to the table extends the snapshot the same way before it runs; a
write that cannot say its keys (an INSERT, a DDL, an UPDATE of the key) first turns
the snapshot into a full copy (``materialize``), the cost deferred to the one write
that needs it. Invariant: a key's first capture happens before any change to it
after the fork, so the kept row is the fork's.
"""

from __future__ import annotations

import duckdb

from hati.branching import delta
from hati.branching.layout import SNAP, full_copy_table, hide_table, rows_table
from hati.pg.dml import PlainWrite
from hati.storage.duckdb_backend import qident, qname


def create(
    cur: duckdb.DuckDBPyConnection,
    snap: str,
    ddl_body: str,
    key_types: list[tuple[str, str]],
    live_rel: str,
) -> None:
    """An empty undo snapshot of ``live_rel``: it shows the live table until a capture."""
    key = [k for k, _ in key_types]
    delta.create(cur, ddl_body, key_types, SNAP, rows_table(snap))
    cur.execute(
        f"CREATE VIEW {qname(SNAP, snap)} AS "
        + delta.overlay_sql(live_rel, SNAP, rows_table(snap), key)
    )


def capture_keys(
    cur: duckdb.DuckDBPyConnection, snap: str, live_rel: str, key: list[str], keys_sql: str
) -> None:
    """Keep the current rows at the keys ``keys_sql`` lists (main is about to change
    them) and hide those keys, also the ones main does not have yet (inserts)."""
    for sql in _capture_sql(snap, live_rel, key, keys_sql, True):
        cur.execute(sql)


def capture_keys_in(
    cur: duckdb.DuckDBPyConnection,
    snaps: list[tuple[str, list[str]]],
    live_rel: str,
    key: list[str],
    keys_sql: str,
) -> None:
    """``capture_keys`` into every undo snapshot of ``snaps`` ((name, its key)) in one
    statement: a WITH of data-modifying CTEs, which DuckDB runs in order, each seeing
    what the earlier ones wrote. The kept rows are looked for only when ``live_rel``
    has a row at one of the keys (a merge of inserts has none)."""
    match = delta.key_match(key, "c", "m")
    found = cur.execute(
        f"SELECT 1 FROM {live_rel} m WHERE EXISTS (SELECT 1 FROM ({keys_sql}) c WHERE {match}) "
        "LIMIT 1"
    ).fetchone()
    stmts = [
        sql
        for snap, snap_key in snaps
        for sql in _capture_sql(snap, live_rel, snap_key, keys_sql, found is not None)
    ]
    if len(stmts) == 1:
        cur.execute(stmts[0])
        return
    ctes = ", ".join(f"{qident(f'$c{i}')} AS ({sql} RETURNING 1)" for i, sql in enumerate(stmts))
    cur.execute(f"WITH {ctes} SELECT 1").fetchall()


def _capture_sql(
    snap: str, live_rel: str, key: list[str], keys_sql: str, keep_rows: bool
) -> list[str]:
    rows = qname(SNAP, rows_table(snap))
    hide = qname(SNAP, hide_table(rows_table(snap)))
    cols = ", ".join(qident(k) for k in key)

    def fresh(alias: str) -> str:
        return f"NOT EXISTS (SELECT 1 FROM {hide} h WHERE {delta.key_match(key, 'h', alias)})"

    out = []
    if keep_rows:
        out.append(
            f"INSERT INTO {rows} SELECT m.* FROM {live_rel} m WHERE EXISTS "
            f"(SELECT 1 FROM ({keys_sql}) c WHERE {delta.key_match(key, 'c', 'm')}) AND {fresh('m')}"
        )
    out.append(f"INSERT INTO {hide} SELECT DISTINCT {cols} FROM ({keys_sql}) c WHERE {fresh('c')}")
    return out


def capture_where(
    cur: duckdb.DuckDBPyConnection,
    snap: str,
    live_rel: str,
    key: list[str],
    dw: PlainWrite,
) -> None:
    """Keep the rows an UPDATE/DELETE's WHERE selects, before it runs."""
    delta.pull(cur, dw, live_rel, SNAP, key, into=rows_table(snap))


def materialize(cur: duckdb.DuckDBPyConnection, snap: str, ddl_body: str) -> None:
    """Turn the undo snapshot into a full copy under the same name (children's views
    name it, and read it again at their next statement)."""
    tmp = full_copy_table(snap)
    cur.execute(f"CREATE TABLE {qname(SNAP, tmp)}(" + ddl_body)
    cur.execute(f"INSERT INTO {qname(SNAP, tmp)} SELECT * FROM {qname(SNAP, snap)}")
    cur.execute(f"DROP VIEW {qname(SNAP, snap)}")
    cur.execute(f"ALTER TABLE {qname(SNAP, tmp)} RENAME TO {qident(snap)}")
    cur.execute(f"DROP TABLE {qname(SNAP, rows_table(snap))}")
    cur.execute(f"DROP TABLE {qname(SNAP, hide_table(rows_table(snap)))}")
