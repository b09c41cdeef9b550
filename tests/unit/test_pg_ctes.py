"""WITH queries DuckDB would run with another meaning, or without end, on a Session."""

from __future__ import annotations

import pytest
from unit_support import run

from hati.errors import FeatureNotSupported, InvalidRecursion
from hati.session import Session


def test_a_read_beside_a_write_of_the_same_table_is_refused(session: Session) -> None:
    run(session, "CREATE TABLE y (a INT); INSERT INTO y VALUES (1)")
    with pytest.raises(FeatureNotSupported, match="beside a WITH item that writes it"):
        run(session, "WITH t AS (INSERT INTO y VALUES (7) RETURNING *) SELECT count(*) FROM y")
    assert run(session, "SELECT count(*) FROM y") == [(1,)]
    assert run(session, "WITH t AS (INSERT INTO y VALUES (7) RETURNING a) SELECT * FROM t") == [
        (7,)
    ]


def test_a_recursive_term_that_never_ends_in_duckdb_is_refused(session: Session) -> None:
    with pytest.raises(InvalidRecursion, match="aggregate functions are not allowed"):
        run(
            session,
            "WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT sum(n) FROM x) SELECT * FROM x",
        )
    with pytest.raises(InvalidRecursion, match="within a subquery"):
        run(
            session,
            "WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x "
            "WHERE n IN (SELECT * FROM x)) SELECT * FROM x",
        )


def test_returning_reads_the_joined_row_of_each_updated_row(session: Session) -> None:
    run(session, "CREATE TABLE t (k INT, v TEXT); CREATE TABLE l (k INT, label TEXT)")
    run(session, "INSERT INTO t VALUES (1, 'a'), (2, 'b'); INSERT INTO l VALUES (2, 'two')")
    assert run(
        session, "UPDATE t SET v = upper(v) FROM l WHERE l.k = t.k RETURNING t.v, l.label"
    ) == [("B", "two")]
    assert run(session, "SELECT v FROM t ORDER BY k") == [("a",), ("B",)]
