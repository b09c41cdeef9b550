"""The branch namespace cache (branching/space.py ``cached_namespace``): what a branch
statement reads of its schema is cached between statements, and every way the schema
changes is seen by the next statement of every session: another session's commit of
a first write or of DDL, a rollback, a merge into the branch, a parent's write that
re-points the branch's views, and the session's own open transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg2
import pytest

from conftest import RunningServer, rows


@pytest.fixture
def main(hati_server: RunningServer) -> Iterator[Any]:
    with closing(hati_server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
        c.execute("INSERT INTO t SELECT range, 0 FROM range(20)")
        c.execute("SELECT branch_create('b')")
        yield c


@pytest.fixture
def two(hati_server: RunningServer, main: Any) -> Iterator[tuple[Any, Any, Any, Any]]:
    """Two sessions in branch b, autocommit: (cursor1, cursor2, conn1, conn2)."""
    with closing(hati_server.connect()) as c1, closing(hati_server.connect()) as c2:
        a, b = c1.cursor(), c2.cursor()
        for c in (a, b):
            c.execute("SET hatidata_branch = 'b'")
        yield a, b, c1, c2


def test_another_sessions_first_write_is_seen(two) -> None:
    a, b, c1, _ = two
    assert rows(b, "SELECT v FROM t WHERE k = 1") == [(0,)]  # b's namespace cached: empty
    c1.autocommit = False
    a.execute("UPDATE t SET v = 1 WHERE k = 1")  # creates the delta, not committed
    assert rows(b, "SELECT v FROM t WHERE k = 1") == [(0,)]
    c1.commit()
    assert rows(b, "SELECT v FROM t WHERE k = 1") == [(1,)]
    b.execute("UPDATE t SET v = 2 WHERE k = 2")  # writes the delta a created
    assert rows(a, "SELECT k, v FROM t WHERE v > 0 ORDER BY k") == [(1, 1), (2, 2)]


def test_another_sessions_ddl_is_seen(two) -> None:
    a, b, _, _ = two
    assert rows(b, "SELECT count(*) FROM t") == [(20,)]
    a.execute("CREATE TABLE u (x INTEGER)")
    a.execute("INSERT INTO u VALUES (5)")
    assert rows(b, "SELECT x FROM u") == [(5,)]
    a.execute("DROP TABLE t")
    with pytest.raises(psycopg2.errors.UndefinedTable):
        b.execute("SELECT * FROM t")


def test_a_rolled_back_first_write_leaves_no_delta_behind(two) -> None:
    a, b, c1, _ = two
    c1.autocommit = False
    a.execute("UPDATE t SET v = 7 WHERE k = 3")
    assert rows(a, "SELECT v FROM t WHERE k = 3") == [(7,)]  # its own open transaction
    c1.rollback()
    c1.autocommit = True
    assert rows(a, "SELECT v FROM t WHERE k = 3") == [(0,)]
    a.execute("UPDATE t SET v = 8 WHERE k = 3")  # the delta is made again
    assert rows(b, "SELECT v FROM t WHERE k = 3") == [(8,)]


def test_own_transaction_sees_its_own_ddl(two) -> None:
    a, b, c1, _ = two
    c1.autocommit = False
    a.execute("CREATE TABLE w (x INTEGER)")
    a.execute("INSERT INTO w VALUES (1)")
    a.execute("UPDATE t SET v = 9 WHERE k = 4")
    assert rows(a, "SELECT x FROM w") == [(1,)]
    assert rows(a, "SELECT v FROM t WHERE k = 4") == [(9,)]
    with pytest.raises(psycopg2.errors.UndefinedTable):
        b.execute("SELECT * FROM w")
    c1.commit()
    assert rows(b, "SELECT x FROM w") == [(1,)]


def test_a_merge_into_the_branch_is_seen(hati_server, main, two) -> None:
    a, b, _, _ = two
    assert rows(b, "SELECT v FROM t WHERE k = 5") == [(0,)]
    main.execute("SELECT branch_create('kid', 'b')")
    main.execute("SELECT branch_query('kid', 'UPDATE t SET v = 50 WHERE k = 5')")
    main.execute("SELECT branch_query('kid', 'CREATE TABLE z (x INTEGER)')")
    main.execute("SELECT * FROM branch_merge('kid')")
    assert rows(b, "SELECT v FROM t WHERE k = 5") == [(50,)]
    assert rows(b, "SELECT count(*) FROM z") == [(0,)]
    a.execute("UPDATE t SET v = 51 WHERE k = 5")
    assert rows(b, "SELECT v FROM t WHERE k = 5") == [(51,)]


def test_a_parent_write_re_points_the_branch(hati_server, main, two) -> None:
    """main writes after the fork: the branch's delta view moves to a snapshot, and
    the branch (cached namespace and all) keeps reading the fork's version."""
    a, b, _, _ = two
    a.execute("UPDATE t SET v = 1 WHERE k = 6")
    assert rows(b, "SELECT k, v FROM t WHERE k IN (6, 7) ORDER BY k") == [(6, 1), (7, 0)]
    main.execute("UPDATE t SET v = 70 WHERE k = 7")
    main.execute("INSERT INTO t VALUES (100, 1)")
    assert rows(b, "SELECT k, v FROM t WHERE k IN (6, 7, 100) ORDER BY k") == [(6, 1), (7, 0)]
    b.execute("UPDATE t SET v = 2 WHERE k = 7")
    assert rows(a, "SELECT k, v FROM t WHERE k IN (6, 7, 100) ORDER BY k") == [(6, 1), (7, 2)]
    assert rows(main, "SELECT k, v FROM t WHERE k IN (6, 7, 100) ORDER BY k") == [
        (6, 0),
        (7, 70),
        (100, 1),
    ]
