"""Cell-level three-way merge of a keyed table (the key mode of ``TableMerge``).

The work table ``w`` has one row per key the branch changed: the key, whether the
row is absent in base (``ba``), theirs (``ta``) and ours (``oa``), whether ours
changed the key at all (``oc``), and per column i its base, theirs and ours values
``b<i>``, ``t<i>``, ``o<i>`` with the flags

* ``tch<i>``: the branch changed the cell (the row is present in theirs);
* ``och<i>``: main changed the cell (the row is present in ours);
* ``cf<i>``: both changed it, to different values — a conflicting cell.

A row conflicts (``kind``) when a cell conflicts (``update/update``; ``insert/insert``
for a key both sides inserted), or one side deleted a row the other changed
(``update/delete``: main updated, the branch deleted; ``delete/update``: the reverse).
Applying takes every cell the branch changed that does not conflict, and the
conflicting cells of rows the strategy gives to the branch (``tk``); a column only
the parent has keeps its values.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import duckdb

from hati.branching.mergerows import Conflict, Names, Side, TableCounts, canonical_key, struct_json
from hati.storage.duckdb_backend import qident


class TableMerge(Protocol):
    """What this module needs of a ``tablemerge.TableMerge`` in key mode."""

    cur: duckdb.DuckDBPyConnection
    table: str
    key: list[str]
    cols: list[str]
    types: dict[str, str]
    n: Names
    ours: Side
    theirs: Side

    def t(self, name: str) -> str: ...

    def row_json(self, prefix: str, alias: str) -> str: ...

    planned: bool


def _any(parts: list[str]) -> str:
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def _key_match(tm: TableMerge, a: str, b: str) -> str:
    return " AND ".join(f"{a}.{qident(k)} = {b}.{qident(k)}" for k in tm.key)


def plan(tm: TableMerge) -> list[Conflict]:
    """Build the work table from the two diffs (temp tables t and o); the conflicts."""
    n = tm.n
    t, o = n("t"), n("o")
    oc = f"{o}.{n('was_absent')} IS NOT NULL"
    cols = []
    for i, _ in enumerate(tm.cols):
        b_i, t_i, o_i = n(f"b{i}"), n(f"t{i}"), n(f"o{i}")
        cols.append(
            f"{t}.{n(f'b{i}')} AS {b_i}, {t}.{n(f'x{i}')} AS {t_i}, "
            f"CASE WHEN {oc} THEN {o}.{n(f'x{i}')} ELSE {t}.{n(f'b{i}')} END AS {o_i}"
        )
    keys = ", ".join(f"{t}.{qident(k)}" for k in tm.key)
    base_sql = (
        f"SELECT {keys}, {t}.{n('was_absent')} AS {n('ba')}, {t}.{n('now_absent')} AS {n('ta')}, "
        f"{oc} AS {n('oc')}, coalesce({o}.{n('now_absent')}, false) AS {n('oa')}, "
        f"coalesce({o}.{n('was_absent')}, false) AS {n('oi')}, {', '.join(cols)} "
        f"FROM {tm.t('t')} {t} LEFT JOIN {tm.t('o')} {o} ON {_key_match(tm, t, o)}"
    )
    w = n("w")
    flags = []
    for i, _ in enumerate(tm.cols):
        b_i, t_i, o_i = (f"{w}.{n(f'{p}{i}')}" for p in "bto")
        tch = f"(NOT {w}.{n('ta')} AND ({w}.{n('ba')} OR {b_i} IS DISTINCT FROM {t_i}))"
        och = f"({w}.{n('oc')} AND NOT {w}.{n('oa')} AND ({w}.{n('oi')} OR {b_i} IS DISTINCT FROM {o_i}))"
        flags.append(
            f"{tch} AS {n(f'tch{i}')}, {och} AS {n(f'och{i}')}, "
            f"({tch} AND {och} AND {t_i} IS DISTINCT FROM {o_i}) AS {n(f'cf{i}')}"
        )
    flagged = (
        f"SELECT {w}.*, {', '.join(flags)}, false AS {n('tk')}, false AS {n('dr')}, false AS {n('wb')} "
        f"FROM ({base_sql}) {w}"
    )
    x = n("x")
    cf_any = _any([f"{x}.{n(f'cf{i}')}" for i, _ in enumerate(tm.cols)])
    kind = (
        f"CASE WHEN NOT {x}.{n('oc')} OR ({x}.{n('ta')} AND {x}.{n('oa')}) THEN NULL "
        f"WHEN {x}.{n('ta')} THEN 'update/delete' WHEN {x}.{n('oa')} THEN 'delete/update' "
        f"WHEN {cf_any} THEN CASE WHEN {x}.{n('ba')} THEN 'insert/insert' ELSE 'update/update' END END"
    )
    tm.cur.execute(
        f"CREATE TEMP TABLE {tm.t('w')} AS SELECT {x}.*, {kind} AS {n('kind')} FROM ({flagged}) {x}"
    )
    tm.planned = True
    c = n("c")

    def flag_list(p: str) -> str:
        return "[" + ", ".join(f"{c}.{n(f'{p}{i}')}" for i, _ in enumerate(tm.cols)) + "]"

    rows = tm.cur.execute(
        f"SELECT {struct_key(tm, c)}, {c}.{n('kind')}, "
        f"CASE WHEN {c}.{n('ba')} THEN NULL ELSE {tm.row_json('b', c)} END, "
        f"CASE WHEN {c}.{n('oa')} THEN NULL ELSE {tm.row_json('o', c)} END, "
        f"CASE WHEN {c}.{n('ta')} THEN NULL ELSE {tm.row_json('t', c)} END, "
        f"{flag_list('cf')}, {flag_list('och')}, {flag_list('tch')} "
        f"FROM {tm.t('w')} {c} WHERE {c}.{n('kind')} IS NOT NULL ORDER BY 1"
    ).fetchall()
    out = []
    for key, kind_, base, ours, theirs, cf, och, tch in rows:
        which = {"update/delete": och, "delete/update": tch}.get(kind_, cf)
        columns = [col for col, on in zip(tm.cols, which, strict=True) if on]
        out.append(
            Conflict(
                tm.table,
                canonical_key(str(key)),
                _j(base),
                _j(ours),
                _j(theirs),
                kind_,
                columns,
            )
        )
    return out


def struct_key(tm: TableMerge, alias: str) -> str:
    return struct_json([(k, f"{alias}.{qident(k)}") for k in tm.key])


def _j(v: Any) -> str | None:
    return None if v is None else str(v)


def mark_taken(tm: TableMerge, keys: set[str], flag: str = "tk") -> None:
    """Set ``flag`` on the work rows whose key is in ``keys`` (canonical JSON keys):
    ``tk`` takes the branch's conflicting cells, ``dr`` drops the branch's side, ``wb``
    takes the branch's whole row."""
    if not keys:
        return
    n, kt = tm.n, tm.t("k")
    tm.cur.execute(
        f"CREATE OR REPLACE TEMP TABLE {kt} ("
        + ", ".join(f"{qident(k)} {tm.types[k]}" for k in tm.key)
        + ")"
    )
    rows = []
    for k in keys:
        try:
            kv = json.loads(k)
        except json.JSONDecodeError:
            continue
        if isinstance(kv, dict):
            rows.append([kv.get(c) for c in tm.key])
    if rows:
        marks = ", ".join("?" for _ in tm.key)
        tm.cur.executemany(f"INSERT INTO {kt} VALUES ({marks})", rows)
    w, k = n("w"), n("k")
    tm.cur.execute(
        f"UPDATE {tm.t('w')} {w} SET {n(flag)} = true FROM {kt} {k} WHERE {_key_match(tm, w, k)}"
    )


