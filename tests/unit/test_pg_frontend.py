"""The SQL front end without a server: split, shapes, guard, translation, printing."""

from __future__ import annotations

import duckdb
import pytest

from hati.errors import (
    FeatureNotSupported,
    HatiError,
    InsufficientPrivilege,
    ProgramLimitExceeded,
    SyntaxError_,
    UndefinedFunction,
)
from hati.pg import lex
from hati.pg.frontend import FrontEnd
from hati.pg.guard import Policy


def _reserved(schema: str) -> bool:
    return schema.startswith(("_hati", "_hb_", "_hbd_"))


@pytest.fixture
def fe() -> FrontEnd:
    return FrontEnd(Policy(reserved_schema=_reserved), max_statement_bytes=100_000)


@pytest.fixture
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET integer_division = true")
    con.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR, "at" INTEGER)')
    con.execute("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20)")
    return con


def run(fe: FrontEnd, duck: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list]:
    (text,) = fe.split(sql)
    rel = duck.execute(fe.compile(text).sql())
    return [d[0] for d in rel.description], rel.fetchall()


# ---------------------------------------------------------------- splitting
@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("SELECT E'\\'' ; UPDATE main.v SET s='x' ; -- '", 2),
        ("SELECT 'a;b'; SELECT $$;$$; SELECT 1 /* ; */", 3),
        ("SELECT 1; ;; SELECT 2;", 2),
        ("/* only a comment */", 0),
    ],
)
def test_split_is_postgresqls(fe: FrontEnd, sql: str, count: int) -> None:
    assert len(fe.split(sql)) == count


def test_a_syntax_error_anywhere_runs_nothing_and_has_a_position(fe: FrontEnd) -> None:
    with pytest.raises(SyntaxError_) as exc:
        fe.split("SELECT 1; SELECT 1) t; UPDATE ledger SET amt = 0")
    assert exc.value.message == 'syntax error at or near ")"'
    assert exc.value.position == 19


def test_duckdb_only_syntax_is_a_syntax_error(fe: FrontEnd) -> None:
    for sql in (
        "ATTACH '/tmp/x.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE MACRO main.abs(x) AS 42",
        "SELECT * FROM '/etc/passwd'",
        "PRAGMA database_list",
        "USE main",
        "FROM t",
    ):
        with pytest.raises(SyntaxError_):
            fe.compile(sql)


# ---------------------------------------------------------------- shapes
def test_statements_differing_in_literals_share_one_template(fe: FrontEnd) -> None:
    a = fe.compile("SELECT v FROM t WHERE id = 1")
    b = fe.compile("SELECT v FROM t WHERE id = 2 -- another")
    assert a.template is b.template
    assert a.sql() == "SELECT v AS v FROM t WHERE id = 1"
    assert b.sql() == "SELECT v AS v FROM t WHERE id = 2"


def test_lifted_strings_are_respelled_as_standard_constants(fe: FrontEnd) -> None:
    c = fe.compile("SELECT E'it\\'s\\n', $q$a'b$q$, 'x''y'")
    assert c.literals == ("'it''s\n'", "'a''b'", "'x''y'")


def test_markers_never_replace_text_inside_names_or_strings() -> None:
    parts, slots = lex.split_markers("SELECT \"c$3\", x$3, 'a $3', $3, $1", params=2)
    assert lex.splice(parts, slots, ("7",)) == "SELECT \"c$3\", x$3, 'a $3', 7, $1"


def test_typed_literals_stay_in_the_shape(fe: FrontEnd) -> None:
    c = fe.compile("SELECT DATE '2024-01-02', interval '1 day', 5")
    assert c.literals == ("5",)


def test_client_parameters_keep_their_numbers(fe: FrontEnd) -> None:
    c = fe.compile("SELECT v FROM t WHERE id = $1 AND v = 'a'")
    assert c.params == 1
    assert c.sql() == "SELECT v AS v FROM t WHERE id = $1 AND v = 'a'"


def test_the_text_limit_is_54000(fe: FrontEnd) -> None:
    with pytest.raises(ProgramLimitExceeded):
        fe.split("SELECT '" + "x" * 200_000 + "'")


