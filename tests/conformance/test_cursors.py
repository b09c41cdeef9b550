"""Server-side cursors: psycopg2 named cursors, DECLARE/FETCH/MOVE/CLOSE, WITH HOLD, and
portals with a row limit (asyncpg cursors, psycopg 3 fetchmany on a prepared portal).

A million-row cursor streams from DuckDB: the Arrow memory the server holds stays a few
batches while the client reads every row. The cursor semantics are checked against
PostgreSQL in tests/differential/corpus/cursors.sql.
"""

from __future__ import annotations

import asyncio
import threading

import asyncpg
import psycopg
import psycopg2
import pyarrow as pa
import pytest

from conftest import rows

pytestmark = pytest.mark.server

MILLION = 1_000_000
WIDE = f"SELECT i AS id, repeat('x', 100) || i AS pad FROM range({MILLION}) AS r(i)"


class ArrowPeak:
    """The most Arrow memory this process held while the block ran (sampled)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> ArrowPeak:
        self.base = pa.total_allocated_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def sample(self) -> None:
        self.peak = max(self.peak, pa.total_allocated_bytes() - self.base)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.sample()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _read_named(conn, sql: str) -> tuple[int, int, int]:
    """Every row of ``sql`` through a psycopg2 named cursor: (count, sum of ids, peak)."""
    count = total = 0
    with ArrowPeak() as peak, conn.cursor("big") as cur:
        cur.itersize = 5000
        cur.execute(sql)
        for row in cur:
            count += 1
            total += row[0]
            if count % 5000 == 0:
                peak.sample()
    conn.commit()
    return count, total, peak.peak


def test_psycopg2_named_cursor_streams_a_million_rows(hati_server) -> None:
    conn = hati_server.connect(autocommit=False)
    try:
        count, total, peak = _read_named(conn, WIDE)
    finally:
        conn.close()
    assert count == MILLION
    assert total == MILLION * (MILLION - 1) // 2
    # all the rows are ~110 MB as Arrow; a streaming cursor holds a few batches
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MB of Arrow memory held"


def test_psycopg2_named_cursor_in_a_branch(hati_server) -> None:
    setup = hati_server.connect()
    cur = setup.cursor()
    cur.execute("CREATE TABLE big (id BIGINT PRIMARY KEY, pad TEXT)")
    cur.execute(f"INSERT INTO big {WIDE}")
    cur.execute("SELECT branch_create('reader')")
    cur.execute("SET hatidata_branch = 'reader'")
    cur.execute("UPDATE big SET pad = 'changed' WHERE id < 10")
    setup.close()
    conn = hati_server.connect(autocommit=False, hatidata_branch="reader")
    try:
        with conn.cursor("changed") as named:
            named.execute("SELECT id, pad FROM big WHERE id < 12 ORDER BY id")
            first = named.fetchmany(10)
            rest = named.fetchall()
        conn.commit()
        count, total, _ = _read_named(conn, "SELECT id FROM big")
    finally:
        conn.close()
    assert first == [(i, "changed") for i in range(10)]
    assert [r[0] for r in rest] == [10, 11] and rest[0][1].startswith("xxx")
    assert (count, total) == (MILLION, MILLION * (MILLION - 1) // 2)


def test_declare_fetch_move_close(conn) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE t AS SELECT i AS id FROM range(10) AS r(i)")
    conn.autocommit = False
    cur.execute("DECLARE c CURSOR FOR SELECT id FROM t ORDER BY id")
    assert rows(cur, "FETCH 3 FROM c") == [(0,), (1,), (2,)]
    cur.execute("MOVE FORWARD 2 IN c")
    assert cur.statusmessage == "MOVE 2"
    assert rows(cur, "FETCH NEXT c") == [(5,)]
    assert rows(cur, "SELECT count(*) FROM t") == [(10,)]  # another statement meanwhile
    assert rows(cur, "FETCH ALL c") == [(6,), (7,), (8,), (9,)]
    assert rows(cur, "FETCH c") == []
    cur.execute("CLOSE c")
    with pytest.raises(psycopg2.errors.InvalidCursorName):
        cur.execute("FETCH c")
    conn.rollback()
    cur.execute("DECLARE s SCROLL CURSOR FOR SELECT id FROM t ORDER BY id")
    assert rows(cur, "FETCH LAST s") == [(9,)]
    assert rows(cur, "FETCH BACKWARD 2 s") == [(8,), (7,)]
    assert rows(cur, "FETCH ABSOLUTE 2 s") == [(1,)]
    cur.execute("DECLARE h CURSOR WITH HOLD FOR SELECT id FROM t ORDER BY id")
    conn.commit()
    assert rows(cur, "FETCH 2 h") == [(0,), (1,)]
    with pytest.raises(psycopg2.errors.InvalidCursorName):
        cur.execute("FETCH s")  # WITHOUT HOLD: gone with its transaction
    conn.rollback()
    cur.execute("CLOSE ALL")
    conn.commit()


def test_declare_outside_a_transaction_is_25p01(conn) -> None:
    cur = conn.cursor()
    with pytest.raises(psycopg2.errors.NoActiveSqlTransaction):
        cur.execute("DECLARE c CURSOR FOR SELECT 1")


def test_psycopg3_server_cursor(hati_server) -> None:
    with psycopg.connect(
        f"host={hati_server.host} port={hati_server.port} user=u dbname=hati"
    ) as c:
        with c.cursor(name="srv") as cur:
            cur.execute("SELECT i FROM range(%s) AS r(i) ORDER BY i", (25_000,))
            first = cur.fetchmany(100)
            listed = c.execute("SELECT name FROM pg_cursors").fetchall()
            rest = cur.fetchall()
        assert listed == [("srv",)]
        assert c.execute("SELECT name FROM pg_cursors").fetchall() == []  # psycopg closed it
        assert [r[0] for r in first] == list(range(100))
        assert len(rest) == 24_900 and rest[-1] == (24_999,)


def test_asyncpg_cursor_uses_portals_with_a_row_limit(hati_server) -> None:
    async def go() -> tuple[list, list, int]:
        c = await asyncpg.connect(
            host=hati_server.host, port=hati_server.port, user="u", database="hati"
        )
        try:
            async with c.transaction():
                cur = await c.cursor("SELECT i FROM range(100000) AS r(i) ORDER BY i")
                first = await cur.fetch(5)
                await cur.forward(10)
                nxt = await cur.fetch(2)
                n = 0
                async for _ in c.cursor(
                    "SELECT i FROM range($1::bigint) AS r(i)", 30_000, prefetch=1000
                ):
                    n += 1
            return [r[0] for r in first], [r[0] for r in nxt], n
        finally:
            await c.close()

    first, nxt, n = asyncio.run(go())
    assert first == [0, 1, 2, 3, 4]
    assert nxt == [15, 16]
    assert n == 30_000
