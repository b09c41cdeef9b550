"""Foreign keys with ON DELETE / ON UPDATE actions (kept by hati, not DuckDB) answer as
PostgreSQL 15 does, on main and in a branch: the same statements on a real PostgreSQL
and on hati give the same rows, or the same SQLSTATE, message and detail."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import psycopg2
import pytest

pytestmark = pytest.mark.server

SETUP = [
    "CREATE TABLE p (id integer PRIMARY KEY, name text)",
    "CREATE TABLE c (id integer PRIMARY KEY, "
    "pid integer REFERENCES p (id) ON DELETE CASCADE ON UPDATE CASCADE, note text)",
    "CREATE TABLE g (id integer PRIMARY KEY, cid integer DEFAULT 12, "
    "CONSTRAINT g_to_c FOREIGN KEY (cid) REFERENCES c ON DELETE SET DEFAULT)",
    "CREATE TABLE n (id integer PRIMARY KEY, pid integer REFERENCES p ON DELETE SET NULL "
    "ON UPDATE RESTRICT)",
    "CREATE TABLE tree (id integer PRIMARY KEY, up integer REFERENCES tree ON DELETE CASCADE)",
    "INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')",
    "INSERT INTO c VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c'), (13, 3, 'd')",
    "INSERT INTO g VALUES (100, 10), (101, 13)",
    "INSERT INTO n VALUES (1000, 1), (1001, 4)",
    "INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2), (4, 1), (5, NULL)",
]
STATEMENTS = [
    "INSERT INTO c VALUES (14, 9, 'orphan')",
    "UPDATE c SET pid = 8 WHERE id = 13",
    "INSERT INTO c VALUES (15, NULL, 'free')",
    "DELETE FROM p WHERE id = 1",
    "SELECT id, pid, note FROM c ORDER BY id",
    "SELECT id, cid FROM g ORDER BY id",
    "SELECT id, pid FROM n ORDER BY id",
    "UPDATE p SET id = id * 10 WHERE id IN (2, 3)",
    "SELECT id, pid FROM c ORDER BY id",
    "UPDATE p SET id = 40 WHERE id = 4",
    "UPDATE p SET name = 'FOUR' WHERE id = 4",
    "DELETE FROM c WHERE id = 13",
    "SELECT id, cid FROM g ORDER BY id",
    "DELETE FROM tree WHERE id = 1",
    "SELECT id, up FROM tree ORDER BY id",
    "TRUNCATE p",
    "DELETE FROM p",
    "SELECT count(*) FROM c",
    "SELECT id, pid FROM n ORDER BY id",
]


def _outcomes(conn: Any, statements: list[str]) -> list[tuple]:
    """The rows (or row count), or (SQLSTATE, message, detail), of each statement."""
    conn.autocommit = True
    cur = conn.cursor()
    out: list[tuple] = []
    for sql in statements:
        try:
            cur.execute(sql)
            out.append(("ok", cur.fetchall() if cur.description else cur.rowcount))
        except psycopg2.Error as err:
            out.append((err.pgcode, err.diag.message_primary, err.diag.message_detail))
    return out


def _expected(pg: Any) -> list[tuple]:
    with closing(psycopg2.connect(pg.dsn("postgres"))) as pc:
        pc.autocommit = True
        for t in ("tree", "n", "g", "c", "p"):
            pc.cursor().execute(f"DROP TABLE IF EXISTS {t} CASCADE")
        _outcomes(pc, SETUP)
        return _outcomes(pc, STATEMENTS)


def test_actions_on_main_match_postgresql(pg, hati_server, conn) -> None:
    expected = _expected(pg)
    assert [o[0] for o in _outcomes(conn, SETUP)] == ["ok"] * len(SETUP)
    assert _outcomes(conn, STATEMENTS) == expected
    assert [e[0] for e in expected[:2]] == ["23503"] * 2  # the test means something
    assert expected[4][1] == [(12, 2, "c"), (13, 3, "d"), (15, None, "free")]


def test_actions_in_a_branch_match_postgresql_and_merge(pg, hati_server, conn) -> None:
    expected = _expected(pg)
    _outcomes(conn, SETUP)
    cur = conn.cursor()
    cur.execute("SELECT branch_create('fka')")
    with closing(hati_server.connect(hatidata_branch="fka")) as bc:
        assert _outcomes(bc, STATEMENTS) == expected
        final = _outcomes(bc, ["SELECT * FROM c ORDER BY id", "SELECT * FROM tree ORDER BY id"])
    cur.execute("SELECT id FROM c ORDER BY id")
    assert [r[0] for r in cur.fetchall()] == [10, 11, 12, 13]  # main untouched
    cur.execute("SELECT * FROM branch_merge('fka')")
    assert cur.fetchall()[0][-1] == "merged"
    assert (
        _outcomes(conn, ["SELECT * FROM c ORDER BY id", "SELECT * FROM tree ORDER BY id"]) == final
    )


def test_a_cascade_and_the_write_commit_together(hati_server, conn) -> None:
    """A failing action rolls back the write that started it (main, autocommit)."""
    cur = conn.cursor()
    cur.execute("CREATE TABLE tp (id int PRIMARY KEY)")
    cur.execute(
        "CREATE TABLE tc (id int PRIMARY KEY, pid int DEFAULT 99 REFERENCES tp ON DELETE SET DEFAULT)"
    )
    cur.execute("INSERT INTO tp VALUES (1)")
    cur.execute("INSERT INTO tc VALUES (1, 1)")
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        cur.execute("DELETE FROM tp")
    cur.execute("SELECT (SELECT count(*) FROM tp), (SELECT pid FROM tc)")
    assert cur.fetchall() == [(1, 1)]
