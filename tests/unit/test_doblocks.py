"""DO blocks run statement by statement on a session (doblocks.py), on a temp DuckDB file.

What PostgreSQL answers for the same blocks is proved in
tests/differential/corpus/do_blocks.sql; these tests hold what only hati can show:
atomicity, the guard inside the block, branches, the step limit, the audit."""

from __future__ import annotations

import pytest
from unit_support import run

from hati import doblocks
from hati.errors import (
    FeatureNotSupported,
    InsufficientPrivilege,
    ProgramLimitExceeded,
    UndefinedFunction,
    UniqueViolation,
)
from hati.session import Session


def test_a_block_is_one_transaction(session: Session) -> None:
    run(session, "CREATE TABLE t (id int PRIMARY KEY)")
    with pytest.raises(UniqueViolation, match='"t_pkey"'):
        run(session, "DO $$ BEGIN INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); END $$")
    assert run(session, "SELECT count(*) FROM t") == [(0,)]  # the first INSERT too
    assert session.txn == "I"
    run(session, "DO $$ BEGIN FOR i IN 1..3 LOOP INSERT INTO t VALUES (i); END LOOP; END $$")
    assert run(session, "SELECT count(*) FROM t") == [(3,)]


def test_a_handler_undoes_only_its_protected_part(session: Session) -> None:
    run(session, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    run(
        session,
        "DO $$ BEGIN INSERT INTO t VALUES (2); BEGIN INSERT INTO t VALUES (3); "
        "INSERT INTO t VALUES (1); EXCEPTION WHEN unique_violation THEN "
        "INSERT INTO t VALUES (-1); END; END $$",
    )
    assert run(session, "SELECT id FROM t ORDER BY id") == [(-1,), (1,), (2,)]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("PERFORM * FROM read_csv('/etc/passwd')", UndefinedFunction),
        ("EXECUTE 'SELECT * FROM read_blob(''/etc/shadow'')'", UndefinedFunction),
        ("EXECUTE 'CREATE EXTENSION httpfs'", FeatureNotSupported),
        ("EXECUTE 'SELECT * FROM _hati_pg.constraint_names'", InsufficientPrivilege),
    ],
)
def test_the_guard_checks_every_statement_of_a_block(
    session: Session, body: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        run(session, f"DO $$ BEGIN {body}; END $$")
    assert run(session, "SELECT 1") == [(1,)]


def test_a_block_without_end_is_stopped(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doblocks, "MAX_STEPS", 1000)  # the limit, made small enough to reach
    with pytest.raises(ProgramLimitExceeded, match="more than 1000 statements"):
        run(session, "DO $$ BEGIN LOOP NULL; END LOOP; END $$")
    with pytest.raises(ProgramLimitExceeded):
        run(session, "DO $$ DECLARE i int := 0; BEGIN LOOP i := i + 1; END LOOP; END $$")
    assert session.txn == "I"


def test_other_languages_are_refused(session: Session) -> None:
    with pytest.raises(FeatureNotSupported, match='language "plpython3u"'):
        run(session, "DO LANGUAGE plpython3u $$ import os $$")


def test_a_block_in_a_branch_writes_the_branch(session: Session) -> None:
    run(session, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'main')")
    run(session, "SELECT branch_create('b')")
    run(session, "SET hatidata_branch = 'b'")
    run(session, "DO $$ BEGIN UPDATE t SET v = 'branch'; INSERT INTO t VALUES (2, 'new'); END $$")
    assert run(session, "SELECT id, v FROM t ORDER BY id") == [(1, "branch"), (2, "new")]
    run(session, "SET hatidata_branch = 'main'")
    assert run(session, "SELECT id, v FROM t ORDER BY id") == [(1, "main")]
