"""A Session driven directly on a temp DuckDB file: no server, no socket."""

from __future__ import annotations

import pytest
from unit_support import run, tags

from hati.app import App
from hati.errors import (
    ActiveSqlTransaction,
    InFailedTransaction,
    InsufficientPrivilege,
    InvalidParameter,
    UndefinedColumn,
    UndefinedObject,
    UniqueViolation,
)
from hati.session import Session


def test_statements_answer_with_postgres_tags(session: Session) -> None:
    assert tags(
        session,
        "CREATE TABLE t (k INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2); "
        "UPDATE t SET v = v + 1; SELECT * FROM t; DELETE FROM t WHERE k = 2",
    ) == ["CREATE TABLE", "INSERT 0 2", "UPDATE 2", "SELECT 2", "DELETE 1"]
    assert run(session, "SELECT * FROM t") == [(1, 2)]


def test_transaction_status_follows_postgres(session: Session) -> None:
    run(session, "CREATE TABLE t (k INT PRIMARY KEY)")
    assert session.txn == "I"
    run(session, "BEGIN")
    run(session, "INSERT INTO t VALUES (1)")
    assert session.txn == "T"
    with pytest.raises(UniqueViolation, match='"t_pkey"'):
        run(session, "INSERT INTO t VALUES (1)")
    assert session.txn == "E"
    with pytest.raises(InFailedTransaction):
        run(session, "SELECT 1")
    assert tags(session, "COMMIT") == ["ROLLBACK"]  # a failed transaction rolls back
    assert session.txn == "I"
    assert run(session, "SELECT count(*) FROM t") == [(0,)]


def test_a_failing_batch_rolls_back_as_one_implicit_transaction(session: Session) -> None:
    run(session, "CREATE TABLE t (k INT PRIMARY KEY)")
    with pytest.raises(UniqueViolation) as raised:
        run(session, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)")
    assert (raised.value.constraint, raised.value.detail) == (
        "t_pkey",
        "Key (k)=(1) already exists.",
    )
    assert run(session, "SELECT count(*) FROM t") == [(0,)]
    assert session.txn == "I"


def test_settings_show_reset(session: Session) -> None:
    assert run(session, "SHOW server_version") == [("15.0 (hati 0.1.0)",)]
    assert run(session, "SHOW hatidata_agent_id") == [("unit",)]
    run(session, "SET application_name = 'probe'")
    assert run(session, "SHOW application_name") == [("probe",)]
    run(session, "SET hatidata_request_id = 'r-1'")
    run(session, "RESET ALL")
    assert run(session, "SHOW hatidata_request_id") == [("",)]
    assert run(session, "SHOW hatidata_agent_id") == [("unit",)]  # kept by RESET ALL
    assert run(session, "SELECT version()")[0][0].startswith("PostgreSQL 15.0")


def test_a_branch_session_writes_its_branch_only(session: Session) -> None:
    run(session, "CREATE TABLE t (k INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)")
    assert run(session, "SELECT branch_create('b')") == [("b",)]
    run(session, "SET hatidata_branch = 'b'")
    assert run(session, "SHOW hatidata_branch") == [("b",)]
    assert tags(session, "UPDATE t SET v = 5 WHERE k = 1") == ["UPDATE 1"]
    assert run(session, "SELECT v FROM t") == [(5,)]
    # Harmless settings are accepted; no name reaches main's tables from the branch:
    # public (and DuckDB's main) is the branch's own schema here.
    run(session, "SET search_path = main")
    assert tags(session, "UPDATE main.t SET v = 6") == ["UPDATE 1"]
    assert tags(session, "UPDATE public.t SET v = 5") == ["UPDATE 1"]
    with pytest.raises(InsufficientPrivilege):
        run(session, "UPDATE _hati.branches SET name = 'x'")
    run(session, "RESET hatidata_branch")
    assert run(session, "SELECT v FROM t") == [(1,)]
    assert run(session, "SELECT * FROM branch_query('b', 'SELECT v FROM t')") == [(5,)]
    merged = run(session, "SELECT * FROM branch_merge('b')")
    assert merged == [("b", "branch_wins", 0, 1, 0, 0, "merged")]
    assert run(session, "SELECT v FROM t") == [(5,)]
    with pytest.raises(UndefinedObject):
        run(session, "SET hatidata_branch = 'b'")


def test_branch_calls_refuse_a_transaction_block(session: Session) -> None:
    run(session, "BEGIN")
    with pytest.raises(ActiveSqlTransaction) as info:
        run(session, "SELECT branch_create('x')")
    assert info.value.sqlstate == "25001"
    run(session, "ROLLBACK")
    assert run(session, "SELECT * FROM branch_list()") == []


