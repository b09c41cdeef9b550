"""Snapshot isolation between main and branches, branch sessions, transactions inside a
branch, concurrent sessions, and the wall that keeps a branch session off main."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import closing
from typing import Any

import psycopg2
import pytest

from conftest import rows, run_in_threads


def in_branch(cur: Any, name: str, sql: str) -> list[tuple]:
    return rows(cur, "SELECT branch_query(%s, %s)", (name, sql))


def pgcode(cur: Any, sql: str, params: tuple | None = None) -> str | None:
    try:
        cur.execute(sql, params)
    except psycopg2.Error as exc:
        return exc.pgcode
    return None


@pytest.fixture
def cur(conn):
    c = conn.cursor()
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v VARCHAR)")
    c.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    return c


BASE = [(1, "a"), (2, "b"), (3, "c")]


def test_main_writes_after_fork_are_invisible_in_the_branch(cur) -> None:
    cur.execute("SELECT branch_create('snap')")
    cur.execute("UPDATE t SET v = 'A' WHERE k = 1")
    cur.execute("DELETE FROM t WHERE k = 2")
    cur.execute("INSERT INTO t VALUES (4, 'd')")
    cur.execute("CREATE TABLE later (x INTEGER)")
    cur.execute("INSERT INTO later VALUES (1)")

    assert in_branch(cur, "snap", "SELECT * FROM t ORDER BY k") == BASE
    assert pgcode(cur, "SELECT branch_query('snap', 'SELECT * FROM later')") == "42P01"
    # A second write on main after the snapshot was taken still does not leak.
    cur.execute("UPDATE t SET v = 'AA' WHERE k = 1")
    assert in_branch(cur, "snap", "SELECT * FROM t ORDER BY k") == BASE

    # The first write in the branch copies the branch's base (the snapshot), not main now.
    in_branch(cur, "snap", "UPDATE t SET v = 'b2' WHERE k = 2")
    assert in_branch(cur, "snap", "SELECT * FROM t ORDER BY k") == [(1, "a"), (2, "b2"), (3, "c")]
    # A branch forked now sees main as it is now.
    cur.execute("SELECT branch_create('snap2')")
    assert in_branch(cur, "snap2", "SELECT * FROM t ORDER BY k") == [(1, "AA"), (3, "c"), (4, "d")]
    assert in_branch(cur, "snap2", "SELECT * FROM later") == [(1,)]
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [(1, "AA"), (3, "c"), (4, "d")]


def test_table_created_in_main_after_fork_is_invisible_in_a_branch_session(
    hati_server, cur
) -> None:
    cur.execute("SELECT branch_create('s')")
    cur.execute("CREATE TABLE fresh (x INTEGER)")
    with closing(hati_server.connect(hatidata_branch="s")) as bconn:
        bc = bconn.cursor()
        assert pgcode(bc, "SELECT * FROM fresh") == "42P01"
        assert pgcode(bc, "INSERT INTO fresh VALUES (1)") == "42P01"
        # The branch may create its own table of that name.
        bc.execute("CREATE TABLE fresh (y VARCHAR)")
        bc.execute("INSERT INTO fresh VALUES ('mine')")
        assert rows(bc, "SELECT * FROM fresh") == [("mine",)]
    assert rows(cur, "SELECT * FROM fresh") == []


def test_dropping_a_table_in_main_does_not_affect_the_branch(cur) -> None:
    cur.execute("SELECT branch_create('keep')")
    cur.execute("DROP TABLE t")
    assert in_branch(cur, "keep", "SELECT * FROM t ORDER BY k") == BASE
    in_branch(cur, "keep", "INSERT INTO t VALUES (9, 'z')")
    assert in_branch(cur, "keep", "SELECT count(*) FROM t") == [(4,)]
    assert pgcode(cur, "SELECT * FROM t") == "42P01"


def test_branch_writes_are_invisible_in_main_and_in_siblings(hati_server, cur) -> None:
    cur.execute("SELECT branch_create('left')")
    cur.execute("SELECT branch_create('right')")
    with closing(hati_server.connect(hatidata_branch="left")) as lconn:
        lc = lconn.cursor()
        lc.execute("UPDATE t SET v = 'L' WHERE k = 1")
        lc.execute("DELETE FROM t WHERE k = 3")
        lc.execute("INSERT INTO t VALUES (5, 'e')")
        lc.execute("CREATE TABLE only_left (x INTEGER)")
        assert rows(lc, "SELECT * FROM t ORDER BY k") == [(1, "L"), (2, "b"), (5, "e")]
    assert rows(cur, "SELECT * FROM t ORDER BY k") == BASE
    assert pgcode(cur, "SELECT * FROM only_left") == "42P01"
    assert in_branch(cur, "right", "SELECT * FROM t ORDER BY k") == BASE
    assert pgcode(cur, "SELECT branch_query('right', 'SELECT * FROM only_left')") == "42P01"
    # The sibling writing the same table keeps its own copy.
    in_branch(cur, "right", "UPDATE t SET v = 'R' WHERE k = 1")
    assert in_branch(cur, "right", "SELECT v FROM t WHERE k = 1") == [("R",)]
    assert in_branch(cur, "left", "SELECT v FROM t WHERE k = 1") == [("L",)]
    assert rows(cur, "SELECT v FROM t WHERE k = 1") == [("a",)]


def test_concurrent_sessions_in_different_branches(hati_server, cur) -> None:
    n_threads, n_rows = 4, 25
    for i in range(n_threads):
        cur.execute("SELECT branch_create(%s)", (f"w{i}",))
    seen: dict[int, list[tuple]] = {}

    def work(i: int, go: Callable[[], object]) -> None:
        with closing(hati_server.connect(agent=f"agent{i}", hatidata_branch=f"w{i}")) as c:
            bc = c.cursor()
            go()
            for j in range(n_rows):
                bc.execute("INSERT INTO t VALUES (%s, %s)", (100 * (i + 1) + j, f"w{i}"))
                if j % 5 == 0:
                    bc.execute("UPDATE t SET v = %s WHERE k = 2", (f"w{i}-{j}",))
            seen[i] = rows(bc, "SELECT k, v FROM t ORDER BY k")

    errors = run_in_threads(work, n_threads)
    assert not errors, errors
    for i in range(n_threads):
        mine = [(100 * (i + 1) + j, f"w{i}") for j in range(n_rows)]
        assert seen[i] == [(1, "a"), (2, f"w{i}-20"), (3, "c"), *mine]
    assert rows(cur, "SELECT * FROM t ORDER BY k") == BASE
    # Every branch's inserts merge; the k=2 updates conflict and the last merge wins.
    for i in range(n_threads):
        cur.execute("SELECT * FROM branch_merge(%s, 'branch_wins')", (f"w{i}",))
        r = cur.fetchone()
        assert r[6] == "merged" and r[5] == (0 if i == 0 else 1)
    assert rows(cur, "SELECT count(*) FROM t") == [(3 + n_threads * n_rows,)]
    assert rows(cur, "SELECT v FROM t WHERE k = 2") == [(f"w{n_threads - 1}-20",)]


def test_set_and_reset_hatidata_branch(hati_server, cur) -> None:
    cur.execute("SELECT branch_create('sess')")
    with closing(hati_server.connect()) as c:
        s = c.cursor()
        assert rows(s, "SHOW hatidata_branch") == [("main",)]
        s.execute("SET hatidata_branch = 'sess'")
        assert rows(s, "SHOW hatidata_branch") == [("sess",)]
        s.execute("INSERT INTO t VALUES (7, 'g')")
        assert rows(s, "SELECT count(*) FROM t") == [(4,)]
        s.execute("RESET hatidata_branch")
        assert rows(s, "SHOW hatidata_branch") == [("main",)]
        assert rows(s, "SELECT count(*) FROM t") == [(3,)]
        s.execute("SET hatidata_branch TO 'sess'")
        assert rows(s, "SELECT count(*) FROM t") == [(4,)]
        s.execute("SET hatidata_branch = 'main'")
        assert rows(s, "SELECT count(*) FROM t") == [(3,)]
        assert pgcode(s, "SET hatidata_branch = 'nope'") == "42704"
        assert rows(s, "SHOW hatidata_branch") == [("main",)]
    # The startup option routes the whole connection.
    with closing(hati_server.connect(hatidata_branch="sess")) as c:
        assert rows(c.cursor(), "SELECT count(*) FROM t") == [(4,)]


def test_merging_the_session_branch_returns_the_session_to_main(hati_server, cur) -> None:
    cur.execute("SELECT branch_create('self')")
    with closing(hati_server.connect(hatidata_branch="self")) as c:
        s = c.cursor()
        s.execute("INSERT INTO t VALUES (8, 'h')")
        s.execute("SELECT * FROM branch_merge('self')")
        assert s.fetchone()[6] == "merged"
        assert rows(s, "SHOW hatidata_branch") == [("main",)]
        assert rows(s, "SELECT count(*) FROM t") == [(4,)]


def test_explicit_transactions_inside_a_branch(hati_server, cur) -> None:
    cur.execute("SELECT branch_create('tx')")
    with closing(hati_server.connect(hatidata_branch="tx")) as c:
        s = c.cursor()
        # ROLLBACK undoes the write and the copy-on-write materialization it caused.
        s.execute("BEGIN")
        s.execute("UPDATE t SET v = 'X' WHERE k = 1")
        s.execute("CREATE TABLE scratch (x INTEGER)")
        s.execute("INSERT INTO scratch VALUES (1)")
        assert rows(s, "SELECT v FROM t WHERE k = 1") == [("X",)]
        s.execute("ROLLBACK")
        assert rows(s, "SELECT * FROM t ORDER BY k") == BASE
        assert pgcode(s, "SELECT * FROM scratch") == "42P01"
        listed = rows(cur, "SELECT * FROM branch_list()")
        assert [(r[0], r[4], r[5]) for r in listed] == [("tx", 0, 0)]
        assert rows(cur, "SELECT * FROM branch_diff('tx')") == []

        # COMMIT keeps every statement of the transaction.
        s.execute("BEGIN")
        s.execute("UPDATE t SET v = 'Y' WHERE k = 1")
        s.execute("INSERT INTO t VALUES (6, 'f')")
        s.execute("DELETE FROM t WHERE k = 3")
        s.execute("COMMIT")
        assert rows(s, "SELECT * FROM t ORDER BY k") == [(1, "Y"), (2, "b"), (6, "f")]

        # A failed statement aborts the transaction; ROLLBACK recovers the session.
        s.execute("BEGIN")
        s.execute("INSERT INTO t VALUES (10, 'j')")
        assert pgcode(s, "INSERT INTO t VALUES (1, 'dup')") == "23505"
        assert pgcode(s, "SELECT 1") == "25P02"
        s.execute("ROLLBACK")
        assert rows(s, "SELECT * FROM t ORDER BY k") == [(1, "Y"), (2, "b"), (6, "f")]
    assert rows(cur, "SELECT * FROM t ORDER BY k") == BASE
    cur.execute("SELECT * FROM branch_merge('tx')")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [(1, "Y"), (2, "b"), (6, "f")]


def test_qualified_names_in_a_branch_session_stay_in_the_branch(hati_server, cur) -> None:
    """public (PostgreSQL's name) and main (DuckDB's) name the branch's own tables inside
    a branch: no statement, qualified or not, reaches main's tables; hati's own schemas
    are refused."""
    cur.execute("SELECT branch_create('walled')")
    statements = [
        "INSERT INTO main.t VALUES (9, 'z')",
        "UPDATE public.t SET v = 'z'",
        'DELETE FROM "main"."t" WHERE k = 1',
        "ALTER TABLE main.t ADD COLUMN w INTEGER",
        "CREATE TABLE main.sneaky (x INTEGER)",
    ]
    with closing(hati_server.connect(hatidata_branch="walled")) as c:
        s = c.cursor()
        for sql in statements:
            s.execute(sql)
        s.execute("SET search_path = main")  # harmless: accepted
        assert rows(s, "SELECT count(*) FROM public.sneaky") == [(0,)]
        assert pgcode(s, "SELECT * FROM _hati.branches") == "42501"
        assert pgcode(s, "DROP SCHEMA _hati CASCADE") == "42501"
    for sql in ("TRUNCATE main.t", "DROP TABLE public.t"):
        cur.execute("SELECT branch_query('walled', %s)", (sql,))
    assert rows(cur, "SELECT * FROM t ORDER BY k") == BASE
    assert pgcode(cur, "SELECT * FROM sneaky") == "42P01"
    changes = {r[1] for r in rows(cur, "SELECT * FROM branch_diff('walled')")}
    assert {"create_table", "drop_table"} <= changes


def test_branch_transaction_open_while_main_writes_the_table(hati_server, cur) -> None:
    """Main's write takes a snapshot the branch's open transaction cannot see; the branch
    must keep reading (and copy) the fork version instead of failing."""
    cur.execute("SELECT branch_create('open')")
    with closing(hati_server.connect(hatidata_branch="open")) as c:
        s = c.cursor()
        s.execute("BEGIN")
        assert rows(s, "SELECT * FROM t ORDER BY k") == BASE
        cur.execute("UPDATE t SET v = 'main' WHERE k = 1")
        assert rows(s, "SELECT * FROM t ORDER BY k") == BASE
        s.execute("UPDATE t SET v = 'branch' WHERE k = 2")
        assert rows(s, "SELECT * FROM t ORDER BY k") == [(1, "a"), (2, "branch"), (3, "c")]
        s.execute("COMMIT")
        assert rows(s, "SELECT * FROM t ORDER BY k") == [(1, "a"), (2, "branch"), (3, "c")]
    cur.execute("SELECT * FROM branch_merge('open')")
    assert cur.fetchone()[5:] == (0, "merged")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [(1, "main"), (2, "branch"), (3, "c")]


def test_main_writers_keep_working_while_branches_fork_and_merge(hati_server, cur) -> None:
    stop = threading.Event()
    done: dict[int, int] = {}
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with closing(hati_server.connect(agent=f"writer{i}")) as c:
                s = c.cursor()
                n = 0
                while not stop.is_set() or n < 3:
                    s.execute("UPDATE t SET v = v || '+' WHERE k = %s", (i,))
                    n += 1
                done[i] = n
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in (1, 2)]
    for th in threads:
        th.start()
    try:
        for j in range(5):
            name = f"m{j}"
            cur.execute("SELECT branch_create(%s)", (name,))
            in_branch(cur, name, f"INSERT INTO t VALUES ({100 + j}, 'b{j}')")
            in_branch(cur, name, "UPDATE t SET v = 'branch' WHERE k = 3")
            cur.execute("SELECT * FROM branch_merge(%s)", (name,))
            assert cur.fetchone()[6] == "merged"
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=60)
    assert not errors, errors
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "a" + "+" * done[1]),
        (2, "b" + "+" * done[2]),
        (3, "branch"),
        *[(100 + j, f"b{j}") for j in range(5)],
    ]


def test_a_branch_session_is_in_public(hati_server, cur) -> None:
    """current_schema() and the search path show public in a branch as on main, and a
    schema set first on the path comes first."""
    cur.execute("SELECT branch_create('pub')")
    with closing(hati_server.connect(hatidata_branch="pub")) as c:
        s = c.cursor()
        assert rows(s, "SELECT current_schema(), current_schemas(false)") == [
            ("public", ["public"])
        ]
        assert rows(s, "SELECT current_schemas(true)") == [(["pg_catalog", "public"],)]
    cur.execute("CREATE SCHEMA first_s")
    cur.execute("SET search_path = first_s, public")
    assert rows(cur, "SELECT current_schema, current_schemas(false)") == [
        ("first_s", ["first_s", "public"])
    ]
    cur.execute("RESET search_path")
    assert rows(cur, "SELECT current_schema") == [("public",)]
