"""The TCP listener: accepts clients, enforces limits, routes cancel requests.

The event loop only accepts sockets (and runs the branch-expiry timer); every client
then runs on its own thread with a blocking socket (see :mod:`hati.server.connection`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import re
import socket
import threading
from dataclasses import dataclass

from hati.audit import AuditLog
from hati.branching.engine import BranchEngine
from hati.config import Config
from hati.errors import InvalidAuthorizationSpecification
from hati.server.connection import Connection
from hati.session import ServerState
from hati.storage.duckdb_backend import META, Database, qident, transaction

log = logging.getLogger("hati.server")
GC_EVERY_SECONDS = 5.0


class UnsafeListen(InvalidAuthorizationSpecification):
    """Listening beyond loopback without authentication."""


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warm_up_sql_parser() -> None:
    """Load sqlglot's dialects once, before any connection thread parses SQL.

    sqlglot loads a dialect lazily on first use, and that is not thread-safe: when
    several connection threads parse their first statement at the same moment, one of
    them can be left with a half-initialised dialect and misparse (``$1`` read as a
    column, so ``SELECT branch_create($1)`` fails) for the rest of its life. Seen with
    sqlglot 30.30 under 16 concurrent psycopg 3 clients; parsing once here prevents it.
    """
    import sqlglot

    for dialect in ("postgres", "duckdb"):
        sqlglot.parse_one("SELECT f($1) FROM t WHERE x = 'y'", read=dialect)


_BRANCH_SCHEMA = re.compile(r"_hbd?_(\d+)")  # a branch's schema, or its row-delta schema


def recover(db: Database) -> list[str]:
    """Make branch metadata and branch schemas agree after an unclean stop.

    Every branch operation commits its schema change and its ``_hati`` rows in one
    DuckDB transaction, so after ``kill -9`` they already agree; this also repairs data
    directories written by older versions or damaged by hand. A ``_hb_<id>`` or
    ``_hbd_<id>`` schema with no branch row is dropped (its branch was discarded or
    merged; empty ones were made ahead of forks, and the engine re-creates those of
    branches that live only in the fork journal, see branching/journal.py), a branch row
    with no schema gets an empty schema back (the branch reads its base through it),
    and rows of ``_hati.dropped`` / ``_hati.resolutions`` whose branch is gone are
    deleted. Returns what was repaired, for the log.
    """
    cur = db.cursor()
    repaired: list[str] = []
    try:
        ids = {r[0] for r in cur.execute(f"SELECT id FROM {META}.branches").fetchall()}
        schemas = {
            r[0]
            for r in cur.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
            ).fetchall()
        }
        owned = {s for s in schemas if _BRANCH_SCHEMA.fullmatch(s)}
        holding = {
            r[0]
            for r in cur.execute(
                "SELECT schema_name FROM duckdb_tables() WHERE database_name = current_database() "
                "UNION SELECT schema_name FROM duckdb_views() WHERE NOT internal "
                "AND database_name = current_database()"
            ).fetchall()
        }
        with transaction(cur):
            for schema in sorted(owned):
                m = _BRANCH_SCHEMA.fullmatch(schema)
                if m is not None and int(m.group(1)) not in ids:
                    cur.execute(f"DROP SCHEMA {qident(schema)} CASCADE")
                    if schema in holding:  # empty ones are forks made ahead or journal-only
                        repaired.append(f"dropped orphan schema {schema}")
            for bid in sorted(ids):
                if f"_hb_{bid}" not in owned:
                    cur.execute(f"CREATE SCHEMA {qident(f'_hb_{bid}')}")
                    repaired.append(f"re-created missing schema _hb_{bid}")
            for table in ("dropped", "resolutions", "delta_columns"):
                n = cur.execute(
                    f"SELECT count(*) FROM {META}.{table} "
                    f"WHERE branch_id NOT IN (SELECT id FROM {META}.branches)"
                ).fetchone()
                if n and n[0]:
                    cur.execute(
                        f"DELETE FROM {META}.{table} "
                        f"WHERE branch_id NOT IN (SELECT id FROM {META}.branches)"
                    )
                    repaired.append(f"deleted {n[0]} stale row(s) of {META}.{table}")
    finally:
        cur.close()
    for line in repaired:
        log.warning("recovery: %s", line)
    return repaired


@dataclass
class Server:
    """Owns the database and the listening socket. ``start`` returns once it listens."""

    config: Config

    def __post_init__(self) -> None:
        if not is_loopback(self.config.host) and not self.config.auth_required:
            raise UnsafeListen(
                f"refusing to listen on {self.config.host} without authentication",
                hint="Set a password (hati init --password ...) or agent keys in hati.toml, "
                "or listen on 127.0.0.1.",
            )
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        warm_up_sql_parser()
        self.db = Database(self.config.db_path, threads=self.config.threads)
        # The engine first folds the fork journal into _hati.branches, so recovery
        # sees every live branch (journal-only ones included) as having a row.
        self.engine = BranchEngine(self.db)
        self.recovered = recover(self.db)
        if self.recovered:
            cur = self.db.cursor()
            try:
                self.engine.collect_garbage(cur)
            finally:
                cur.close()
        self.audit = AuditLog(self.db, self.config.audit_max_rows)
        self.state = ServerState(self.db, self.engine, self.audit, self.config.merge_agents)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._conns: dict[int, Connection] = {}  # started, not yet closing
        self._live: dict[int, Connection] = {}  # threads still running
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.port = self.config.port
        self._gc_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host = self.config.host or None
        infos = await loop.getaddrinfo(
            host, self.config.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _, _, _, addr = infos[0]
        self._sock = socket.create_server(addr[:2], family=family, backlog=512)
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        self._accepting = asyncio.create_task(self._accept_loop())
        self._gc_task = asyncio.create_task(self._gc_loop())
        log.info("listening on %s:%s", self.config.host, self.port)

    async def serve_forever(self) -> None:
        assert self._sock is not None
        await self._stopped.wait()

    async def stop(self) -> None:
        if self._gc_task:
            self._gc_task.cancel()
        if self._sock is not None:
            if self._accepting is not None:
                self._accepting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._accepting
            self._sock.close()
            with self._lock:
                conns = list(self._live.values())
            for conn in conns:
                conn.abort()
            # A statement still running finishes first, as a PostgreSQL backend would.
            for conn in conns:
                if not conn.closed.is_set():
                    await asyncio.to_thread(conn.closed.wait)
            self._stopped.set()
        self.audit.close()
        self.engine.close()
        self.db.close()

    async def _gc_loop(self) -> None:
        cur = self.db.cursor()
        try:
            while True:
                await asyncio.sleep(GC_EVERY_SECONDS)
                if any(b.expires_at for b in self.engine.live()):
                    await asyncio.to_thread(self.engine.expire, cur)
        except asyncio.CancelledError:
            pass
        finally:
            cur.close()

    async def _accept_loop(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, _ = await loop.sock_accept(self._sock)
            except OSError as exc:  # e.g. out of file descriptors: back off, keep serving
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            sock.setblocking(True)
            conn = Connection(self, sock, next(self._ids))
            with self._lock:
                self._conns[conn.conn_id] = conn
                self._live[conn.conn_id] = conn
            thread = threading.Thread(
                target=self._run_connection,
                args=(conn,),
                name=f"hati-conn-{conn.conn_id}",
                daemon=True,
            )
            try:
                thread.start()
            except RuntimeError:  # cannot start a thread: drop this client
                log.exception("cannot start a thread for connection %s", conn.conn_id)
                with self._lock:
                    self._conns.pop(conn.conn_id, None)
                    self._live.pop(conn.conn_id, None)
                sock.close()

    def _run_connection(self, conn: Connection) -> None:
        try:
            conn.run()
        finally:
            with self._lock:
                self._conns.pop(conn.conn_id, None)
                self._live.pop(conn.conn_id, None)

    def forget(self, conn: Connection) -> None:
        with self._lock:
            self._conns.pop(conn.conn_id, None)

    def at_capacity(self) -> bool:
        return len(self._conns) > self.config.max_connections

    def cancel(self, pid: int, secret: int) -> None:
        conn = self._conns.get(pid)
        if conn is not None and conn.secret == secret and conn.session is not None:
            conn.session.interrupt()


class ServerThread:
    """A real server on its own event loop thread (tests, notebooks, benchmarks)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._error: BaseException | None = None
        self.server: Server | None = None
        self._thread = threading.Thread(target=self._run, name="hati-server", daemon=True)

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.server = Server(self.config)
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        if self._loop.is_running() and self.server is not None:
            fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
            fut.result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
