"""Writers on main (and sessions of one branch) wait for each other as PostgreSQL's do: no
40001 for a conflicting update, 40P01 for a deadlock, 55P03 after lock_timeout, 57014 when cancelled."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg
import psycopg2
import pytest
from psycopg2 import errors

from conftest import RunningServer

pytestmark = pytest.mark.server


def _locks(server: RunningServer) -> Any:
    return server.thread.server.app.state.locks


@pytest.fixture
def table(hati_server: RunningServer) -> RunningServer:
    hati_server.query("CREATE TABLE acct (id int PRIMARY KEY, v int)")
    hati_server.query("INSERT INTO acct VALUES (1, 1), (2, 1)")
    return hati_server


def _branch(server: RunningServer, name: str) -> None:
    conn = server.connect()
    conn.cursor().execute("SELECT branch_create(%s)", (name,))
    conn.close()


def _in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - the test asserts on it
            out["error"] = exc

    t = threading.Thread(target=body)
    t.start()
    return t, out


def test_a_second_writer_of_a_row_waits_and_then_succeeds(table: RunningServer) -> None:
    first = table.connect(autocommit=False)
    second = table.connect()
    c1 = first.cursor()
    c1.execute("UPDATE acct SET v = v + 1 WHERE id = 1")

    def write() -> None:
        second.cursor().execute("UPDATE acct SET v = v + 10 WHERE id = 1")

    t, out = _in_thread(write)
    assert _locks(table).wait_for_waiters(1, 10), "the second writer never waited"
    first.commit()
    t.join(10)
    assert "error" not in out, out
    assert table.query("SELECT v FROM acct WHERE id = 1") == [(12,)]


def test_a_rolled_back_first_writer_lets_the_second_through(table: RunningServer) -> None:
    first = table.connect(autocommit=False)
    first.cursor().execute("DELETE FROM acct WHERE id = 2")
    t, out = _in_thread(
        lambda: table.connect().cursor().execute("UPDATE acct SET v = 5 WHERE id = 2")
    )
    assert _locks(table).wait_for_waiters(1, 10)
    first.rollback()
    t.join(10)
    assert "error" not in out, out
    assert table.query("SELECT v FROM acct WHERE id = 2") == [(5,)]


def test_a_deadlock_fails_one_transaction_with_40p01(table: RunningServer) -> None:
    table.query("CREATE TABLE other (id int PRIMARY KEY, v int)")
    table.query("INSERT INTO other VALUES (1, 1)")
    a, b = table.connect(autocommit=False), table.connect(autocommit=False)
    a.cursor().execute("UPDATE acct SET v = 100 WHERE id = 1")
    b.cursor().execute("UPDATE other SET v = 200 WHERE id = 1")
    t, out = _in_thread(lambda: a.cursor().execute("UPDATE other SET v = 101 WHERE id = 1"))
    assert _locks(table).wait_for_waiters(1, 10)
    with pytest.raises(errors.DeadlockDetected):
        b.cursor().execute("UPDATE acct SET v = 201 WHERE id = 1")
    b.rollback()
    t.join(10)
    assert "error" not in out, out
    a.commit()
    assert table.query("SELECT v FROM acct WHERE id = 1") == [(100,)]
    assert table.query("SELECT v FROM other WHERE id = 1") == [(101,)]


def test_lock_timeout_gives_55p03_and_changes_nothing(table: RunningServer) -> None:
    first = table.connect(autocommit=False)
    first.cursor().execute("UPDATE acct SET v = 7 WHERE id = 1")
    second = table.connect()
    cur = second.cursor()
    cur.execute("SET lock_timeout = '50ms'")
    with pytest.raises(errors.LockNotAvailable):
        cur.execute("UPDATE acct SET v = 8 WHERE id = 1")
    first.rollback()
    assert table.query("SELECT v FROM acct WHERE id = 1") == [(1,)]
    cur.execute("UPDATE acct SET v = 9 WHERE id = 1")  # the session goes on
    assert table.query("SELECT v FROM acct WHERE id = 1") == [(9,)]


def test_a_cancel_request_ends_a_wait_with_57014(table: RunningServer) -> None:
    first = table.connect(autocommit=False)
    first.cursor().execute("UPDATE acct SET v = 7 WHERE id = 1")
    waited = "UPDATE acct SET v = 8 WHERE id = 1 -- waits"

    # asyncpg, whose CancelRequest is plain socket I/O (libpq's would hold the GIL
    # this in-process server needs to answer it).
    async def body() -> int:
        conn = await asyncpg.connect(host=table.host, port=table.port, user="canceller")
        try:
            task = asyncio.ensure_future(conn.execute(waited))
            assert await asyncio.to_thread(_locks(table).wait_for_waiters, 1, 10)
            task.cancel()  # asyncpg sends a CancelRequest, then reads the server's answer
            with pytest.raises(asyncio.CancelledError):
                await task
            return await conn.fetchval("SELECT 1")  # the connection goes on
        finally:
            await conn.close()

    assert asyncio.run(body()) == 1
    first.commit()
    assert table.query("SELECT v FROM acct WHERE id = 1") == [(7,)]
    with table.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT sqlstate FROM hati_audit WHERE sql = %s", (waited,))
        assert cur.fetchall() == [("57014",)]


def test_plain_inserts_do_not_wait(table: RunningServer) -> None:
    first = table.connect(autocommit=False)
    first.cursor().execute("INSERT INTO acct VALUES (3, 1)")
    second = table.connect()
    second.cursor().execute("INSERT INTO acct VALUES (4, 1)")  # returns at once
    first.commit()
    assert table.query("SELECT count(*) FROM acct") == [(4,)]


def test_concurrent_transfers_lose_nothing(table: RunningServer) -> None:
    # pgbench's shape: each transaction updates a row the others update too.
    n_threads, per_thread = 4, 25

    def transfers() -> None:
        conn = table.connect(autocommit=False)
        cur = conn.cursor()
        for _ in range(per_thread):
            cur.execute("UPDATE acct SET v = v - 1 WHERE id = 1")
            cur.execute("UPDATE acct SET v = v + 1 WHERE id = 2")
            conn.commit()
        conn.close()

    threads = [_in_thread(transfers) for _ in range(n_threads)]
    for t, _ in threads:
        t.join(60)
    assert [out for _, out in threads if "error" in out] == []
    total = n_threads * per_thread
    assert table.query("SELECT v FROM acct ORDER BY id") == [(1 - total,), (1 + total,)]
    with psycopg2.connect(table.dsn) as conn:
        assert conn.cursor() is not None


def test_writers_of_one_branch_wait_for_each_other(table: RunningServer) -> None:
    _branch(table, "w")
    first = table.connect(autocommit=False, hatidata_branch="w")
    second = table.connect(hatidata_branch="w")
    first.cursor().execute("UPDATE acct SET v = v + 1 WHERE id = 1")  # the branch's first write

    def write() -> None:
        second.cursor().execute("UPDATE acct SET v = v + 10 WHERE id = 1")

    t, out = _in_thread(write)
    assert _locks(table).wait_for_waiters(1, 10), "the second writer never waited"
    first.commit()
    t.join(10)
    assert "error" not in out, out
    cur = table.connect(hatidata_branch="w").cursor()
    cur.execute("SELECT v FROM acct ORDER BY id")
    assert cur.fetchall() == [(12,), (1,)]
    assert table.query("SELECT v FROM acct ORDER BY id") == [(1,), (1,)]


def test_first_inserts_of_one_branch_wait_and_both_land(table: RunningServer) -> None:
    # A table without a key is copied into the branch by its first write: the second
    # session's INSERT waits for that copy instead of failing on it.
    table.query("CREATE TABLE log (msg text)")
    _branch(table, "w")
    first = table.connect(autocommit=False, hatidata_branch="w")
    first.cursor().execute("INSERT INTO log VALUES ('one')")
    t, out = _in_thread(
        lambda: (
            table.connect(hatidata_branch="w").cursor().execute("INSERT INTO log VALUES ('two')")
        )
    )
    assert _locks(table).wait_for_waiters(1, 10), "the second insert never waited"
    first.commit()
    t.join(10)
    assert "error" not in out, out
    cur = table.connect(hatidata_branch="w").cursor()
    cur.execute("SELECT msg FROM log ORDER BY msg")
    assert cur.fetchall() == [("one",), ("two",)]
    assert table.query("SELECT count(*) FROM log") == [(0,)]


def test_writers_of_different_branches_do_not_wait(table: RunningServer) -> None:
    _branch(table, "x")
    _branch(table, "y")
    first = table.connect(autocommit=False, hatidata_branch="x")
    first.cursor().execute("UPDATE acct SET v = 5 WHERE id = 1")
    other = table.connect(hatidata_branch="y")
    other.cursor().execute("UPDATE acct SET v = 7 WHERE id = 1")  # returns at once
    onmain = table.connect()
    onmain.cursor().execute("UPDATE acct SET v = 9 WHERE id = 1")  # nor does main wait
    first.commit()
    for branch, v in (("x", 5), ("y", 7)):
        cur = table.connect(hatidata_branch=branch).cursor()
        cur.execute("SELECT v FROM acct WHERE id = 1")
        assert cur.fetchall() == [(v,)]
    assert table.query("SELECT v FROM acct WHERE id = 1") == [(9,)]
