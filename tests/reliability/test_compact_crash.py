"""kill -9 during an online compaction loses nothing.

A real ``hati serve`` process is stopped for good at one step of a compaction
(``HATI_COMPACT_HOOK``: it announces the step on a named pipe this test reads, then
waits to be killed), killed with SIGKILL there, and started again: every row of main,
every branch (one that wrote, one that lives only in the fork journal) and every
branch row must be there, and the next compaction must work and leave no stale copy.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from reliability_support import ProcServer

from hati.compactor import HOOK_ENV

ROWS = 50_000


def _load(server: ProcServer) -> dict[str, Any]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER, name TEXT)")
            cur.execute(f"INSERT INTO items SELECT i, i % 97, 'item ' || i FROM range({ROWS}) t(i)")
            cur.execute("CREATE TABLE events (ts BIGINT, note TEXT)")  # no key
            cur.execute("INSERT INTO events SELECT i, 'event ' || i FROM range(1000) t(i)")
            cur.execute("SELECT branch_create('kept')")
            cur.execute("SELECT branch_query('kept', 'UPDATE items SET v = -1 WHERE id < 10')")
            cur.execute("SELECT branch_query('kept', 'INSERT INTO events VALUES (-1, ''b'')')")
            cur.execute("SELECT branch_create('gone')")
            cur.execute("SELECT branch_query('gone', 'UPDATE items SET name = md5(name)')")
            cur.execute("CHECKPOINT")  # its blocks in the file, then free
            cur.execute("SELECT branch_discard('gone')")
            cur.execute("CHECKPOINT")
            cur.execute("SELECT branch_create('idle')")  # journal-only: never wrote
            cur.execute("INSERT INTO items VALUES (-5, 5, 'after the branches')")
        return _state(conn)
    finally:
        conn.close()


def _state(conn: Any) -> dict[str, Any]:
    with conn.cursor() as cur:
        out: dict[str, Any] = {}
        cur.execute("SELECT count(*), sum(v), sum(length(name)) FROM items")
        out["main"] = cur.fetchall()
        cur.execute("SELECT count(*) FROM events")
        out["events"] = cur.fetchall()
        cur.execute("SELECT name, parent FROM branch_list() ORDER BY name")
        out["branches"] = cur.fetchall()
        cur.execute("SELECT branch_query('kept', 'SELECT count(*), sum(v) FROM items')")
        out["kept"] = cur.fetchall()
        cur.execute("SELECT branch_query('kept', 'SELECT count(*) FROM events')")
        out["kept_events"] = cur.fetchall()
        cur.execute("SELECT branch_query('idle', 'SELECT count(*), sum(v) FROM items')")
        out["idle"] = cur.fetchall()
        return out


def _compact_in_background(server: ProcServer) -> threading.Thread:
    def run() -> None:
        conn = server.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT * FROM hati_compact()")  # the server dies meanwhile
        except psycopg2.Error:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _unblock(pipe: Path) -> None:
    with open(pipe, "w") as fh:
        fh.write("timed out\n")


@pytest.mark.parametrize("step", ["drained", "copied", "closed", "replaced"])
def test_kill_9_during_online_compaction_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hati.toml").write_text("[server]\nauto_compact = false\n")
    pipe = tmp_path / "step"
    os.mkfifo(pipe)
    monkeypatch.setenv(HOOK_ENV, f"{step}={pipe}")
    server = ProcServer(data).start()
    try:
        before = _load(server)
        size = (data / "hati.duckdb").stat().st_size
        client = _compact_in_background(server)
        watchdog = threading.Timer(120, _unblock, (pipe,))  # a server that never gets there
        watchdog.start()
        with open(pipe) as fh:  # blocks until the server reached the step
            reached = fh.read().strip()
        watchdog.cancel()
        assert reached == step, server.log_tail()
        server.kill9()
        client.join(timeout=30)
        assert (data / "hati.duckdb.compact").exists() == (step != "replaced")
    finally:
        server.kill9()
    monkeypatch.delenv(HOOK_ENV)
    server = ProcServer(data).start()
    try:
        conn = server.connect()
        assert _state(conn) == before
        with conn.cursor() as cur:
            cur.execute("SELECT branch_query('kept', 'UPDATE items SET v = 7 WHERE id = 0')")
            cur.execute("SELECT * FROM hati_compact()")
            assert cur.fetchall()[0][1] < size  # the discarded branch is given back
        assert not (data / "hati.duckdb.compact").exists()
        after = _state(conn)
        assert after["kept"] == [(before["kept"][0][0], before["kept"][0][1] + 8)]
        assert {k: v for k, v in after.items() if k != "kept"} == {
            k: v for k, v in before.items() if k != "kept"
        }
        conn.close()
    finally:
        server.stop()
