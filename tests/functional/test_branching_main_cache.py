"""The cache of main's catalog facts (branching/space.py ``Space.cached`` for MAIN_ID):
main's tables, their columns, keys and shapes, and its foreign keys, which branch
writes and merges read instead of scanning DuckDB's catalog. Every way main's catalog
changes is seen by the next branch statement and merge: DDL on main on its own, in a
transaction block (seen by the block itself, by others only once it commits, never if
it rolls back), and a merge that creates, alters or drops one of main's tables. Also the
namespace a branch write commits, cached for the next statement and the merge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg2
import pytest

from conftest import RunningServer, rows


@pytest.fixture
def main(hati_server: RunningServer) -> Iterator[Any]:
    with closing(hati_server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        c.execute("INSERT INTO p SELECT range FROM range(5)")
        c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
        c.execute("INSERT INTO t SELECT range, 0 FROM range(20)")
        yield c


def _cycle(c: Any, name: str, sql: str) -> dict[str, Any]:
    """create, write, merge (branch_wins): the merge's row."""
    c.execute(f"SELECT branch_create('{name}')")
    c.execute(f"SELECT branch_query('{name}', '{sql.replace(chr(39), chr(39) * 2)}')")
    c.execute(f"SELECT * FROM branch_merge('{name}', 'branch_wins')")
    cols = [d[0] for d in c.description]
    return dict(zip(cols, c.fetchone(), strict=True))


def test_a_new_column_on_main_is_seen_by_the_next_write_and_merge(main) -> None:
    _cycle(main, "b1", "INSERT INTO t VALUES (100, 1)")  # the facts of t are cached
    main.execute("ALTER TABLE t ADD COLUMN w INTEGER DEFAULT 7")
    got = _cycle(main, "b2", "INSERT INTO t VALUES (101, 2, 3)")
    assert got["status"] == "merged"
    assert rows(main, "SELECT k, v, w FROM t WHERE k >= 100 ORDER BY k") == [
        (100, 1, 7),
        (101, 2, 3),
    ]


def test_a_foreign_key_made_on_main_is_checked_by_the_next_branch_write(main) -> None:
    _cycle(main, "b1", "INSERT INTO t VALUES (100, 1)")  # main's foreign keys: none, cached
    main.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p (id))")
    main.execute("SELECT branch_create('b2')")
    main.execute("SELECT branch_query('b2', 'INSERT INTO c VALUES (1, 1)')")
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        main.execute("SELECT branch_query('b2', 'INSERT INTO c VALUES (2, 99)')")
    main.execute("SELECT * FROM branch_merge('b2')")
    assert rows(main, "SELECT id, pid FROM c") == [(1, 1)]


def test_a_table_made_on_main_is_seen_by_a_branch_write(main) -> None:
    _cycle(main, "b1", "INSERT INTO t VALUES (100, 1)")  # main's tables: cached
    main.execute("CREATE TABLE n (k INTEGER PRIMARY KEY, v INTEGER)")
    main.execute("INSERT INTO n VALUES (1, 1)")
    got = _cycle(main, "b2", "UPDATE n SET v = 2 WHERE k = 1")
    assert (got["status"], got["updated"]) == ("merged", 1)
    main.execute("DROP TABLE n")
    main.execute("SELECT branch_create('b3')")
    with pytest.raises(psycopg2.errors.UndefinedTable):
        main.execute("SELECT branch_query('b3', 'UPDATE n SET v = 3 WHERE k = 1')")


def test_a_unique_index_made_on_main_keeps_branch_writes_unique(main) -> None:
    _cycle(main, "b1", "INSERT INTO t VALUES (100, 1)")  # t's shape: cached
    main.execute("UPDATE t SET v = k")
    main.execute("CREATE UNIQUE INDEX t_v ON t (v)")
    main.execute("SELECT branch_create('b2')")
    with pytest.raises(psycopg2.errors.UniqueViolation):
        main.execute("SELECT branch_query('b2', 'INSERT INTO t VALUES (200, 3)')")


