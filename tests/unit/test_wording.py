"""DuckDB's messages reworded as PostgreSQL's (wording.py; proved against PostgreSQL in
tests/differential/test_error_messages.py)."""

from __future__ import annotations

import duckdb
import pytest

from hati.errors import (
    CardinalityViolation,
    DuplicateColumn,
    GroupingError,
    HatiError,
    NumericValueOutOfRange,
    UndefinedFunction,
    UniqueViolation,
    as_hati_error,
)
from hati.wording import pg_type, reword


def _error(sql: str, relation: str | None = None) -> HatiError:
    db = duckdb.connect()
    db.execute("CREATE TABLE t (id INT PRIMARY KEY, a INT, b TEXT UNIQUE)")
    db.execute("INSERT INTO t VALUES (1, 1, 'x')")
    with pytest.raises(duckdb.Error) as raised:
        db.execute(sql)
    return as_hati_error(raised.value, relation)


@pytest.mark.parametrize(
    ("sql", "kind", "message"),
    [
        ("SELECT abs('a'::VARCHAR)", UndefinedFunction, "function abs(text) does not exist"),
        ("SELECT id FROM t GROUP BY a", GroupingError,
         'column "id" must appear in the GROUP BY clause or be used in an aggregate function'),
        ("ALTER TABLE t ADD COLUMN a INT", DuplicateColumn,
         'column "a" of relation "t" already exists'),
        ("SELECT 2147483647::INT + 1", NumericValueOutOfRange, "integer out of range"),
        ("SELECT (SELECT 1 UNION ALL SELECT 2)", CardinalityViolation,
         "more than one row returned by a subquery used as an expression"),
        ("INSERT INTO t VALUES (2, 2, 'x')", UniqueViolation,
         'duplicate key value violates unique constraint "t_b_key"'),
    ],
)  # fmt: skip
def test_duckdb_errors_read_as_postgresql(sql: str, kind: type, message: str) -> None:
    err = _error(sql, relation="t")
    assert isinstance(err, kind)
    assert str(err) == message
    assert "LINE 1" not in (err.detail or "")


def test_the_key_and_the_fields_of_a_duplicate() -> None:
    err = _error("INSERT INTO t VALUES (1, 5, 'y')", relation="t")
    assert (err.detail, err.table, err.constraint) == (
        "Key (id)=(1) already exists.",
        "t",
        "t_pkey",
    )  # type: ignore[attr-defined]
    # Without the statement's table the message names no constraint rather than a wrong one.
    assert str(_error("INSERT INTO t VALUES (1, 5, 'y')")) == (
        "duplicate key value violates unique constraint"
    )


def test_messages_it_does_not_know_pass_through_without_duckdbs_excerpt() -> None:
    assert reword("Some new DuckDB message", "LINE 1: SELECT") is None
    weird = reword('Duplicate key "a: x, y, b: 2" violates unique constraint.', "", "w")
    assert weird is not None and weird.detail == "Key (a, b)=(x, y, 2) already exists."
    assert pg_type("DECIMAL(10,2)") == "numeric" and pg_type("INTEGER[]") == "integer[]"
