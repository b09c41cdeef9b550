"""The read-only rule of ``hati mcp``'s query tool, and result values as JSON (no server)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

pytest.importorskip("pglast")

from hati.integrations.mcp.connection import to_json
from hati.integrations.mcp.sqlcheck import (
    check_read_only,
    check_session_settings,
)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select * from t where a = $1",
        "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "VALUES (1), (2)",
        "TABLE t",
        "SHOW hatidata_branch",
        "EXPLAIN SELECT * FROM t",
        "SELECT * FROM branch_list()",
        "SELECT * FROM branch_diff('plan-a')",
        "SELECT * FROM branch_conflicts($1)",
        "SELECT count(*) FROM hati_audit",
        "SELECT (SELECT max(a) FROM t) AS m",
        "SELECT 'DELETE FROM t' AS not_a_delete",
    ],
)
def test_reads_pass(sql):
    assert check_read_only(sql) is None


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO t VALUES (1)", "INSERT"),
        ("UPDATE t SET a = 1", "UPDATE"),
        ("DELETE FROM t", "DELETE"),
        ("CREATE TABLE x (a int)", "CREATE TABLE"),
        ("DROP TABLE t", "DROP"),
        ("TRUNCATE t", "TRUNCATE"),
        ("SET hatidata_branch = 'x'", "SET"),
        ("BEGIN", "transaction"),
        ("COPY t TO '/tmp/x.csv'", "COPY"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE"),
        ("SELECT * INTO t2 FROM t", "SELECT INTO"),
        ("SELECT * FROM t FOR UPDATE", "FOR UPDATE"),
        ("EXPLAIN ANALYZE DELETE FROM t", "DELETE"),
        ("SELECT nextval('s')", "nextval"),
        ("SELECT branch_create('x')", "branch_create"),
        ("SELECT branch_query('x', 'SELECT 1')", "branch_query"),
        ("SELECT * FROM t WHERE a IN (SELECT setval('s', 1))", "setval"),
    ],
)
def test_writes_are_refused_with_25006(sql, reason):
    refusal = check_read_only(sql)
    assert refusal is not None and refusal.sqlstate == "25006"
    assert reason in refusal.message
    assert "execute" in refusal.hint and "branch_query" in refusal.hint


def test_unparseable_and_multiple_statements_are_42601():
    refusal = check_read_only("SELEC 1")
    assert refusal is not None and refusal.sqlstate == "42601" and "syntax" in refusal.message
    refusal = check_read_only("SELECT 1; SELECT 2")
    assert refusal is not None and refusal.sqlstate == "42601" and "exactly one" in refusal.message


@pytest.mark.parametrize(
    "sql",
    [
        "SET hatidata_branch = 'x'",
        "RESET hatidata_branch",
        "INSERT INTO t VALUES (1); SET hatidata_agent_id TO 'other'",
        "CREATE TABLE t (a INTEGER[3]); SET SESSION hatidata_branch = 'x'",  # regex fallback
        "INSERT INTO t SELECT [1, 2]; set hatidata_branch = 'x'",  # DuckDB syntax: regex fallback
    ],
)
def test_execute_refuses_hati_session_settings(sql):
    refusal = check_session_settings(sql)
    assert refusal is not None and refusal.sqlstate == "0A000"


@pytest.mark.parametrize(
    "sql", ["SET search_path = main", "INSERT INTO t VALUES ('SET hatidata_branch')"]
)
def test_execute_allows_other_settings(sql):
    assert check_session_settings(sql) is None


def test_to_json():
    assert to_json(decimal.Decimal("1.50")) == 1.5
    assert to_json(decimal.Decimal("12345678901234567890.123")) == "12345678901234567890.123"
    assert to_json(float("inf")) == "inf"
    assert to_json(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert to_json(dt.timedelta(days=1)) == "1 day, 0:00:00"
    assert to_json(b"\x00\xff") == "\\x00ff"
    u = uuid.uuid4()
    assert to_json(u) == str(u)
    assert to_json({"a": [decimal.Decimal("2"), None]}) == {"a": [2.0, None]}
