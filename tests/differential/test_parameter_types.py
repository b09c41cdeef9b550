"""ParameterDescription on hati and on a real PostgreSQL, for the same prepared statements.

asyncpg encodes each bound value by the type the server describes, so a type that
differs from PostgreSQL's makes a client reject a value PostgreSQL would take.
"""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg
import pytest

from conftest import RunningServer
from difftest.pgserver import PgServer

pytestmark = pytest.mark.server

SETUP = "CREATE TABLE rp (i int PRIMARY KEY, d date, s text, v text, n numeric, b boolean)"
STATEMENTS = [
    "SELECT s FROM rp WHERE i = $1 AND d > $2 AND s = $3::VARCHAR",
    "SELECT $1::int + 1, $2::bigint, $3::float8, $4::boolean, $5::date",
    "SELECT CAST($1 AS timestamp with time zone), $2::text[], $3::int[]",
    "UPDATE rp SET s = $1, n = $2 WHERE i IN ($3, $4)",
    "DELETE FROM rp WHERE d BETWEEN $1 AND $2",
    "INSERT INTO rp VALUES ($1, $2, $3, $4, $5, $6)",
    "INSERT INTO rp (s, i) VALUES ($1, $2) ON CONFLICT (i) DO UPDATE SET b = $3",
    "SELECT * FROM rp WHERE s LIKE $1 OR $2 = v",
    "SELECT * FROM public.rp WHERE b = $1",
    # arithmetic: an unknown operand takes the other operand's type (pgbench -M extended)
    "UPDATE rp SET i = i + $1, n = n - $2 WHERE i = $3",
    "SELECT i * $1, $2 / i, abs(i - $3), n + $4 FROM rp",
    "SELECT $1 + 1, 2.5 * $2, $3 - 10000000000, -$4::int",
    "SELECT * FROM rp WHERE i + $1 > $2 AND $3 % 2 = 0",
]


def describe(
    host: str, port: int, user: str, database: str, setup: str = SETUP, statements=STATEMENTS
) -> list[list[str]]:
    async def body() -> list[list[str]]:
        conn = await asyncpg.connect(host=host, port=port, user=user, database=database)
        try:
            await conn.execute(setup)
            out = []
            for sql in statements:
                stmt = await conn.prepare(sql)
                out.append([t.name for t in stmt.get_parameters()])
            return out
        finally:
            await conn.close()

    return asyncio.run(body())


def test_parameter_types_are_postgresqls(pg: PgServer, hati_server: RunningServer) -> None:
    expected = describe("127.0.0.1", pg.port, pg.user, "postgres")
    got = describe(hati_server.host, hati_server.port, "tester", "hati")
    # Where PostgreSQL infers a type, hati must report that type.
    mismatches = [
        (sql, want, have)
        for sql, want, have in zip(STATEMENTS, expected, got, strict=True)
        if want != have
    ]
    assert not mismatches, "\n".join(f"{s}\n  pg:   {w}\n  hati: {h}" for s, w, h in mismatches)


@pytest.mark.xfail(
    strict=True,
    reason="DuckDB keeps one string type: a varchar(n) column is described as text",
)
def test_a_varchar_column_describes_its_parameter_as_varchar(
    pg: PgServer, hati_server: RunningServer
) -> None:
    setup = "CREATE TABLE rv (v varchar(10))"
    statements = ["SELECT * FROM rv WHERE v = $1"]
    expected = describe("127.0.0.1", pg.port, pg.user, "postgres", setup, statements)
    assert expected == [["varchar"]]
    assert (
        describe(hati_server.host, hati_server.port, "tester", "hati", setup, statements)
        == expected
    )


UNTYPED = [  # psycopg 3 sends a str as an untyped (oid 0) text parameter
    ("UPDATE rp SET i = i + %s, n = n - %s WHERE i = %s", ("10", "0.5", "1")),
    ("SELECT i * %s, %s + 1, 2.5 * %s, n + %s FROM rp ORDER BY i", ("3", "41", "2", "1.25")),
    ("SELECT * FROM rp WHERE i + %s > %s ORDER BY i", ("1", "5")),
    ("SELECT %s + 1", ("abc",)),
    ("SELECT count(*) FROM rp WHERE b = %s AND s = %s", ("true", "x")),
    ("SELECT count(*) FROM rp WHERE b = %s OR b = %s OR b = %s", (" Of", "TR", "n")),
    ("SELECT count(*) FROM rp WHERE b = %s", ("maybe",)),
]


def _untyped(dsn: str) -> list[object]:
    out: list[object] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS rp")
        conn.execute(SETUP)
        conn.execute("INSERT INTO rp (i, n, b, s) VALUES (1, 2.5, true, 'x'), (7, 1, false, 'y')")
        for sql, args in UNTYPED:
            try:
                cur = conn.execute(sql, args)
                out.append(cur.fetchall() if cur.description else cur.rowcount)
            except psycopg.Error as exc:
                out.append(exc.sqlstate)
    return out


def test_untyped_text_parameters_take_postgresqls_types(
    pg: PgServer, hati_server: RunningServer
) -> None:
    """pgbench -M extended's ``abalance + $1``: the value arrives as text with no type;
    PostgreSQL types it by the other operand and so must hati."""
    expected = _untyped(f"host=127.0.0.1 port={pg.port} user={pg.user} dbname=postgres")
    got = _untyped(f"host={hati_server.host} port={hati_server.port} user=u dbname=hati")
    assert expected[3] == "22P02"
    assert got == expected
