"""Which branch writes a row delta can take as they are, and the WHERE it pulls with."""

from __future__ import annotations

import pytest

from hati.branching.analysis import analyze
from hati.branching.delta import plan_write


def plan(sql: str, params: list | None = None):
    return plan_write(analyze(sql), sql, params or [])


def test_where_is_cut_out_as_written_with_its_own_parameters() -> None:
    dw = plan("UPDATE t SET v = $1 WHERE k = $3 AND note = $2 RETURNING k", ["a", "b", 7])
    assert dw is not None and dw.kind == "UPDATE" and dw.alias == "t"
    assert dw.cond == "k = $1 AND note = $2"
    assert dw.cond_params == [7, "b"]
    assert dw.set_columns == ["v"]


def test_question_mark_parameters_after_the_set_list() -> None:
    dw = plan("UPDATE t AS x SET v = ? WHERE x.k IN (?, ?);", [1, 2, 3])
    assert dw is not None and dw.alias == "x"
    assert dw.cond == "x.k IN (?, ?)" and dw.cond_params == [2, 3]


def test_a_where_inside_parentheses_is_not_the_statement_where() -> None:
    dw = plan("DELETE FROM t WHERE k IN (SELECT id FROM u WHERE u.flag) AND k > 3")
    assert dw is not None and dw.cond == "k IN (SELECT id FROM u WHERE u.flag) AND k > 3"
    dw = plan("UPDATE t SET v = 1")
    assert dw is not None and dw.cond is None  # every row: all are pulled


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET v = (SELECT max(v) FROM t) WHERE k = 1",  # reads its own target
        "UPDATE t SET v = u.v FROM u WHERE t.k = u.k",
        "DELETE FROM t USING u WHERE t.k = u.k",
        "INSERT INTO t VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET v = 2",
        "INSERT OR REPLACE INTO t VALUES (1, 2)",
        "INSERT INTO t SELECT * FROM t",
        "WITH x AS (SELECT 1 AS k) DELETE FROM t WHERE k IN (SELECT k FROM x)",
        "UPDATE t SET v = 1 WHERE random() < 0.5",  # evaluated twice, could differ
        "ALTER TABLE t ADD COLUMN w INTEGER",
        "DELETE FROM main.t WHERE k = 1",
    ],
)
def test_statements_that_need_a_full_copy(sql: str) -> None:
    assert plan(sql) is None


def test_key_changes_are_known() -> None:
    key = ["k"]
    assert plan("INSERT INTO t VALUES (1, 2)").may_break_keys(key)
    assert not plan("UPDATE t SET v = 1 WHERE k = 2").may_break_keys(key)
    assert plan("UPDATE t SET k = k + 1 WHERE k = 2").may_break_keys(key)
    assert not plan("DELETE FROM t WHERE k = 2").may_break_keys(key)
