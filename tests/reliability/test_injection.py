"""SQL injection through branch names and branch_query quoting is impossible."""

from __future__ import annotations

import psycopg
import psycopg2
import pytest

from conftest import RunningServer, internal

PAYLOADS = [
    "x'); DROP TABLE t; --",
    "x'; DROP TABLE t; --",
    'x"; DROP TABLE t; --',
    'x"); DROP SCHEMA main CASCADE; --',
    "b; DELETE FROM t",
    "b' OR '1'='1",
    "b/**/UNION/**/SELECT/**/1",
    "../../etc/passwd",
    "b\x00c",
    '_hb_1".t',
    "main",
    "MAIN",
    "",
    " b",
    "b" * 64,
    "b\nDROP TABLE t",
    "$$; DROP TABLE t; $$",
    "b)--",
    "ünïcode",
]


def _intact(server: RunningServer) -> None:
    assert server.query("SELECT count(*), sum(v) FROM t") == [(3, 60)]
    assert server.query("SELECT * FROM branch_list()") == []


@pytest.fixture
def server(hati_server: RunningServer) -> RunningServer:
    hati_server.query("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
    hati_server.query("INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)")
    return hati_server


def _state(exc: BaseException) -> str | None:
    return getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)


def test_branch_name_payloads_are_rejected_psycopg2(server: RunningServer) -> None:
    """psycopg2 interpolates on the client: the payload arrives as a SQL literal."""
    conn = server.connect()
    tried = 0
    for payload in PAYLOADS:
        if "\x00" in payload:
            continue  # libpq cannot send NUL; covered by the psycopg 3 binary test below
        for sql in (
            "SELECT branch_create(%s)",
            "SELECT branch_create(%s, 'main')",
            "SELECT * FROM branch_query(%s, 'SELECT 1')",
            "SELECT * FROM branch_merge(%s)",
            "SELECT branch_discard(%s)",
            "SELECT * FROM branch_diff(%s)",
        ):
            with conn.cursor() as cur, pytest.raises(psycopg2.Error) as info:
                cur.execute(sql, (payload,))
            assert info.value.pgcode in ("22023", "42704"), (payload, sql, info.value)
            tried += 1
        if payload in ("main", ""):
            continue  # SET hatidata_branch = 'main' legitimately goes back to main
        with conn.cursor() as cur, pytest.raises(psycopg2.Error) as info:
            cur.execute("SET hatidata_branch = %s", (payload,))
        assert info.value.pgcode in ("22023", "42704", "42601"), (payload, info.value)
    conn.close()
    _intact(server)
    assert tried >= 100


def test_branch_name_payloads_are_rejected_psycopg3_bound(server: RunningServer) -> None:
    """psycopg 3 binds parameters on the server: the payload arrives as a value."""
    dsn = f"host=127.0.0.1 port={server.port} user=inj dbname=hati"
    with psycopg.connect(dsn, autocommit=True) as conn:
        for payload in PAYLOADS:
            for sql in ("SELECT branch_create(%s)", "SELECT * FROM branch_query(%s, 'SELECT 1')"):
                with pytest.raises(psycopg.Error) as info:
                    conn.execute(sql, [payload.replace("\x00", "\\0")], prepare=True)
                assert info.value.sqlstate in ("22023", "42704"), (payload, info.value)
    _intact(server)


def test_startup_option_branch_payload_is_rejected(server: RunningServer) -> None:
    for payload in ("x';DROP\\ TABLE\\ t;--", "_hb_1", 'a"b'):
        with pytest.raises(psycopg2.Error):
            psycopg2.connect(server.dsn, options=f"-c hatidata_branch={payload}")
    _intact(server)


def test_branch_query_quoting_keeps_the_statement_whole(server: RunningServer) -> None:
    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT branch_create('safe')")
        tricky = "x'); DROP TABLE t; --"
        # A literal containing quotes and a would-be second statement is stored as data.
        cur.execute(
            "SELECT * FROM branch_query('safe', %s)",
            (f"INSERT INTO t VALUES (4, length({_lit(tricky)}))",),
        )
        cur.execute("SELECT * FROM branch_query('safe', 'SELECT v FROM t WHERE id = 4')")
        assert cur.fetchall() == [(len(tricky),)]
        # Two statements in one branch_query are refused, and nothing runs.
        for payload in (
            "SELECT 1; DROP TABLE t",
            "UPDATE t SET v = 0; DROP TABLE t; --",
            "SELECT 1 /* */; DELETE FROM t",
        ):
            with pytest.raises(psycopg2.Error) as info:
                cur.execute("SELECT * FROM branch_query('safe', %s)", (payload,))
            assert info.value.pgcode == "0A000", info.value
        # A branch cannot write main or another branch's schema by qualifying names:
        # public (and DuckDB's main) names the branch's own tables inside a branch, and
        # hati's schemas are refused.
        cur.execute("SELECT branch_create('other')")
        cur.execute("SELECT branch_query('other', 'DELETE FROM t WHERE id = 4')")  # records its row
        (bid,) = internal(server, "SELECT id FROM _hati.branches WHERE name = 'other'")[0]
        other = f"_hb_{bid}"
        for target in ("main.t", '"main"."t"', "hati.main.t", "public.t"):
            cur.execute(
                "SELECT * FROM branch_query('safe', %s)", (f"DELETE FROM {target} WHERE id = 1",)
            )
        cur.execute("SELECT * FROM branch_query('safe', 'SELECT count(*) FROM t WHERE id = 1')")
        assert cur.fetchall() == [(0,)]
        for target in (f"{other}.t", f'"{other}"."t"', "_hati.branches", "other.main.t"):
            with pytest.raises(psycopg2.Error) as info:
                cur.execute("SELECT * FROM branch_query('safe', %s)", (f"DELETE FROM {target}",))
            assert info.value.pgcode in ("42501", "0A000"), info.value
        cur.execute("SELECT branch_discard('other')")
        cur.execute("SELECT branch_discard('safe')")
    conn.close()
    _intact(server)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
