"""No rows lost on the wire: large results arrive whole through every client and protocol.

(Found by the concurrency test: simple-query results were cut at 2,000 rows.)
"""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg
import pytest

from conftest import RunningServer

SIZES = [1999, 2000, 2001, 4000, 4001, 12_345]


@pytest.fixture
def big(hati_server: RunningServer) -> RunningServer:
    hati_server.query(f"CREATE TABLE big AS SELECT range AS i FROM range({max(SIZES)})")
    return hati_server


def test_psycopg2_simple_query_returns_every_row(big: RunningServer) -> None:
    conn = big.connect()
    with conn.cursor() as cur:
        for n in SIZES:
            cur.execute(f"SELECT i FROM big WHERE i < {n}")
            rows = cur.fetchall()
            assert len(rows) == n and cur.rowcount == n, (n, len(rows), cur.rowcount)
            assert sorted(r[0] for r in rows) == list(range(n))
        # Several large results in one Query message.
        cur.execute("SELECT i FROM big WHERE i < 2500; SELECT i FROM big WHERE i < 4100")
        assert len(cur.fetchall()) == 4100
        cur.execute("SELECT branch_create('bigb')")
        cur.execute("SELECT * FROM branch_query('bigb', 'SELECT i FROM big')")
        assert len(cur.fetchall()) == max(SIZES)
        cur.execute("SET hatidata_branch = 'bigb'")
        cur.execute("SELECT i FROM big")
        assert len(cur.fetchall()) == max(SIZES)
    conn.close()


def test_psycopg3_and_asyncpg_return_every_row(big: RunningServer) -> None:
    dsn = f"host=127.0.0.1 port={big.port} user=big dbname=hati"
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in SIZES:
            assert len(conn.execute("SELECT i FROM big WHERE i < %s", [n]).fetchall()) == n
            assert len(conn.execute(f"SELECT i FROM big WHERE i < {n}").fetchall()) == n

    async def go() -> None:
        c = await asyncpg.connect(host="127.0.0.1", port=big.port, user="big", database="hati")
        try:
            for n in SIZES:
                assert len(await c.fetch("SELECT i FROM big WHERE i < CAST($1 AS BIGINT)", n)) == n
            # A portal read 1,000 rows per Execute (PortalSuspended in between).
            async with c.transaction():
                seen = [r[0] async for r in c.cursor("SELECT i FROM big", prefetch=1000)]
            assert sorted(seen) == list(range(max(SIZES)))
        finally:
            await c.close()

    asyncio.run(go())
