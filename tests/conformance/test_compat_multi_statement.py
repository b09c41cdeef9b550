"""A multi-statement Query message is one implicit transaction, as in PostgreSQL."""

from __future__ import annotations

import shutil

import psycopg
import psycopg2
import psycopg2.extensions as ext
import pytest

from conftest import run_psql


def _count(server, table: str, branch: str | None = None) -> int:
    c = server.connect(**({"hatidata_branch": branch} if branch else {}))
    try:
        cur = c.cursor()
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]
    finally:
        c.close()


def test_failed_batch_rolls_back_everything(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE mb (i INTEGER PRIMARY KEY)")
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute(
                "INSERT INTO mb VALUES (1); UPDATE mb SET i = 5; CREATE TABLE mb_new (j INTEGER); "
                "INSERT INTO mb VALUES (5)"  # duplicate key: the whole batch is undone
            )
        assert exc.value.pgcode == "23505"
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        cur.execute("SELECT count(*) FROM mb")
        assert cur.fetchone() == (0,)
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("SELECT * FROM mb_new")
        assert exc.value.pgcode == "42P01"
        # A batch that succeeds is committed: another connection sees it.
        cur.execute("INSERT INTO mb VALUES (1); INSERT INTO mb VALUES (2); SELECT count(*) FROM mb")
        assert cur.fetchone() == (2,)
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
    finally:
        c.close()
    assert _count(hati_server, "mb") == 2


def test_failed_batch_in_a_branch_session(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE mbb (i INTEGER)")
        cur.execute("INSERT INTO mbb VALUES (1)")
        cur.execute("SELECT branch_create('mbb')")
        cur.execute("SET hatidata_branch = 'mbb'")
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("INSERT INTO mbb VALUES (2); DELETE FROM mbb WHERE i = 1; SELEC oops")
        assert exc.value.pgcode == "42601"
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        cur.execute("SELECT i FROM mbb ORDER BY i")
        assert cur.fetchall() == [(1,)]
        cur.execute("INSERT INTO mbb VALUES (3); DELETE FROM mbb WHERE i = 1")
        cur.execute("SELECT i FROM mbb ORDER BY i")
        assert cur.fetchall() == [(3,)]
    finally:
        c.close()
    assert _count(hati_server, "mbb") == 1  # main never saw the branch's writes
    assert _count(hati_server, "mbb", branch="mbb") == 1


def test_batch_with_branch_calls_keeps_per_statement_behaviour(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE mbc (i INTEGER)")
        cur.execute(
            "SELECT branch_create('mbc1'); "
            "SELECT branch_query('mbc1', 'INSERT INTO mbc VALUES (7)'); "
            "SELECT branch_merge('mbc1')"
        )
        assert cur.fetchone()[-1] == "merged"
        cur.execute("SELECT i FROM mbc")
        assert cur.fetchall() == [(7,)]
        with pytest.raises(psycopg2.Error):
            cur.execute("INSERT INTO mbc VALUES (8); SELECT branch_create('mbc2'); SELECT 1/0")
        cur.execute("SELECT count(*) FROM mbc")
        assert cur.fetchone() == (2,)  # not atomic: the insert before the branch call stays
        cur.execute("SELECT branch_discard('mbc2')")
    finally:
        c.close()


def test_batch_with_explicit_transaction_control(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE mbt (i INTEGER)")
        with pytest.raises(psycopg2.Error):
            cur.execute(
                "BEGIN; INSERT INTO mbt VALUES (1); COMMIT; INSERT INTO mbt VALUES (2); SELECT 1/0"
            )
        cur.execute("SELECT i FROM mbt ORDER BY i")
        assert cur.fetchall()[:1] == [(1,)]  # the explicitly committed part stays
        # Inside a client transaction a failing batch aborts that transaction.
        cur.execute("BEGIN")
        with pytest.raises(psycopg2.Error):
            cur.execute("INSERT INTO mbt VALUES (3); SELECT 1/0")
        assert c.info.transaction_status == ext.TRANSACTION_STATUS_INERROR
        cur.execute("ROLLBACK")
        cur.execute("SELECT count(*) FROM mbt WHERE i = 3")
        assert cur.fetchone() == (0,)
    finally:
        c.close()


def test_atomic_batch_psycopg3(hati_server):
    with psycopg.connect(
        f"host={hati_server.host} port={hati_server.port} user=u dbname=hati", autocommit=True
    ) as c:
        c.execute("CREATE TABLE mb3 (i INTEGER)")
        with pytest.raises(psycopg.Error):
            c.execute("INSERT INTO mb3 VALUES (1); INSERT INTO mb3 VALUES ('x')", prepare=False)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert c.execute("SELECT count(*) FROM mb3").fetchone() == (0,)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")
def test_atomic_batch_psql(hati_server):
    hati_server.query("CREATE TABLE mbp (i INTEGER)")
    proc = run_psql(
        hati_server,
        "-c",
        "INSERT INTO mbp VALUES (1); INSERT INTO mbp VALUES (2); SELEC 3",
    )
    assert proc.returncode != 0
    assert "syntax error" in proc.stderr.lower()
    assert _count(hati_server, "mbp") == 0
