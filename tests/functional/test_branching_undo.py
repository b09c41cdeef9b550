"""Undo snapshots (branching/undo.py): when main changes a table a live branch reads,
and the change says which rows it touches, main keeps only those rows' old version
instead of copying the table; a write that cannot say so makes it a full copy first."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

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


def test_an_insert_on_main_turns_the_snapshot_into_a_full_copy(cur) -> None:
    cur.execute("UPDATE t SET v = 0 WHERE k = 1")
    assert len(snapshots(cur)["view"]) == 1
    cur.execute(f"INSERT INTO t VALUES ({N}, 7)")
    snaps = snapshots(cur)
    assert snaps["view"] == [] and len(snaps["table"]) == 1
    assert in_branch(cur, "b", COUNT_SUM) == FORK
    cur.execute("UPDATE t SET k = k + 100000 WHERE k = 2")  # the key moves: full copy too
    assert in_branch(cur, "b", COUNT_SUM) == FORK


def test_a_key_moving_update_takes_a_full_copy_at_once(cur) -> None:
    cur.execute("UPDATE t SET k = -k WHERE k = 9")
    snaps = snapshots(cur)
    assert snaps["view"] == [] and len(snaps["table"]) == 1
    assert in_branch(cur, "b", "SELECT count(*) FROM t WHERE k = 9") == [(1,)]


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
            assert snapshots(c)["view"] == []
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
