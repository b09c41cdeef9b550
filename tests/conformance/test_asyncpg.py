"""asyncpg: parameters typed from ParameterDescription, fetch/execute, errors."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest


def run(server, body):
    async def main():
        c = await asyncpg.connect(
            host=server.host, port=server.port, user="u", database="hati", timeout=10
        )
        try:
            return await body(c)
        finally:
            await c.close()

    return asyncio.run(main())


def test_insert_and_fetch_with_typed_parameters(hati_server):
    async def body(c):
        await c.execute("CREATE TABLE ap (i INTEGER, s VARCHAR, f DOUBLE, b BOOLEAN, d DATE)")
        await c.execute(
            "INSERT INTO ap VALUES ($1, $2, $3, $4, $5)", 1, "a", 1.5, True, dt.date(2024, 1, 1)
        )
        await c.execute("INSERT INTO ap (d, i, s) VALUES ($1, $2, $3)", dt.date(2024, 2, 2), 2, "b")
        rows = await c.fetch("SELECT * FROM ap WHERE i = $1 AND s = $2", 1, "a")
        by_date = await c.fetchval(
            "SELECT count(*) FROM ap WHERE d >= $1 AND b = $2 AND f > $3",
            dt.date(2024, 1, 1),
            True,
            1.0,
        )
        updated = await c.execute("UPDATE ap SET s = $1 WHERE i = $2", "z", 2)
        in_list = await c.fetch("SELECT s FROM ap WHERE i IN ($1, $2) ORDER BY i", 1, 2)
        return rows, by_date, updated, in_list

    rows, by_date, updated, in_list = run(hati_server, body)
    assert [tuple(r) for r in rows] == [(1, "a", 1.5, True, dt.date(2024, 1, 1))]
    assert by_date == 1
    assert updated == "UPDATE 1"
    assert [r["s"] for r in in_list] == ["a", "z"]


def test_explicit_casts(hati_server):
    async def body(c):
        return (
            await c.fetchval("SELECT $1::int + 1", 41),
            await c.fetchval("SELECT $1::double * 2", 1.25),
            await c.fetchval("SELECT $1::date + 1", dt.date(2024, 1, 31)),
            await c.fetchval("SELECT NOT $1::boolean", False),
            await c.fetchval("SELECT upper($1)", "abc"),
        )

    assert run(hati_server, body) == (42, 2.5, dt.date(2024, 2, 1), True, "ABC")


def test_prepared_statement_reuse(hati_server):
    async def body(c):
        await c.execute("CREATE TABLE apr (k INTEGER, v VARCHAR)")
        stmt = await c.prepare("INSERT INTO apr VALUES ($1, $2)")
        for i in range(5):
            await stmt.fetch(i, f"v{i}")
        sel = await c.prepare("SELECT v FROM apr WHERE k = $1")
        return [await sel.fetchval(i) for i in range(5)]

    assert run(hati_server, body) == [f"v{i}" for i in range(5)]


def test_errors_have_sqlstate_and_connection_survives(hati_server):
    async def body(c):
        with pytest.raises(asyncpg.PostgresSyntaxError) as exc:
            await c.fetch("SELEC $1", 1)
        assert exc.value.sqlstate == "42601"
        with pytest.raises(asyncpg.UndefinedTableError):
            await c.fetch("SELECT * FROM nope WHERE x = $1", "1")
        tr = c.transaction()
        await tr.start()
        with pytest.raises(asyncpg.UndefinedTableError):
            await c.execute("SELECT * FROM nope")
        with pytest.raises(asyncpg.InFailedSQLTransactionError):
            await c.execute("SELECT 1")
        await tr.rollback()
        return await c.fetchval("SELECT $1::int", 7)

    assert run(hati_server, body) == 7


def test_arrays_of_every_element_type_decode(hati_server):
    # asyncpg introspects each array type it meets through pg_type/pg_range; the
    # introspection query itself must be typed as PostgreSQL types it (oid[]).
    async def body(c):
        return [
            await c.fetchval("SELECT ARRAY[1, 2]"),
            await c.fetchval("SELECT ARRAY[1, 2]::bigint[]"),
            await c.fetchval("SELECT ARRAY[true, false]"),
            await c.fetchval("SELECT ARRAY[1.5::float8]"),
            await c.fetchval("SELECT ARRAY['2024-01-31'::date]"),
            await c.fetchval("SELECT $1::int[]", [3, 4]),
        ]

    assert run(hati_server, body) == [
        [1, 2],
        [1, 2],
        [True, False],
        [1.5],
        [dt.date(2024, 1, 31)],
        [3, 4],
    ]
