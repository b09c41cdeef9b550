"""Command tags like PostgreSQL's: WITH ... UPDATE/DELETE/INSERT and TRUNCATE are commands."""

from __future__ import annotations

import asyncio
import shutil

import asyncpg
import pytest

from conftest import run_psql


def _setup(cur) -> None:
    cur.execute("CREATE TABLE tg (i INTEGER, s VARCHAR)")
    cur.execute("INSERT INTO tg VALUES (1, 'a'), (2, 'b'), (3, 'c')")


def test_with_update_delete_insert_tags_psycopg2(conn):
    cur = conn.cursor()
    _setup(cur)
    cur.execute("WITH lim AS (SELECT 2 AS n) UPDATE tg SET s = 'u' WHERE i <= (SELECT n FROM lim)")
    assert cur.statusmessage == "UPDATE 2"
    assert cur.description is None and cur.rowcount == 2
    cur.execute(
        "WITH RECURSIVE src(v) AS (SELECT 10 UNION ALL SELECT v + 1 FROM src WHERE v < 12) "
        "INSERT INTO tg SELECT v, 'r' FROM src"
    )
    assert cur.statusmessage == "INSERT 0 3"
    assert cur.description is None and cur.rowcount == 3
    cur.execute("WITH gone AS (SELECT 'r' AS s) DELETE FROM tg WHERE s IN (SELECT s FROM gone)")
    assert cur.statusmessage == "DELETE 3"
    assert cur.description is None
    cur.execute("WITH x AS (SELECT 1 AS one) SELECT one FROM x")
    assert cur.statusmessage == "SELECT 1" and cur.fetchall() == [(1,)]
    cur.execute("SELECT s FROM tg ORDER BY i")
    assert cur.fetchall() == [("u",), ("u",), ("c",)]


def test_truncate_tag_psycopg2(conn):
    cur = conn.cursor()
    _setup(cur)
    cur.execute("TRUNCATE tg")
    assert cur.statusmessage == "TRUNCATE TABLE"
    assert cur.description is None
    cur.execute("SELECT count(*) FROM tg")
    assert cur.fetchone() == (0,)


def test_tags_inside_a_branch(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        _setup(cur)
        cur.execute("SELECT branch_create('tagged')")
        cur.execute("SET hatidata_branch = 'tagged'")
        cur.execute("WITH x AS (SELECT 1 AS k) UPDATE tg SET s = 'b!' WHERE i IN (SELECT k FROM x)")
        assert cur.statusmessage == "UPDATE 1" and cur.description is None
        cur.execute("TRUNCATE tg")
        assert cur.statusmessage == "TRUNCATE TABLE" and cur.description is None
        cur.execute("SELECT count(*) FROM tg")
        assert cur.fetchone() == (0,)
        cur.execute("RESET hatidata_branch")
        cur.execute("SELECT count(*) FROM tg")
        assert cur.fetchone() == (3,)  # main is untouched
    finally:
        c.close()


def test_tags_asyncpg(hati_server):
    async def main():
        c = await asyncpg.connect(
            host=hati_server.host, port=hati_server.port, user="u", database="hati", timeout=10
        )
        try:
            await c.execute("CREATE TABLE ta (i INTEGER)")
            await c.execute("INSERT INTO ta VALUES (1), (2)")
            tags = [
                await c.execute(
                    "WITH x AS (SELECT $1::INTEGER AS v) INSERT INTO ta SELECT v FROM x", 5
                ),
                await c.execute("WITH x AS (SELECT 1) UPDATE ta SET i = i + 1"),
                await c.execute("WITH x AS (SELECT 1) DELETE FROM ta WHERE i > 2"),
                await c.execute("TRUNCATE ta"),
            ]
            return tags
        finally:
            await c.close()

    assert asyncio.run(main()) == ["INSERT 0 1", "UPDATE 3", "DELETE 2", "TRUNCATE TABLE"]


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")
def test_tags_psql(hati_server):
    hati_server.query("CREATE TABLE tp (i INTEGER)")
    proc = run_psql(
        hati_server,
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "INSERT INTO tp VALUES (1), (2)",
        "-c",
        "WITH x AS (SELECT 1) UPDATE tp SET i = i * 10",
        "-c",
        "TRUNCATE tp",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["INSERT 0 2", "UPDATE 2", "TRUNCATE TABLE"]


def test_returning_keeps_the_dml_tag(hati_server):
    """INSERT/UPDATE/DELETE ... RETURNING send rows and then their own tag, on main and
    in a branch (psycopg2 reads rowcount from it)."""
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE rt (k INTEGER PRIMARY KEY, v INTEGER)")
        cur.execute("INSERT INTO rt VALUES (1, 10), (2, 20) RETURNING k")
        assert cur.statusmessage == "INSERT 0 2" and cur.rowcount == 2
        assert sorted(cur.fetchall()) == [(1,), (2,)]
        cur.execute("SELECT branch_create('ret')")
        cur.execute("SET hatidata_branch = 'ret'")
        cur.execute("UPDATE rt SET v = v + 1 RETURNING k, v")
        assert cur.statusmessage == "UPDATE 2" and sorted(cur.fetchall()) == [(1, 11), (2, 21)]
        cur.execute("DELETE FROM rt WHERE k = 1 RETURNING v")
        assert cur.statusmessage == "DELETE 1" and cur.fetchall() == [(11,)]
        cur.execute("RESET hatidata_branch")
        cur.execute(
            "SELECT command, rows FROM hati_audit WHERE sql LIKE 'DELETE FROM rt%' ORDER BY seq"
        )
        assert cur.fetchall() == [("DELETE 1", 1)]
    finally:
        c.close()


def test_returning_tag_asyncpg(hati_server):
    async def go() -> None:
        conn = await asyncpg.connect(host=hati_server.host, port=hati_server.port, user="t")
        try:
            await conn.execute("CREATE TABLE ra (k INTEGER PRIMARY KEY)")
            assert await conn.execute("INSERT INTO ra VALUES (1), (2) RETURNING k") == "INSERT 0 2"
            assert await conn.fetch("DELETE FROM ra WHERE k = $1 RETURNING k", 2) == [(2,)]
        finally:
            await conn.close()

    asyncio.run(go())
