"""COPY ... FROM STDIN / TO STDOUT with real clients: psycopg 2 and 3, asyncpg, psql.

Text, csv and binary both ways, with quoting, NULLs and 100k rows; on main and in a
branch (where the load takes the branch's copy-on-write path); a malformed row, a
CopyFail and a cut connection load nothing. The bytes COPY TO STDOUT sends are checked
against a real PostgreSQL in tests/differential/test_copy_bytes.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import io
import socket
import struct
import uuid
from pathlib import Path

import asyncpg
import psycopg
import psycopg2
import pytest

from conftest import rows, run_psql

pytestmark = pytest.mark.server

TABLE = "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, score DOUBLE PRECISION)"
TRICKY = [
    (1, "plain", 1.5),
    (2, None, None),
    (3, "tab\there", 0.0),
    (4, 'quote " and , comma', -2.25),
    (5, "new\nline and back\\slash", 1e100),
    (6, "", 3.0),
    (7, "\\N", 4.0),
    (8, "héllo ☃", 5.0),
]


def _pg3(server) -> psycopg.Connection:
    return psycopg.connect(
        f"host={server.host} port={server.port} user=u dbname=hati", autocommit=True
    )


def _table(cur) -> list[tuple]:
    return rows(cur, "SELECT id, name, score FROM t ORDER BY id")


@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_psycopg3_copy_round_trips_tricky_values(hati_server, fmt) -> None:
    with _pg3(hati_server) as c, c.cursor() as cur:
        cur.execute(TABLE)
        with cur.copy(f"COPY t (id, name, score) FROM STDIN (FORMAT {fmt})") as cp:
            if fmt == "binary":
                cp.set_types(["int4", "text", "float8"])
            for row in TRICKY:
                cp.write_row(row)
        assert cur.rowcount == len(TRICKY)
        assert _table(cur) == TRICKY
        with cur.copy(f"COPY t TO STDOUT (FORMAT {fmt})") as cp:
            cp.set_types(["int4", "text", "float8"])
            got = sorted(cp.rows())
        assert got == TRICKY


def test_psycopg3_copy_csv_blocks_both_ways(hati_server) -> None:
    import csv

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        [(i, "" if n is None else n, "" if s is None else s) for i, n, s in TRICKY]
    )
    with _pg3(hati_server) as c, c.cursor() as cur:
        cur.execute(TABLE)
        with cur.copy("COPY t FROM STDIN (FORMAT csv)") as cp:
            data = buf.getvalue().encode()
            for i in range(0, len(data), 7):  # blocks that cut rows anywhere
                cp.write(data[i : i + 7])
        expected = [(i, n if n else None, s) for i, n, s in TRICKY]  # unquoted '' is NULL
        assert _table(cur) == expected
        with cur.copy("COPY t TO STDOUT (FORMAT csv)") as cp:
            text = b"".join(bytes(b) for b in cp).decode()
        back = [
            (int(r[0]), r[1] or None, float(r[2]) if r[2] else None)
            for r in csv.reader(io.StringIO(text))
        ]
        assert sorted(back) == expected


def test_psycopg2_copy_expert_and_copy_from(conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    cur.copy_from(io.StringIO("1\tone\t1\n2\t\\N\t\\N\n"), "t", columns=("id", "name", "score"))
    cur.copy_expert(
        "COPY t FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'NULL')",
        io.StringIO('id;name;score\n3;"a;b";NULL\n4;"";2\n5;NULL;3\n'),
    )
    assert _table(cur) == [
        (1, "one", 1.0),
        (2, None, None),
        (3, "a;b", None),
        (4, "", 2.0),
        (5, None, 3.0),
    ]
    out = io.StringIO()
    cur.copy_expert("COPY t TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (name))", out)
    assert out.getvalue() == '1,"one",1\n2,,\n3,"a;b",\n4,"",2\n5,,3\n'
    out = io.StringIO()
    cur.copy_to(out, "t", columns=("id", "name"))
    assert out.getvalue() == "1\tone\n2\t\\N\n3\ta;b\n4\t\n5\t\\N\n"


def test_a_hundred_thousand_rows_both_ways(conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    n = 100_000
    data = "".join(
        f'{i},"name ""{i}"", with comma",{i / 4}\n' if i % 3 else f"{i},,\n" for i in range(n)
    )
    cur.copy_expert("COPY t FROM STDIN (FORMAT csv)", io.StringIO(data))
    assert cur.rowcount == n
    assert rows(cur, "SELECT count(*), count(name), count(score) FROM t") == [
        (n, n - n // 3 - 1, n - n // 3 - 1)
    ]
    out = io.StringIO()
    cur.copy_expert("COPY (SELECT * FROM t ORDER BY id) TO STDOUT (FORMAT csv)", out)
    assert out.getvalue() == data.replace(",0.0\n", ",0\n").replace(".0\n", "\n")


def test_copy_into_a_branch_is_copy_on_write(conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    cur.execute("INSERT INTO t VALUES (1, 'main', 1)")
    cur.execute("SELECT branch_create('load')")
    cur.execute("SET hatidata_branch = 'load'")
    cur.copy_expert("COPY t FROM STDIN", io.StringIO("2\tbranch\t2\n3\t\\N\t3\n"))
    assert _table(cur) == [(1, "main", 1.0), (2, "branch", 2.0), (3, None, 3.0)]
    out = io.StringIO()
    cur.copy_expert("COPY t TO STDOUT", out)
    assert out.getvalue() == "1\tmain\t1\n2\tbranch\t2\n3\t\\N\t3\n"
    cur.execute("RESET hatidata_branch")
    assert _table(cur) == [(1, "main", 1.0)]
    diff = rows(cur, "SELECT * FROM branch_diff('load')")
    assert sorted(d[:2] for d in diff) == [("t", "insert"), ("t", "insert")]


def test_copy_inside_a_transaction_rolls_back_with_it(conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    conn.autocommit = False
    cur.copy_expert("COPY t FROM STDIN", io.StringIO("1\ta\t1\n"))
    assert rows(cur, "SELECT count(*) FROM t") == [(1,)]
    conn.rollback()
    assert rows(cur, "SELECT count(*) FROM t") == [(0,)]


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        ("1\ta\t1\n2\tb\n", "text", 'missing data for column "score"'),
        ("1\ta\t1\n2\tb\t2\textra\n", "text", "extra data after last expected column"),
        ('1,"open quote,1\n', "csv", "unterminated CSV quoted field"),
    ],
)
def test_a_malformed_row_loads_nothing(conn, data, fmt, message) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    cur.execute("INSERT INTO t VALUES (100, 'kept', 0)")
    with pytest.raises(psycopg2.errors.BadCopyFileFormat) as err:
        cur.copy_expert(f"COPY t FROM STDIN (FORMAT {fmt})", io.StringIO(data))
    assert err.value.pgcode == "22P04"
    assert message in str(err.value)
    assert _table(cur) == [(100, "kept", 0.0)]


def test_a_bad_value_fails_the_copy_with_22p02(conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    with pytest.raises(psycopg2.Error) as err:
        cur.copy_expert("COPY t FROM STDIN", io.StringIO("1\ta\t1\nzz\tb\t2\n"))
    assert err.value.pgcode == "22P02"
    assert rows(cur, "SELECT count(*) FROM t") == [(0,)]


class _Failing(io.StringIO):
    def read(self, size: int = -1) -> str:
        if self.tell() > 0:
            raise OSError("disk gone")
        return super().read(20)


def test_copy_fail_leaves_the_table_unchanged(conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    with pytest.raises(psycopg2.Error) as err:
        cur.copy_expert("COPY t FROM STDIN", _Failing("1\ta\t1\n2\tb\t2\n3\tc\t3\n"))
    assert err.value.pgcode == "57014"
    assert rows(cur, "SELECT count(*) FROM t") == [(0,)]
    cur.execute("SELECT 1")  # the session goes on
    assert cur.fetchall() == [(1,)]


def _frame(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def test_a_connection_cut_mid_copy_loads_nothing(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    sock = socket.create_connection((hati_server.host, hati_server.port), timeout=10)
    body = struct.pack("!i", 196608) + b"user\0u\0database\0hati\0\0"
    sock.sendall(struct.pack("!i", len(body) + 4) + body)
    seen = b""
    while b"Z\x00\x00\x00\x05I" not in seen:
        seen += sock.recv(4096)
    sock.sendall(_frame(b"Q", b"COPY t FROM STDIN\0"))
    kind = sock.recv(1)
    assert kind == b"G"  # CopyInResponse
    sock.sendall(_frame(b"d", b"1\ta\t1\n2\tb\t2\n"))
    sock.close()
    # The server sees the cut, ends that session; then the table is still empty.
    cur.execute("SELECT count(*) FROM t")
    assert cur.fetchall() == [(0,)]
    # and a later COPY on a fresh connection works
    cur.copy_expert("COPY t FROM STDIN", io.StringIO("3\tc\t3\n"))
    assert _table(cur) == [(3, "c", 3.0)]


def test_the_server_log_is_never_written_by_copy(hati_server, conn) -> None:
    logs = sorted(Path(hati_server.data_dir).rglob("*.log"))
    before = {p: p.read_bytes() for p in logs}
    cur = conn.cursor()
    cur.execute(TABLE)
    cur.execute("INSERT INTO t VALUES (1, 'secret-row', 1)")
    out = io.StringIO()
    cur.copy_expert("COPY t TO STDOUT", out)
    assert "secret-row" in out.getvalue()
    for p in sorted(Path(hati_server.data_dir).rglob("*")):
        if p.is_file() and p.suffix not in (".duckdb", ".wal") and "journal" not in p.name:
            assert b"secret-row" not in p.read_bytes() or p in before, p


def test_copy_to_and_from_server_files_is_refused(conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    for sql in ("COPY t TO '/tmp/x.csv'", "COPY t FROM '/etc/passwd'", "COPY t TO PROGRAM 'ls'"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(sql)


def test_psql_backslash_copy_both_ways(hati_server, conn, tmp_path) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    src = tmp_path / "in.csv"
    src.write_text('1,"x, y",1.5\n2,,\n')
    proc = run_psql(hati_server, "-c", f"\\copy t FROM '{src}' WITH (FORMAT csv)")
    assert proc.returncode == 0 and "COPY 2" in proc.stdout, proc.stderr
    dst = tmp_path / "out.txt"
    proc = run_psql(hati_server, "-c", f"\\copy t TO '{dst}'")
    assert proc.returncode == 0, proc.stderr
    assert dst.read_text() == "1\tx, y\t1.5\n2\t\\N\t\\N\n"


def test_psql_copy_in_a_branch(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    cur.execute("SELECT branch_create('pb')")
    proc = run_psql(hati_server, "-c", "COPY t FROM STDIN", branch="pb")
    assert proc.returncode == 0, proc.stderr  # no input: zero rows
    assert "COPY 0" in proc.stdout


def test_asyncpg_copy_records_and_copy_from_query(hati_server, conn) -> None:
    conn.cursor().execute(TABLE)
    records = [(i, None if i % 5 == 0 else f"n{i}", i * 0.5) for i in range(1000)]

    async def go() -> tuple[str, bytes, list]:
        c = await asyncpg.connect(
            host=hati_server.host, port=hati_server.port, user="u", database="hati"
        )
        try:
            tag = await c.copy_records_to_table(
                "t", records=records, columns=["id", "name", "score"]
            )
            buf = io.BytesIO()
            await c.copy_from_query(
                "SELECT id, name FROM t WHERE id < 3 ORDER BY id", output=buf, format="csv"
            )
            back = await c.fetch("SELECT id, name, score FROM t ORDER BY id")
            return tag, buf.getvalue(), [tuple(r) for r in back]
        finally:
            await c.close()

    tag, csv, back = asyncio.run(go())
    assert tag == "COPY 1000"
    assert csv == b"0,\n1,n1\n2,n2\n"
    assert back == records


TYPED = [
    ("i2", "smallint", 5),
    ("i8", "bigint", 2**40),
    ("f4", "real", 1.5),
    ("n", "numeric(10,3)", decimal.Decimal("12.345")),
    ("b", "boolean", True),
    ("d", "date", dt.date(2024, 2, 29)),
    ("ts", "timestamp", dt.datetime(2024, 1, 2, 3, 4, 5, 6)),
    ("iv", "interval", dt.timedelta(days=1, seconds=5)),
    ("u", "uuid", uuid.UUID(int=5)),
    ("j", "jsonb", '{"a": 1}'),
    ("by", "bytea", b"\x00\xff"),
    ("arr", "integer[]", [1, 2, 3]),
    ("ta", "text[]", ["a", "b c"]),
]


def test_binary_copy_of_many_types_and_text_round_trip(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE ty (" + ", ".join(f"{n} {t}" for n, t, _ in TYPED) + ")")

    async def go() -> list:
        c = await asyncpg.connect(
            host=hati_server.host, port=hati_server.port, user="u", database="hati"
        )
        try:
            await c.copy_records_to_table(
                "ty", records=[tuple(v for _, _, v in TYPED)], columns=[n for n, _, _ in TYPED]
            )
            return list(await c.fetchrow("SELECT * FROM ty"))
        finally:
            await c.close()

    assert asyncio.run(go()) == [v for _, _, v in TYPED]
    out = io.StringIO()
    cur.copy_expert("COPY ty TO STDOUT", out)
    cur.execute("DELETE FROM ty")
    cur.copy_expert("COPY ty FROM STDIN", io.StringIO(out.getvalue()))
    again = io.StringIO()
    cur.copy_expert("COPY ty TO STDOUT", again)
    assert again.getvalue() == out.getvalue()


def test_the_audit_records_a_copy_with_its_row_count(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute(TABLE)
    cur.copy_expert("COPY t FROM STDIN", io.StringIO("1\ta\t1\n2\tb\t2\n"))
    with pytest.raises(psycopg2.errors.BadCopyFileFormat):
        cur.copy_expert("COPY t FROM STDIN", io.StringIO("3\tc\n"))
    cur.copy_expert("COPY t TO STDOUT", io.StringIO())
    got = rows(
        cur,
        'SELECT command, "rows", outcome, sqlstate FROM hati_audit '
        "WHERE sql LIKE 'COPY%%' ORDER BY seq",
    )
    assert got == [
        ("COPY 2", 2, "ok", None),
        (None, None, "error", "22P04"),
        ("COPY 2", 2, "ok", None),
    ]
