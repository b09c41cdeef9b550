"""Findings 3, 4 and 5: no smuggled statements, no reach into hati's bookkeeping or
other branches, no way out of a branch session onto main."""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg2
import pytest
from security_support import assert_intact, baseline, cur, refused, seed, server  # noqa: F401  (pytest fixtures)

from conftest import RunningServer, internal

pytestmark = pytest.mark.server


def _branch_schemas(server: RunningServer) -> list[str]:
    rows = internal(
        server,
        "SELECT schema_name FROM duckdb_schemas() WHERE regexp_matches(schema_name, '^_hbd?_[0-9]+$') "
        "ORDER BY schema_name",
    )
    return [r[0] for r in rows]


# ---------------------------------------------------------------- 3: smuggling
def test_f3_branch_query_smuggling(server: RunningServer, cur) -> None:
    before = baseline(server)
    audit_before = internal(server, "SELECT count(*) FROM _hati.audit")[0][0]
    smuggled = "SELECT E'\\'' ; UPDATE main.notes SET s='x' ; -- '"
    refused(cur, "SELECT branch_query('b', $$" + smuggled + "$$)", "0A000")
    refused(cur, "SELECT * FROM branch_query('b', %s)", "0A000", (smuggled,))
    assert server.query("SELECT s FROM notes") == [("keep",)]
    assert server.query("SELECT * FROM branch_query('b', 'SELECT s FROM notes')") == [("keep",)]
    assert_intact(server, before)
    # The refusals are in the audit, as errors, with the text the client sent.
    server.thread.server.app.audit.flush()
    got = internal(
        server,
        "SELECT outcome, sqlstate FROM _hati.audit WHERE seq > ? AND sql LIKE '%UPDATE main.notes%'",
        [audit_before],
    )
    assert got and all(r == ("error", "0A000") for r in got), got


def test_f3_describe_smuggling_asyncpg(server: RunningServer) -> None:
    before = baseline(server)

    async def go() -> str:
        conn = await asyncpg.connect(host="127.0.0.1", port=server.port, user="m", database="hati")
        try:
            with pytest.raises(asyncpg.PostgresError) as info:
                await conn.prepare(
                    "SELECT 1) t; UPDATE main.ledger SET amt = 0; SELECT * FROM (SELECT 1"
                )
            assert await conn.fetchval("SELECT sum(amt) FROM ledger") == 300
            return str(info.value.sqlstate)
        finally:
            await conn.close()

    assert asyncio.run(go()) == "42601"
    assert_intact(server, before)


# ---------------------------------------------------------------- 4: bookkeeping
def test_f4_branch_tables_from_main(server: RunningServer, cur) -> None:
    before = baseline(server)
    schemas = _branch_schemas(server)
    assert schemas, "the branch has its schemas"
    for schema in schemas:
        refused(cur, f"SELECT * FROM {schema}.ledger", "42501")
        refused(cur, f'SELECT * FROM "{schema}"."ledger$hide"', "42501")
        refused(cur, f"UPDATE {schema}.ledger SET amt = 0", "42501")
        refused(cur, f"INSERT INTO {schema}.ledger VALUES (9, 9)", "42501")
        refused(cur, f"CREATE TABLE {schema}.x (a int)", "42501")
    refused(cur, "CREATE SCHEMA _hb_99", "42501")
    assert_intact(server, before)


def test_f4_drop_schema_hati(server: RunningServer, cur) -> None:
    before = baseline(server)
    refused(cur, "DROP SCHEMA _hati CASCADE", "42501")
    refused(cur, "DROP SCHEMA IF EXISTS _hati_snap CASCADE", "42501")
    refused(cur, "SELECT * FROM branch_query('b', 'DROP SCHEMA _hati CASCADE')", "42501")
    cur.execute("SELECT branch_create('after')")  # branch_* calls still work
    cur.execute("SELECT branch_discard('after')")
    assert_intact(server, before)


def test_f4_drop_other_branch_schema(server: RunningServer, cur) -> None:
    before = baseline(server)
    schemas = _branch_schemas(server)
    for schema in schemas:
        refused(cur, f"DROP SCHEMA {schema} CASCADE", "42501")
        refused(cur, f"SELECT * FROM branch_query('b', 'DROP SCHEMA {schema} CASCADE')", "42501")
    assert _branch_schemas(server) == schemas
    assert_intact(server, before)
    cur.execute("SELECT * FROM branch_merge('b')")
    assert cur.fetchone()[-1] == "merged"
    assert server.query("SELECT amt FROM ledger WHERE id = 1") == [(150,)]


