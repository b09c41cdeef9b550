"""Savepoints, READ ONLY transactions and rolled-back settings (hati.transactions), on a
Session driven directly. tests/differential/corpus/transactions.sql compares the same
behaviour with a real PostgreSQL."""

from __future__ import annotations

import pytest
from unit_support import run, tags

from hati.app import App
from hati.errors import (
    FeatureNotSupported,
    InFailedTransaction,
    InvalidSavepointSpecification,
    NoActiveSqlTransaction,
    ReadOnlySqlTransaction,
    SerializationFailure,
    UndefinedTable,
    UniqueViolation,
)
from hati.session import Session


@pytest.fixture
def table(session: Session) -> Session:
    run(session, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT)")
    run(session, "INSERT INTO acct VALUES (1, 100), (2, 50)")
    return session


def test_rollback_to_undoes_what_came_after_and_keeps_what_came_before(table: Session) -> None:
    s = table
    assert tags(s, "BEGIN") == ["BEGIN"]
    run(s, "UPDATE acct SET bal = bal - 10 WHERE id = 1")
    assert tags(s, "SAVEPOINT a") == ["SAVEPOINT"]
    run(s, "INSERT INTO acct VALUES (3, 7)")
    run(s, "CREATE TABLE later (x INT)")
    assert tags(s, "ROLLBACK TO SAVEPOINT a") == ["ROLLBACK"]
    assert s.txn == "T"
    assert run(s, "SELECT id, bal FROM acct ORDER BY id") == [(1, 90), (2, 50)]
    with pytest.raises(UndefinedTable, match='relation "later" does not exist'):
        run(s, "SELECT * FROM later")
    assert tags(s, "ROLLBACK TO a") == ["ROLLBACK"]  # the savepoint stays after ROLLBACK TO
    run(s, "INSERT INTO acct VALUES (4, 4)")
    assert tags(s, "RELEASE SAVEPOINT a") == ["RELEASE"]
    assert tags(s, "COMMIT") == ["COMMIT"]
    assert run(s, "SELECT id, bal FROM acct ORDER BY id") == [(1, 90), (2, 50), (4, 4)]


def test_rollback_to_recovers_a_failed_transaction(table: Session) -> None:
    s = table
    run(s, "BEGIN")
    run(s, "INSERT INTO acct VALUES (5, 5)")
    run(s, "SAVEPOINT before_dup")
    with pytest.raises(UniqueViolation, match='unique constraint "acct_pkey"'):
        run(s, "INSERT INTO acct VALUES (1, 1)")
    assert s.txn == "E"
    with pytest.raises(InFailedTransaction):
        run(s, "SAVEPOINT again")
    run(s, "ROLLBACK TO before_dup")
    run(s, "INSERT INTO acct VALUES (6, 6)")
    assert tags(s, "COMMIT") == ["COMMIT"]
    assert [r[0] for r in run(s, "SELECT id FROM acct ORDER BY id")] == [1, 2, 5, 6]


def test_nested_savepoints_and_release(table: Session) -> None:
    s = table
    run(s, "BEGIN")
    run(s, "SAVEPOINT a")
    run(s, "INSERT INTO acct VALUES (10, 1)")
    run(s, "SAVEPOINT b")
    run(s, "INSERT INTO acct VALUES (11, 1)")
    run(s, "RELEASE b")  # b's work now belongs to a
    with pytest.raises(InvalidSavepointSpecification):
        run(s, "ROLLBACK TO b")
    assert s.txn == "E"
    run(s, "ROLLBACK TO a")
    assert run(s, "SELECT count(*) FROM acct") == [(2,)]
    run(s, "COMMIT")
    assert run(s, "SELECT count(*) FROM acct") == [(2,)]


def test_savepoint_statements_need_a_transaction_block(table: Session) -> None:
    for sql in ("SAVEPOINT a", "RELEASE SAVEPOINT a", "ROLLBACK TO SAVEPOINT a"):
        with pytest.raises(NoActiveSqlTransaction):
            run(table, sql)
    assert table.txn == "I"


def test_cursors_declared_after_a_savepoint_close_and_earlier_ones_keep_moving(
    table: Session,
) -> None:
    s = table
    run(s, "INSERT INTO acct SELECT i, i FROM range(3, 10) t(i)")
    run(s, "BEGIN")
    run(s, "DECLARE c CURSOR FOR SELECT id FROM acct ORDER BY id")
    assert run(s, "FETCH 2 FROM c") == [(1,), (2,)]
    run(s, "SAVEPOINT a")
    assert run(s, "FETCH 1 FROM c") == [(3,)]
    run(s, "DECLARE d CURSOR FOR SELECT 1")
    run(s, "ROLLBACK TO a")
    assert run(s, "FETCH 1 FROM c") == [(4,)]  # cursor motion is not rolled back
    with pytest.raises(Exception, match="does not exist"):
        run(s, "FETCH 1 FROM d")
    run(s, "ROLLBACK")


def test_settings_set_in_a_rolled_back_transaction_or_savepoint_are_undone(
    table: Session,
) -> None:
    s = table
    run(s, "SET application_name = 'outer'")
    run(s, "BEGIN")
    run(s, "SET application_name = 'inner'")
    run(s, "SAVEPOINT a")
    run(s, "SET application_name = 'deeper'")
    run(s, "ROLLBACK TO a")
    assert run(s, "SHOW application_name") == [("inner",)]
    run(s, "ROLLBACK")
    assert run(s, "SHOW application_name") == [("outer",)]
    run(s, "BEGIN")
    run(s, "SET application_name = 'kept'")
    run(s, "COMMIT")
    assert run(s, "SHOW application_name") == [("kept",)]


