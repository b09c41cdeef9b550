"""Column-wise DataRow encoding: what PostgreSQL cannot compare, batch slicing, the Arrow rows source."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest
from wire_rows import decode_rows

from hati.errors import to_sql_error
from hati.results import ArrowRows, cursor_result
from hati.wire import binary_out, datarows
from hati.wire import types as pgtypes

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(config={"arrow_lossless_conversion": True})
    yield con
    con.close()


def run(duck: duckdb.DuckDBPyConnection, sql: str, fmt: int = 0) -> list[list[bytes | None]]:
    cur = duck.cursor()
    cur.execute(sql)
    cols = [(d[0], pgtypes.oid_for(d[1])) for d in cur.description]
    return decode_rows(datarows.encode_rows(cols, (fmt,), cur.to_arrow_table()))


def test_map_is_the_text_of_a_json_object(duck):
    rows = run(
        duck,
        "SELECT MAP {'a': 1, 'b c': NULL} AS m, MAP {1: [1.5, 2]} AS n, NULL::MAP(VARCHAR, INTEGER) AS z,"
        " MAP {'k': {'x': 'y'}} AS s",
    )
    assert rows == [[b'{"a":1,"b c":null}', b'{"1":[1.5,2]}', None, b'{"k":{"x":"y"}}']]
    cur = duck.cursor().execute("SELECT MAP {'a': 1}")
    assert pgtypes.oid_for(cur.description[0][1]) == pgtypes.JSON


def test_union_is_its_member_text(duck):
    assert run(duck, "SELECT union_value(k := 7) AS u, union_value(s := 'x y') AS v") == [
        [b"7", b"x y"]
    ]


def test_ragged_lists_as_text_and_refused_in_binary(duck):
    assert run(duck, "SELECT [[1], [2, 3]] AS r, [[1], NULL] AS n") == [
        [b"{{1},{2,3}}", b"{{1},NULL}"]
    ]
    for sql in ("SELECT [[1], [2, 3]]", "SELECT [[1], NULL]"):
        with pytest.raises(Exception) as info:
            run(duck, sql, fmt=1)
        err = to_sql_error(info.value)
        assert err.sqlstate == "2202E"
        assert err.hint and "text format" in err.hint


def test_empty_nested_lists_are_empty_arrays_in_binary(duck):
    ((empty, nested),) = run(duck, "SELECT []::INTEGER[] AS e, [[]]::INTEGER[][] AS n", fmt=1)
    header = struct.pack("!iiI", 0, 0, pgtypes.INT4)
    assert empty == nested == header


def test_struct_field_names_are_not_sent(duck):
    assert run(duck, "SELECT {'name': 'x', 'n': 2} AS s") == [[b"(x,2)"]]


SLICE_SQL = """
SELECT i::BIGINT AS a, CASE WHEN i % 3 = 0 THEN NULL ELSE 'v' || i END AS s,
    CASE WHEN i % 4 = 0 THEN NULL ELSE [i, NULL, i + 1] END AS l,
    {'x': i, 'y': 'q"' || i} AS r, (i / 3)::DECIMAL(20, 4) AS d, to_days(i) + to_microseconds(-i) AS iv,
    CASE WHEN i % 5 = 0 THEN NULL ELSE unhex(printf('%02x', i % 256)) END AS b,
    TIMESTAMP '2024-01-01' + to_microseconds(i * 999) AS ts, i % 2 = 0 AS bo,
    [[i, i], [i, i]] AS m, MAP {'k': i} AS mp, (i * 1.25)::FLOAT AS f, i::HUGEINT * 1000000000000 AS h
