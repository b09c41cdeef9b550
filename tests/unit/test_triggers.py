"""Triggers fired by a session (triggers.py), on a temp DuckDB file.

What PostgreSQL answers for the same statements is proved in
tests/differential/corpus/triggers.sql; these tests hold what only hati can show:
atomicity of a write and its triggers outside a transaction block, branches, the
depth limit, and what is refused."""

from __future__ import annotations

import pytest
from unit_support import run, tags

from hati.errors import FeatureNotSupported, RaiseException, StatementTooComplex, UniqueViolation
from hati.session import Session

SETUP = """
CREATE TABLE item (id serial PRIMARY KEY, name text, seen text);
CREATE TABLE note (op text, name text);
CREATE FUNCTION item_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.name := upper(NEW.name); NEW.seen := TG_OP; RETURN NEW; END $$;
CREATE FUNCTION item_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO note VALUES (TG_OP, coalesce(NEW.name, OLD.name)); RETURN NULL; END $$;
CREATE TRIGGER a_fill BEFORE INSERT OR UPDATE ON item FOR EACH ROW EXECUTE FUNCTION item_fill();
CREATE TRIGGER b_note AFTER INSERT OR UPDATE OR DELETE ON item
    FOR EACH ROW EXECUTE FUNCTION item_note();
"""


def test_a_write_and_its_triggers_are_one_statement(session: Session) -> None:
    run(session, SETUP)
    run(session, "CREATE TABLE once (name text PRIMARY KEY)")
    run(
        session,
        "CREATE FUNCTION once_too() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO once VALUES (NEW.name); RETURN NULL; END $$",
    )
    run(
        session,
        "CREATE TRIGGER c_once AFTER INSERT ON item FOR EACH ROW EXECUTE FUNCTION once_too()",
    )
    with pytest.raises(UniqueViolation):  # the second row's trigger fails
        run(session, "INSERT INTO item (name) VALUES ('a'), ('A')")
    assert session.txn == "I"
    assert run(session, "SELECT count(*) FROM item") == [(0,)]
    assert run(session, "SELECT count(*) FROM note") == [(0,)]  # the first row's note too
    assert run(session, "SELECT count(*) FROM once") == [(0,)]
    assert tags(session, "INSERT INTO item (name) VALUES ('b') RETURNING name") == ["INSERT 0 1"]
    assert run(session, "SELECT name, seen FROM item") == [("B", "INSERT")]
    assert run(session, "SELECT * FROM note") == [("INSERT", "B")]


def test_triggers_fire_in_a_branch_and_write_the_branch(session: Session) -> None:
    run(session, SETUP)
    run(session, "INSERT INTO item (name) VALUES ('main')")
    run(session, "SELECT branch_create('trg')")
    run(session, "SET hatidata_branch = 'trg'")
    run(session, "INSERT INTO item (name) VALUES ('branch')")
    run(session, "UPDATE item SET name = name || '!' WHERE name = 'MAIN'")
    run(session, "DELETE FROM item WHERE name = 'BRANCH'")
    assert run(session, "SELECT name, seen FROM item ORDER BY id") == [("main!".upper(), "UPDATE")]
    notes = [("INSERT", "MAIN"), ("INSERT", "BRANCH"), ("UPDATE", "MAIN!"), ("DELETE", "BRANCH")]
    assert run(session, "SELECT * FROM note") == notes
    with pytest.raises(FeatureNotSupported, match="in a branch"):
        run(
            session,
            "CREATE TRIGGER z BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION item_fill()",
        )
    run(session, "RESET hatidata_branch")
    assert run(session, "SELECT name FROM item") == [("MAIN",)]
    assert run(session, "SELECT * FROM note") == [("INSERT", "MAIN")]
    run(session, "SELECT branch_query('trg', 'INSERT INTO item (name) VALUES (''q'')')")
    assert run(session, "SELECT count(*) FROM note") == [(1,)]
    run(session, "SELECT branch_merge('trg')")
    assert run(session, "SELECT name FROM item ORDER BY id") == [("MAIN!",), ("Q",)]
    assert len(run(session, "SELECT * FROM note")) == 5


def test_a_raise_in_a_branch_leaves_the_branch_as_it_was(session: Session) -> None:
    run(session, SETUP)
    run(
        session,
        "CREATE FUNCTION no_x() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.name = 'X' THEN RAISE EXCEPTION 'no x'; END IF; RETURN NEW; END $$",
    )
    run(session, "CREATE TRIGGER b_no_x BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION no_x()")
    run(session, "SELECT branch_create('r')")
    run(session, "SET hatidata_branch = 'r'")
    with pytest.raises(RaiseException, match="no x"):
        run(session, "INSERT INTO item (name) VALUES ('ok'), ('x')")
    assert run(session, "SELECT count(*) FROM item") == [(0,)]
    assert run(session, "SELECT count(*) FROM note") == [(0,)]


def test_triggers_firing_without_end_are_stopped(session: Session) -> None:
    run(session, "CREATE TABLE loop (n int)")
    run(
        session,
        "CREATE FUNCTION again() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO loop VALUES (NEW.n + 1); RETURN NULL; END $$",
    )
    run(session, "CREATE TRIGGER again AFTER INSERT ON loop FOR EACH ROW EXECUTE FUNCTION again()")
    with pytest.raises(StatementTooComplex):
        run(session, "INSERT INTO loop VALUES (1)")
    assert run(session, "SELECT count(*) FROM loop") == [(0,)]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TRIGGER x INSTEAD OF INSERT ON item FOR EACH ROW EXECUTE FUNCTION item_fill()",
        "CREATE TRIGGER x BEFORE TRUNCATE ON item EXECUTE FUNCTION item_fill()",
        "CREATE TRIGGER x AFTER INSERT ON item REFERENCING NEW TABLE AS n "
        "FOR EACH STATEMENT EXECUTE FUNCTION item_fill()",
        "CREATE CONSTRAINT TRIGGER x AFTER INSERT ON item FOR EACH ROW EXECUTE FUNCTION item_fill()",
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE n int; "
        "BEGIN GET DIAGNOSTICS n = ROW_COUNT; RETURN NEW; END $$",
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; "
        "EXCEPTION WHEN others THEN RETURN NULL; END $$",
        "INSERT INTO item (name) VALUES ('a') ON CONFLICT (id) DO UPDATE SET name = 'b'",
        "UPDATE item SET (name, seen) = ('a', 'b')",
        "MERGE INTO item USING note ON false WHEN NOT MATCHED THEN INSERT (name) VALUES ('a')",
    ],
)
def test_what_cannot_be_fired_is_refused(session: Session, sql: str) -> None:
    run(session, SETUP)
    with pytest.raises(FeatureNotSupported):
        run(session, sql)