def test_ddl_in_a_transaction_block_is_seen_by_it_and_by_others_after_commit(
    hati_server: RunningServer, main
) -> None:
    _cycle(main, "b1", "INSERT INTO t VALUES (100, 1)")
    main.execute("SELECT branch_create('b2')")
    with closing(hati_server.connect(autocommit=False)) as conn:
        c = conn.cursor()
        c.execute("ALTER TABLE t ADD COLUMN w INTEGER DEFAULT 5")
        assert rows(c, "SELECT w FROM t WHERE k = 100") == [(5,)]
        # another session: t as committed
        main.execute("SELECT branch_query('b2', 'INSERT INTO t VALUES (101, 1)')")
        with pytest.raises(psycopg2.Error):  # not yet t's shape for anyone else
            main.execute("SELECT branch_query('b2', 'INSERT INTO t VALUES (102, 1, 1)')")
        conn.commit()
    main.execute("SELECT branch_discard('b2')")
    main.execute("SELECT branch_create('b3')")
    main.execute("SELECT branch_query('b3', 'INSERT INTO t VALUES (102, 1, 9)')")
    main.execute("SELECT * FROM branch_merge('b3')")
    assert rows(main, "SELECT k, w FROM t WHERE k >= 100 ORDER BY k") == [(100, 5), (102, 9)]


def test_rolled_back_ddl_on_main_changes_nothing(hati_server: RunningServer, main) -> None:
    _cycle(main, "b1", "INSERT INTO t VALUES (100, 1)")
    with closing(hati_server.connect(autocommit=False)) as conn:
        c = conn.cursor()
        c.execute("ALTER TABLE t ADD COLUMN w INTEGER")
        c.execute("CREATE TABLE gone (x INTEGER)")
        conn.rollback()
    got = _cycle(main, "b2", "INSERT INTO t VALUES (101, 1)")
    assert got["status"] == "merged"
    assert rows(main, "SELECT count(*) FROM t WHERE k >= 100") == [(2,)]
    main.execute("SELECT branch_create('b3')")
    with pytest.raises(psycopg2.errors.UndefinedTable):
        main.execute("SELECT branch_query('b3', 'INSERT INTO gone VALUES (1)')")


def test_a_merge_that_makes_and_drops_main_tables_is_seen(main) -> None:
    _cycle(main, "b1", "INSERT INTO t VALUES (100, 1)")  # main's tables: cached
    got = _cycle(main, "b2", "CREATE TABLE made (k INTEGER PRIMARY KEY, v INTEGER)")
    assert got["status"] == "merged"
    main.execute("INSERT INTO made VALUES (1, 1)")
    got = _cycle(main, "b3", "UPDATE made SET v = 2 WHERE k = 1")  # a delta over made
    assert (got["status"], got["updated"]) == ("merged", 1)
    assert rows(main, "SELECT v FROM made") == [(2,)]
    got = _cycle(main, "b4", "DROP TABLE made")
    assert got["status"] == "merged"
    main.execute("SELECT branch_create('b5')")
    with pytest.raises(psycopg2.errors.UndefinedTable):
        main.execute("SELECT branch_query('b5', 'UPDATE made SET v = 3 WHERE k = 1')")


def test_a_committed_first_write_is_the_namespace_others_read(hati_server, main) -> None:
    """The namespace a first write commits is cached for the next statements: a later
    change of it by another session's transaction block is seen once that commits."""
    main.execute("SELECT branch_create('b')")
    with closing(hati_server.connect()) as c1, closing(hati_server.connect()) as c2:
        a, b = c1.cursor(), c2.cursor()
        for c in (a, b):
            c.execute("SET hatidata_branch = 'b'")
        a.execute("UPDATE t SET v = 1 WHERE k = 1")  # the delta of t, committed
        b.execute("UPDATE t SET v = 2 WHERE k = 2")  # through the cached namespace
        c2.autocommit = False
        b.execute("UPDATE p SET id = id + 10 WHERE id = 0")  # a delta of p, open
        assert rows(a, "SELECT min(id) FROM p") == [(0,)]
        c2.commit()
        assert rows(a, "SELECT min(id) FROM p") == [(1,)]
        a.execute("UPDATE p SET id = id + 10 WHERE id = 1")
        assert rows(b, "SELECT k, v FROM t WHERE v > 0 ORDER BY k") == [(1, 1), (2, 2)]
    main.execute("SELECT * FROM branch_merge('b')")
    assert rows(main, "SELECT k, v FROM t WHERE v > 0 ORDER BY k") == [(1, 1), (2, 2)]
    assert rows(main, "SELECT id FROM p ORDER BY id") == [(2,), (3,), (4,), (10,), (11,)]
