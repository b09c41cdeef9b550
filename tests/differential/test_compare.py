"""The harness's own logic: comparing answers, reading scripts (no server needed)."""

from __future__ import annotations

from difftest import regress
from difftest.compare import (
    AGREE,
    COLUMNS,
    ERROR_VS_OK,
    OK_VS_ERROR,
    ROWS,
    SQLSTATE_CLASS,
    TAG,
    TIMEOUT,
    Outcome,
    compare,
    ordering_of,
)
from difftest.corpus import read_script


def ok(
    columns: tuple[str, ...], rows: list[tuple[str | None, ...]], tag: str | None = None
) -> Outcome:
    return Outcome(ok=True, columns=columns, rows=tuple(rows), tag=tag or f"SELECT {len(rows)}")


def err(code: str) -> Outcome:
    return Outcome(ok=False, sqlstate=code, message="boom")


UNORDERED = ordering_of("SELECT a FROM t")


def test_values_compare_as_printed_text() -> None:
    assert compare(ok(("x",), [("3",)]), ok(("x",), [("3.5",)]), UNORDERED).cls == ROWS
    assert (
        compare(ok(("x",), [("0.1",)]), ok(("x",), [("0.10000000000000001",)]), UNORDERED).cls
        == ROWS
    )
    assert compare(ok(("x",), [("1.50",)]), ok(("x",), [("1.5",)]), UNORDERED).cls == ROWS
    assert compare(ok(("x",), [("t",)]), ok(("x",), [("true",)]), UNORDERED).cls == ROWS
    assert compare(ok(("x",), [("1e+100",)]), ok(("x",), [("1e+100",)]), UNORDERED).cls == AGREE


def test_null_is_not_the_string_null() -> None:
    assert compare(ok(("x",), [(None,)]), ok(("x",), [("NULL",)]), UNORDERED).cls == ROWS
    assert compare(ok(("x",), [(None,)]), ok(("x",), [("",)]), UNORDERED).cls == ROWS
    assert (
        compare(ok(("x",), [(None,), ("a",)]), ok(("x",), [("a",), (None,)]), UNORDERED).cls
        == AGREE
    )


def test_rows_are_a_multiset_without_order_by() -> None:
    pg = ok(("x",), [("1",), ("2",), ("2",)])
    assert compare(pg, ok(("x",), [("2",), ("1",), ("2",)]), UNORDERED).cls == AGREE
    assert compare(pg, ok(("x",), [("1",), ("1",), ("2",)]), UNORDERED).cls == ROWS
    assert compare(pg, ok(("x",), [("1",), ("2",)], "SELECT 3"), UNORDERED).cls == ROWS


def test_order_by_makes_order_count() -> None:
    desc = ordering_of("SELECT v FROM t ORDER BY v DESC")
    pg = ok(("v",), [(None,), ("3",), ("1",)])  # PostgreSQL: NULLs first when descending
    assert compare(pg, ok(("v",), [("3",), ("1",), (None,)]), desc).cls == ROWS
    assert compare(pg, ok(("v",), [(None,), ("3",), ("1",)]), desc).cls == AGREE


def test_rows_tied_on_the_sort_key_may_come_in_any_order() -> None:
    by_g = ordering_of("SELECT g, x FROM t ORDER BY g")
    pg = ok(("g", "x"), [("a", "1"), ("a", "2"), ("b", "3")])
    assert compare(pg, ok(("g", "x"), [("a", "2"), ("a", "1"), ("b", "3")]), by_g).cls == AGREE
    assert compare(pg, ok(("g", "x"), [("b", "3"), ("a", "1"), ("a", "2")]), by_g).cls == ROWS
    assert compare(pg, ok(("g", "x"), [("a", "1"), ("a", "9"), ("b", "3")]), by_g).cls == ROWS
    by_expr = ordering_of("SELECT g, x FROM t ORDER BY lower(g)")  # key not among the columns
    assert compare(pg, ok(("g", "x"), [("a", "2"), ("a", "1"), ("b", "3")]), by_expr).cls == ROWS


def test_limit_may_cut_a_tied_group_differently() -> None:
    limited = ordering_of("SELECT g, x FROM t ORDER BY 1 LIMIT 2")
    pg = ok(("g", "x"), [("a", "1"), ("b", "2")])
    assert compare(pg, ok(("g", "x"), [("a", "1"), ("b", "7")]), limited).cls == AGREE
    assert (
        compare(
            pg,
            ok(("g", "x"), [("a", "5"), ("b", "2")]),
            ordering_of("SELECT g, x FROM t ORDER BY 1 LIMIT 2"),
        ).cls
        == ROWS
    )