def _go(tm: TableMerge, w: str) -> str:
    """The branch's change of the row applies (no conflict, or it was given the branch)."""
    n = tm.n
    return f"(({w}.{n('kind')} IS NULL OR {w}.{n('tk')} OR {w}.{n('wb')}) AND NOT {w}.{n('dr')})"


def _present(tm: TableMerge, w: str) -> str:
    """The row is in ours now."""
    n = tm.n
    return f"(({w}.{n('oc')} AND NOT {w}.{n('oa')}) OR (NOT {w}.{n('oc')} AND NOT {w}.{n('ba')}))"


def _take_cell(tm: TableMerge, w: str, i: int) -> str:
    n = tm.n
    tch, cf = (f"{w}.{n(f'{p}{i}')}" for p in ("tch", "cf"))
    tk = f"{w}.{n('tk')}"
    return (
        f"((({tch} AND (NOT {cf} OR {tk})) OR (NOT {w}.{n('ta')} AND {w}.{n('wb')})) "
        f"AND NOT {w}.{n('dr')})"
    )


def merged_sql(tm: TableMerge) -> str:
    """The rows the branch changed as the merge leaves them (absent ones left out), with
    the table's column names, plus the merge's own: the row's key and its three sides
    as JSON (``key``, ``bj``, ``oj``, ``tj``)."""
    n, w = tm.n, tm.n("w")
    go, present = _go(tm, w), _present(tm, w)
    ta = f"{w}.{n('ta')}"
    after = f"((NOT {ta} AND ({present} OR {go})) OR ({ta} AND {present} AND NOT {go}))"
    vals = ", ".join(
        f"CASE WHEN NOT {present} THEN {w}.{n(f't{i}')} WHEN {ta} OR NOT {_take_cell(tm, w, i)} "
        f"THEN {w}.{n(f'o{i}')} ELSE {w}.{n(f't{i}')} END AS {qident(c)}"
        for i, c in enumerate(tm.cols)
    )
    sides = (
        f"{struct_key(tm, w)} AS {n('key')}, "
        f"CASE WHEN {w}.{n('ba')} THEN NULL ELSE {tm.row_json('b', w)} END AS {n('bj')}, "
        f"CASE WHEN NOT {present} THEN NULL ELSE {tm.row_json('o', w)} END AS {n('oj')}, "
        f"CASE WHEN {ta} THEN NULL ELSE {tm.row_json('t', w)} END AS {n('tj')}"
    )
    return f"SELECT {vals}, {sides} FROM {tm.t('w')} {w} WHERE {after}"


