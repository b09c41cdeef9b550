"""PL/pgSQL bodies compiled to one expression (pg/plpgsql.py), run on a temp DuckDB file."""

from __future__ import annotations

import pytest
from pglast import parse_sql
from unit_support import run

from hati.errors import (
    CaseNotFound,
    DivisionByZero,
    FeatureNotSupported,
    FunctionExecutedNoReturnStatement,
    RaiseException,
    SyntaxError_,
    as_hati_error,
)
from hati.pg import emulate, plpgsql
from hati.session import Session


def _compiled(sql: str) -> str:
    stmt = parse_sql(sql)[0].stmt
    body = next(o.arg[0].sval for o in stmt.options if o.defname == "as")
    return emulate.text(plpgsql.as_select(stmt, body))


def test_paths_become_one_case_expression() -> None:
    text = _compiled(
        "CREATE FUNCTION f(a int) RETURNS int LANGUAGE plpgsql AS $$ DECLARE x int := 2; "
        "BEGIN x := x * a; IF x > 10 THEN RETURN x; END IF; RETURN 0; END $$"
    )
    # x is replaced by what it holds on each path; the variable itself is gone.
    assert text.count("CASE") == 1
    assert " x " not in f" {text} "
    assert "a" in text


def test_a_returned_variable_is_its_value() -> None:
    text = _compiled(
        "CREATE FUNCTION f(a int) RETURNS int LANGUAGE plpgsql AS "
        "$$ DECLARE y int; BEGIN y := a + 1; RETURN y; END $$"
    )
    assert "a + 1" in text


def test_functions_run_on_a_session(session: Session) -> None:
    run(session, "CREATE TABLE t (id int, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    run(
        session,
        "CREATE FUNCTION grade(n int) RETURNS text LANGUAGE plpgsql AS $$ DECLARE c int; "
        "BEGIN SELECT count(*) INTO c FROM t WHERE id <= n; "
        "CASE c WHEN 0 THEN RETURN 'none'; WHEN 1 THEN RETURN 'one'; ELSE RETURN c || ' rows'; "
        "END CASE; END $$",
    )
    assert run(session, "SELECT grade(0), grade(1), grade(5)") == [("none", "one", "2 rows")]
    assert run(session, "SELECT grade(id) FROM t ORDER BY id") == [("one",), ("2 rows",)]


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("BEGIN RAISE EXCEPTION 'bad % and %%', a; END", RaiseException, "bad 7 and %"),
        ("BEGIN IF a > 100 THEN RETURN 1; END IF; END", FunctionExecutedNoReturnStatement,
         "control reached end of function without RETURN"),
        ("BEGIN RAISE EXCEPTION USING ERRCODE = '22012', MESSAGE = 'no ' || a; END",
         DivisionByZero, "no 7"),
        ("BEGIN CASE WHEN a < 0 THEN RETURN 1; END CASE; END", CaseNotFound, "case not found"),
    ],
)  # fmt: skip
def test_errors_raised_in_the_body_keep_their_sqlstate(
    session: Session, body: str, error: type[Exception], message: str
) -> None:
    run(session, f"CREATE FUNCTION boom(a int) RETURNS int LANGUAGE plpgsql AS $$ {body} $$")
    with pytest.raises(Exception) as raised:  # a DuckDB error, mapped below
        run(session, "SELECT boom(7)")
    sent = as_hati_error(raised.value)  # what the client is told
    assert isinstance(sent, error)
    assert sent.message == message
    assert run(session, "SELECT 1") == [(1,)]  # the session goes on


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("BEGIN FOR i IN 1..a LOOP NULL; END LOOP; RETURN 1; END", FeatureNotSupported),
        ("BEGIN INSERT INTO t VALUES (a); RETURN a; END", FeatureNotSupported),
        ("BEGIN RETURN 1; EXCEPTION WHEN others THEN RETURN 2; END", FeatureNotSupported),
        ("BEGIN PERFORM 1; RETURN 1; END", FeatureNotSupported),
        ("BEGIN RETRUN a; END", SyntaxError_),
    ],
)
def test_what_has_no_expression_is_refused_at_create(
    session: Session, body: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        run(session, f"CREATE FUNCTION nope(a int) RETURNS int LANGUAGE plpgsql AS $$ {body} $$")
    assert run(session, "SELECT count(*) FROM pg_proc WHERE proname = 'nope'") == [(0,)]