def test_order_by_an_expression_of_the_select_list() -> None:
    o = ordering_of("SELECT a + 1, b FROM t ORDER BY a + 1")
    assert o.ordered and o.keys == (1,)
    assert ordering_of("(SELECT 1 AS x UNION SELECT 2) ORDER BY x").keys == ("x",)
    assert not ordering_of("SELECT * FROM (SELECT a FROM t ORDER BY a) s").ordered
    assert not ordering_of("INSERT INTO t VALUES (1) RETURNING a").ordered


def test_error_classes() -> None:
    assert compare(err("22012"), ok(("x",), [("Infinity",)]), UNORDERED).cls == ERROR_VS_OK
    assert compare(ok(("x",), [("1",)]), err("42883"), UNORDERED).cls == OK_VS_ERROR
    assert compare(err("22003"), err("22P02"), UNORDERED).cls == AGREE  # same class 22
    assert compare(err("42P01"), err("0A000"), UNORDERED).cls == SQLSTATE_CLASS
    assert compare(err("42P01"), Outcome(ok=False, timeout=True), UNORDERED).cls == TIMEOUT


def test_names_tags_and_explain() -> None:
    assert (
        compare(ok(("?column?",), [("3",)]), ok(("(7 / 2)",), [("3",)]), UNORDERED).cls == COLUMNS
    )
    # A different answer is reported as such even when the names differ too.
    assert compare(ok(("?column?",), [("3",)]), ok(("(7 / 2)",), [("3.5",)]), UNORDERED).cls == ROWS
    show = Outcome(ok=True, columns=("search_path",), rows=(("public",),), tag="SHOW")
    assert compare(show, ok(("search_path",), [("public",)], "SELECT 1"), UNORDERED).cls == TAG
    assert compare(Outcome(ok=True, tag="SET"), ok(("x",), []), UNORDERED).cls == COLUMNS
    plan = ordering_of("EXPLAIN SELECT 1")
    assert (
        compare(ok(("QUERY PLAN",), [("Result",)]), ok(("explain_key",), [("x",)]), plan).cls
        == AGREE
    )


def test_script_reading_like_psql() -> None:
    text = "\n".join(
        [
            "\\set n 42",
            "SELECT :n AS v, :'n';",
            "SELECT 'a;b'; SELECT $$x;$$;",
            "SELECT :undefined;",
            "SELECT 2 \\gset",
            "\\d t",
            "COPY t FROM stdin;",
            "1\t2",
            "\\.",
            "SELECT a[1:2] FROM t ORDER BY 1;",
            "-- trailing comment",
        ]
    )
    script = read_script(text, "f", "fam")
    sqls = [s.sql for s in script.statements]
    assert sqls == [
        "SELECT 42 AS v, '42'",
        "SELECT 'a;b'",
        "SELECT $$x;$$",
        "SELECT :undefined",
        "SELECT 2",
        "COPY t FROM stdin",
        "SELECT a[1:2] FROM t ORDER BY 1",
    ]
    assert [s.line for s in script.statements] == [2, 3, 3, 4, 5, 7, 10]
    assert script.statements[3].scope == "psql-variable" and not script.statements[3].send
    assert script.statements[4].terminator == "\\gset"
    assert script.statements[5].copy_data == "1\t2\n"
    assert len(script.skipped) == 2
    assert len({s.id for s in script.statements}) == len(script.statements)


def test_regression_scope_and_setup_helpers() -> None:
    assert regress.scope_of("SELECT ctid FROM t") == "system-columns"
    assert regress.scope_of("SELECT relname FROM pg_class") == "system-catalogs"
    assert regress.scope_of("SET enable_seqscan = off") == "planner-settings"
    assert regress.scope_of("VACUUM t") == "maintenance"
    assert regress.scope_of("SELECT pg_typeof(1), 'a'::text") == ""
    assert regress.scope_of("EXPLAIN SELECT * FROM t") == ""
    rows = regress.copy_as_inserts("COPY t (a, b) FROM stdin", "1\t\\N\nit's\ta\\tb\n")
    assert rows == ["INSERT INTO t (a, b) VALUES ('1', NULL), ('it''s', 'a\tb')"]
    known: dict = {}
    regress.remember_columns("CREATE TABLE p (name text, loc point)", known)
    alt = regress.setup_fallback_create("CREATE TABLE c (n name) INHERITS (p)", known)
    assert alt == "CREATE TABLE c (name text, loc text, n text)"
