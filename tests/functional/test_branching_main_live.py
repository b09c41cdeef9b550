"""Writes on main while branches are live: each write keeps what it changes for the
live branches in its own statement (branching/undo.py, ``Fused``), once for all the
branches forked at the same point. Every branch keeps seeing main as it was at its
fork; a branch forked later sees the write."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import psycopg
import psycopg2
import pytest

from conftest import RunningServer, internal, rows

N = 1000
COUNT_SUM = "SELECT count(*), sum(v) FROM t"
FORK = [(N, N * (N - 1) // 2)]


def in_branch(cur: Any, name: str, sql: str) -> list[tuple]:
    return rows(cur, "SELECT * FROM branch_query(%s, %s)", (name, sql))


def undo_views(cur: Any) -> list[str]:
    return [
        r[0]
        for r in internal(
            cur,
            "SELECT view_name FROM duckdb_views() WHERE schema_name = '_hati_snap' ORDER BY 1",
        )
    ]


def kept(cur: Any, view: str) -> int:
    return internal(cur, f'SELECT count(*) FROM _hati_snap."{view}$rows"')[0][0]


@pytest.fixture
def cur(conn):
    c = conn.cursor()
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
    c.execute(f"INSERT INTO t SELECT range, range FROM range({N})")
    return c


def test_branches_forked_at_one_point_share_one_capture_per_write(cur) -> None:
    for i in range(8):
        cur.execute("SELECT branch_create(%s)", (f"b{i}",))
        cur.execute("SELECT branch_query(%s, 'UPDATE t SET v = -1 WHERE k = %s')", (f"b{i}", i))
    cur.execute("DELETE FROM t WHERE k IN (1, 2, 3)")
    cur.execute("UPDATE t SET v = 0 WHERE k = 3")  # gone: nothing more to keep
    cur.execute("UPDATE t SET v = 0 WHERE k BETWEEN 10 AND 19")
    cur.execute(f"INSERT INTO t VALUES ({N}, 5)")
    [view] = undo_views(cur)
    assert kept(cur, view) == 13
    for i in range(8):  # each sees the fork, with its own write
        assert in_branch(cur, f"b{i}", "SELECT count(*), sum(v) FROM t") == [
            (N, N * (N - 1) // 2 - i - 1)
        ]
        assert in_branch(cur, f"b{i}", "SELECT count(*) FROM t WHERE k IN (1, 2, 3)") == [(3,)]
    assert rows(cur, "SELECT count(*) FROM t WHERE k IN (1, 2, 3)") == [(0,)]
    assert rows(cur, "SELECT count(*) FROM t") == [(N - 2,)]


def test_each_branch_sees_main_as_it_was_at_its_own_fork(cur) -> None:
    cur.execute("SELECT branch_create('b1')")
    cur.execute("DELETE FROM t WHERE k = 1")
    cur.execute(f"INSERT INTO t VALUES ({N}, 1)")
    cur.execute("SELECT branch_create('b2')")  # forked after those writes: sees them
    cur.execute("DELETE FROM t WHERE k = 2")
    cur.execute(f"UPDATE t SET v = -5 WHERE k = {N}")
    cur.execute("UPDATE t SET v = -3 WHERE k = 3")
    cur.execute("SELECT branch_create('b3')")
    probe = f"SELECT k, v FROM t WHERE k IN (1, 2, 3, {N}) ORDER BY k"
    assert in_branch(cur, "b1", probe) == [(1, 1), (2, 2), (3, 3)]
    assert in_branch(cur, "b2", probe) == [(2, 2), (3, 3), (N, 1)]
    assert in_branch(cur, "b3", probe) == [(3, -3), (N, -5)]
    assert rows(cur, probe) == [(3, -3), (N, -5)]
    assert in_branch(cur, "b1", COUNT_SUM) == FORK
    assert len(undo_views(cur)) == 2  # one per fork point main wrote after


def test_a_branch_merges_three_way_against_its_fork_after_main_inserted(cur) -> None:
    cur.execute("SELECT branch_create('b')")
    cur.execute(f"INSERT INTO t VALUES ({N}, 1), ({N + 1}, 1)")
    cur.execute("DELETE FROM t WHERE k = 5")
    cur.execute(f"SELECT branch_query('b', 'INSERT INTO t VALUES ({N + 2}, 2)')")
    cur.execute("SELECT branch_query('b', 'UPDATE t SET v = 60 WHERE k = 6')")
    assert in_branch(cur, "b", "SELECT count(*) FROM t") == [(N + 1,)]
    cur.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
    assert rows(cur, f"SELECT k, v FROM t WHERE k IN (5, 6) OR k >= {N} ORDER BY k") == [
        (6, 60),
        (N, 1),
        (N + 1, 1),
        (N + 2, 2),
    ]
    assert undo_views(cur) == []


def test_main_writes_in_a_transaction_block(hati_server: RunningServer, cur) -> None:
    cur.execute("SELECT branch_create('b')")
    with closing(hati_server.connect(autocommit=False)) as conn:
        m = conn.cursor()
        m.execute(f"INSERT INTO t VALUES ({N}, 1)")  # the first write after the fork
        m.execute("UPDATE t SET v = -1 WHERE k < 10")
        m.execute("DELETE FROM t WHERE k BETWEEN 10 AND 19")
        conn.commit()
        m.execute("UPDATE t SET v = -2 WHERE k BETWEEN 20 AND 29")
        m.execute(f"INSERT INTO t VALUES ({N + 1}, 1)")
        assert in_branch(cur, "b", COUNT_SUM) == FORK  # not committed yet: the fork anyway
        conn.commit()
        m.execute("UPDATE t SET v = -3 WHERE k = 30")  # kept, then rolled back
        conn.rollback()
    cur.execute("UPDATE t SET v = -4 WHERE k = 30")  # so kept again here
    assert in_branch(cur, "b", COUNT_SUM) == FORK
    assert in_branch(cur, "b", "SELECT v FROM t WHERE k IN (5, 15, 25, 30) ORDER BY k") == [
        (5,),
        (15,),
        (25,),
        (30,),
    ]
    assert rows(cur, "SELECT count(*) FROM t") == [(N - 10 + 2,)]
    assert rows(cur, "SELECT v FROM t WHERE k IN (5, 25, 30) ORDER BY k") == [(-1,), (-2,), (-4,)]


def test_a_failed_main_write_keeps_nothing(cur) -> None:
    cur.execute("SELECT branch_create('b')")
    cur.execute("UPDATE t SET v = 0 WHERE k = 1")
    [view] = undo_views(cur)
    with pytest.raises(psycopg2.Error, match=r"(?i)duplicate"):
        cur.execute(f"INSERT INTO t VALUES ({N}, 1), (2, 2)")
    with pytest.raises(psycopg2.Error, match=r"(?i)duplicate"):
        cur.execute("UPDATE t SET k = 4 WHERE k = 3")
    assert kept(cur, view) == 1
    assert internal(cur, f'SELECT count(*) FROM _hati_snap."{view}$rows$hide"') == [(0,)]
    assert in_branch(cur, "b", COUNT_SUM) == FORK


def test_server_side_parameters(hati_server: RunningServer, cur) -> None:
    """psycopg 3 binds on the server: the kept rows' WHERE is the statement's own,
    numbered as the statement numbers its parameters."""
    cur.execute("SELECT branch_create('b')")
    with psycopg.connect(hati_server.dsn, autocommit=True) as c3:
        c3.execute("UPDATE t SET v = %s WHERE k = %s", (-7, 7))
        c3.execute("DELETE FROM t WHERE k = %s OR v = %s", (8, -100))
        c3.execute("UPDATE t SET k = %s WHERE k = %s", (-9, 9))
        c3.execute("INSERT INTO t VALUES (%s, %s)", (N, 1))
    assert in_branch(cur, "b", COUNT_SUM) == FORK
    assert rows(cur, "SELECT k, v FROM t WHERE k IN (7, 8, 9, -9) ORDER BY k") == [(-9, 9), (7, -7)]


def test_a_table_without_a_key(cur) -> None:
    """Key-less tables take a full copy at main's first write after the fork."""
    cur.execute("CREATE TABLE nk (a INTEGER, b INTEGER)")
    cur.execute("INSERT INTO nk SELECT range % 10, range FROM range(100)")
    cur.execute("SELECT branch_create('b')")
    cur.execute("INSERT INTO nk VALUES (1, 1)")
    cur.execute("DELETE FROM nk WHERE a = 2")
    cur.execute("UPDATE nk SET b = -b WHERE a = 3")
    cur.execute("SELECT branch_create('c')")
    cur.execute("DELETE FROM nk WHERE a = 4")
    whole = "SELECT count(*), sum(a), sum(b) FROM nk"
    assert in_branch(cur, "b", whole) == [(100, 450, 4950)]
    assert in_branch(cur, "c", whole) == [(91, 431, 3521)]
    assert rows(cur, whole) == [(81, 391, 3031)]


