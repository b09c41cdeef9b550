"""Which writes say what they change (row deltas, undo snapshots), read off the tree."""

from __future__ import annotations

import pytest

from hati.pg.dml import PlainWrite, plain_write
from hati.pg.frontend import FrontEnd
from hati.pg.guard import Policy

_FE = FrontEnd(Policy(reserved_schema=lambda s: s.startswith("_hati")))


def plan(sql: str, params: list | None = None) -> PlainWrite | None:
    return plain_write(_FE.compile(sql), params or [])


def test_where_is_printed_alone_with_its_own_parameters() -> None:
    dw = plan("UPDATE t SET v = $1 WHERE k = $3 AND note = $2 RETURNING k", ["a", "b", 7])
    assert dw is not None and dw.kind == "UPDATE" and dw.alias == "t"
    assert dw.cond == "k = $1 AND note = $2"
    assert dw.cond_params == [7, "b"]
    assert dw.set_columns == ["v"]


def test_lifted_literals_come_back_into_the_where() -> None:
    dw = plan("DELETE FROM t AS x WHERE x.k IN (1, 2) AND x.note = 'it''s'")
    assert dw is not None and dw.alias == "x"
    assert dw.cond == "x.k IN (1, 2) AND x.note = 'it''s'" and dw.cond_params == []


def test_a_where_inside_parentheses_is_not_the_statement_where() -> None:
    dw = plan("DELETE FROM t WHERE k IN (SELECT id FROM u WHERE u.flag) AND k > 3")
    assert dw is not None and dw.cond == "k IN (SELECT id AS id FROM u WHERE u.flag) AND k > 3"
    dw = plan("UPDATE t SET v = 1")
    assert dw is not None and dw.cond is None  # every row: all are pulled


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET v = (SELECT max(v) FROM t) WHERE k = 1",  # reads its own target
        "UPDATE t SET v = u.v FROM u WHERE t.k = u.k",
        "DELETE FROM t USING u WHERE t.k = u.k",
        "INSERT INTO t VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET v = 2",
        "INSERT INTO t SELECT * FROM t",
        "WITH x AS (SELECT 1 AS k) DELETE FROM t WHERE k IN (SELECT k FROM x)",
        "UPDATE t SET v = 1 WHERE random() < 0.5",  # evaluated twice, could differ
        "ALTER TABLE t ADD COLUMN w INTEGER",
        "DELETE FROM other.t WHERE k = 1",
    ],
)
def test_statements_that_need_the_general_path(sql: str) -> None:
    assert plan(sql) is None


def test_public_and_main_name_the_default_schema() -> None:
    dw = plan("DELETE FROM public.t WHERE k = 1")
    assert dw is not None and dw.table == "t"


def test_key_changes_are_known() -> None:
    key = ["k"]
    writes = [
        plan(s)
        for s in (
            "INSERT INTO t VALUES (1, 2)",
            "UPDATE t SET v = 1 WHERE k = 2",
            "UPDATE t SET k = k + 1 WHERE k = 2",
            "DELETE FROM t WHERE k = 2",
        )
    ]
    assert [w is not None and w.may_break_keys(key) for w in writes] == [True, False, True, False]
