"""The SQLSTATE registry and the one DuckDB -> SQLSTATE map, on real DuckDB exceptions."""

from __future__ import annotations

import duckdb
import pytest

from hati import errors
from hati.errors import (
    HatiError,
    IntegrityConstraintViolation,
    InternalError,
    SerializationFailure,
    UniqueViolation,
    lookup,
    to_sql_error,
)


def test_lookup_exact_then_by_class_then_root() -> None:
    assert lookup("23505") is UniqueViolation
    assert lookup("23999") is IntegrityConstraintViolation  # unknown code: its class
    assert lookup("ZZ123") is HatiError
    assert lookup("XX000") is InternalError


def test_every_code_is_one_class_and_a_class_sees_its_code() -> None:
    for code, cls in errors._BY_CODE.items():
        assert cls.sqlstate == code
        assert lookup(code) is cls
        assert cls("m").sqlstate == code
    with pytest.raises(TypeError, match="23505"):

        class Twice(HatiError, code="23505"):  # a code has one class
            pass


def test_every_code_of_the_duckdb_map_has_its_own_class() -> None:
    for _, _, code in errors._DUCKDB_RULES:
        assert lookup(code).sqlstate == code, code


@pytest.fixture
def cur():
    con = duckdb.connect()
    con.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))")
    con.execute("INSERT INTO t VALUES (1, 1)")
    yield con
    con.close()


@pytest.mark.parametrize(
    ("sql", "state"),
    [
        ("SELECT * FROM missing", "42P01"),
        ("SELECT * FROM nowhere.t", "42P01"),
        ("CREATE TABLE nowhere.x(a INT)", "3F000"),
        ("SELECT nextval('no_seq')", "42P01"),
        ("SELECT no_such_function(1)", "42883"),
        ("CREATE TABLE t(a INT)", "42P07"),
        ("INSERT INTO t VALUES (1, 2)", "23505"),
        ("INSERT INTO t VALUES (2, NULL)", "23502"),
        ("INSERT INTO t VALUES (3, -1)", "23514"),
        ("SELECT nope FROM t", "42703"),
        ("SELEC 1", "42601"),
        ("SELECT 'x'::INTEGER", "22P02"),
        ("SELECT 1 // 0", "22012"),
    ],
)
def test_duckdb_errors_map_to_postgres_codes(cur, sql: str, state: str) -> None:
    with pytest.raises(duckdb.Error) as info:
        cur.execute(sql)
    err = to_sql_error(info.value)
    assert err.sqlstate == state, (sql, err)
    assert not err.message.startswith(("Catalog Error", "Constraint Error", "Parser Error"))


def test_a_write_conflict_is_40001_with_a_hint(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v INTEGER)")
    con.execute("INSERT INTO t VALUES (1, 0)")
    a, b = con.cursor(), con.cursor()
    a.execute("BEGIN")
    b.execute("BEGIN")
    a.execute("UPDATE t SET v = 1 WHERE k = 1")
    with pytest.raises(duckdb.Error) as info:
        b.execute("UPDATE t SET v = 2 WHERE k = 1")
    err = errors.as_hati_error(info.value)
    assert isinstance(err, SerializationFailure)
    assert err.hint and "retry" in err.hint
    con.close()


def test_foreign_exceptions() -> None:
    assert to_sql_error(RecursionError()).sqlstate == "54001"
    assert to_sql_error(MemoryError()).sqlstate == "53200"
    odd = to_sql_error(KeyError("x"))
    assert (odd.sqlstate, odd.message) == ("XX000", "internal error: KeyError: 'x'")
    assert to_sql_error(ValueError("v")).fatal().severity == "FATAL"
