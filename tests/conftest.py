"""Shared fixtures: a real hati server on an ephemeral port with its data on disk."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
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
