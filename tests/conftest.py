"""Shared fixtures: a real hati server on an ephemeral port with its data on disk.

Every test outside tests/unit is marked ``server`` (it starts a server or a hati
process); ``pytest -m "not server"`` runs the socket-free unit tests alone, in seconds.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from difftest.pgserver import PgServer, pg_unavailable
from difftest.runner import start_pg
from hati.app import App
from hati.config import Config
from hati.server import ServerThread
from hati.session import Session

UNIT_DIR = Path(__file__).resolve().parent / "unit"


def _seed_libpq_random() -> None:
    """Draw from the random generators of the OpenSSLs the drivers' own libpqs link
    (psycopg2-binary's, psycopg-binary's), once, now.

    libpq draws SCRAM nonces from it (pg_strong_random). Drawn first late in a long run,
    after other libraries brought OpenSSLs of their own, it failed: every SCRAM
    connection said "could not generate nonce"."""
    site = Path(psycopg2.__file__).resolve().parent.parent
    for lib in sorted(site.glob("psycopg*_binary.libs/libcrypto-*.so*")):
        buf = ctypes.create_string_buffer(16)
        ctypes.CDLL(str(lib)).RAND_bytes(buf, 16)


_seed_libpq_random()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT_DIR not in item.path.parents:
            item.add_marker(pytest.mark.server)


# ---------------------------------------------------------------- socket-free (tests/unit)
@pytest.fixture(autouse=True)
def _unit_tests_use_no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A unit test that opens a network connection fails: it must not need a server."""
    if UNIT_DIR in request.node.path.parents:

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("unit tests run without sockets")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket.socket, "bind", refuse)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """hati opened on a temp DuckDB file: everything a server has but the sockets."""
    a = App.open(tmp_path / "data")
    try:
        yield a
    finally:
        a.close()


@pytest.fixture
def session(app: App) -> Iterator[Session]:
    """A client session driven directly (``session.run(sql)``), agent id "unit"."""
    s = app.session(1, {"user": "tester", "options": "-c hatidata_agent_id=unit"})
    try:
        yield s
    finally:
        s.close()


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

    def internal(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run DuckDB SQL on the server's own database, past the front end (for tests
        that look at hati's bookkeeping, which no client can see)."""
        cur = self.thread.server.app.db.cursor()
        try:
            rel = cur.execute(sql, params)
            return rel.fetchall() if cur.description else []
        finally:
            cur.close()


_SERVERS: dict[int, RunningServer] = {}  # port -> the in-process server on it


def internal(where: Any, sql: str, params: Any = None) -> list[tuple]:
    """``RunningServer.internal`` for a server, or for the server a psycopg2 cursor is
    connected to. ``%s`` placeholders become DuckDB's ``?``."""
    server = where if isinstance(where, RunningServer) else _SERVERS[where.connection.info.port]
    return server.internal(sql.replace("%s", "?"), list(params) if params else None)


def read_stopped(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    """DuckDB SQL on a stopped server's database file (read-only)."""
    con = duckdb.connect(str(data_dir / "hati.duckdb"), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def start_server(data_dir: Path, **overrides: object) -> RunningServer:
    cfg = Config.load(data_dir, port=0, **overrides)
    server = RunningServer(ServerThread(cfg).start(), data_dir)
    _SERVERS[server.port] = server
    return server


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


def run_psql(
    server: RunningServer, *args: str, branch: str | None = None
) -> subprocess.CompletedProcess[str]:
    """psql (no psqlrc) against ``server`` with ``args``, in ``branch`` if given."""
    env = dict(os.environ)
    env.pop("PGOPTIONS", None)
    if branch:
        env["PGOPTIONS"] = f"-c hatidata_branch={branch}"
    return subprocess.run(
        ["psql", "-h", server.host, "-p", str(server.port), "-U", "u", "-d", "hati", "-X", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def psql(
    server: RunningServer, command: str, branch: str | None = None, tuples_only: bool = True
) -> str:
    """Run one psql command (unaligned, no psqlrc) and return its output; fail on errors."""
    proc = run_psql(server, "-A", *(["-t"] if tuples_only else []), "-c", command, branch=branch)
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


def rows(cur: Any, sql: str, params: Any = None) -> list[tuple]:
    """Run ``sql`` on a DB-API cursor and return every row."""
    cur.execute(sql, params)
    return cur.fetchall()


def branch_query(cur: Any, branch: str, sql: str) -> list[tuple]:
    """The rows of ``SELECT branch_query(branch, sql)``."""
    return rows(cur, "SELECT branch_query(%s, %s)", (branch, sql))


def on_pg_and_in_branch(
    pg: PgServer,
    hati: RunningServer,
    setup: list[str],
    branch: str,
    outcomes: Callable[[Any], list[tuple]],
) -> tuple[list[tuple], list[tuple]]:
    """``outcomes`` of a connection to PostgreSQL and of one to a hati branch made after
    ``setup`` ran on both (on hati's main)."""
    with closing(psycopg2.connect(pg.dsn("postgres"))) as pc:
        pc.autocommit = True
        for sql in setup:
            pc.cursor().execute(sql)
        expected = outcomes(pc)
    with closing(hati.connect()) as main:
        main.autocommit = True
        cur = main.cursor()
        for sql in setup:
            cur.execute(sql)
        cur.execute("SELECT branch_create(%s)", (branch,))
    with closing(hati.connect(hatidata_branch=branch)) as bc:
        return expected, outcomes(bc)


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    """A real PostgreSQL 15 for a differential test module, started from the system
    binaries in a temp directory; the module is skipped, with the reason, without them."""
    reason = pg_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="difftest-") as tmp:
        server = start_pg(Path(tmp))
        try:
            yield server
        finally:
            server.stop()
