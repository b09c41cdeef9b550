"""Online compaction: a running server gives a discarded branch's bytes back while
clients keep working, and what every session had set carries over to the new file.

Real servers and real clients (psycopg2). The automatic path is waited for on the
file itself (bounded: the promise is within a minute).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from conftest import RunningServer, start_server

ROWS = 200_000


def _fill(cur: Any) -> None:
    cur.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER, name VARCHAR)")
    cur.execute(f"INSERT INTO items SELECT i, i % 97, 'item ' || i FROM range({ROWS}) t(i)")
    cur.execute("CHECKPOINT")


def _grow(cur: Any, branch: str) -> None:
    """A branch that rewrites every row: some 20 MB of its own."""
    cur.execute("SELECT branch_create(%s)", (branch,))
    cur.execute(
        "SELECT branch_query(%s, 'UPDATE items SET name = md5(name) || md5(name || ''x'')')",
        (branch,),
    )
    cur.execute("CHECKPOINT")


class Loop(threading.Thread):
    """A client reading and writing in a loop (in branch ``kept``, where its writes
    are a small delta); it records every error it sees."""

    def __init__(self, server: RunningServer) -> None:
        super().__init__(daemon=True)
        self.conn = server.connect(hatidata_branch="kept")
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.inserted = 0
        self.worst = 0.0
        self.progress = threading.Condition()

    def run(self) -> None:
        with self.conn.cursor() as cur:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    cur.execute("SELECT count(*), sum(v) FROM items WHERE id < %s", (ROWS,))
                    assert cur.fetchall()[0][0] == ROWS
                    cur.execute("INSERT INTO log VALUES (%s, 'from the loop')", (self.inserted,))
                    self.inserted += 1
                except Exception as exc:  # noqa: BLE001 - any error fails the test
                    self.errors.append(repr(exc))
                self.worst = max(self.worst, time.perf_counter() - t0)
                with self.progress:
                    self.progress.notify_all()
        self.conn.close()

    def wait_for(self, inserted: int) -> None:
        """Until the loop has inserted ``inserted`` rows (or failed)."""
        with self.progress:
            ok = self.progress.wait_for(lambda: self.inserted >= inserted or self.errors, 60)
        assert ok and not self.errors, self.errors

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=60)


def _wait_for_size(path: Path, at_most: int, seconds: float) -> float:
    """Seconds until ``path`` is at most ``at_most`` bytes (bounded wait on the file)."""
    t0 = time.monotonic()
    while path.stat().st_size > at_most:
        if time.monotonic() - t0 > seconds:
            raise AssertionError(f"{path} is {path.stat().st_size} bytes after {seconds} s")
        time.sleep(0.1)
        time.sleep(0.1)
    return time.monotonic() - t0


def test_a_discarded_branch_is_given_back_while_clients_work(tmp_path: Path) -> None:
    s = start_server(tmp_path / "data", compact_free_mb=1)
    try:
        admin = s.connect()
        cur = admin.cursor()
        _fill(cur)
        cur.execute("CREATE TABLE log (n INTEGER, note TEXT)")  # what the loop writes
        cur.execute("SELECT branch_create('kept')")
        cur.execute("SELECT branch_query('kept', 'UPDATE items SET v = -1 WHERE id = 7')")
        cur.execute("SELECT * FROM hati_compact()")  # the file without free blocks
        db = s.data_dir / "hati.duckdb"
        before = db.stat().st_size
        _grow(cur, "big")
        with_branch = db.stat().st_size
        grown = with_branch - before
        assert grown > 10_000_000, (before, with_branch)

        loop = Loop(s)
        reader = s.connect()  # a session on main, across the swap
        loop.start()
        loop.wait_for(1)
        cur.execute("SELECT branch_discard('big')")
        took = _wait_for_size(db, with_branch - int(0.95 * grown), 60)
        with reader.cursor() as rc:
            rc.execute("SELECT v FROM items WHERE id = 7")
            assert rc.fetchall() == [(7,)]
        loop.wait_for(loop.inserted + 3)  # it keeps going on the new file
        loop.finish()
        assert loop.errors == []
        assert took <= 60  # the promise: within a minute of the discard
        cur.execute(
            "SELECT branch_query('kept', 'SELECT count(*), min(v) FROM log, items WHERE id = 7')"
        )
        assert cur.fetchall() == [(loop.inserted, -1)]
        cur.execute("SELECT name FROM branch_list()")
        assert cur.fetchall() == [("kept",)]
        reader.close()
        admin.close()
    finally:
        s.thread.stop()


def test_hati_compact_on_demand_waits_for_no_transaction(tmp_path: Path) -> None:
    s = start_server(
        tmp_path / "data",
        auto_compact=False,
        compact_wait_seconds=0.5,
        read_only_agents=["viewer"],
    )
    try:
        admin = s.connect()
        cur = admin.cursor()
        _fill(cur)
        _grow(cur, "big")
        cur.execute("SELECT branch_discard('big')")
        size = (s.data_dir / "hati.duckdb").stat().st_size

        viewer = s.connect(agent="viewer")
        with viewer.cursor() as vc, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            vc.execute("SELECT * FROM hati_compact()")
        viewer.close()

        busy = s.connect(autocommit=False)  # a transaction block held open
        bc = busy.cursor()
        bc.execute("INSERT INTO items VALUES (-1, 0, 'in a transaction')")
        with pytest.raises(psycopg2.errors.ObjectInUse) as err:
            cur.execute("SELECT * FROM hati_compact()")
        assert "transaction" in (err.value.pgerror or "")
        busy.commit()  # never cut off: it commits after the refused compaction
        with pytest.raises(psycopg2.errors.ActiveSqlTransaction):  # not inside a block
            bc.execute("SELECT hati_compact()")
        busy.rollback()
        busy.close()

        cur.execute("SELECT * FROM hati_compact()")
        before, after, seconds, pause_ms = cur.fetchall()[0]
        assert [d.name for d in cur.description] == [
            "bytes_before",
            "bytes_after",
            "seconds",
            "pause_ms",
        ]
        assert after < 0.6 * size and before > after  # the file gives its free blocks back
        assert 0 <= pause_ms <= seconds * 1000
        cur.execute("SELECT count(*) FROM items WHERE id = -1")
        assert cur.fetchall() == [(1,)]
        admin.close()
    finally:
        s.thread.stop()


def test_what_a_session_set_carries_over(tmp_path: Path) -> None:
    s = start_server(tmp_path / "data", auto_compact=False, compact_wait_seconds=0.5)
    try:
        admin = s.connect()
        cur = admin.cursor()
        cur.execute("CREATE SCHEMA app")
        cur.execute("CREATE TABLE app.notes (id INTEGER PRIMARY KEY, body TEXT)")
        cur.execute("INSERT INTO app.notes SELECT i, 'note ' || i FROM range(100) t(i)")
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        cur.execute("INSERT INTO t SELECT i, i FROM range(10) t(i)")
        cur.execute("SELECT branch_create('b')")

        client = s.connect(hatidata_branch="b")
        c = client.cursor()
        c.execute("UPDATE t SET v = 100 WHERE id = 1")  # the branch's own row
        c.execute("SET application_name = 'carried'")
        c.execute("DECLARE cur1 CURSOR WITH HOLD FOR SELECT id FROM t ORDER BY id")
        c.execute("FETCH 3 FROM cur1")
        assert c.fetchall() == [(0,), (1,), (2,)]
        other = s.connect()
        o = other.cursor()
        o.execute("SET search_path = app, public")
        o.execute("PREPARE one AS SELECT body FROM notes WHERE id = $1")
        temp = s.connect()
        temp.cursor().execute("CREATE TEMP TABLE scratch (x INTEGER)")

        with pytest.raises(psycopg2.errors.ObjectInUse) as err:  # it would be lost
            cur.execute("SELECT * FROM hati_compact()")
        assert "temporary" in (err.value.pgerror or "")
        temp.cursor().execute("DROP TABLE scratch")
        cur.execute("SELECT * FROM hati_compact()")

        c.execute("FETCH 2 FROM cur1")
        assert c.fetchall() == [(3,), (4,)]
        c.execute("SELECT v FROM t WHERE id = 1")
        assert c.fetchall() == [(100,)]
        c.execute("SELECT current_setting('application_name'), current_setting('hatidata_branch')")
        assert c.fetchall() == [("carried", "b")]
        o.execute("EXECUTE one (5)")
        assert o.fetchall() == [("note 5",)]
        cur.execute("SELECT v FROM t WHERE id = 1")
        assert cur.fetchall() == [(1,)]
        for conn in (client, other, temp, admin):
            conn.close()
    finally:
        s.thread.stop()
