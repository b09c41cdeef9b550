"""Undo snapshots: main's old rows kept only where main changed them.

When main changes a table a live branch still reads, the branch must go on seeing
the table as it was at the fork. Copying the table costs its whole size (6.6 s at
10 M rows). When the write says which keys it touches (a merge of a row-level delta:
its touched keys; a plain UPDATE/DELETE: its WHERE; a plain INSERT or an UPDATE that
moves keys: the keys it writes, read back with RETURNING) the snapshot instead keeps
just those rows:

- ``_hati_snap."<s>$rows"``: the old version of every key main changed since the fork
  (same DDL as the table; a key is kept once, by its first capture);
- ``_hati_snap."<s>$rows$hide"``: the keys main *created* since the fork (inserted, or
  moved to), which the snapshot must not show; a key is put here only when no row is
  kept for it (a key deleted and inserted again is kept, not hidden);
- the view ``_hati_snap.<s>``: main's live rows for the keys in neither, plus the kept
  rows of keys that are not hidden.

A key main created and then changed may also get a kept row; it is hidden, so the view
ignores it. Invariant: a key's first capture happens before any change to it after
the fork, so a kept row of a key that existed at the fork is the fork's version.

Main's plain writes carry their captures in their own statement (``Fused``): a
``WITH`` clause keeps the rows before the write runs, and takes the keys it creates
from its ``RETURNING``, so capture and write commit together at the cost of one
statement. Everything else (DDL, upserts, writes that cannot say their keys) first
turns the snapshot into a full copy (``materialize``), the cost deferred to the one
write that needs it.

Snapshots written by older versions hid every changed key too; ``upgrade`` rewrites
them into this layout when the engine starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from hati.branching import delta
from hati.branching.layout import SNAP, full_copy_table, hide_table, rows_table
from hati.pg.dml import PlainWrite
from hati.storage.duckdb_backend import qident, qname

# Aliases of the view; the second also tells this layout's views from older ones.
_GONE, _NEW = qident("$gone"), qident("$new")


def _rows(snap: str) -> str:
    return qname(SNAP, rows_table(snap))


def _hide(snap: str) -> str:
    return qname(SNAP, hide_table(rows_table(snap)))


def view_sql(live_rel: str, snap: str, key: list[str]) -> str:
    """What the undo snapshot ``snap`` of ``live_rel`` shows (see the module doc)."""
    cols = ", ".join(qident(k) for k in key)
    rows, hide = _rows(snap), _hide(snap)
    return (
        f"SELECT * FROM {live_rel} AS x ANTI JOIN (SELECT {cols} FROM {rows} "
        f"UNION ALL SELECT {cols} FROM {hide}) AS {_GONE} ON {delta.key_match(key, _GONE, 'x')} "
        f"UNION ALL SELECT * FROM {rows} AS r ANTI JOIN {hide} AS {_NEW} "
        f"ON {delta.key_match(key, _NEW, 'r')}"
    )


def is_current(view_sql_text: str) -> bool:
    """Is an undo snapshot's view (its SQL as DuckDB keeps it) of this layout?"""
    return _NEW in view_sql_text


def create(
    cur: duckdb.DuckDBPyConnection,
    snap: str,
    ddl_body: str,
    key_types: list[tuple[str, str]],
    live_rel: str,
) -> None:
    """An empty undo snapshot of ``live_rel``: it shows the live table until a capture.
    The kept rows have the table's key; the hidden keys have none (a key hidden twice
    is hidden all the same, so hiding one needs no look at those already hidden)."""
    key = [k for k, _ in key_types]
    delta.create(cur, ddl_body, key_types, SNAP, rows_table(snap), bag=True)
    cur.execute(f"CREATE VIEW {qname(SNAP, snap)} AS " + view_sql(live_rel, snap, key))


def upgrade(cur: duckdb.DuckDBPyConnection, snap: str, live_rel: str, key: list[str]) -> None:
    """Rewrite an undo snapshot of the older layout (its hidden keys, under a primary
    key, held every kept row's key too) into this one: the same rows shown, in the
    caller's transaction."""
    cols = ", ".join(qident(k) for k in key)
    hide, tmp = _hide(snap), qname(SNAP, full_copy_table(hide_table(rows_table(snap))))
    kept = (
        f"({cols}) IN (SELECT ({cols}) FROM {_rows(snap)})"
        if len(key) > 1
        else f"{cols} IN (SELECT {cols} FROM {_rows(snap)})"
    )
    cur.execute(f"CREATE TABLE {tmp} AS SELECT {cols} FROM {hide} WHERE NOT {kept}")
    cur.execute(f"DROP TABLE {hide}")
    cur.execute(f"ALTER TABLE {tmp} RENAME TO {qident(hide_table(rows_table(snap)))}")
    cur.execute(f"CREATE OR REPLACE VIEW {qname(SNAP, snap)} AS " + view_sql(live_rel, snap, key))