def test_savepoints_in_a_branch(table: Session) -> None:
    s = table
    run(s, "SELECT branch_create('b')")
    run(s, "SET hatidata_branch = 'b'")
    run(s, "BEGIN")
    run(s, "UPDATE acct SET bal = 0 WHERE id = 1")
    run(s, "SAVEPOINT a")
    run(s, "DELETE FROM acct")
    run(s, "ROLLBACK TO a")
    run(s, "COMMIT")
    assert run(s, "SELECT id, bal FROM acct ORDER BY id") == [(1, 0), (2, 50)]
    run(s, "RESET hatidata_branch")
    assert run(s, "SELECT id, bal FROM acct ORDER BY id") == [(1, 100), (2, 50)]


def test_a_replay_that_would_give_other_values_is_refused(table: Session) -> None:
    s = table
    run(s, "CREATE TABLE serial_t (id SERIAL PRIMARY KEY, v INT)")
    run(s, "BEGIN")
    run(s, "INSERT INTO serial_t (v) VALUES (1)")
    run(s, "SAVEPOINT a")
    with pytest.raises(FeatureNotSupported, match="column default"):
        run(s, "ROLLBACK TO a")
    assert s.txn == "E"  # what came after the savepoint is never committed
    assert tags(s, "COMMIT") == ["ROLLBACK"]
    assert run(s, "SELECT count(*) FROM serial_t") == [(0,)]
    run(s, "BEGIN")
    run(s, "SELECT now()")
    run(s, "SAVEPOINT a")
    with pytest.raises(FeatureNotSupported, match="now"):
        run(s, "ROLLBACK TO a")
    run(s, "ROLLBACK")


def test_a_concurrent_commit_makes_rollback_to_a_serialization_failure(
    app: App, table: Session
) -> None:
    s, other = table, app.session(2, {"user": "tester", "options": "-c hatidata_agent_id=unit"})
    try:
        run(s, "BEGIN")
        run(s, "INSERT INTO acct VALUES (7, 7)")
        run(s, "SAVEPOINT a")
        run(other, "CREATE TABLE elsewhere (x INT)")
        with pytest.raises(SerializationFailure):
            run(s, "ROLLBACK TO a")
        assert tags(s, "COMMIT") == ["ROLLBACK"]
    finally:
        other.close()
    assert run(s, "SELECT count(*) FROM acct WHERE id = 7") == [(0,)]


def test_read_only_transactions_refuse_writes(table: Session) -> None:
    s = table
    run(s, "BEGIN READ ONLY")
    assert run(s, "SHOW transaction_read_only") == [("on",)]
    assert run(s, "SELECT count(*) FROM acct") == [(2,)]
    with pytest.raises(ReadOnlySqlTransaction):
        run(s, "INSERT INTO acct VALUES (9, 9)")
    run(s, "ROLLBACK")
    run(s, "BEGIN")
    run(s, "SET TRANSACTION READ ONLY")
    with pytest.raises(ReadOnlySqlTransaction):
        run(s, "UPDATE acct SET bal = 0")
    run(s, "ROLLBACK")
    assert run(s, "SHOW transaction_read_only") == [("off",)]
    run(s, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    with pytest.raises(ReadOnlySqlTransaction):
        run(s, "DELETE FROM acct")
    with pytest.raises(ReadOnlySqlTransaction):
        run(s, "SELECT branch_create('ro')")
    run(s, "SET default_transaction_read_only = off")
    assert run(s, "SELECT id, bal FROM acct ORDER BY id") == [(1, 100), (2, 50)]
    assert tags(s, "DELETE FROM acct WHERE id = 2") == ["DELETE 1"]


def test_a_query_that_saw_the_clock_before_the_savepoint_makes_the_replay_refused(
    table: Session,
) -> None:
    s = table
    run(s, "BEGIN")
    run(s, "SELECT CURRENT_TIMESTAMP")
    run(s, "INSERT INTO acct VALUES (8, 8)")
    run(s, "SAVEPOINT a")
    with pytest.raises(FeatureNotSupported, match="date or time"):
        run(s, "ROLLBACK TO a")
    run(s, "ROLLBACK")
    run(s, "BEGIN")
    run(s, "SAVEPOINT a")
    run(s, "SELECT now(), random()")  # after the savepoint: nothing to replay saw it
    run(s, "ROLLBACK TO a")
    run(s, "COMMIT")


def test_the_branch_is_not_undone_by_a_rollback_and_a_replay_runs_where_it_ran(
    table: Session,
) -> None:
    s = table
    run(s, "SELECT branch_create('kept')")
    run(s, "BEGIN")
    run(s, "SET hatidata_branch = 'kept'")
    run(s, "ROLLBACK")  # psycopg2 rolls back the block its SET opened: still in the branch
    assert run(s, "SHOW hatidata_branch") == [("kept",)]
    run(s, "RESET hatidata_branch")
    run(s, "BEGIN")
    run(s, "UPDATE acct SET bal = 1 WHERE id = 1")  # on main
    run(s, "SET hatidata_branch = 'kept'")
    run(s, "UPDATE acct SET bal = 2 WHERE id = 1")  # in the branch
    run(s, "SAVEPOINT a")
    run(s, "RESET hatidata_branch")
    run(s, "DELETE FROM acct")  # on main, undone below
    run(s, "ROLLBACK TO a")
    assert run(s, "SHOW hatidata_branch") == [("main",)]  # where the session was
    run(s, "COMMIT")
    assert run(s, "SELECT id, bal FROM acct ORDER BY id") == [(1, 1), (2, 50)]
    assert run(s, "SELECT * FROM branch_query('kept', 'SELECT bal FROM acct WHERE id = 1')") == [
        (2,)
    ]
