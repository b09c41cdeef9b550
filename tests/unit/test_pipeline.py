"""Each pipeline step alone, on plain values and a temp DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from hati import pipeline
from hati.branching.calls import BranchCall
from hati.errors import FeatureNotSupported, SyntaxError_
from hati.pg import statements


def test_split_keeps_quotes_dollar_quotes_and_comments_whole() -> None:
    sql = "SELECT ';'; SELECT $x$ ; $x$; -- a ; comment\nSELECT 1 /* ; */; ;  "
    assert pipeline.split(sql) == [
        "SELECT ';'",
        " SELECT $x$ ; $x$",
        " -- a ; comment\nSELECT 1 /* ; */",
    ]
    assert pipeline.split("  ") == []
    assert pipeline.split("-- only a comment;") == []


def test_one_transaction_unless_a_statement_manages_its_own() -> None:
    assert pipeline.one_transaction(["INSERT INTO t VALUES (1)", "SELECT 1"])
    assert not pipeline.one_transaction(["BEGIN", "SELECT 1"])
    assert not pipeline.one_transaction(["SELECT 1", "CHECKPOINT"])
    assert not pipeline.one_transaction(["SELECT branch_create('x')", "SELECT 1"])
    assert pipeline.one_transaction(["SELECT my_branch_count(1)", "SELECT 2"])


def test_classify_names_the_first_keyword() -> None:
    stmt = pipeline.classify("  /* hi */ -- there\n  update t set v = 1", [1])
    assert (stmt.word, stmt.params) == ("UPDATE", [1])


def test_intercept_finds_branch_calls_with_their_parameters() -> None:
    stmt = pipeline.classify("SELECT branch_create($1, $2) AS made", ["a", None])
    assert pipeline.intercept(stmt) == BranchCall("branch_create", ("a", None), "made")
    assert pipeline.intercept(pipeline.classify("SELECT 1")) is None
    assert pipeline.intercept(pipeline.classify("INSERT INTO t SELECT branch_list()")) is None
    with pytest.raises(FeatureNotSupported):
        pipeline.intercept(pipeline.classify("SELECT 1 + branch_list()"))


def test_adapt_rewrites_catalog_queries_and_nothing_else() -> None:
    user = pipeline.classify("SELECT relname FROM t WHERE x = 'pg_class'")
    pipeline.adapt(user)
    assert user.text == "SELECT relname FROM t WHERE x = 'pg_class'"
    cat = pipeline.classify("SELECT c.relname FROM pg_catalog.pg_class c")
    pipeline.adapt(cat)
    assert "_hati_pg.pg_class" in cat.text and "pg_catalog" not in cat.text


def test_adapt_spells_out_serial_columns_to_run_after_their_sequence() -> None:
    stmt = pipeline.classify("CREATE TABLE s (id SERIAL PRIMARY KEY, big bigserial, note text)")
    pipeline.adapt(stmt)
    assert stmt.pre == [
        'CREATE SEQUENCE IF NOT EXISTS "main"."s_id_seq"',
        'CREATE SEQUENCE IF NOT EXISTS "main"."s_big_seq"',
    ]
    assert 'INTEGER DEFAULT nextval(\'"main"."s_id_seq"\') NOT NULL PRIMARY KEY' in stmt.text
    assert "note text" in stmt.text


def test_analyze_runs_once_and_reports_targets() -> None:
    stmt = pipeline.classify("UPDATE t SET v = (SELECT max(v) FROM u) WHERE k = 1")
    a = stmt.analysis()
    assert stmt.analysis() is a
    assert [r.name for r in a.writes] == ["t"]
    assert {r.name for r in a.reads} == {"t", "u"}
    with pytest.raises(SyntaxError_):
        pipeline.classify("UPDATE SET WHERE").analysis()


@pytest.fixture
def cur(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    yield con
    con.close()


def test_execute_and_finish_give_postgres_command_tags(cur) -> None:
    steps = [
        ("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)", "CREATE TABLE"),
        ("INSERT INTO t VALUES (1, 1), (2, 2)", "INSERT 0 2"),
        ("UPDATE t SET v = 3", "UPDATE 2"),
        ("DELETE FROM t WHERE k = 1", "DELETE 1"),
        ("CREATE OR REPLACE VIEW w AS SELECT 1", "CREATE VIEW"),
        ("DROP VIEW w", "DROP VIEW"),
        ("TRUNCATE t", "TRUNCATE TABLE"),
    ]
    for sql, tag in steps:
        res = pipeline.execute(cur, pipeline.classify(sql))
        assert (res.tag, res.columns) == (tag, None), sql


def test_finish_streams_rows_named_as_postgres_names_them(cur) -> None:
    cur.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
    res = pipeline.execute(cur, pipeline.classify("SELECT count(*), max(x)::text FROM t"))
    assert [c[0] for c in res.columns or []] == ["count", "max"]
    assert res.fetch(10) == [(5, "4")]
    assert res.final_tag(1) == "SELECT 1"
    ret = pipeline.execute(cur, pipeline.classify("INSERT INTO t VALUES (7) RETURNING x * 2 AS y"))
    assert (ret.tag, ret.fetch(5), ret.final_tag(1)) == ("INSERT 0 0", [(14,)], "INSERT 0 1")


def test_describe_probe_reads_the_columns_a_statement_will_send() -> None:
    assert statements.describe_probe("SELECT a FROM t;") == (
        "SELECT * FROM (SELECT a FROM t) LIMIT 0",
        "SELECT a FROM t;",
    )
    probe = statements.describe_probe("UPDATE t SET a = 1 RETURNING a, b")
    assert probe == ("SELECT a, b FROM t LIMIT 0",) * 2
    assert statements.describe_probe("UPDATE t SET a = 1") is None
