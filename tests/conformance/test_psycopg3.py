"""psycopg 3: server-side prepared statements (prepare=True) with binary results."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import psycopg
import pytest


@pytest.fixture
def pconn(hati_server):
    with psycopg.connect(
        f"host={hati_server.host} port={hati_server.port} user=u dbname=hati", autocommit=True
    ) as c:
        yield c


CASES = [
    ("SELECT %s::INTEGER", (7,), 7),
    ("SELECT %s::BIGINT", (2**40,), 2**40),
    ("SELECT %s::DOUBLE", (2.5,), 2.5),
    ("SELECT %s::DECIMAL(10,2)", (decimal.Decimal("3.25"),), decimal.Decimal("3.25")),
    ("SELECT %s::VARCHAR", ("héllo",), "héllo"),
    ("SELECT %s::BOOLEAN", (True,), True),
    ("SELECT %s::DATE", (dt.date(2024, 1, 2),), dt.date(2024, 1, 2)),
    (
        "SELECT %s::TIMESTAMP",
        (dt.datetime(2024, 1, 2, 3, 4, 5, 6),),
        dt.datetime(2024, 1, 2, 3, 4, 5, 6),
    ),
    ("SELECT %s::BLOB", (b"\x00\x01\xff",), b"\x00\x01\xff"),
    (
        "SELECT %s::UUID",
        (uuid.UUID("12345678-1234-5678-1234-567812345678"),),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
    ),
    ("SELECT NULL::INTEGER", None, None),
]


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize(("sql", "params", "expected"), CASES)
def test_prepared_round_trip(pconn, sql, params, expected, binary):
    cur = pconn.cursor(binary=binary)
    for _ in range(3):  # the second and later runs use the server-side prepared statement
        cur.execute(sql, params, prepare=True)
        assert cur.fetchone() == (expected,)


def test_binary_timestamptz_json_arrays(pconn):
    cur = pconn.cursor(binary=True)
    cur.execute(
        "SELECT TIMESTAMPTZ '2024-01-02 03:04:05+00', '{\"a\": [1, 2]}'::JSON,"
        " [1, 2, 3], ['a', NULL], [1.5, 2.5]",
        prepare=True,
    )
    row = cur.fetchone()
    assert row[0] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert row[1] == {"a": [1, 2]}
    assert row[2] == [1, 2, 3]
    assert row[3] == ["a", None]
    assert row[4] == [1.5, 2.5]


def test_prepared_insert_and_select_table(pconn):
    cur = pconn.cursor(binary=True)
    cur.execute("CREATE TABLE p3 (id INTEGER, name VARCHAR, ts TIMESTAMP, tags INTEGER[])")
    for i in range(3):
        cur.execute(
            "INSERT INTO p3 VALUES (%s, %s, %s, %s)",
            (i, f"n{i}", dt.datetime(2024, 1, 1, i), [i, i + 1]),
            prepare=True,
        )
    cur.execute("SELECT * FROM p3 WHERE id >= %s ORDER BY id", (1,), prepare=True)
    assert cur.fetchall() == [
        (1, "n1", dt.datetime(2024, 1, 1, 1), [1, 2]),
        (2, "n2", dt.datetime(2024, 1, 1, 2), [2, 3]),
    ]


def test_error_in_pipeline_skips_to_sync(pconn):
    cur = pconn.cursor()
    with pytest.raises(psycopg.errors.SyntaxError) as exc:
        cur.execute("SELEC %s", (1,), prepare=True)
    assert exc.value.sqlstate == "42601"
    cur.execute("SELECT %s::INTEGER + 1", (1,), prepare=True)
    assert cur.fetchone() == (2,)


def test_transaction_error_then_rollback(hati_server):
    with psycopg.connect(
        f"host={hati_server.host} port={hati_server.port} user=u dbname=hati"
    ) as c:
        cur = c.cursor()
        cur.execute("SELECT 1")
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.UndefinedTable):
            cur.execute("SELECT * FROM nope")
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        c.rollback()
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        cur.execute("SELECT 5")
        assert cur.fetchone() == (5,)


def test_list_of_strings_parameter(pconn):
    cur = pconn.cursor()
    cur.execute("CREATE TABLE p3s (id INTEGER, tags VARCHAR[])")
    for prepare in (False, True, True):
        cur.execute("INSERT INTO p3s VALUES (%s, %s)", (1, ["x", "a,b", 'q"']), prepare=prepare)
    cur.execute("SELECT DISTINCT tags FROM p3s")
    assert cur.fetchall() == [(["x", "a,b", 'q"'],)]


def test_untyped_parameters_follow_a_changed_column_type(pconn) -> None:
    """The types inferred for untyped parameters are remembered per statement, and
    forgotten when DDL changes the table (here in one session, then after a rollback)."""
    pconn.execute("CREATE TABLE ut (v int)")
    pconn.execute("INSERT INTO ut VALUES (1)")
    sql = "SELECT v + %s FROM ut"
    assert pconn.execute(sql, ("2",)).fetchall() == [(3,)]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        pconn.execute(sql, ("0.5",))  # as PostgreSQL: integer + '0.5'
    pconn.execute("ALTER TABLE ut ALTER COLUMN v TYPE double precision")
    assert pconn.execute(sql, ("0.5",)).fetchall() == [(1.5,)]
    with pconn.transaction(force_rollback=True):
        pconn.execute("ALTER TABLE ut ALTER COLUMN v TYPE int")
        assert pconn.execute(sql, ("2",)).fetchall() == [(3,)]
    assert pconn.execute(sql, ("0.25",)).fetchall() == [(1.25,)]
