"""Result column names like PostgreSQL's: count(*) is "count", sum(x) is "sum", f(...) is "f"."""

from __future__ import annotations

import asyncio
import shutil

import asyncpg
import psycopg
import pytest

from conftest import run_psql

AGGREGATES = (
    "SELECT count(*), count(i), count(DISTINCT s), sum(i), avg(i), min(i), max(i), "
    "upper(max(s)) FROM cn"
)
PG_NAMES = ["count", "count", "count", "sum", "avg", "min", "max", "upper"]


@pytest.fixture
def server(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE cn (i INTEGER, s VARCHAR)")
        cur.execute("INSERT INTO cn VALUES (1, 'a'), (2, 'b'), (3, 'b')")
    finally:
        c.close()
    return hati_server


def test_aggregate_names_psycopg2(server):
    c = server.connect()
    try:
        cur = c.cursor()
        cur.execute(AGGREGATES)
        assert [d.name for d in cur.description] == PG_NAMES
        assert cur.fetchone()[:2] == (3, 3)
        # Aliases win; plain columns, casts of columns and other calls follow PostgreSQL.
        cur.execute(
            "SELECT count(*) AS n, sum(i) total, i, i::text, coalesce(s, 'z'), "
            "row_number() OVER (ORDER BY i), (SELECT max(i) FROM cn), "
            "CASE WHEN i > 1 THEN 'big' END FROM cn GROUP BY i, s ORDER BY i LIMIT 1"
        )
        assert [d.name for d in cur.description] == [
            "n",
            "total",
            "i",
            "i",
            "coalesce",
            "row_number",
            "max",
            "case",
        ]
        cur.execute("WITH w AS (SELECT i FROM cn) SELECT max(i) FROM w UNION ALL SELECT 0")
        assert [d.name for d in cur.description] == ["max"]
    finally:
        c.close()


def test_names_inside_a_branch_and_branch_query(server):
    c = server.connect()
    try:
        cur = c.cursor()
        cur.execute("SELECT branch_create('named')")
        cur.execute("SELECT branch_query('named', 'SELECT count(*), sum(i) FROM cn')")
        assert [d.name for d in cur.description] == ["count", "sum"]
        assert cur.fetchall() == [(3, 6)]
        cur.execute("SET hatidata_branch = 'named'")
        cur.execute("INSERT INTO cn VALUES (4, 'c')")
        cur.execute("SELECT count(*) FROM cn")
        assert [d.name for d in cur.description] == ["count"]
        assert cur.fetchone() == (4,)
    finally:
        c.close()


def test_aggregate_names_psycopg3_prepared(server):
    with psycopg.connect(
        f"host={server.host} port={server.port} user=u dbname=hati", autocommit=True
    ) as c:
        for _ in range(2):  # the second run uses the server-side prepared statement
            cur = c.execute(AGGREGATES + " WHERE i > %s", (0,), prepare=True, binary=True)
            assert [d.name for d in cur.description] == PG_NAMES
            assert cur.fetchone()[0] == 3


def test_aggregate_names_asyncpg(server):
    async def main():
        c = await asyncpg.connect(
            host=server.host, port=server.port, user="u", database="hati", timeout=10
        )
        try:
            row = await c.fetchrow("SELECT count(*), sum(i) FROM cn WHERE i >= $1", 2)
            stmt = await c.prepare("SELECT count(*), max(s) FROM cn")
            return dict(row), [a.name for a in stmt.get_attributes()]
        finally:
            await c.close()

    row, attrs = asyncio.run(main())
    assert row == {"count": 2, "sum": 5}
    assert attrs == ["count", "max"]


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")
def test_aggregate_names_psql(server):
    proc = run_psql(
        server,
        "-A",
        "-c",
        "SELECT count(*), sum(i) FROM cn",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["count|sum", "3|6"]
