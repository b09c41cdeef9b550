"""SELECT ... FOR UPDATE / FOR SHARE between two clients, on hati and on a real
PostgreSQL: the same answers and SQLSTATEs. hati locks tables (hati.pg.locks), so the
scenarios lock every row the other client asks for, where row and table locks agree."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg2
import psycopg2.errors
import pytest

from conftest import RunningServer
from difftest.pgserver import PgServer

pytestmark = pytest.mark.server

SETUP = [
    "DROP TABLE IF EXISTS jobs",
    "CREATE TABLE jobs (id int PRIMARY KEY, state text)",
    "INSERT INTO jobs VALUES (1, 'new'), (2, 'new'), (3, 'done')",
]


def _outcome(cur, sql: str) -> tuple:
    try:
        cur.execute(sql)
        return ("ok", cur.statusmessage, cur.fetchall() if cur.description else None)
    except psycopg2.Error as exc:
        cur.connection.rollback()
        return ("error", exc.pgcode)


def scenario(connect) -> list[tuple]:
    """Client a locks every job; b asks for them in each way; a commits."""
    a, b = connect(), connect()
    try:
        with a.cursor() as ca, b.cursor() as cb:
            a.autocommit = True
            for sql in SETUP:
                ca.execute(sql)
            a.autocommit = False
            out = [_outcome(ca, "SELECT id FROM jobs ORDER BY id FOR UPDATE")]
            out.append(_outcome(cb, "SELECT id FROM jobs WHERE state = 'new' FOR UPDATE NOWAIT"))
            out.append(_outcome(cb, "SELECT id FROM jobs FOR UPDATE SKIP LOCKED"))
            out.append(_outcome(cb, "SELECT id FROM jobs FOR SHARE OF jobs SKIP LOCKED"))
            b.rollback()
            out.append(_outcome(cb, "SELECT count(*) FROM jobs"))  # a plain read never waits
            b.rollback()
            out.append(_outcome(ca, "UPDATE jobs SET state = 'taken' WHERE id = 1"))
            a.commit()
            out.append(_outcome(cb, "SELECT id, state FROM jobs ORDER BY id FOR UPDATE NOWAIT"))
            b.commit()
            return out
    finally:
        a.close()
        b.close()


def waits_for_the_holder(connect, holders_wait: Callable[[], bool]) -> list[tuple]:
    """b's FOR UPDATE waits until a commits, then sees a's change."""
    a, b = connect(), connect()
    try:
        ca, cb = a.cursor(), b.cursor()
        ca.execute("SELECT id FROM jobs WHERE id = 2 FOR UPDATE")
        ca.execute("UPDATE jobs SET state = 'mine' WHERE id = 2")
        got: list[tuple] = []
        t = threading.Thread(
            target=lambda: got.append(
                _outcome(cb, "SELECT state FROM jobs WHERE id = 2 FOR UPDATE")
            )
        )
        t.start()
        assert holders_wait(), "b did not wait for a's lock"
        a.commit()
        t.join(30)
        b.commit()
        return got
    finally:
        a.close()
        b.close()


def test_row_locks_answer_as_postgresql(pg: PgServer, hati_server: RunningServer) -> None:
    def pg_connect():
        return psycopg2.connect(host="127.0.0.1", port=pg.port, user=pg.user, dbname="postgres")

    expected = scenario(pg_connect)
    assert expected[1] == ("error", "55P03") and expected[2][2] == []  # the scenario holds
    assert scenario(lambda: hati_server.connect(autocommit=False)) == expected


def test_a_for_update_waits_for_the_lock_holder(hati_server: RunningServer) -> None:
    scenario(lambda: hati_server.connect(autocommit=False))
    locks = hati_server.thread.server.app.state.locks
    got = waits_for_the_holder(
        lambda: hati_server.connect(autocommit=False),
        lambda: locks.wait_for_waiters(1, 30),
    )
    assert got == [("ok", "SELECT 1", [("mine",)])]


def advisory(connect) -> list[tuple]:
    """Advisory locks and LOCK TABLE between clients a and b (both in autocommit unless
    they BEGIN)."""
    a, b = connect(), connect()
    a.autocommit = b.autocommit = True
    steps = [
        (a, "SELECT pg_advisory_lock(42), pg_advisory_lock(42)"),
        (b, "SELECT pg_try_advisory_lock(42), pg_try_advisory_lock(43)"),
        (a, "SELECT pg_advisory_unlock(42)"),
        (b, "SELECT pg_try_advisory_lock(42)"),
        (a, "SELECT pg_advisory_unlock(42), pg_advisory_unlock(42)"),
        (b, "SELECT pg_try_advisory_lock(42)"),
        (b, "SELECT pg_advisory_unlock_all()"),
        (a, "SELECT pg_try_advisory_lock(1, 2), pg_try_advisory_lock(12)"),
        (b, "SELECT pg_try_advisory_lock(1, 2)"),
        (a, "BEGIN"),
        (a, "SELECT pg_advisory_xact_lock(5)"),
        (b, "SELECT pg_try_advisory_xact_lock(5), pg_try_advisory_lock(5)"),
        (a, "COMMIT"),
        (b, "SELECT pg_try_advisory_lock(5)"),
        (a, "SELECT pg_try_advisory_lock(5)"),
        (a, "LOCK TABLE jobs"),
        (a, "BEGIN"),
        (a, "LOCK TABLE jobs IN EXCLUSIVE MODE"),
        (b, "BEGIN"),
        (b, "LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE NOWAIT"),
        (b, "ROLLBACK"),
        (b, "BEGIN"),
        (b, "LOCK TABLE jobs IN ROW EXCLUSIVE MODE NOWAIT"),
        (b, "LOCK TABLE no_such_table"),
        (b, "ROLLBACK"),
        (a, "COMMIT"),
    ]
    try:
        out = []
        for conn, sql in steps:
            with conn.cursor() as cur:
                out.append(_outcome(cur, sql))
        return out
    finally:
        a.close()
        b.close()


def test_advisory_locks_and_lock_table_answer_as_postgresql(
    pg: PgServer, hati_server: RunningServer
) -> None:
    def pg_connect():
        return psycopg2.connect(host="127.0.0.1", port=pg.port, user=pg.user, dbname="postgres")

    scenario(pg_connect)  # creates jobs
    scenario(lambda: hati_server.connect(autocommit=False))
    expected = advisory(pg_connect)
    assert ("ok", "SELECT 1", [(False, True)]) in expected  # the scenario shows contention
    assert advisory(lambda: hati_server.connect()) == expected