def final_sql(tm: TableMerge, ours: str, ours_cols: set[str]) -> str:
    """The whole table as the merge leaves it (``cols`` only)."""
    n, w, o = tm.n, tm.n("w"), tm.n("o")
    proj = ", ".join(
        f"{o}.{qident(c)}" if c in ours_cols else f"NULL::{tm.types[c]}" for c in tm.cols
    )
    names = ", ".join(qident(c) for c in tm.cols)
    return (
        f"SELECT {proj} FROM {ours} {o} WHERE NOT EXISTS "
        f"(SELECT 1 FROM {tm.t('w')} {w} WHERE {_key_match(tm, w, o)}) "
        f"UNION ALL SELECT {names} FROM ({merged_sql(tm)}) {n('m')}"
    )


def changed_sql(tm: TableMerge) -> str:
    """The work rows (key, JSON sides, and ours' value of every column)."""
    n, w = tm.n, tm.n("w")
    vals = ", ".join(f"{w}.{n(f'o{i}')} AS {qident(c)}" for i, c in enumerate(tm.cols))
    return (
        f"SELECT {vals}, {struct_key(tm, w)} AS {n('key')}, "
        f"CASE WHEN {w}.{n('ba')} THEN NULL ELSE {tm.row_json('b', w)} END AS {n('bj')}, "
        f"CASE WHEN NOT {_present(tm, w)} THEN NULL ELSE {tm.row_json('o', w)} END AS {n('oj')}, "
        f"CASE WHEN {w}.{n('ta')} THEN NULL ELSE {tm.row_json('t', w)} END AS {n('tj')}, "
        f"{_present(tm, w)} AS {n('present')} FROM {tm.t('w')} {w}"
    )


