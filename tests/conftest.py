"""Shared fixtures: a real hati server on an ephemeral port with its data on disk."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

from hati.config import Config
from hati.server import ServerThread


class RunningServer:
    def __init__(self, thread: ServerThread, data_dir: Path) -> None:
        self.thread = thread
        self.host = "127.0.0.1"
        self.port = thread.port
        self.data_dir = data_dir

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user=tester dbname=hati"

    def connect(self, agent: str = "tester", autocommit: bool = True, **options: str):
        opts = f"-c hatidata_agent_id={agent}" + "".join(f" -c {k}={v}" for k, v in options.items())
        conn = psycopg2.connect(self.dsn, options=opts)
        conn.autocommit = autocommit
        return conn

    def query(self, sql: str, params: tuple | None = None) -> list[tuple]:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []


def start_server(data_dir: Path, **overrides: object) -> RunningServer:
    cfg = Config.load(data_dir, port=0, **overrides)
    return RunningServer(ServerThread(cfg).start(), data_dir)


@pytest.fixture
def hati_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path / "data")
    try:
        yield server
    finally:
        server.thread.stop()


@pytest.fixture
def conn(hati_server: RunningServer):
    c = hati_server.connect()
    try:
        yield c
    finally:
        c.close()


def psql(
    server: RunningServer, command: str, branch: str | None = None, tuples_only: bool = True
) -> str:
    """Run one psql command (unaligned, no psqlrc) and return its output; fail on errors."""
    env = dict(os.environ)
    env.pop("PGOPTIONS", None)
    if branch:
        env["PGOPTIONS"] = f"-c hatidata_branch={branch}"
    proc = subprocess.run(
        ["psql", "-h", server.host, "-p", str(server.port), "-U", "u", "-d", "hati", "-X", "-A"]
        + (["-t"] if tuples_only else [])
        + ["-c", command],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
    return proc.stdout


def run_in_threads(
    work: Callable[[int, Callable[[], object]], None], n: int, timeout: float = 120
) -> list[BaseException]:
    """Run ``work(i, go)`` for i in 0..n-1 on n threads; ``go()`` waits until every
    thread has called it, so their next steps race. Returns what they raised."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i, lambda: start.wait(timeout=30))
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=timeout)
    return errors
