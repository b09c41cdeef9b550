"""Each pipeline step alone, on plain values and a temp DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from hati import pipeline
from hati.errors import FeatureNotSupported, InvalidParameter, SyntaxError_
from hati.pg import install as pginstall
from hati.pg import statements
from hati.pg.frontend import FrontEnd
from hati.pg.guard import Policy
from hati.storage.duckdb_backend import POSTGRES_SEMANTICS

FE = FrontEnd(Policy(reserved_schema=lambda s: s.startswith(("_hati", "_hb_", "_hbd_"))))


def stmt(sql: str, params: list | None = None) -> pipeline.Statement:
    (text,) = pipeline.split(FE, sql)
    return pipeline.compile_one(FE, text, params)


def test_split_is_postgresqls_own() -> None:
    sql = "SELECT ';'; SELECT $x$ ; $x$; -- a ; comment\nSELECT 1 /* ; */; ;  "
    assert pipeline.split(FE, sql) == [
        "SELECT ';'",
        "SELECT $x$ ; $x$",
        "SELECT 1 /* ; */",
    ]
    assert pipeline.split(FE, "  ") == []
    assert pipeline.split(FE, "-- only a comment;") == []
    with pytest.raises(SyntaxError_):
        pipeline.split(FE, "SELECT 1; UPDATE SET WHERE")


def test_one_transaction_unless_a_statement_manages_its_own() -> None:
    def batch(*sqls: str) -> list[pipeline.Statement]:
        return [stmt(s) for s in sqls]

    assert pipeline.one_transaction(batch("INSERT INTO t VALUES (1)", "SELECT 1"))
    assert not pipeline.one_transaction(batch("BEGIN", "SELECT 1"))
    assert not pipeline.one_transaction(batch("SELECT 1", "CHECKPOINT"))
    assert not pipeline.one_transaction(batch("SELECT branch_create('x')", "SELECT 1"))
    assert pipeline.one_transaction(batch("SELECT my_branch_count(1)", "SELECT 2"))


def test_intercept_finds_branch_calls_with_their_parameters() -> None:
    call = pipeline.intercept(stmt("SELECT branch_create($1, $2) AS made", ["a", None]))
    assert call == pipeline.BranchCall("branch_create", ("a", None), "made")
    assert pipeline.intercept(stmt("SELECT branch_merge('x', 'main_wins')")) == (
        pipeline.BranchCall("branch_merge", ("x", "main_wins"), "branch_merge")
    )
    assert pipeline.intercept(stmt("SELECT * FROM branch_list()")) == pipeline.BranchCall(
        "branch_list", ()
    )
    assert pipeline.intercept(stmt("SELECT 1")) is None
    with pytest.raises(FeatureNotSupported):
        pipeline.intercept(stmt("SELECT 1 + branch_list()"))
    with pytest.raises(FeatureNotSupported):
        pipeline.intercept(stmt("INSERT INTO t SELECT branch_create('x')"))
    with pytest.raises(InvalidParameter):
        pipeline.intercept(stmt("SELECT branch_discard()"))


def test_catalog_queries_read_the_filtered_views() -> None:
    user = stmt("SELECT relname FROM t WHERE x = 'pg_class'")
    assert user.sql == "SELECT relname AS relname FROM t WHERE x = 'pg_class'"
    cat = stmt("SELECT c.relname FROM pg_catalog.pg_class c")
    assert "_hati_pg.pg_class" in cat.sql and "pg_catalog" not in cat.sql


def test_serial_columns_run_after_their_sequence() -> None:
    s = stmt("CREATE TABLE s (id SERIAL PRIMARY KEY, big bigserial, note text)")
    assert s.pre == (
        'CREATE SEQUENCE IF NOT EXISTS main."s_id_seq" MAXVALUE 2147483647',
        "COMMENT ON SEQUENCE main.\"s_id_seq\" IS 'int4'",
        'CREATE SEQUENCE IF NOT EXISTS main."s_big_seq"',
    )
    assert "id integer DEFAULT nextval('main.\"s_id_seq\"') NOT NULL PRIMARY KEY" in s.sql
    assert "note text" in s.sql


def test_analysis_reports_targets() -> None:
    a = stmt("UPDATE t SET v = (SELECT max(v) FROM u) WHERE k = 1").analysis
    assert [r.name for r in a.writes] == ["t"]
    assert {r.name for r in a.reads} == {"u"}


@pytest.fixture
def cur(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "p.duckdb"), config=dict(POSTGRES_SEMANTICS))
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
        ("CREATE TABLE c AS SELECT * FROM t", "SELECT 0"),
    ]
    for sql, tag in steps:
        res = pipeline.execute(cur, stmt(sql))
        assert (res.tag, res.columns) == (tag, None), sql


def test_finish_streams_rows_named_as_postgres_names_them(cur) -> None:
    pginstall.install(cur)  # x::text prints as PostgreSQL prints x: a macro of hati's
    cur.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
    res = pipeline.execute(cur, stmt("SELECT count(*), max(x)::text FROM t"))
    assert [c[0] for c in res.columns or []] == ["count", "max"]
    assert res.tuples() == [(5, "4")]
    assert res.final_tag(1) == "SELECT 1"
    ret = pipeline.execute(cur, stmt("INSERT INTO t VALUES (7) RETURNING x * 2 AS y, x"))
    assert (ret.tag, ret.tuples(), ret.final_tag(1)) == ("INSERT 0 0", [(14, 7)], "INSERT 0 1")


def test_describe_reads_the_columns_a_statement_will_send(cur) -> None:
    cur.execute("CREATE TABLE t (a INTEGER, b VARCHAR)")
    probe = statements.describe_sql(stmt("SELECT a FROM t WHERE b = 'x'").compiled)
    assert probe == ("SELECT * FROM (SELECT a AS a FROM t WHERE b = 'x') AS q LIMIT 0", 0)
    probe = statements.describe_sql(stmt("UPDATE t SET a = 1 RETURNING a, b || '!'").compiled)
    assert probe is not None
    names = [d[0] for d in cur.execute(probe[0]).description]
    assert names == ["a", "?column?"]
    assert statements.describe_sql(stmt("UPDATE t SET a = 1").compiled) is None