def apply(
    tm: TableMerge, take: set[str], custom: dict[str, dict[str, Any]], ours: str
) -> TableCounts:
    mark_taken(tm, take)
    n, cur, wt = tm.n, tm.cur, tm.t("w")
    w, o, x = n("w"), n("o"), n("x")
    go, present = _go(tm, w), _present(tm, w)
    idx = {c: i for i, c in enumerate(tm.cols)}
    ours_cols = set(tm.ours.names) if tm.ours.rel else set(tm.cols)
    insert_cols = [c for c in tm.cols if c in ours_cols]
    set_cols = [c for c in insert_cols if c not in tm.key]

    def take_cell(c: str) -> str:
        return _take_cell(tm, w, idx[c])

    def count(sql: str) -> int:
        row = cur.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    deleted = count(
        f"DELETE FROM {ours} {o} USING {wt} {w} WHERE {_key_match(tm, o, w)} "
        f"AND {w}.{n('ta')} AND {go} AND {present}"
    )
    updated = 0
    changes = _any([take_cell(c) for c in set_cols])
    if set_cols:
        upd = f"SELECT * FROM {wt} {w} WHERE NOT {w}.{n('ta')} AND {present} AND {changes}"
        sets = ", ".join(
            f"{qident(c)} = CASE WHEN {take_cell(c)} THEN {w}.{n(f't{idx[c]}')} ELSE {o}.{qident(c)} END"
            for c in set_cols
        )
        updated = count(
            f"UPDATE {ours} {o} SET {sets} FROM ({upd}) {w} WHERE {_key_match(tm, o, w)}"
        )
    # Inserts: keys the parent does not have, in the order the branch wrote them.
    assert tm.theirs.rel is not None
    inserted = count(
        f"INSERT INTO {ours} ({', '.join(qident(c) for c in insert_cols)}) "
        f"SELECT {', '.join(f'{x}.{qident(c)}' for c in insert_cols)} FROM {tm.theirs.rel} {x} "
        f"JOIN {wt} {w} ON {_key_match(tm, x, w)} "
        f"WHERE NOT {w}.{n('ta')} AND NOT {present} AND {go} ORDER BY {x}.rowid"
    )
    counts = TableCounts(inserted, updated, deleted)
    for key, values in custom.items():
        _apply_values(tm, ours, key, values, counts)
    return counts


def _apply_values(
    tm: TableMerge, ours: str, key: str, values: dict[str, Any], counts: TableCounts
) -> None:
    """A row given explicit values: the merged row (main's cells where they conflict,
    or the branch's row where main deleted it) with those columns set."""
    kv = json.loads(key)
    params = [kv.get(k) for k in tm.key]
    where = " AND ".join(f"{qident(k)} = ?::{tm.types[k]}" for k in tm.key)
    row = tm.cur.execute(f"SELECT count(*) FROM {ours} WHERE {where}", params).fetchone()
    ours_cols = set(tm.ours.names) if tm.ours.rel else set(tm.cols)
    given = [c for c in values if c in ours_cols]
    if not (row and row[0]):
        # Not in ours (main deleted it, or the branch's row was set aside): the branch's
        # row with the given values.
        insert_cols = [c for c in tm.cols if c in ours_cols]
        w = tm.n("w")
        wwhere = " AND ".join(f"{w}.{qident(k)} = ?::{tm.types[k]}" for k in tm.key)
        picks, args = [], []
        for c in insert_cols:
            if c in values:
                picks.append(f"?::{tm.types[c]}")
                args.append(values[c])
            elif c in tm.key:
                picks.append(f"{w}.{qident(c)}")
            else:
                picks.append(f"{w}.{tm.n(f't{tm.cols.index(c)}')}")
        tm.cur.execute(
            f"INSERT INTO {ours} ({', '.join(qident(c) for c in insert_cols)}) "
            f"SELECT {', '.join(picks)} FROM {tm.t('w')} {w} WHERE {wwhere}",
            args + params,
        )
        counts.inserted += 1
        return
    counts.updated += 1
    if given:
        sets = ", ".join(f"{qident(c)} = ?::{tm.types[c]}" for c in given)
        tm.cur.execute(
            f"UPDATE {ours} SET {sets} WHERE {where}", [values[c] for c in given] + params
        )
