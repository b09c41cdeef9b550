"""Functions clients create (CREATE FUNCTION ... LANGUAGE sql, as DuckDB macros): their
body reads the tables where the caller stands, a branch's functions stay in the branch,
and pg_proc lists them."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import psycopg2
import pytest

from conftest import rows

pytestmark = pytest.mark.server


def pgcode(cur: Any, sql: str) -> str | None:
    try:
        cur.execute(sql)
    except psycopg2.Error as exc:
        return exc.pgcode
    return None


@pytest.fixture
def cur(conn):
    c = conn.cursor()
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v VARCHAR)")
    c.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    return c


def test_a_function_reads_the_callers_branch(hati_server, cur) -> None:
    cur.execute(
        "CREATE FUNCTION v_of(i int) RETURNS text AS 'SELECT v FROM t WHERE k = i' LANGUAGE sql"
    )
    cur.execute("CREATE FUNCTION ks() RETURNS SETOF int AS 'SELECT k FROM t' LANGUAGE sql")
    cur.execute("SELECT branch_create('b')")
    with closing(hati_server.connect(hatidata_branch="b")) as bconn:
        bc = bconn.cursor()
        bc.execute("UPDATE t SET v = 'B' WHERE k = 1")
        bc.execute("INSERT INTO t VALUES (3, 'c')")
        assert rows(bc, "SELECT v_of(1)") == [("B",)]
        assert rows(bc, "SELECT * FROM ks() ORDER BY 1") == [(1,), (2,), (3,)]
        bc.execute("CREATE FUNCTION only_here() RETURNS int AS 'SELECT 7' LANGUAGE sql")
        assert rows(bc, "SELECT only_here()") == [(7,)]
    assert rows(cur, "SELECT v_of(1)") == [("a",)]
    assert rows(cur, "SELECT * FROM ks() ORDER BY 1") == [(1,), (2,)]
    assert pgcode(cur, "SELECT only_here()") == "42883"


def test_functions_are_listed_and_dropped(cur) -> None:
    cur.execute("CREATE FUNCTION twice(int) RETURNS int AS 'SELECT $1 * 2' LANGUAGE sql")
    assert rows(cur, "SELECT twice(21)") == [(42,)]
    assert rows(cur, "SELECT count(*) FROM pg_proc WHERE proname = 'twice'") == [(1,)]
    assert (
        pgcode(cur, "CREATE FUNCTION twice(int) RETURNS int AS 'SELECT 1' LANGUAGE sql") == "42723"
    )
    cur.execute("DROP FUNCTION twice(int)")
    assert rows(cur, "SELECT count(*) FROM pg_proc WHERE proname = 'twice'") == [(0,)]
    assert pgcode(cur, "DROP FUNCTION twice(int)") == "42883"
    # A built-in's name would change every session's calls: refused.
    assert (
        pgcode(cur, "CREATE FUNCTION abs(x int) RETURNS int LANGUAGE sql AS 'SELECT 42'") == "0A000"
    )
    assert rows(cur, "SELECT abs(-3)") == [(3,)]
    assert (
        pgcode(
            cur,
            "CREATE FUNCTION p() RETURNS int AS 'BEGIN PERFORM 1; RETURN 1; END' LANGUAGE plpgsql",
        )
        == "0A000"
    )
