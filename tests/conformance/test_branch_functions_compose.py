"""Branch functions as drivers call them: prepared and described with parameters
(asyncpg, psycopg 3 prepare=True), and as set-returning functions inside larger queries."""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg
import pytest

pytestmark = pytest.mark.server


def _asyncpg(server, work):
    async def go():
        c = await asyncpg.connect(host=server.host, port=server.port, user="u", database="hati")
        try:
            return await work(c)
        finally:
            await c.close()

    return asyncio.run(go())


def test_asyncpg_calls_branch_functions_with_parameters(hati_server) -> None:
    async def work(c):
        await c.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        created = await c.fetchval("SELECT branch_create($1)", "a1")
        listed = await c.fetch("SELECT * FROM branch_list()")
        stmt = await c.prepare("SELECT * FROM branch_diff($1)")
        described = [(a.name, a.type.name) for a in stmt.get_attributes()]
        diff = await stmt.fetch("a1")
        merged = await c.fetchrow("SELECT * FROM branch_merge($1, $2)", "a1", "branch_wins")
        return created, [r["name"] for r in listed], described, diff, dict(merged)

    created, names, described, diff, merged = _asyncpg(hati_server, work)
    assert created == "a1"
    assert names == ["a1"]
    assert [n for n, _ in described] == ["table_name", "change", "key", "old_values", "new_values"]
    assert diff == []
    assert merged["branch"] == "a1" and merged["status"] == "merged"


def test_asyncpg_described_columns_match_the_rows(hati_server) -> None:
    async def work(c):
        await c.fetchval("SELECT branch_create($1)", "d1")
        stmt = await c.prepare("SELECT branch_discard($1)")
        cols = [a.name for a in stmt.get_attributes()]
        return cols, await stmt.fetchval("d1")

    cols, value = _asyncpg(hati_server, work)
    assert cols == ["branch_discard"]
    assert value == "d1"


def test_psycopg3_prepared_branch_calls(hati_server) -> None:
    with psycopg.connect(
        f"host={hati_server.host} port={hati_server.port} user=u dbname=hati", autocommit=True
    ) as c:
        for name in ("p1", "p2"):
            assert c.execute("SELECT branch_create(%s)", (name,), prepare=True).fetchall() == [
                (name,)
            ]
        rows = c.execute("SELECT * FROM branch_list()", prepare=True).fetchall()
        assert sorted(r[0] for r in rows) == ["p1", "p2"]
        c.execute("SELECT branch_discard(%s)", ("p1",), prepare=True)
        rows = c.execute("SELECT * FROM branch_list()", prepare=True).fetchall()
        assert [r[0] for r in rows] == ["p2"]


@pytest.fixture
def two_branches(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
    cur.execute("CREATE TABLE u (id INT PRIMARY KEY)")
    cur.execute("INSERT INTO t VALUES (1, 'a')")
    cur.execute("SELECT branch_create('b')")
    cur.execute("SELECT branch_create('c')")
    cur.execute("SELECT branch_query('b', 'INSERT INTO t VALUES (2, ''x''), (3, ''y'')')")
    cur.execute("SELECT branch_query('b', 'INSERT INTO u VALUES (5)')")
    return cur


def _rows(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchall()


def test_branch_list_in_a_larger_query(two_branches) -> None:
    cur = two_branches
    assert _rows(cur, "SELECT name FROM branch_list() ORDER BY name DESC") == [("c",), ("b",)]
    assert _rows(cur, "SELECT count(*) FROM branch_list()") == [(2,)]
    assert _rows(cur, "SELECT x.n FROM branch_list() AS x(n) WHERE x.n LIKE 'c%'") == [("c",)]
    assert _rows(
        cur, "SELECT name, rows_changed FROM branch_list() WHERE parent = %s ORDER BY 2", ("main",)
    ) == [("c", 0), ("b", 3)]


def test_branch_diff_filtered_grouped_and_joined(two_branches) -> None:
    cur = two_branches
    got = _rows(cur, "SELECT table_name, change FROM branch_diff('b') WHERE table_name = 't'")
    assert got == [("t", "insert"), ("t", "insert")]
    grouped = "SELECT table_name, count(*) FROM branch_diff('b') GROUP BY 1 ORDER BY 1"
    assert _rows(cur, grouped) == [("t", 2), ("u", 1)]
    joined = (
        "SELECT l.name, count(d.table_name) FROM branch_list() AS l "
        "LEFT JOIN branch_diff('b') AS d ON l.name = 'b' GROUP BY l.name ORDER BY l.name"
    )
    assert _rows(cur, joined) == [("b", 3), ("c", 0)]
    with_main = "SELECT t.id FROM t JOIN branch_diff('b') AS d ON d.table_name = 't' ORDER BY d.key"
    assert _rows(cur, with_main) == [(1,), (1,)]
    assert _rows(cur, "SELECT count(*) FROM branch_conflicts('b')") == [(0,)]


def test_composed_inside_a_branch(two_branches) -> None:
    cur = two_branches
    cur.execute("SET hatidata_branch = 'c'")
    assert _rows(cur, "SELECT name FROM branch_list() ORDER BY name") == [("b",), ("c",)]
    assert _rows(cur, "SELECT count(*) FROM branch_diff('b') WHERE table_name = 'u'") == [(1,)]


def test_side_effecting_functions_stay_standalone(two_branches) -> None:
    cur = two_branches
    with pytest.raises(Exception) as err:
        cur.execute("SELECT x FROM (SELECT branch_create('zz') AS x) AS s")
    assert err.value.pgcode == "0A000"
    assert _rows(cur, "SELECT count(*) FROM branch_list() WHERE name = 'zz'") == [(0,)]


def test_asyncpg_composed_queries_with_parameters(hati_server, two_branches) -> None:
    async def work(c):
        names = await c.fetch("SELECT name FROM branch_list() WHERE name <> $1 ORDER BY 1", "c")
        diff = await c.fetch(
            "SELECT table_name, count(*) AS n FROM branch_diff($1) WHERE table_name = $2 "
            "GROUP BY 1",
            "b",
            "t",
        )
        return [r["name"] for r in names], [tuple(r) for r in diff]

    names, diff = _asyncpg(hati_server, work)
    assert names == ["b"]
    assert diff == [("t", 2)]


@pytest.mark.parametrize(
    "value", ["public", "'\"$user\", public'", "pg_catalog", "public, pg_catalog", "DEFAULT"]
)
def test_harmless_search_path_in_a_branch(two_branches, value) -> None:
    cur = two_branches
    cur.execute("SET hatidata_branch = 'b'")
    cur.execute(f"SET search_path TO {value}")
    assert cur.statusmessage == "SET"
    assert _rows(cur, "SELECT count(*) FROM t") == [(3,)]  # still the branch's rows
    cur.execute("INSERT INTO t VALUES (4, 'z')")
    cur.execute("RESET hatidata_branch")
    assert _rows(cur, "SELECT count(*) FROM t") == [(1,)]


def test_asyncpg_branch_query_with_a_literal_statement(hati_server, two_branches) -> None:
    async def work(c):
        got = await c.fetch("SELECT branch_query('b', 'SELECT id, v FROM t ORDER BY id')")
        status = await c.fetch("SELECT branch_query('b', 'DELETE FROM t WHERE id = 3')")
        return [tuple(r) for r in got], [tuple(r) for r in status]

    got, status = _asyncpg(hati_server, work)
    assert got == [(1, "a"), (2, "x"), (3, "y")]
    assert status == [("DELETE 1", 1)]
