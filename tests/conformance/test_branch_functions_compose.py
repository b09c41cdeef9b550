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
