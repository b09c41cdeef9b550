"""RETURNING lists DuckDB cannot run in place (subqueries, an UPDATE's FROM items),
through psycopg's extended protocol (described before they run) and in a branch."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture
def pconn(hati_server):
    with psycopg.connect(
        f"host={hati_server.host} port={hati_server.port} user=u dbname=hati", autocommit=True
    ) as c:
        c.execute("CREATE TABLE rt (id int PRIMARY KEY, v text, n int)")
        c.execute("CREATE TABLE rl (id int, label text)")
        c.execute("INSERT INTO rt VALUES (1, 'a', 10), (2, 'b', 20)")
        c.execute("INSERT INTO rl VALUES (1, 'one'), (2, 'two')")
        yield c


def test_subquery_in_returning_prepared(pconn) -> None:
    cur = pconn.execute(
        "UPDATE rt SET n = n + %s WHERE id = %s "
        "RETURNING id, n, (SELECT label FROM rl WHERE rl.id = rt.id) AS label",
        (5, 2),
        prepare=True,
    )
    assert [d.name for d in cur.description] == ["id", "n", "label"]
    assert cur.fetchall() == [(2, 25, "two")]
    assert cur.statusmessage == "UPDATE 1"


def test_update_from_returning_prepared(pconn) -> None:
    cur = pconn.execute(
        "UPDATE rt SET v = upper(v) FROM rl WHERE rl.id = rt.id AND rl.id = %s RETURNING *",
        (1,),
        prepare=True,
    )
    assert [d.name for d in cur.description] == ["id", "v", "n", "id", "label"]
    assert cur.fetchall() == [(1, "A", 10, 1, "one")]
    assert pconn.execute("SELECT v FROM rt ORDER BY id").fetchall() == [("A",), ("b",)]


def test_delete_returning_subquery_in_a_branch(pconn) -> None:
    pconn.execute("SELECT branch_create('rb')")
    pconn.execute("SET hatidata_branch = 'rb'")
    cur = pconn.execute(
        "DELETE FROM rt WHERE id = 2 RETURNING n, (SELECT label FROM rl WHERE rl.id = rt.id)"
    )
    assert cur.fetchall() == [(20, "two")]
    assert pconn.execute("SELECT id FROM rt ORDER BY id").fetchall() == [(1,)]
    pconn.execute("SET hatidata_branch = 'main'")
    assert pconn.execute("SELECT id FROM rt ORDER BY id").fetchall() == [(1,), (2,)]


def test_joined_and_cte_writes_return_rows_in_a_branch(pconn) -> None:
    pconn.execute("SELECT branch_create('rj')")
    pconn.execute("SET hatidata_branch = 'rj'")
    cur = pconn.execute(
        "DELETE FROM rt USING rl WHERE rl.id = rt.id AND rl.id = 2 RETURNING rl.label, rt.n"
    )
    assert cur.fetchall() == [("two", 20)]
    cur = pconn.execute("WITH d AS (DELETE FROM rt WHERE id = 1 RETURNING n) SELECT n FROM d")
    assert cur.fetchall() == [(10,)]
    assert pconn.execute("SELECT count(*) FROM rt").fetchall() == [(0,)]
    pconn.execute("SET hatidata_branch = 'main'")
    assert pconn.execute("SELECT count(*) FROM rt").fetchall() == [(2,)]