FROM range(50) t(i)
"""


@pytest.mark.parametrize("fmt", [0, 1])
def test_a_slice_of_a_batch_encodes_as_its_own_rows(duck, fmt):
    cur = duck.cursor()
    cur.execute(SLICE_SQL)
    cols = [(d[0], pgtypes.oid_for(d[1])) for d in cur.description]
    batch = cur.to_arrow_table().combine_chunks().to_batches()[0]
    whole = decode_rows(datarows.encode_rows(cols, (fmt,), batch))
    assert len(whole) == 50
    for start, length in ((0, 7), (7, 13), (20, 1), (21, 29), (49, 1)):
        part = decode_rows(datarows.encode_rows(cols, (fmt,), batch.slice(start, length)))
        assert part == whole[start : start + length], (start, length)


def test_per_column_formats_as_bind_gives_them(duck):
    cur = duck.cursor()
    cur.execute("SELECT 1::INTEGER AS a, 'x' AS b, 2::SMALLINT AS c")
    cols = [(d[0], pgtypes.oid_for(d[1])) for d in cur.description]
    table = cur.to_arrow_table()
    assert decode_rows(datarows.encode_rows(cols, (1, 0, 1), table)) == [
        [b"\x00\x00\x00\x01", b"x", b"\x00\x02"]
    ]
    assert decode_rows(datarows.encode_rows(cols, (), table)) == [[b"1", b"x", b"2"]]


def test_python_rows_keep_the_per_value_encoders():
    cols = [("a", pgtypes.INT8), ("b", pgtypes.TEXT)]
    assert decode_rows(datarows.encode_rows(cols, (), [(1, "x"), (None, "y")])) == [
        [b"1", b"x"],
        [None, b"y"],
    ]


def test_unknown_time_zone_falls_back_to_utc(duck):
    cur = duck.cursor()
    cur.execute("SELECT TIMESTAMPTZ '2024-01-01 12:00:00+00' AS t")
    cols = [(d[0], pgtypes.oid_for(d[1])) for d in cur.description]
    table = cur.to_arrow_table()
    assert decode_rows(datarows.encode_rows(cols, (), table, "No/Such_Zone")) == [
        [b"2024-01-01 12:00:00+00"]
    ]
    assert decode_rows(datarows.encode_rows(cols, (), table, "Asia/Kolkata")) == [
        [b"2024-01-01 17:30:00+05:30"]
    ]


def test_arrow_rows_hand_out_exact_counts_across_batches(duck, monkeypatch):
    monkeypatch.setattr(ArrowRows, "BATCH_ROWS", 1000)
    cur = duck.cursor()
    cur.execute("SELECT i FROM range(2500) t(i)")
    res = cursor_result("SELECT", [("i", pgtypes.INT8)], cur)
    sizes = []
    got: list[int] = []
    while True:
        chunk = res.fetch(700)
        if not len(chunk):
            break
        assert isinstance(chunk, pa.Table)
        sizes.append(len(chunk))
        got += chunk.column(0).to_pylist()
    assert sizes == [700, 700, 700, 400]
    assert got == list(range(2500))
    assert res.exhausted
    assert cur.execute("SELECT 42").fetchall() == [(42,)]  # the reader let go of the cursor


def test_a_result_read_to_the_end_at_once(duck):
    cur = duck.cursor()
    cur.execute("SELECT i FROM range(10) t(i) WHERE i > 100")
    res = cursor_result("SELECT", [("i", pgtypes.INT8)], cur)
    rows = res.fetch(1 << 62)
    assert len(rows) == 0 and not rows
    assert cur.execute("SELECT 1").fetchall() == [(1,)]


def test_closing_a_half_read_result_frees_its_cursor(duck):
    cur = duck.cursor()
    cur.execute("SELECT i FROM range(100000) t(i)")
    res = cursor_result("SELECT", [("i", pgtypes.INT8)], cur)
    assert len(res.fetch(10)) == 10
    with pytest.raises(duckdb.Error, match="open result"):
        duck.cursor()  # another cursor is fine ...
        cur.execute("SELECT 1")  # ... but this one is held by the open reader
    res.close()
    assert res.exhausted
    assert cur.execute("SELECT 1").fetchall() == [(1,)]


def test_arrow_types_map_to_the_oids_the_row_description_announces(duck):
    duck.execute("CREATE TYPE mood AS ENUM ('sad', 'happy')")
    cur = duck.cursor()
    cur.execute(
        SLICE_SQL.replace("FROM range(50) t(i)", "")
        + ", 1::TINYINT, 1::UTINYINT, 1::USMALLINT, 1::UINTEGER, 1::UBIGINT, 1::UHUGEINT,"
        " 1.5::DOUBLE, DATE '2024-01-01', TIME '01:02:03', '01:02:03+01'::TIMETZ,"
        " TIMESTAMPTZ '2024-01-01 00:00:00+00', '2024-01-01'::TIMESTAMP_NS, uuid(), '{}'::JSON,"
        " 'sad'::mood, '0101'::BIT, NULL, 1::BIGNUM, union_value(k := 1), [1, 2]::INTEGER[2],"
        " [row(1, 'a')], [MAP {'a': 1}], [[['x']]], [TIME '01:02:03'], ['01:02:03+01'::TIMETZ]"
        " FROM range(3) t(i)"
    )
    announced = [pgtypes.oid_for(d[1]) for d in cur.description]
    schema = cur.to_arrow_table().schema
    assert [binary_out.arrow_oid(f.type) for f in schema] == announced


PLAIN_SQL = (
    "SELECT i::INTEGER AS a, (i * 3000000000)::BIGINT AS b, (i % 7)::SMALLINT AS c, "
    "CASE WHEN i % 5 = 0 THEN NULL ELSE 'r' || i || ' é\"x' END AS s, i % 2 = 0 AS t "
    "FROM range({n}) r(i)"
)


def _wire_chunks(duck: duckdb.DuckDBPyConnection, sql: str, sizes: list[int]) -> list[object]:
    cur = duck.cursor()
    cur.execute(sql)
    cols = [(d[0], pgtypes.oid_for(d[1])) for d in cur.description]
    res = cursor_result("SELECT", cols, cur)
    chunks: list[object] = [res.fetch_for_wire(n) for n in sizes]
    while len(chunk := res.fetch_for_wire(2000)):
        chunks.append(chunk)
    return chunks


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 200, 5000])
@pytest.mark.parametrize("fmt", [0, 1])
def test_a_short_plain_result_skips_arrow_and_encodes_the_same(duck, n: int, fmt: int) -> None:
    """The wire's first fetch of plain columns (integers, text, booleans) answers Python
    tuples when the result is short: the DataRows are byte for byte the Arrow ones."""
    sql = PLAIN_SQL.format(n=n)
    cur = duck.cursor()
    cur.execute(sql)
    cols = [(d[0], pgtypes.oid_for(d[1])) for d in cur.description]
    arrow = datarows.encode_rows(cols, (fmt,), cur.to_arrow_table())
    for sizes in ([2000, 2000, 2000], [10, 2000, 2000], [64, 64, 5000]):
        chunks = _wire_chunks(duck, sql, sizes)
        wire = b"".join(datarows.encode_rows(cols, (fmt,), c) for c in chunks)
        assert wire == arrow, sizes
        if n < ArrowRows.HEAD_ROWS and sizes[0] > n:
            assert isinstance(chunks[0], list)  # no Arrow reader was opened
    # a fetch outside the wire (a cursor, COPY, a branch function) stays Arrow
    cur.execute(sql)
    assert isinstance(cursor_result("SELECT", cols, cur).fetch(10), pa.Table)


def test_only_plain_columns_skip_arrow(duck) -> None:
    for sql in ("SELECT 1.5::DOUBLE AS d", "SELECT DATE '2024-01-02' AS d", "SELECT [1] AS l"):
        [chunk] = _wire_chunks(duck, sql, [100])
        assert isinstance(chunk, pa.Table), sql
    [chunk] = _wire_chunks(duck, "SELECT 1::INTEGER AS i, 'x' AS s, true AS b", [100])
    assert chunk == [(1, "x", True)]