def test_f4_audit_append_only(server: RunningServer, cur) -> None:
    before = baseline(server)
    agents = server.query("SELECT DISTINCT agent_id FROM hati_audit ORDER BY 1")
    refused(cur, "UPDATE _hati.audit SET agent_id = 'nobody'", "42501")
    refused(cur, "DELETE FROM _hati.audit", "42501")
    refused(cur, "UPDATE hati_audit SET agent_id = 'nobody'", "42501")
    refused(cur, "DELETE FROM hati_audit", "42501")
    refused(cur, "INSERT INTO hati_audit (agent_id) VALUES ('x')", "42501")
    refused(cur, "TRUNCATE hati_audit", "42501")
    refused(cur, "DROP VIEW hati_audit", "42501")
    refused(cur, "ALTER VIEW hati_audit RENAME TO gone", "42501")
    assert server.query(
        "SELECT DISTINCT agent_id FROM hati_audit WHERE agent_id <> 'mallory' ORDER BY 1"
    ) == [a for a in agents if a[0] != "mallory"]
    assert_intact(server, before)


def test_f4_create_macro_overriding_builtin(server: RunningServer, cur) -> None:
    before = baseline(server)
    refused(cur, "CREATE MACRO main.abs(x) AS 42", "42601")  # not PostgreSQL syntax
    refused(cur, "CREATE MACRO abs(x) AS 42", "42601")
    refused(
        cur,
        "CREATE FUNCTION abs(x int) RETURNS int LANGUAGE sql AS 'SELECT 42'",
        "0A000",
    )
    other = server.connect(agent="victim")
    with other.cursor() as c2:
        c2.execute("SELECT abs(-3)")
        assert c2.fetchone() == (3,)
    other.close()
    assert_intact(server, before)


# ---------------------------------------------------------------- 5: routing
def test_f5_set_schema_main_in_branch(server: RunningServer) -> None:
    before = baseline(server)
    conn = server.connect(agent="mallory", hatidata_branch="b")
    with conn.cursor() as cur:
        for escape in (
            "SET schema = 'main'",
            "SET search_path = main",
            "SET search_path TO main, public",
        ):
            try:
                cur.execute(escape)
            except psycopg2.Error as exc:
                assert exc.pgcode in ("42501", "0A000", "22023"), exc.pgcode
            cur.execute("INSERT INTO notes VALUES ('from-branch')")
            cur.execute("UPDATE notes SET s = 'changed' WHERE s = 'keep'")
        cur.execute("SHOW hatidata_branch")
        assert cur.fetchone() == ("b",)
        cur.execute("SELECT count(*) FROM notes WHERE s = 'from-branch'")
        assert cur.fetchone() == (3,)
    conn.close()
    assert server.query("SELECT s FROM notes") == [("keep",)]
    assert_intact(server, before)


def test_f5_use_main_in_branch(server: RunningServer) -> None:
    before = baseline(server)
    conn = server.connect(agent="mallory", hatidata_branch="b")
    with conn.cursor() as cur:
        refused(cur, "USE main", "42601")  # not PostgreSQL syntax
        cur.execute("INSERT INTO notes VALUES ('from-branch')")
        cur.execute("SHOW hatidata_branch")
        assert cur.fetchone() == ("b",)
    conn.close()
    assert server.query("SELECT s FROM notes") == [("keep",)]
    assert_intact(server, before)


def test_f5_branch_named_default(server: RunningServer, cur) -> None:
    before = baseline(server)
    refused(cur, "SELECT branch_create('default')", "22023")
    refused(cur, "SELECT branch_create('DEFAULT')", "22023")
    refused(cur, "SET hatidata_branch = 'default'", "22023")
    with pytest.raises(psycopg2.Error) as info:
        server.connect(agent="mallory", hatidata_branch="default")
    assert "default" in str(info.value)
    cur.execute("SHOW hatidata_branch")
    assert cur.fetchone() == ("main",)
    assert_intact(server, before)


def test_f5_asyncpg_server_settings_branch(server: RunningServer) -> None:
    before = baseline(server)

    async def go() -> tuple[str, int]:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=server.port,
            user="m",
            database="hati",
            server_settings={"hatidata_branch": "b"},
        )
        try:
            await conn.execute("INSERT INTO notes VALUES ('via-asyncpg')")
            await conn.execute("UPDATE ledger SET amt = 175 WHERE id = 1")
            return await conn.fetchval("SHOW hatidata_branch"), await conn.fetchval(
                "SELECT count(*) FROM notes"
            )
        finally:
            await conn.close()

    assert asyncio.run(go()) == ("b", 2)
    assert server.query("SELECT s FROM notes") == [("keep",)]
    assert server.query("SELECT * FROM ledger ORDER BY id") == before.ledger
    got = server.query("SELECT * FROM branch_query('b', 'SELECT * FROM ledger ORDER BY id')")
    assert got == [(1, 175), (2, 200)]
