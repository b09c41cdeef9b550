"""Three-way merges on a temp DuckDB file, through a Session without a server."""

from __future__ import annotations

import json

import pytest
from unit_support import run

from hati.errors import InvalidParameter, SerializationFailure
from hati.session import Session


@pytest.fixture
def forked(session: Session) -> Session:
    """main and branch ``b`` both changed key 1; the branch alone changed 2 and added 4."""
    run(session, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)")
    run(session, "INSERT INTO t VALUES (1, 'base'), (2, 'base'), (3, 'base')")
    run(session, "SELECT branch_create('b')")
    run(session, "SELECT branch_query('b', 'UPDATE t SET v = ''branch'' WHERE k IN (1, 2)')")
    run(session, "SELECT branch_query('b', 'INSERT INTO t VALUES (4, ''new'')')")
    run(session, "UPDATE t SET v = 'main' WHERE k = 1")
    return session


def merge(session: Session, strategy: str) -> tuple:
    return run(session, "SELECT * FROM branch_merge('b', $1)", [strategy])[0]


def table(session: Session) -> list[tuple]:
    return run(session, "SELECT * FROM t ORDER BY k")


def test_conflicts_list_every_side(forked: Session) -> None:
    assert run(forked, "SELECT * FROM branch_conflicts('b')") == [
        (
            "t",
            '{"k":1}',
            '{"k":1,"v":"base"}',
            '{"k":1,"v":"main"}',
            '{"k":1,"v":"branch"}',
            "update/update",
            ["v"],
        )
    ]


def test_branch_wins(forked: Session) -> None:
    assert merge(forked, "branch_wins") == ("b", "branch_wins", 1, 2, 0, 1, "merged")
    assert table(forked) == [(1, "branch"), (2, "branch"), (3, "base"), (4, "new")]
    assert run(forked, "SELECT * FROM branch_list()") == []


def test_main_wins_keeps_main_where_both_changed(forked: Session) -> None:
    assert merge(forked, "main_wins") == ("b", "main_wins", 1, 1, 0, 1, "merged")
    assert table(forked) == [(1, "main"), (2, "branch"), (3, "base"), (4, "new")]


def test_abort_changes_nothing(forked: Session) -> None:
    with pytest.raises(SerializationFailure, match="1 conflicting row"):
        merge(forked, "abort")
    assert table(forked) == [(1, "main"), (2, "base"), (3, "base")]
    assert [r[0] for r in run(forked, "SELECT * FROM branch_list()")] == ["b"]


def test_manual_waits_for_every_resolution_then_applies_them(forked: Session) -> None:
    assert merge(forked, "manual") == ("b", "manual", 0, 0, 0, 1, "conflicts")
    assert table(forked)[0] == (1, "main")
    with pytest.raises(InvalidParameter, match="no conflict"):
        run(forked, "SELECT branch_resolve('b', 't', '{\"k\": 2}', 'branch')")
    with pytest.raises(InvalidParameter, match="no column"):
        run(forked, "SELECT branch_resolve('b', 't', '{\"k\": 1}', '{\"nope\": 1}')")
    values = json.dumps({"v": "agreed"})
    assert run(forked, "SELECT * FROM branch_resolve('b', 't', '{\"k\": 1}', $1)", [values]) == [
        ("b", "t", '{"k": 1}', "values")
    ]
    assert merge(forked, "manual")[-1] == "merged"
    assert table(forked) == [(1, "agreed"), (2, "branch"), (3, "base"), (4, "new")]


def test_keyless_tables_merge_as_multisets(session: Session) -> None:
    run(session, "CREATE TABLE bag (x INT); INSERT INTO bag VALUES (1), (1), (2)")
    run(session, "SELECT branch_create('b')")
    run(session, "SELECT branch_query('b', 'INSERT INTO bag VALUES (3), (1)')")
    run(session, "DELETE FROM bag WHERE x = 2")
    assert run(session, "SELECT * FROM branch_diff('b')") == [
        ("bag", "insert", '{"x":1}', None, '{"x":1}'),
        ("bag", "insert", '{"x":3}', None, '{"x":3}'),
    ]
    assert merge(session, "branch_wins")[-1] == "merged"
    assert run(session, "SELECT x, count(*) FROM bag GROUP BY x ORDER BY x") == [(1, 3), (3, 1)]


def test_a_schema_change_in_the_branch_comes_along(session: Session) -> None:
    run(session, "CREATE TABLE t (k INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)")
    run(session, "SELECT branch_create('b')")
    run(session, "SET hatidata_branch = 'b'")
    run(session, "ALTER TABLE t ADD COLUMN note TEXT")
    run(session, "UPDATE t SET note = 'hi'")
    run(session, "RESET hatidata_branch")
    assert merge(session, "branch_wins")[-1] == "merged"
    assert run(session, "SELECT * FROM t") == [(1, 1, "hi")]