# ---------------------------------------------------------------- guard
@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT * FROM _hati.audit", InsufficientPrivilege),
        ("UPDATE _hati.audit SET agent_id = 'x'", InsufficientPrivilege),
        ("DROP SCHEMA _hati CASCADE", InsufficientPrivilege),
        ("DROP SCHEMA _hb_2 CASCADE", InsufficientPrivilege),
        ("SELECT * FROM _hb_3.t", InsufficientPrivilege),
        ("INSERT INTO _hbd_3.t VALUES (1)", InsufficientPrivilege),
        ("SELECT _hati_pg.hati_regclass('t')", InsufficientPrivilege),
        ("DROP VIEW hati_audit", InsufficientPrivilege),
        ("DELETE FROM hati_audit", InsufficientPrivilege),
        ("SELECT read_text('/etc/shadow')", UndefinedFunction),
        ("SELECT * FROM read_csv('/etc/passwd')", UndefinedFunction),
        ("SELECT read_blob('/etc/shadow')", UndefinedFunction),
        ("SELECT * FROM glob('/root/*')", UndefinedFunction),
        ("SELECT * FROM query('SELECT 1')", UndefinedFunction),
        ("SELECT * FROM duckdb_tables()", UndefinedFunction),
        ("SELECT * FROM pragma_table_info('x')", UndefinedFunction),
        ("SELECT * FROM json_execute_serialized_sql('x')", UndefinedFunction),
        ("SELECT * FROM some_other_function()", UndefinedFunction),
        ("COPY t TO '/work/hati.toml'", InsufficientPrivilege),
        ("COPY t FROM '/etc/passwd'", InsufficientPrivilege),
        ("COPY t TO PROGRAM 'sh'", InsufficientPrivilege),
        ("SELECT * FROM other.public.t", FeatureNotSupported),
        (
            "CREATE FUNCTION f() RETURNS int AS 'begin perform 1; end' LANGUAGE plpgsql",
            FeatureNotSupported,
        ),
        ("DO LANGUAGE plpython3u $$ import os $$", FeatureNotSupported),
        ("CREATE EXTENSION httpfs", FeatureNotSupported),
    ],
)
def test_the_guard_refuses(fe: FrontEnd, sql: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        fe.compile(sql)
    with pytest.raises(error):  # and again from the cache
        fe.compile(sql)


def test_server_files_open_only_when_the_administrator_says_so() -> None:
    fe = FrontEnd(Policy(reserved_schema=_reserved, server_files=True))
    assert fe.compile("COPY t TO '/tmp/out.csv'").analysis.kind == "COPY"


def test_ctes_are_not_tables(fe: FrontEnd) -> None:
    a = fe.compile(
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r, t"
    ).analysis
    assert [(x.name, x.role.value) for x in a.tables] == [("t", "read")]


def test_roles_of_relations(fe: FrontEnd) -> None:
    a = fe.compile("INSERT INTO t SELECT * FROM u JOIN public.w USING (id)").analysis
    assert [(x.schema, x.name, x.role.value) for x in a.tables] == [
        (None, "t", "write"),
        (None, "u", "read"),
        (None, "w", "read"),  # public is the default schema
    ]
    a = fe.compile("DROP TABLE IF EXISTS a, public.b").analysis
    assert [(x.schema, x.name, x.role.value) for x in a.drops] == [
        (None, "a", "drop"),
        (None, "b", "drop"),
    ]
    assert a.if_exists


# ---------------------------------------------------------------- translation
@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("SELECT 1", ["?column?"]),
        ("SELECT 'a'::text", ["text"]),
        ("SELECT count(*) FROM t", ["count"]),
        ("SELECT extract(month from date '2024-01-01')", ["extract"]),
        ("SELECT v, t.at, at + 1 FROM t ORDER BY 1", ["v", "at", "?column?"]),
        ("VALUES (1, 'a')", ["column1", "column2"]),
        ("SELECT * FROM (VALUES (1, 2)) v(a)", ["a", "column2"]),
        ("SELECT (SELECT count(*) FROM t)", ["count"]),
        ("SELECT count FROM (SELECT count(*) FROM t) s", ["count"]),
        (
            "SELECT coalesce(at, 0), CASE WHEN at > 1 THEN 1 END FROM t ORDER BY 1",
            ["coalesce", "case"],
        ),
    ],
)
def test_columns_are_named_as_postgresql_names_them(
    fe: FrontEnd, duck: duckdb.DuckDBPyConnection, sql: str, names: list[str]
) -> None:
    assert run(fe, duck, sql)[0] == names


def test_a_set_returning_function_in_the_select_list_gives_rows(
    fe: FrontEnd, duck: duckdb.DuckDBPyConnection
) -> None:
    assert run(fe, duck, "SELECT generate_series(1, 3)") == (
        ["generate_series"],
        [(1,), (2,), (3,)],
    )