def keep_sql(snap: str, live_rel: str, key: list[str], alias: str, cond: str | None) -> str:
    """An INSERT keeping the rows of ``live_rel`` (as ``alias``) that ``cond`` selects
    and whose key has no kept row yet."""
    a, k = qident(alias), qident("$kept")
    where = f" WHERE {cond}" if cond else ""
    return (
        f"INSERT INTO {_rows(snap)} SELECT {a}.* FROM {live_rel} AS {a} "
        f"ANTI JOIN {_rows(snap)} AS {k} ON {delta.key_match(key, k, a)}{where}"
    )


def hide_new_sql(snap: str, key: list[str], source: str) -> str:
    """An INSERT hiding the keys of ``source`` (a relation with the key columns) that
    have no kept row."""
    cols = ", ".join(f"w.{qident(k)}" for k in key)
    return (
        f"INSERT INTO {_hide(snap)} SELECT {cols} FROM {source} AS w "
        f"ANTI JOIN {_rows(snap)} AS r ON {delta.key_match(key, 'r', 'w')}"
    )


def capture_keys(
    cur: duckdb.DuckDBPyConnection, snap: str, live_rel: str, key: list[str], keys_sql: str
) -> None:
    """Before main changes the keys ``keys_sql`` lists (a merge): keep the current rows
    at those keys, and hide the ones main does not have (the merge creates them)."""
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
    what the earlier ones wrote. Rows to keep are looked for only when ``live_rel`` has
    a row at one of the keys (a merge of inserts has none)."""
    m, c = qident("$m"), qident("$c")
    found = cur.execute(
        f"SELECT 1 FROM {live_rel} AS {m} SEMI JOIN ({keys_sql}) AS {c} "
        f"ON {delta.key_match(key, c, m)} LIMIT 1"
    ).fetchone()
    stmts = [
        sql
        for snap, snap_key in snaps
        for sql in _capture_sql(snap, live_rel, snap_key, keys_sql, found is not None)
    ]
    if len(stmts) == 1:
        cur.execute(stmts[0])
        return
    ctes = ", ".join(f"{qident(f'$u{i}')} AS ({sql} RETURNING 1)" for i, sql in enumerate(stmts))
    cur.execute(f"WITH {ctes} SELECT 1").fetchall()


def _capture_sql(
    snap: str, live_rel: str, key: list[str], keys_sql: str, keep_rows: bool
) -> list[str]:
    """``capture_keys``'s statements (without the rows kept: ``keep_rows`` False)."""
    m, c = qident("$m"), qident("$c")
    out = []
    if keep_rows:
        out.append(
            f"INSERT INTO {_rows(snap)} SELECT {m}.* FROM {live_rel} AS {m} "
            f"SEMI JOIN ({keys_sql}) AS {c} ON {delta.key_match(key, c, m)} "
            f"ANTI JOIN {_rows(snap)} AS k ON {delta.key_match(key, 'k', m)}"
        )
    out.append(hide_new_sql(snap, key, f"({keys_sql})"))
    return out


def capture_where(
    cur: duckdb.DuckDBPyConnection, snap: str, live_rel: str, key: list[str], dw: PlainWrite
) -> None:
    """Keep the rows a plain UPDATE/DELETE's WHERE selects, before it runs (in a
    statement of its own: when the write cannot carry it, see ``Fused``)."""
    cur.execute(keep_sql(snap, live_rel, key, dw.alias, dw.cond), dw.cond_params or None)


@dataclass
class Fused:
    """The captures one main write carries in its own statement (``wrap``): rows kept
    before it runs (``keep``: INSERTs, in the statement's own parameter numbering) and
    the undo snapshots that hide the keys it writes (``hide_new``, read back with
    ``RETURNING`` of ``key``: an INSERT, or an UPDATE that moves keys)."""

    key: list[str]
    keep: list[str] = field(default_factory=list)
    hide_new: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)  # every snapshot written

    def __bool__(self) -> bool:
        return bool(self.keep or self.hide_new)

    def wrap(self, sql: str) -> str:
        """The write ``sql`` with its captures. DuckDB runs the data-modifying CTEs of
        a WITH clause in order, each to completion, before what follows them (and the
        later ones see what the earlier ones wrote): the kept rows are read before the
        write changes them, the written keys after."""
        ctes = [f"{qident(f'$hati_k{i}')} AS ({s} RETURNING 1)" for i, s in enumerate(self.keep)]
        if not self.hide_new:
            return "WITH " + ", ".join(ctes) + " " + sql
        w = qident("$hati_w")
        ctes.append(f"{w} AS ({sql} RETURNING {', '.join(qident(k) for k in self.key)})")
        ctes += [
            f"{qident(f'$hati_n{i}')} AS ({hide_new_sql(s, self.key, w)} RETURNING 1)"
            for i, s in enumerate(self.hide_new)
        ]
        return "WITH " + ", ".join(ctes) + f" SELECT count(*) FROM {w}"


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
