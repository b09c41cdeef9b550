"""Undo snapshots (branching/undo.py): when main changes a table a live branch reads,
and the change says which rows it touches, main keeps only those rows' old version
(and hides the keys it creates) instead of copying the table; a write that cannot say
so makes it a full copy first."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import RunningServer, internal, rows, start_server

N = 2000


def snapshots(cur: Any) -> dict[str, list[str]]:
    """The _hati_snap objects: {'view': [...], 'table': [...]}."""
    out: dict[str, list[str]] = {"view": [], "table": []}
    for kind, name in internal(
        cur,
        "SELECT 'view', view_name FROM duckdb_views() WHERE schema_name = '_hati_snap' "
        "UNION ALL SELECT 'table', table_name FROM duckdb_tables() "
        "WHERE schema_name = '_hati_snap' ORDER BY 2",
    ):
        out[kind].append(name)
    return out


def kept_rows(cur: Any) -> int:
    [view] = snapshots(cur)["view"]
    return internal(cur, f'SELECT count(*) FROM _hati_snap."{view}$rows"')[0][0]


def hidden_keys(cur: Any) -> list[int]:
    """The keys main created since the fork, which the snapshot hides."""
    [view] = snapshots(cur)["view"]
    return [r[0] for r in internal(cur, f'SELECT k FROM _hati_snap."{view}$rows$hide" ORDER BY 1')]


def in_branch(cur: Any, name: str, sql: str) -> list[tuple]:
    return rows(cur, "SELECT * FROM branch_query(%s, %s)", (name, sql))


@pytest.fixture
def cur(hati_server: RunningServer):
    with closing(hati_server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        c.execute(f"INSERT INTO t SELECT range, range FROM range({N})")
        c.execute("SELECT branch_create('b')")
        yield c


FORK = [(N, N * (N - 1) // 2)]  # count(*), sum(v) at the fork
COUNT_SUM = "SELECT count(*), sum(v) FROM t"


def test_main_update_and_delete_keep_only_the_changed_rows(cur) -> None:
    cur.execute("UPDATE t SET v = -1 WHERE k IN (3, 4)")
    assert len(snapshots(cur)["view"]) == 1 and kept_rows(cur) == 2
    cur.execute("DELETE FROM t WHERE k = 5 OR k = 3")
    assert kept_rows(cur) == 3  # k = 3 was kept already
    cur.execute("UPDATE t SET v = v + 1 WHERE k = %s", (6,))
    assert kept_rows(cur) == 4
    assert in_branch(cur, "b", COUNT_SUM) == FORK
    assert in_branch(cur, "b", "SELECT v FROM t WHERE k IN (3, 4, 5, 6) ORDER BY k") == [
        (3,),
        (4,),
        (5,),
        (6,),
    ]
    assert rows(cur, "SELECT count(*) FROM t") == [(N - 2,)]


def test_an_insert_on_main_only_hides_its_keys(cur) -> None:
    cur.execute("UPDATE t SET v = 0 WHERE k = 1")
    cur.execute(f"INSERT INTO t VALUES ({N}, 7), ({N + 1}, 8)")
    assert len(snapshots(cur)["view"]) == 1 and kept_rows(cur) == 1
    assert hidden_keys(cur) == [N, N + 1]
    cur.execute("DELETE FROM t WHERE k = 2")
    cur.execute("INSERT INTO t VALUES (2, -2)")  # deleted, then inserted again: kept
    cur.execute(f"UPDATE t SET v = 70 WHERE k = {N}")  # created after the fork: still hidden
    assert kept_rows(cur) == 3 and hidden_keys(cur) == [N, N + 1]
    assert in_branch(cur, "b", COUNT_SUM) == FORK
    assert in_branch(cur, "b", f"SELECT k, v FROM t WHERE k IN (1, 2, {N}) ORDER BY k") == [
        (1, 1),
        (2, 2),
    ]
    assert rows(cur, f"SELECT k, v FROM t WHERE k IN (1, 2, {N}) ORDER BY k") == [
        (1, 0),
        (2, -2),
        (N, 70),
    ]


def test_an_insert_with_its_own_returning_takes_a_full_copy(cur) -> None:
    cur.execute("UPDATE t SET v = 0 WHERE k = 1")
    cur.execute(f"INSERT INTO t VALUES ({N}, 7) RETURNING v")
    assert cur.fetchall() == [(7,)]
    snaps = snapshots(cur)
    assert snaps["view"] == [] and len(snaps["table"]) == 1
    assert in_branch(cur, "b", COUNT_SUM) == FORK


def test_a_key_moving_update_keeps_the_old_rows_and_hides_the_new_keys(cur) -> None:
    cur.execute("UPDATE t SET k = -k WHERE k = 9")
    cur.execute("UPDATE t SET k = k + 100000 WHERE k IN (30, 31)")
    assert kept_rows(cur) == 3 and hidden_keys(cur) == [-9, 100030, 100031]
    assert in_branch(cur, "b", COUNT_SUM) == FORK
    assert in_branch(cur, "b", "SELECT k FROM t WHERE k IN (-9, 9, 30, 100030) ORDER BY k") == [
        (9,),
        (30,),
    ]
    assert rows(cur, "SELECT count(*) FROM t WHERE k IN (-9, 9, 30, 100030)") == [(2,)]


def test_a_rolled_back_main_write_leaves_the_branch_at_its_fork(hati_server, cur) -> None:
    with closing(hati_server.connect(autocommit=False)) as conn:
        m = conn.cursor()
        m.execute("UPDATE t SET v = 99 WHERE k < 10")
        m.execute("DELETE FROM t WHERE k = 10")
        conn.rollback()
    assert in_branch(cur, "b", COUNT_SUM) == FORK
    assert rows(cur, COUNT_SUM) == FORK


def test_merging_a_delta_keeps_only_its_keys_for_the_other_branches(cur) -> None:
    cur.execute("SELECT branch_create('other')")
    cur.execute("SELECT branch_query('b', 'UPDATE t SET v = -v WHERE k < 50')")
    cur.execute(f"SELECT branch_query('b', 'INSERT INTO t VALUES ({N + 1}, 1)')")
    cur.execute("SELECT branch_query('b', 'DELETE FROM t WHERE k = 60')")
    cur.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
    assert len(snapshots(cur)["view"]) == 1
    assert kept_rows(cur) == 50 + 1  # 50 updated + 1 deleted (the insert is only hidden)
    assert in_branch(cur, "other", COUNT_SUM) == FORK
    assert in_branch(cur, "other", f"SELECT count(*) FROM t WHERE k = {N + 1}") == [(0,)]
    # The other branch writes the same rows and merges three-way against its fork.
    cur.execute("SELECT branch_query('other', 'UPDATE t SET v = 1000 WHERE k IN (10, 1500)')")
    cur.execute("SELECT * FROM branch_conflicts('other')")
    conflicts = cur.fetchall()
    assert [c[1] for c in conflicts] == ['{"k":10}']
    cur.execute("SELECT * FROM branch_merge('other', 'branch_wins')")
    assert rows(cur, "SELECT v FROM t WHERE k IN (10, 11, 1500) ORDER BY k") == [
        (1000,),
        (-11,),
        (1000,),
    ]
    assert rows(cur, "SELECT count(*) FROM t") == [(N,)]
    assert snapshots(cur) == {"view": [], "table": []}  # no live branch: all collected


def test_undo_snapshots_survive_a_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    with closing(server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        c.execute(f"INSERT INTO t SELECT range, range FROM range({N})")
        c.execute("SELECT branch_create('b')")
        c.execute("UPDATE t SET v = 0 WHERE k < 100")
        assert len(snapshots(c)["view"]) == 1
    server.thread.stop()
    server = start_server(tmp_path / "data")
    try:
        with closing(server.connect()) as conn:
            c = conn.cursor()
            assert in_branch(c, "b", COUNT_SUM) == FORK
            c.execute("UPDATE t SET v = 1 WHERE k BETWEEN 50 AND 150")
            assert kept_rows(c) == 151
            c.execute("INSERT INTO t VALUES (-1, -1)")
            assert hidden_keys(c) == [-1]
            assert in_branch(c, "b", COUNT_SUM) == FORK
            c.execute("SELECT branch_query('b', 'UPDATE t SET v = 5 WHERE k = 1999')")
            c.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
            assert rows(c, "SELECT v FROM t WHERE k IN (-1, 120, 1999) ORDER BY k") == [
                (-1,),
                (1,),
                (5,),
            ]
    finally:
        server.thread.stop()


def test_an_undo_snapshot_of_the_older_layout_is_upgraded_at_start(tmp_path: Path) -> None:
    """Older versions hid every kept row's key too, under a view of one anti-join; the
    engine rewrites such a snapshot when it starts, and the branch sees the same rows."""
    server = start_server(tmp_path / "data")
    with closing(server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        c.execute(f"INSERT INTO t SELECT range, range FROM range({N})")
        c.execute("SELECT branch_create('b')")
        c.execute("UPDATE t SET v = 0 WHERE k < 10")
        c.execute(f"INSERT INTO t VALUES ({N}, 1)")
        [snap] = snapshots(c)["view"]
    server.thread.stop()
    con = duckdb.connect(str(tmp_path / "data" / "hati.duckdb"))
    try:  # as an older version left it
        rows_t, hide = f'_hati_snap."{snap}$rows"', f'_hati_snap."{snap}$rows$hide"'
        con.execute(f"INSERT INTO {hide} SELECT k FROM {rows_t}")
        con.execute(
            f"CREATE OR REPLACE VIEW _hati_snap.{snap} AS SELECT * FROM main.t AS x "
            f"ANTI JOIN {hide} AS h ON h.k = x.k UNION ALL SELECT * FROM {rows_t}"
        )
    finally:
        con.close()
    server = start_server(tmp_path / "data")
    try:
        with closing(server.connect()) as conn:
            c = conn.cursor()
            assert hidden_keys(c) == [N] and kept_rows(c) == 10
            assert in_branch(c, "b", COUNT_SUM) == FORK
            c.execute("DELETE FROM t WHERE k < 20")
            assert kept_rows(c) == 20
            assert in_branch(c, "b", COUNT_SUM) == FORK
    finally:
        server.thread.stop()
