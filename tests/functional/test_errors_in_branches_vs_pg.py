"""Errors in a branch read as PostgreSQL writes them: the same statements on a real
PostgreSQL and in a hati branch give the same SQLSTATE, message, detail and error
fields (table and constraint names), though a branch's rows live in hati's own tables."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from conftest import on_pg_and_in_branch

pytestmark = pytest.mark.server

SETUP = [
    "CREATE TABLE ek (id integer PRIMARY KEY, v integer NOT NULL)",
    "CREATE TABLE nk (a integer NOT NULL, b integer CHECK (b > 0))",
    "INSERT INTO ek VALUES (1, 1), (2, 2)",
    "INSERT INTO nk VALUES (1, 1)",
]
STATEMENTS = [
    "INSERT INTO ek VALUES (1, 5)",
    "UPDATE ek SET id = 2 WHERE id = 1",
    "INSERT INTO ek VALUES (3, NULL)",
    "UPDATE ek SET v = NULL WHERE id = 2",
    "INSERT INTO nk VALUES (NULL, 1)",
    "INSERT INTO nk VALUES (2, -1)",
    "UPDATE nk SET nosuch = 1",
    "SELECT nosuch FROM ek",
    "SELECT * FROM nosuch",
    "INSERT INTO ek VALUES (3, 3)",
    "SELECT id, v FROM ek ORDER BY id",
]


def _outcomes(conn: Any) -> list[tuple]:
    conn.autocommit = True
    cur = conn.cursor()
    out: list[tuple] = []
    for sql in STATEMENTS:
        try:
            cur.execute(sql)
            out.append(("ok", cur.fetchall() if cur.description else cur.rowcount))
        except psycopg2.Error as err:
            d = err.diag
            detail = d.message_detail
            if detail and detail.startswith("Failing row contains"):
                detail = None  # not sent by hati: DuckDB's constraint errors carry no row
            out.append((err.pgcode, d.message_primary, detail, d.table_name, d.constraint_name))
    return out


def test_errors_in_a_branch_match_postgresql(pg, hati_server) -> None:
    expected, got = on_pg_and_in_branch(pg, hati_server, SETUP, "errpg", _outcomes)
    assert got == expected
    assert [e[0] for e in expected[:6]] == ["23505", "23505", "23502", "23502", "23502", "23514"]
    # main saw none of the branch's writes
    assert hati_server.query("SELECT id, v FROM ek ORDER BY id") == [(1, 1), (2, 2)]
