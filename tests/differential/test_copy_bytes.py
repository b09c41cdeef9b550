"""COPY ... TO STDOUT sends the same bytes as PostgreSQL 15, and COPY FROM STDIN of
those bytes loads the same rows, for the same table in text and csv with their options."""

from __future__ import annotations

import io

import psycopg2
import pytest

pytestmark = pytest.mark.server

SETUP = [
    "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, price NUMERIC(10, 2),"
    " ok BOOLEAN, day DATE, at TIMESTAMP, blob BYTEA)",
    "INSERT INTO t VALUES "
    "(1, 'plain', 1.5, 3.25, true, '2024-01-02', '2024-01-02 03:04:05.5', 'xyz'),"
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
    "(3, E'tab\\there', 0, -1, false, '1999-12-31', '2000-01-01 00:00:00', ''),"
    "(4, 'quote \" and , comma', -2.25, 0.5, true, '2024-02-29', '2024-02-29 23:59:59.123456', 'abc'),"
    "(5, E'new\\nline and back\\\\slash', 1e100, 100, false, '2024-03-01', '2024-03-01 12:00:00', NULL),"
    "(6, '', 3, 0, true, '2024-03-02', '2024-03-02 12:00:00', NULL),"
    "(7, E'\\\\N', 4, 1, true, '2024-03-03', '2024-03-03 12:00:00', NULL),"
    "(8, 'héllo ☃ x|y', 5e-7, 2, true, '2024-03-04', '2024-03-04 12:00:00', NULL),"
    "(9, E'cr\\rhere', 6, 3, true, '2024-03-05', '2024-03-05 12:00:00', NULL)",
]
COPIES = [
    "COPY t TO STDOUT",
    "COPY t TO STDOUT (FORMAT csv)",
    "COPY t TO STDOUT (FORMAT csv, HEADER)",
    "COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE *)",
    "COPY t (id, name) TO STDOUT (FORMAT csv, FORCE_QUOTE (name), NULL 'NULL')",
    "COPY t TO STDOUT (FORMAT csv, DELIMITER '|', QUOTE '''', ESCAPE '\\')",
    "COPY t TO STDOUT (DELIMITER '|', NULL '')",
    "COPY t TO STDOUT (FORMAT text, HEADER)",
    "COPY (SELECT id, name, score * 2 AS doubled FROM t WHERE id > 2 ORDER BY id DESC) TO STDOUT",
    "COPY (SELECT name FROM t ORDER BY id) TO STDOUT (FORMAT csv)",
    "COPY t TO STDOUT (FORMAT binary)",
    "COPY (SELECT id FROM t WHERE false) TO STDOUT (FORMAT binary)",
]


def _connect(dsn: str):
    c = psycopg2.connect(dsn)
    c.autocommit = True
    return c


def _copy_out(cur, sql: str) -> bytes:
    out = io.BytesIO()
    cur.copy_expert(sql, out)
    return out.getvalue()


@pytest.fixture
def both(pg, hati_server):
    p = _connect(pg.dsn("postgres"))
    h = _connect(hati_server.dsn)
    pc, hc = p.cursor(), h.cursor()
    pc.execute("DROP TABLE IF EXISTS t")
    for sql in SETUP:
        pc.execute(sql)
        hc.execute(sql)
    try:
        yield pc, hc
    finally:
        p.close()
        h.close()


@pytest.mark.parametrize("sql", COPIES)
def test_copy_to_stdout_bytes_match_postgres(both, sql) -> None:
    pc, hc = both
    assert _copy_out(hc, sql) == _copy_out(pc, sql)


@pytest.mark.parametrize(
    "options",
    ["", "(FORMAT csv)", "(FORMAT csv, HEADER)", "(DELIMITER '|', NULL '')", "(FORMAT binary)"],
)
def test_what_postgres_sends_loads_the_same_rows(both, options) -> None:
    pc, hc = both
    data = _copy_out(pc, f"COPY t TO STDOUT {options}")
    for cur in (pc, hc):
        cur.execute("DELETE FROM t")
        cur.copy_expert(f"COPY t FROM STDIN {options}", io.BytesIO(data))
    assert _copy_out(hc, "COPY t TO STDOUT") == _copy_out(pc, "COPY t TO STDOUT")


REFUSED = [
    "COPY t FROM STDIN (FORMAT xml)",
    "COPY t FROM STDIN (FORMAT csv, FORCE_QUOTE *)",
    "COPY t TO STDOUT (FORCE_NOT_NULL (id))",
    "COPY t TO STDOUT (QUOTE 'x')",
    "COPY t TO STDOUT (FORMAT csv, QUOTE 'xy')",
    "COPY t FROM STDIN (DELIMITER ',,')",
    "COPY t FROM STDIN (FORMAT binary, DELIMITER ',')",
    "COPY t FROM STDIN (FORMAT binary, HEADER)",
    "COPY t FROM STDIN (FORMAT csv, DELIMITER ',', QUOTE ',')",
    "COPY t FROM STDIN (DELIMITER '|', NULL 'a|b')",
    "COPY t FROM STDIN (FORMAT csv, FORMAT text)",
    "COPY t FROM STDIN (BOGUS true)",
    "COPY t (zz) FROM STDIN",
    "COPY t (id, id) FROM STDIN",
    "COPY missing_table FROM STDIN",
    "COPY (SELECT 1 AS x) TO STDOUT (FORMAT csv, FORCE_QUOTE (nothere))",
]


def _sqlstate(cur, sql: str) -> str | None:
    try:
        cur.copy_expert(sql, io.BytesIO(b""))
    except psycopg2.Error as exc:
        return exc.pgcode
    return None


@pytest.mark.parametrize("sql", REFUSED)
def test_refused_options_fail_as_in_postgres(both, sql) -> None:
    pc, hc = both
    assert _sqlstate(hc, sql) == _sqlstate(pc, sql)
