"""COMMENT ON on a session (pg/comments.py), on a temp DuckDB file.

What PostgreSQL answers is proved in tests/differential/corpus/comments.sql; these tests
hold what only hati can show: branches, hati's own schemas, failed statements."""

from __future__ import annotations

import pytest
from unit_support import run

from hati.errors import InsufficientPrivilege, UndefinedObject
from hati.session import Session

_TABLE = "SELECT obj_description('t'::regclass, 'pg_class')"
_KEY = (
    "SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint "
    "WHERE conrelid = 't'::regclass AND conname = 't_pkey'"
)


def test_a_comment_in_a_branch_does_not_reach_main(session: Session) -> None:
    run(session, "CREATE TABLE t (id int PRIMARY KEY)")
    run(session, "COMMENT ON TABLE t IS 'on main'")
    run(session, "SELECT branch_create('b')")
    run(session, "SET hatidata_branch = 'b'")
    run(session, "COMMENT ON TABLE t IS 'in b'")
    run(session, "COMMENT ON CONSTRAINT t_pkey ON t IS 'in b'")
    run(session, "SET hatidata_branch = 'main'")
    assert run(session, _TABLE) == [("on main",)]
    assert run(session, _KEY) == [(None,)]


def test_hati_s_own_tables_take_no_comment(session: Session) -> None:
    for sql in (
        "COMMENT ON TABLE _hati_pg.constraint_names IS 'x'",
        "COMMENT ON COLUMN _hati_pg.comments.description IS 'x'",
    ):
        with pytest.raises(InsufficientPrivilege):
            run(session, sql)
    assert run(session, "SELECT count(*) FROM pg_description WHERE description = 'x'") == [(0,)]


def test_a_failed_comment_changes_nothing(session: Session) -> None:
    run(session, "CREATE TABLE t (id int PRIMARY KEY)")
    run(session, "COMMENT ON CONSTRAINT t_pkey ON t IS 'kept'")
    run(session, "BEGIN")
    run(session, "COMMENT ON CONSTRAINT t_pkey ON t IS 'changed'")
    with pytest.raises(UndefinedObject, match='constraint "nosuch" for table "t" does not exist'):
        run(session, "COMMENT ON CONSTRAINT nosuch ON t IS 'x'")
    run(session, "ROLLBACK")
    assert run(session, _KEY) == [("kept",)]


def test_a_dropped_table_takes_its_comments(session: Session) -> None:
    run(session, "CREATE TABLE t (id int PRIMARY KEY)")
    run(session, "COMMENT ON CONSTRAINT t_pkey ON t IS 'old'")
    run(session, "DROP TABLE t")
    run(session, "CREATE TABLE t (id int PRIMARY KEY)")
    assert run(session, _KEY) == [(None,)]