def test_identifiers_that_are_duckdb_keywords_are_quoted(
    fe: FrontEnd, duck: duckdb.DuckDBPyConnection
) -> None:
    assert run(fe, duck, "SELECT at FROM t WHERE at > 10") == (["at"], [(20,)])


def test_the_printed_text_holds_no_comment(fe: FrontEnd) -> None:
    assert fe.compile("SELECT 1 /* hidden */ -- more").sql() == 'SELECT 1 AS "?column?"'


# ---------------------------------------------------------------- literal scales
@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("1", "i"),
        ("9999999999", "i"),
        ("1.5", "n1"),
        ("-0.25", "n2"),
        ("1.50", "z"),
        ("2.5e1", "n0"),
        ("1e-3", "n3"),
        ("1.0e-2", "z"),
    ],
)
def test_lifted_numbers_keep_their_kind(raw: str, kind: str) -> None:
    assert lex.literal_kind(raw, string=False) == kind


def _types(duck: duckdb.DuckDBPyConnection, fe: FrontEnd, sql: str) -> list[str]:
    (text,) = fe.split(sql)
    return [str(d[1]) for d in duck.execute(fe.compile(text).sql()).description]


def test_numeric_constants_meeting_integers_keep_their_digits(
    fe: FrontEnd, duck: duckdb.DuckDBPyConnection
) -> None:
    bare = "DECIMAL(38,11)"  # printed with each value's own digits (wire/numerics.py)
    assert _types(duck, fe, "SELECT 1 UNION SELECT 1.5") == [bare]
    assert _types(duck, fe, "SELECT ARRAY[2, 1.5]") == [bare + "[]"]
    assert _types(duck, fe, "SELECT CASE WHEN id = 1 THEN 1.5 ELSE 2 END FROM t") == [bare]
    assert _types(duck, fe, "VALUES (1, 2), (3, 4 + 4), (7, 77.7)")[1] == bare
    # one scale throughout, trailing zeros, a column or a cast: DuckDB's own types
    assert _types(duck, fe, "SELECT 1.5 UNION SELECT 2.5") == ["DECIMAL(2,1)"]
    assert _types(duck, fe, "SELECT 1.50 UNION SELECT 2") != [bare]
    assert _types(duck, fe, "SELECT id FROM t UNION SELECT 1.5") != [bare]
    assert _types(duck, fe, "SELECT ARRAY[2, 1.5]::float8[]") == ["DOUBLE[]"]
    a, b = fe.compile("SELECT 1 UNION SELECT 1.5"), fe.compile("SELECT 1 UNION SELECT 2")
    assert a.template is not b.template  # the constants' kinds are part of the shape


def test_insert_values_take_the_column_types(fe: FrontEnd) -> None:
    assert "DECIMAL(38" not in fe.compile("INSERT INTO t (id) VALUES (1), (1.5)").sql()


# ---------------------------------------------------------------- windows
@pytest.mark.parametrize(
    ("sql", "code"),
    [
        (
            "SELECT sum(id) OVER (ORDER BY id ROWS BETWEEN id PRECEDING AND CURRENT ROW) FROM t",
            "42P10",
        ),
        ("SELECT sum(id) OVER (PARTITION BY v GROUPS 1 PRECEDING) FROM t", "42P20"),
        ("SELECT count() FROM t", "42809"),
        ("SELECT nth_value(id, 0) OVER (ORDER BY id) FROM t", "22016"),
        ("SELECT nth_value(id, -3) OVER (ORDER BY id) FROM t", "22016"),
    ],
)
def test_window_checks_postgresql_makes(fe: FrontEnd, sql: str, code: str) -> None:
    with pytest.raises(HatiError) as err:
        fe.compile(sql)
    assert err.value.sqlstate == code


def test_a_subquery_may_give_a_frame_offset(fe: FrontEnd, duck: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT count(*) OVER (ORDER BY id ROWS (SELECT min(id) FROM t) PRECEDING) FROM t ORDER BY 1"
    assert run(fe, duck, sql)[1] == [(1,), (2,)]


def test_an_order_by_names_a_window_of_the_window_clause(
    fe: FrontEnd, duck: duckdb.DuckDBPyConnection
) -> None:
    sql = "SELECT id, rank() OVER w FROM t WINDOW w AS (ORDER BY id DESC) ORDER BY rank() OVER w"
    assert run(fe, duck, sql)[1] == [(2, 1), (1, 2)]
