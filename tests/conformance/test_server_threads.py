"""The thread-per-connection server: cancel, concurrency, shutdown with clients attached."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from conftest import RunningServer, start_server

# Runs for minutes unless cancelled (bounded, so a broken cancel cannot hang CI for ever).
LONG_QUERY = "SELECT count(*) FROM range(20000000000) t(x) WHERE x % 7 = 3"


@pytest.fixture
def proc_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server in a child process: psycopg2's cancel() holds the GIL while it waits for
    the server, so it cannot cancel a query of a server running in the same process."""
    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hati", "serve", "--dir", str(data), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        port = 0
        while not port:  # bounded polling for process start-up
            assert proc.poll() is None, "server exited during start-up"
            assert time.monotonic() < deadline, "server did not start"
            with contextlib.suppress(FileNotFoundError, ValueError, OSError):
                port = int((data / "hati.pid").read_text().split()[1])
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            if not port:
                time.sleep(0.02)
        server = RunningServer.__new__(RunningServer)
        server.host, server.port, server.data_dir = "127.0.0.1", port, data
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_cancel_request_interrupts_the_running_query(proc_server: RunningServer) -> None:
    busy = proc_server.connect()
    other = proc_server.connect()
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            with busy.cursor() as cur:
                cur.execute(LONG_QUERY)
                outcome.append(cur.fetchall())
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        # Another client is served while the long query runs on its own thread.
        with other.cursor() as cur:
            cur.execute("SELECT 41 + 1")
            assert cur.fetchall() == [(42,)]
        # A cancel that arrives before the statement starts is a no-op (as in
        # PostgreSQL), so repeat it until the statement ends.
        for _ in range(600):
            busy.cancel()
            worker.join(timeout=0.1)
            if not worker.is_alive():
                break
        assert not worker.is_alive(), "the query was never cancelled"
        assert len(outcome) == 1
        err = outcome[0]
        assert isinstance(err, psycopg2.Error), err
        assert err.pgcode == "57014"
        # The connection stays usable after the cancel.
        with busy.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchall() == [(1,)]
    finally:
        worker.join(timeout=60)
        busy.close()
        other.close()


def test_cancel_with_a_wrong_key_is_ignored(hati_server: RunningServer) -> None:
    conn = hati_server.connect()
    try:
        pid = conn.get_backend_pid()
        s = socket.create_connection((hati_server.host, hati_server.port), timeout=10)
        s.sendall((16).to_bytes(4, "big") + (80877102).to_bytes(4, "big"))
        s.sendall(pid.to_bytes(4, "big") + (12345).to_bytes(4, "big", signed=True))
        assert s.recv(100) == b""  # the server closes a cancel connection without a reply
        s.close()
        with conn.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchall() == [(2,)]
    finally:
        conn.close()


def test_stop_closes_idle_and_half_started_connections(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    idle = server.connect()
    half = socket.create_connection((server.host, server.port), timeout=30)
    half.sendall(b"\x00\x00")  # an unfinished startup packet
    with idle.cursor() as cur:
        cur.execute("SELECT 1")
    server.thread.stop()  # returns once every connection thread has finished
    with contextlib.suppress(ConnectionResetError):  # closed with unread input: RST
        assert half.recv(100) == b""
    half.close()
    with pytest.raises(psycopg2.Error), idle.cursor() as cur:
        cur.execute("SELECT 1")
    idle.close()


def test_many_clients_in_parallel(hati_server: RunningServer) -> None:
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with hati_server.connect() as conn, conn.cursor() as cur:
                for i in range(50):
                    cur.execute("SELECT %s + %s", (n, i))
                    assert cur.fetchall() == [(n + i,)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert hati_server.query("SELECT 'ok'") == [("ok",)]
