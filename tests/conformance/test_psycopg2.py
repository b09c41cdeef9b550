"""psycopg2: types, NULLs, SQLSTATEs, transaction status, multi-statement queries."""

from __future__ import annotations

import datetime as dt
import decimal

import psycopg2
import psycopg2.extensions as ext
import pytest


def test_basic_types_and_nulls(conn):
    cur = conn.cursor()
    cur.execute(
        "SELECT 1::INTEGER, 2::BIGINT, 1.5::DOUBLE, 3.25::DECIMAL(10,2), 'x', true, NULL,"
        " DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05', '\\x01'::BLOB"
    )
    row = cur.fetchone()
    assert row[:7] == (1, 2, 1.5, decimal.Decimal("3.25"), "x", True, None)
    assert row[7] == dt.date(2024, 1, 2)
    assert row[8] == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert bytes(row[9]) == b"\x01"


def test_parameters_round_trip(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE p2 (i INTEGER, s VARCHAR, d DATE, n DOUBLE)")
    cur.execute("INSERT INTO p2 VALUES (%s, %s, %s, %s)", (1, "it's", dt.date(2024, 5, 6), None))
    cur.execute("SELECT * FROM p2 WHERE s = %s", ("it's",))
    assert cur.fetchall() == [(1, "it's", dt.date(2024, 5, 6), None)]


def test_syntax_error_sqlstate_and_connection_survives(conn):
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error) as exc:
        cur.execute("SELEC 1")
    assert exc.value.pgcode == "42601"
    cur.execute("SELECT 42")
    assert cur.fetchone() == (42,)


def test_undefined_table_sqlstate(conn):
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error) as exc:
        cur.execute("SELECT * FROM no_such_table")
    assert exc.value.pgcode == "42P01"


def test_transaction_status_i_t_e(hati_server):
    c = hati_server.connect(autocommit=False)
    try:
        cur = c.cursor()
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        cur.execute("CREATE TABLE tx (i INTEGER)")
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_INTRANS
        c.commit()
        cur.execute("INSERT INTO tx VALUES (1)")
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT * FROM missing_table")
        assert exc.value.pgcode == "42P01"
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_INERROR
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT 1")
        assert exc.value.pgcode == "25P02"
        c.rollback()
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        cur.execute("SELECT count(*) FROM tx")
        assert cur.fetchone() == (0,)  # the insert was rolled back
        c.rollback()
    finally:
        c.close()


def test_multi_statement_query(conn):
    cur = conn.cursor()
    cur.execute(
        "CREATE TABLE ms (i INTEGER); INSERT INTO ms VALUES (1), (2); SELECT sum(i) FROM ms"
    )
    assert cur.fetchone() == (3,)


def test_multi_statement_error_stops_the_rest(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE ms2 (i INTEGER)")
    with pytest.raises(psycopg2.Error) as exc:
        cur.execute("INSERT INTO ms2 VALUES (1); SELEC oops; INSERT INTO ms2 VALUES (2)")
    assert exc.value.pgcode == "42601"
    cur.execute("SELECT count(*) FROM ms2 WHERE i = 2")
    assert cur.fetchone() == (0,)


def test_multi_statement_query_is_atomic(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE ms3 (i INTEGER)")
    with pytest.raises(psycopg2.Error):
        cur.execute("INSERT INTO ms3 VALUES (1); SELEC oops")
    cur.execute("SELECT count(*) FROM ms3")
    assert cur.fetchone() == (0,)
