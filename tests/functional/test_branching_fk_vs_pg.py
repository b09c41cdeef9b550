"""Foreign keys in a branch answer as PostgreSQL 15 does: the same statements on a
real PostgreSQL and in a hati branch give the same SQLSTATE, message and detail."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from conftest import on_pg_and_in_branch

pytestmark = pytest.mark.server

SETUP = [
    "CREATE TABLE p (id integer PRIMARY KEY, name text)",
    "CREATE TABLE c (id integer PRIMARY KEY, pid integer REFERENCES p (id))",
    "INSERT INTO p VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO c VALUES (10, 1)",
]
STATEMENTS = [
    "DELETE FROM p WHERE id = 1",
    "INSERT INTO c VALUES (11, 3)",
    "UPDATE c SET pid = 7 WHERE id = 10",
    "INSERT INTO c VALUES (12, NULL)",
    "UPDATE c SET pid = 2 WHERE id = 10",
    "DELETE FROM p WHERE id = 1",
    "DELETE FROM p WHERE id = 2",
    "SELECT id, pid FROM c ORDER BY id",
    "SELECT id, name FROM p ORDER BY id",
]


def _outcomes(conn: Any) -> list[tuple]:
    """(rows) or (SQLSTATE, message, detail) of each statement, each in its own transaction."""
    conn.rollback()
    conn.autocommit = True
    cur = conn.cursor()
    out: list[tuple] = []
    for sql in STATEMENTS:
        try:
            cur.execute(sql)
            out.append(("ok", cur.fetchall() if cur.description else cur.rowcount))
        except psycopg2.Error as err:
            out.append((err.pgcode, err.diag.message_primary, err.diag.message_detail))
    return out


def test_foreign_key_errors_in_a_branch_match_postgresql(pg, hati_server) -> None:
    expected, got = on_pg_and_in_branch(pg, hati_server, SETUP, "fkpg", _outcomes)
    assert got == expected
    assert [e[0] for e in expected[:3]] == ["23503"] * 3  # the test means something