def test_a_rolled_back_first_write_leaves_the_branch_unrecorded(app: App, session: Session) -> None:
    run(session, "CREATE TABLE t (k INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)")
    run(session, "SELECT branch_create('b')")
    run(session, "SET hatidata_branch = 'b'")
    run(session, "BEGIN")
    run(session, "UPDATE t SET v = 2")
    run(session, "ROLLBACK")
    assert run(session, "SELECT v FROM t") == [(1,)]
    cur = app.db.cursor()
    assert cur.execute("SELECT count(*) FROM _hati.branches").fetchall() == [(0,)]
    run(session, "UPDATE t SET v = 3")  # the next write records it again
    assert cur.execute("SELECT name FROM _hati.branches").fetchall() == [("b",)]
    cur.close()


def test_describe_without_running(session: Session) -> None:
    run(session, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)")
    assert session.describe("SELECT k, count(*) FROM t WHERE v = $1 GROUP BY k") == [
        ("k", 23),
        ("count", 20),
    ]
    assert session.describe("INSERT INTO t VALUES ($1, $2) RETURNING v") == [("v", 25)]
    assert session.describe("INSERT INTO t VALUES (1, 'x')") is None
    # Branch functions are described by their fixed columns (asyncpg and JDBC ask).
    cols = session.describe("SELECT * FROM branch_list()")
    assert [c[0] for c in cols or []][:2] == ["name", "parent"]
    assert run(session, "SELECT count(*) FROM t") == [(0,)]
    assert session.parameter_types("SELECT * FROM t WHERE k = $1 AND v = $2", 2) == [23, 25]


def test_every_statement_is_audited_with_its_outcome(app: App, session: Session) -> None:
    run(session, "SELECT 1")
    with pytest.raises(Exception, match="nope"):
        run(session, "SELECT * FROM nope")
    rows = run(
        session,
        "SELECT agent_id, sql, command, outcome, sqlstate FROM hati_audit "
        "WHERE connection_id = 1 ORDER BY seq",
    )
    assert rows[:2] == [
        ("unit", "SELECT 1", "SELECT 1", "ok", None),
        ("unit", "SELECT * FROM nope", None, "error", "42P01"),
    ]


def test_another_session_sees_only_committed_work(app: App, session: Session) -> None:
    other = app.session(2, {"user": "other"})
    try:
        run(session, "CREATE TABLE t (k INT)")
        run(session, "BEGIN; INSERT INTO t VALUES (1)")
        assert session.txn == "T"
        assert run(other, "SELECT count(*) FROM t") == [(0,)]
        run(session, "COMMIT")
        assert run(other, "SELECT count(*) FROM t") == [(1,)]
    finally:
        other.close()


def test_sql_value_functions_alone_in_the_select_list(session: Session) -> None:
    # DuckDB binds CURRENT_DATE & co. to a result column of the same name: hati calls
    # the DuckDB functions instead, and the user is the one the client connected as.
    res = next(session.run("SELECT current_user, session_user, CURRENT_DATE, LOCALTIMESTAMP"))
    assert [c[0] for c in res.columns or []] == [
        "current_user",
        "session_user",
        "current_date",
        "localtimestamp",
    ]
    assert res.tuples()[0][:2] == ("tester", "tester")
    assert run(session, "SELECT CURRENT_TIMESTAMP = now(), CURRENT_DATE = now()::date") == [
        (True, True)
    ]


def test_storage_hints_are_checked_and_change_nothing_in_a_branch_too(session: Session) -> None:
    run(session, "CREATE TABLE h (id INT PRIMARY KEY, b TEXT); INSERT INTO h VALUES (1, 'x')")
    run(session, "SELECT branch_create('hb')")
    run(session, "SET hatidata_branch = 'hb'")
    assert tags(session, "ALTER TABLE h SET (fillfactor = 50)") == ["ALTER TABLE"]
    assert tags(session, "ALTER TABLE h ALTER COLUMN b SET STATISTICS 10") == ["ALTER TABLE"]
    with pytest.raises(InvalidParameter):
        run(session, "ALTER TABLE h SET (fillfactor = 500)")
    with pytest.raises(UndefinedColumn):
        run(session, "ALTER TABLE h ALTER COLUMN nope SET STORAGE plain")
    assert run(session, "SELECT * FROM h") == [(1, "x")]
    run(session, "RESET hatidata_branch")
    assert run(session, "SELECT * FROM h") == [(1, "x")]
