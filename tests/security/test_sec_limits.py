"""Finding 8: limits that are enforced.

statement_timeout cancels a running statement (57014); idle_in_transaction_session_timeout
closes the connection (FATAL 25P03); sockets that never authenticate are closed after
startup_timeout_seconds and hold no connection slot (53300 is for authenticated clients
over max_connections); a huge query text does not stall other clients.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from security_support import (
    assert_intact,
    baseline,
    refused,
    server,  # noqa: F401  (pytest fixtures)
)

from conftest import RunningServer, start_server

pytestmark = pytest.mark.server
LONG_QUERY = "SELECT count(*) FROM range(100000000) a, range(100000) b WHERE a.range + b.range = -1"


def test_f8_statement_timeout(server: RunningServer) -> None:
    before = baseline(server)
    conn = server.connect(agent="mallory")
    cur = conn.cursor()
    cur.execute("SET statement_timeout = 200")
    started = time.monotonic()
    err = refused(cur, LONG_QUERY, "57014")
    took = time.monotonic() - started
    assert "statement timeout" in str(err)
    assert took < 5, took
    cur.execute("SELECT 1")  # the session goes on
    assert cur.fetchone() == (1,)
    cur.execute("SET statement_timeout = '150ms'")
    refused(cur, "UPDATE ledger SET amt = (" + LONG_QUERY + ")", "57014")
    cur.execute("RESET statement_timeout")
    cur.execute("SELECT sum(amt) FROM ledger")
    assert cur.fetchone() == (300,)
    conn.close()
    assert_intact(server, before)
    server.thread.server.app.audit.flush()
    got = server.internal(
        "SELECT sqlstate FROM _hati.audit WHERE sql LIKE 'SELECT count(*) FROM range%'"
    )
    assert got == [("57014",)]


def test_f8_statement_timeout_in_startup_options(server: RunningServer) -> None:
    conn = server.connect(agent="mallory", statement_timeout="100")
    refused(conn.cursor(), LONG_QUERY, "57014")
    conn.close()


def test_f8_idle_in_transaction_timeout(server: RunningServer) -> None:
    before = baseline(server)
    conn = server.connect(agent="mallory", autocommit=False)
    cur = conn.cursor()
    cur.execute("SET idle_in_transaction_session_timeout = 100")
    cur.execute("UPDATE ledger SET amt = 0")  # in a transaction block, then idle
    deadline = time.monotonic() + 10
    raw = conn.fileno()
    sock = socket.socket(fileno=raw)
    sock.settimeout(10)
    data = b""
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        sock.detach()
    assert b"25P03" in data and b"FATAL" in data, data
    with pytest.raises(psycopg2.Error):
        cur.execute("SELECT 1")
    conn.close()
    assert_intact(server, before)  # its transaction was rolled back


def test_f8_idle_sockets_do_not_lock_out_clients(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", max_connections=5, startup_timeout_seconds=0.5)
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        ok = server.connect()  # 20 unauthenticated sockets hold no slot
        ok.cursor().execute("SELECT 1")
        for s in idle:  # each is closed by the server once its startup time is up
            s.settimeout(10)
            data = s.recv(4096)
            while data and b"08P01" not in data:
                data = s.recv(4096)
            assert b"08P01" in data and b"startup" in data
        more = [server.connect() for _ in range(4)]
        with pytest.raises(psycopg2.OperationalError) as info:
            server.connect()
        assert "too many clients" in str(info.value)
        for c in [ok, *more]:
            c.close()
    finally:
        for s in idle:
            s.close()
        server.thread.stop()


def test_f8_huge_query_text_does_not_stall_others(server: RunningServer) -> None:
    """Two 60 MB query texts: other clients are answered meanwhile."""
    text = "SELECT 1 /* " + "x" * (60 * 1024 * 1024) + " */"
    errors: list[BaseException] = []

    def send() -> None:
        try:
            c = server.connect(agent="bulk")
            # refused (54000) or answered: either is fine, stalling the others is not
            with contextlib.suppress(psycopg2.Error):
                c.cursor().execute(text)
            c.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    senders = [threading.Thread(target=send) for _ in range(2)]
    for t in senders:
        t.start()
    other = server.connect(agent="other")
    worst = 0.0
    with other.cursor() as cur:
        while any(t.is_alive() for t in senders):
            started = time.monotonic()
            cur.execute("SELECT sum(amt) FROM ledger")
            assert cur.fetchone() == (300,)
            worst = max(worst, time.monotonic() - started)
    for t in senders:
        t.join()
    other.close()
    assert not errors, errors
    assert worst < 2.0, f"another client waited {worst:.2f} s"


def test_f8_memory_limit_config(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", memory_limit="64MB")
    try:
        limit = server.internal("SELECT current_setting('memory_limit')")[0][0]
        assert limit.startswith(("61", "64")) and "M" in limit, limit
        conn = server.connect()
        refused(
            conn.cursor(),
            "SELECT string_agg(repeat('x', 1000), '') FROM generate_series(1, 1000000)",
            "53200",
        )
        conn.cursor().execute("SELECT 1")
        conn.close()
    finally:
        server.thread.stop()