def test_foreign_key_actions_on_main(cur) -> None:
    """A write whose foreign-key actions run in a transaction of its own."""
    cur.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    cur.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p ON DELETE CASCADE)")
    cur.execute("INSERT INTO p SELECT range FROM range(10)")
    cur.execute("INSERT INTO c SELECT range, range % 10 FROM range(100)")
    cur.execute("SELECT branch_create('b')")
    cur.execute("DELETE FROM p WHERE id = 1")
    cur.execute("DELETE FROM p WHERE id = 2")
    assert rows(cur, "SELECT count(*) FROM c") == [(80,)]
    assert in_branch(cur, "b", "SELECT count(*) FROM c") == [(100,)]
    assert in_branch(cur, "b", "SELECT count(*) FROM p") == [(10,)]


def test_a_merge_after_main_moved_a_key(cur) -> None:
    """Found by the property test: siblings forked at one point, main inserting and
    moving keys, then one of them merged."""
    cur.execute("CREATE TABLE p (k INTEGER PRIMARY KEY, a INTEGER, b INTEGER)")
    cur.execute("SELECT branch_create('p1')")
    cur.execute("INSERT INTO p VALUES (0, NULL, NULL)")
    cur.execute("SELECT branch_create('p2')")
    cur.execute("SELECT branch_create('p3')")
    cur.execute("UPDATE p SET k = 1 WHERE k = 0")
    cur.execute("INSERT INTO p VALUES (0, NULL, NULL)")
    cur.execute("SELECT branch_query('p3', 'DELETE FROM p WHERE k = 0')")
    for name in ("p1", "p2", "p3"):
        assert in_branch(cur, name, "SELECT k FROM p ORDER BY k") == (
            [] if name == "p1" else [(0,)] if name == "p2" else []
        )
    cur.execute("SELECT * FROM branch_merge('p3', 'branch_wins')")
    assert rows(cur, "SELECT k FROM p ORDER BY k") == [(1,)]
    cur.execute("SELECT * FROM branch_merge('p2', 'branch_wins')")
    cur.execute("SELECT * FROM branch_merge('p1', 'branch_wins')")
    assert rows(cur, "SELECT k FROM p ORDER BY k") == [(1,)]


def test_a_merge_that_takes_a_snapshot_for_its_siblings(cur) -> None:
    """Found by the property test: main inserted after one fork, two siblings forked
    after that, and one of them merges (its siblings need a snapshot first)."""
    cur.execute("CREATE TABLE p (k INTEGER PRIMARY KEY, a INTEGER, b INTEGER)")
    cur.execute("SELECT branch_create('p1')")
    cur.execute("INSERT INTO p VALUES (0, NULL, NULL)")
    cur.execute("SELECT branch_create('p2')")
    cur.execute("SELECT branch_create('p3')")
    cur.execute("SELECT branch_query('p3', 'DELETE FROM p WHERE k = 0')")
    cur.execute("SELECT * FROM branch_merge('p3', 'branch_wins')")
    assert rows(cur, "SELECT count(*) FROM p") == [(0,)]
    assert in_branch(cur, "p2", "SELECT k FROM p") == [(0,)]
    assert in_branch(cur, "p1", "SELECT k FROM p") == []
