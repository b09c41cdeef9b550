"""Result values through real clients: PostgreSQL's text (psycopg2), binary (psycopg 3, asyncpg)."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import uuid

import asyncpg
import psycopg
import psycopg2
import psycopg2.extensions
import pytest

from conftest import internal


def _raw_text(conn) -> None:
    """Keep every value as the text the server sent."""
    cur = conn.cursor()
    cur.execute("SELECT oid FROM pg_type")
    oids = tuple(r[0] for r in cur.fetchall())
    wanted = (
        16,
        20,
        21,
        23,
        25,
        700,
        701,
        1043,
        1082,
        1083,
        1114,
        1184,
        1186,
        1266,
        1700,
        2249,
        114,
        1009,
    )
    raw = psycopg2.extensions.new_type(tuple(set(oids) | set(wanted)), "RAW", lambda v, _c: v)
    psycopg2.extensions.register_type(raw, conn)


def test_text_values_as_postgres_prints_them(hati_server):
    conn = hati_server.connect()
    try:
        _raw_text(conn)
        cur = conn.cursor()
        # Values made by DuckDB itself (some have no PostgreSQL spelling), read over the wire.
        internal(
            hati_server,
            "CREATE TABLE vals AS SELECT interval '1 month' * 2 AS a,"
            " age(TIMESTAMP '2024-01-01', TIMESTAMP '2023-01-01') AS b,"
            " row(1, 'abc') AS c, 1.0::DOUBLE AS d, 'Infinity'::DOUBLE AS e, 'NaN'::FLOAT AS f,"
            " unhex('deadbeef') AS g, ['a b', 'c\"d', NULL] AS h, {'x': 1, 'y': 'p q'} AS i,"
            " TIMESTAMPTZ '2024-01-01 00:00:00+00' AS j, '0044-03-15 (BC)'::DATE AS k,"
            " 1.50::DECIMAL(10, 2) AS l",
        )
        cur.execute("SELECT * FROM vals")
        assert cur.fetchone() == (
            "2 mons",
            "1 year",
            "(1,abc)",
            "1",
            "Infinity",
            "NaN",
            "\\xdeadbeef",
            '{"a b","c\\"d",NULL}',
            '(1,"p q")',
            "2024-01-01 00:00:00+00",
            "0044-03-15 BC",
            "1.50",
        )
        assert [d.type_code for d in cur.description][:3] == [1186, 1186, 2249]
    finally:
        conn.close()


def test_timestamptz_follows_set_time_zone(hati_server):
    conn = hati_server.connect()
    try:
        _raw_text(conn)
        cur = conn.cursor()
        cur.execute("SET TimeZone = 'America/New_York'")
        cur.execute("SELECT TIMESTAMPTZ '2024-07-01 12:00:00+00'")
        assert cur.fetchone() == ("2024-07-01 08:00:00-04",)
        cur.execute("RESET TimeZone")
        cur.execute("SELECT TIMESTAMPTZ '2024-07-01 12:00:00+00'")
        assert cur.fetchone() == ("2024-07-01 12:00:00+00",)
    finally:
        conn.close()


BINARY_SQL = (
    "SELECT true AS b, 7::SMALLINT AS s, 8 AS i, 9::BIGINT AS l, 1.5::FLOAT AS f, 2.5::DOUBLE AS d,"
    " -12.345::DECIMAL(10, 3) AS n, 'héllo' AS t, unhex('00ff') AS y, DATE '2024-02-29' AS dt,"
    " TIME '12:34:56.5' AS tm, TIMESTAMP '2024-01-01 00:00:00.25' AS ts,"
    " TIMESTAMPTZ '2024-01-01 00:00:00+00' AS tz, to_days(3) + to_microseconds(4000005) AS iv,"
    " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u, [1, NULL, 3] AS arr, ['x', 'y z'] AS sa,"
    " 170141183460469231731687303715884105727::HUGEINT AS h"
)
BINARY_WANT = (
    True,
    7,
    8,
    9,
    1.5,
    2.5,
    decimal.Decimal("-12.345"),
    "héllo",
    b"\x00\xff",
    dt.date(2024, 2, 29),
    dt.time(12, 34, 56, 500000),
    dt.datetime(2024, 1, 1, 0, 0, 0, 250000),
    dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    dt.timedelta(days=3, seconds=4, microseconds=5),
    uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    [1, None, 3],
    ["x", "y z"],
    decimal.Decimal("170141183460469231731687303715884105727"),
)


def test_psycopg3_binary_results(hati_server):
    dsn = f"host={hati_server.host} port={hati_server.port} user=tester dbname=hati"
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor(binary=True)
        internal(hati_server, f"CREATE TABLE bin AS {BINARY_SQL}")
        cur.execute("SELECT * FROM bin")
        row = cur.fetchone()
        assert row is not None
        assert tuple(row) == BINARY_WANT
        internal(
            hati_server,
            "CREATE TABLE nested AS SELECT row(1, 'abc') AS r, [row(2, 'x')] AS rs,"
            " MAP {'a': [1.5]} AS m",
        )
        cur.execute("SELECT * FROM nested")
        assert cur.fetchone() == ((1, "abc"), [(2, "x")], {"a": [1.5]})


def test_asyncpg_binary_results(hati_server):
    async def go() -> tuple:
        conn = await asyncpg.connect(
            host=hati_server.host, port=hati_server.port, user="tester", database="hati"
        )
        try:
            # without the arrays: asyncpg looks int[] up with a catalog query hati cannot run yet
            # without the arrays: asyncpg's introspection of array types (a recursive
            # query over pg_type) does not work against hati's catalog yet
            row = await conn.fetchrow(
                "SELECT b, s, i, l, f, d, n, t, y, dt, tm, ts, tz, iv, u, sa, h FROM bin"
            )
            rec = await conn.fetchrow("SELECT row(1, 'abc') AS r")
            return tuple(row.values()), tuple(rec["r"])
        finally:
            await conn.close()

    internal(hati_server, f"CREATE TABLE bin AS {BINARY_SQL}")
    values, record = asyncio.run(go())
    assert values == BINARY_WANT[:15] + BINARY_WANT[16:]
    assert record == (1, "abc")


def test_an_error_while_rows_stream_leaves_the_session_usable(hati_server):
    conn = hati_server.connect()
    try:
        cur = conn.cursor()
        with pytest.raises(psycopg2.Error) as info:  # the error comes mid-stream
            cur.execute("SELECT 1 / (i - 90000) FROM generate_series(1, 100000) AS t(i)")
        assert info.value.pgcode == "22012"
        cur.execute("SELECT count(*) FROM range(5000)")
        assert cur.fetchone() == (5000,)
    finally:
        conn.close()


def test_a_binary_encoding_error_leaves_the_session_usable(hati_server):
    dsn = f"host={hati_server.host} port={hati_server.port} user=tester dbname=hati"
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor(binary=True)
        internal(
            hati_server,
            "CREATE TABLE ragged AS SELECT CASE WHEN i < 4000 THEN [[1]] ELSE [[1], [2, 3]] END"
            " AS v FROM range(5000) t(i)",
        )
        with pytest.raises(psycopg.Error) as info:
            cur.execute("SELECT v FROM ragged")
        assert info.value.sqlstate == "2202E"
        cur.execute("SELECT count(*) FROM range(7000) t(i)")
        assert cur.fetchone() == (7000,)
        text = conn.cursor()  # in text format the same value is sent as it is
        text.execute("SELECT v FROM ragged WHERE array_length(v, 1) = 2 LIMIT 1")
        assert text.fetchone() == ([[1], [2, 3]],)
