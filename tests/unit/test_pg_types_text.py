"""PostgreSQL's types and texts of values: pg_typeof's resolution, ``x::text`` of arrays,
rows, bytea, floats and intervals, and the numeric variance and standard deviation."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from pglast import parser

from hati.pg import valuetext
from hati.pg.frontend import FrontEnd
from hati.pg.guard import Policy
from hati.pg.numeric import stddev, variance
from hati.pg.translate import NeedsLiteral, Translation
from hati.pg.translate import typeof as tp
from hati.wire import numerics


def _expr(sql: str) -> Any:
    return parser.parse_sql(f"SELECT {sql}")[0].stmt.targetList[0].val


@pytest.mark.parametrize(
    ("sql", "pg"),
    [
        ("'a'", "unknown"),
        ("NULL", "unknown"),
        ("1", "integer"),
        ("3000000000", "bigint"),
        ("10000000000000000000", "numeric"),
        ("1.5", "numeric"),
        ("true", "boolean"),
        ("'a'::varchar(3)", "character varying"),
        ("'a'::char", "character"),
        ("'a'::\"char\"", '"char"'),
        ("'a'::name", "name"),
        ("'{}'::jsonb", "jsonb"),
        ("'{}'::numeric[]", "numeric[]"),
        ("1::float(10)", "real"),
        ("now()::timestamp", "timestamp without time zone"),
        ('x::"MyType"', '"MyType"'),
        ("1.5::float4 + 1", "double precision"),  # float48pl
        ("1::int2 + 1::int2", "smallint"),
        ("1::int2 * 1::int8", "bigint"),
        ("10 / 4.0", "numeric"),
        ("1.5::float4 * 2.5", "double precision"),
        ("2 ^ 3", "double precision"),
        ("2.0 ^ 3", "numeric"),
        ("-1::int2", "smallint"),
        ("'a' || 'b'", "text"),
        ("ARRAY[1, 2] || 3", "integer[]"),
        ("'{}'::jsonb -> 'a'", "jsonb"),
        ("'{}'::json -> 'a'", "json"),
        ("'{}'::jsonb ->> 'a'", "text"),
        ("DATE '2024-01-01' - DATE '2023-01-01'", "integer"),
        ("DATE '2024-01-01' + 1", "date"),
        ("DATE '2024-01-01' + '1 day'::interval", "timestamp without time zone"),
        ("now() - '1 day'::interval", "timestamp with time zone"),
        ("'1 day'::interval * 2", "interval"),
        ("ARRAY[1, 2]", "integer[]"),
        ("ARRAY[[1, 2], [3, 4]]", "integer[]"),
        ("ARRAY['a', 'b']", "text[]"),
        ("ARRAY[1, 2.5]", "numeric[]"),
        ("ROW(1, 'a')", "record"),
        ("CASE WHEN true THEN 1 ELSE 2.5 END", "numeric"),
        ("coalesce('a', 'b')", "text"),
        ("greatest(1, 2::int8)", "bigint"),
        ("count(*)", "bigint"),
        ("sum(1::int4)", "bigint"),
        ("sum(1::int8)", "numeric"),
        ("avg(1::float4)", "double precision"),
        ("stddev(1::int4)", "numeric"),
        ("variance(1::float8)", "double precision"),
        ("length(x)", "integer"),
        ("upper(x)", "text"),
        ("sqrt(2)", "double precision"),
        ("sqrt(2::numeric)", "numeric"),
        ("round(1.5::float8)", "double precision"),
        ("round(x, 2)", "numeric"),
        ("log(10, 1000)", "numeric"),
        ("extract(year from now())", "numeric"),
        ("date_part('year', now())", "double precision"),
        ("array_agg(1::int2)", "smallint[]"),
        ("current_date", "date"),
        ("current_user", "name"),
        ("1 = 1", "boolean"),
        ("x IS NULL", "boolean"),
        ("x IN (1, 2)", "boolean"),
        ("(ARRAY[1, 2])[1]", "integer"),
        ("(ARRAY[1, 2])[1:2]", "integer[]"),
    ],
)
def test_pg_typeof_follows_postgresqls_resolution(sql: str, pg: str) -> None:
    got = tp.infer(_expr(sql), Translation())
    assert got is not None and tp.display(got) == pg


@pytest.mark.parametrize("sql", ["x", "x + 1", "f(x)", "(SELECT 1)", "$1", "'a' + 'b'"])
def test_pg_typeof_leaves_to_duckdb_what_the_tree_does_not_say(sql: str) -> None:
    assert tp.infer(_expr(sql), Translation()) is None


def test_a_lifted_literal_is_unknown_text_or_needs_its_digits() -> None:
    ctx = Translation(params=0, literal_kinds=("s", "i"))
    assert tp.infer(_expr("$1"), ctx) == "unknown"
    with pytest.raises(NeedsLiteral):
        tp.infer(_expr("$2"), ctx)


@pytest.mark.parametrize(
    ("duck", "pg"),
    [
        ("INTEGER", "integer"),
        ("VARCHAR", "text"),
        ("DOUBLE", "double precision"),
        ("DECIMAL(10,2)[]", "numeric[]"),
        ("INTEGER[][]", "integer[]"),
        ('STRUCT(a INTEGER, "b c" VARCHAR[])', "record"),
        ("TUPLE(INTEGER, VARCHAR)[]", "record[]"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp with time zone"),
        ('"NULL"', "unknown"),
        ("BLOB", "bytea"),
    ],
)
def test_duckdb_types_in_postgresqls_names(duck: str, pg: str) -> None:
    assert valuetext.pg_type_name(duck) == pg


@pytest.fixture
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    valuetext.register(con)
    return con


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("[1, 2]", "{1,2}"),
        ("[[1, 2], [3, 4]]", "{{1,2},{3,4}}"),
        (
            "['a b', NULL, '', 'NULL', 'x,y', 'q\"t', 'b\\s']",
            '{"a b",NULL,"","NULL","x,y","q\\"t","b\\\\s"}',
        ),
        ("[true, false]", "{t,f}"),
        ("[1.5::DOUBLE, 1e20]", "{1.5,1e+20}"),
        ("ROW(1, 'a', NULL)", "(1,a,)"),
        ("ROW([1, 2], 'z w')", '("{1,2}","z w")'),
        ("ROW('')", '("")'),
        ("ROW(true, 'q\"t', 'b\\s')", '(t,"q""t","b\\\\s")'),
        ("[ROW(1, 'a')]", '{"(1,a)"}'),
        ("['\\xde\\xad'::BLOB]", '{"\\\\xdead"}'),
        ("'\\xde\\xad'::BLOB", "\\xdead"),
        ("['{\"a\": 1}'::JSON]", '{"{\\"a\\": 1}"}'),
        ("[INTERVAL '1 month']", '{"1 mon"}'),
        ("INTERVAL '-1 day'", "-1 days"),
        ("INTERVAL '1 year 2 months 3 days 04:05:06.5'", "1 year 2 mons 3 days 04:05:06.5"),
        ("3.0::DOUBLE", "3"),
        ("1e15::DOUBLE", "1e+15"),
        ("0.1::FLOAT", "0.1"),
        ("'nan'::DOUBLE", "NaN"),
        ("[]::INTEGER[]", "{}"),
        ("{'a': 1, 'b': [1.5::DECIMAL(38,11)]}", "(1,{1.5})"),
    ],
)
def test_the_text_of_a_value_is_postgresqls(
    duck: duckdb.DuckDBPyConnection, expr: str, text: str
) -> None:
    kind, as_json = duck.execute(f"SELECT typeof({expr}), to_json({expr})::VARCHAR").fetchone()  # type: ignore[misc]
    assert valuetext.pg_text(kind, as_json) == text


def test_multidimensional_arrays_count_every_element(duck: duckdb.DuckDBPyConnection) -> None:
    got = duck.execute(
        "SELECT hati_pg_cardinality(to_json([[1, 2], [3, 4], [5, 6]])::VARCHAR), "
        "hati_pg_array_dims(to_json([[1, 2], [3, 4], [5, 6]])::VARCHAR)"
    ).fetchone()
    assert got == (6, [3, 2])


@pytest.mark.parametrize(
    ("n", "s", "s2", "sample", "var", "sd"),
    [
        (4, "10", "30", True, "1.6666666666666667", "1.2909944487358056"),
        (4, "10", "30", False, "1.2500000000000000", "1.1180339887498948"),
        (3, "1400", "1100000", True, "223333.333333333333", "472.581562625261"),
        (3, "6.75", "16.3125", True, "0.56250000000000000000", "0.75000000000000000000"),
        (2, "10", "50", True, "0", "0"),  # a zero numerator is a plain 0
    ],
)
def test_variance_and_stddev_of_integers_are_numerics_with_postgresqls_digits(
    n: int, s: str, s2: str, sample: bool, var: str, sd: str
) -> None:
    assert numerics.variance_text(variance(n, s, s2, sample)) == var
    assert numerics.stddev_text(stddev(n, s, s2, sample)) == sd


def _reserved(schema: str) -> bool:
    return schema.startswith("_hati")


@pytest.mark.parametrize(
    ("sql", "macro"),
    [
        ("SELECT a::text FROM t", True),  # a column: its type decides when DuckDB binds
        ("SELECT ARRAY[1, 2]::varchar(3)", True),
        ("SELECT text(a) FROM t", True),
        ("SELECT 1::text, 'a'::text, a::int::text, a::date::text FROM t", False),
        ("SELECT $1::text", False),  # a client's parameter: DuckDB infers its type
        ("CREATE INDEX i ON t ((a::text))", False),  # DuckDB stores no macro over to_json
        ("CREATE TABLE c (x int CHECK (x::text <> ''))", False),
    ],
)
def test_casts_to_text_print_as_postgresql_where_duckdb_differs(sql: str, macro: bool) -> None:
    fe = FrontEnd(Policy(reserved_schema=_reserved), max_statement_bytes=100_000)
    assert ("pg_text(" in fe.compile(sql).sql()) is macro
