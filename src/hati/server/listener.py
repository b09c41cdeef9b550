"""The asyncio TCP listener: accepts clients, enforces limits, routes cancel requests."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import re
import threading
from dataclasses import dataclass

from hati.audit import AuditLog
from hati.branching.engine import BranchEngine
from hati.config import Config
from hati.errors import HatiError
from hati.server.connection import Connection
from hati.session import ServerState
from hati.storage.duckdb_backend import META, Database, qident

log = logging.getLogger("hati.server")
GC_EVERY_SECONDS = 5.0


class UnsafeListen(HatiError):
    sqlstate = "28000"


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


_BRANCH_SCHEMA = re.compile(r"_hb_(\d+)")


def recover(db: Database) -> list[str]:
    """Make branch metadata and branch schemas agree after an unclean stop.

    Every branch operation commits its schema change and its ``_hati`` rows in one
    DuckDB transaction, so after ``kill -9`` they already agree; this also repairs data
    directories written by older versions or damaged by hand. A ``_hb_<id>`` schema
    with no branch row is dropped (its branch was discarded or merged), a branch row
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
        cur.execute("BEGIN TRANSACTION")
        try:
            for schema in sorted(owned):
                if int(schema[4:]) not in ids:
                    cur.execute(f"DROP SCHEMA {qident(schema)} CASCADE")
                    repaired.append(f"dropped orphan schema {schema}")
            for bid in sorted(ids):
                if f"_hb_{bid}" not in owned:
                    cur.execute(f"CREATE SCHEMA {qident(f'_hb_{bid}')}")
                    repaired.append(f"re-created missing schema _hb_{bid}")
            for table in ("dropped", "resolutions"):
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
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
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
        self.recovered = recover(self.db)
        self.engine = BranchEngine(self.db)
        if self.recovered:
            cur = self.db.cursor()
            try:
                self.engine.collect_garbage(cur)
            finally:
                cur.close()
        self.audit = AuditLog(self.db, self.config.audit_max_rows)
        self.state = ServerState(self.db, self.engine, self.audit, self.config.merge_agents)
        self._ids = itertools.count(1)
        self._conns: dict[int, Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None
        self.port = self.config.port
        self._gc_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.config.host, self.config.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._gc_task = asyncio.create_task(self._gc_loop())
        log.info("listening on %s:%s", self.config.host, self.port)

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def stop(self) -> None:
        if self._gc_task:
            self._gc_task.cancel()
        if self._server is not None:
            self._server.close()
            conns = list(self._conns.values())
            for conn in conns:
                conn.writer.close()
            for conn in conns:
                await conn.closed.wait()
            # Connections that were already closing (not in _conns any more) finish too.
            tasks = [t for t in self._tasks if t is not asyncio.current_task()]
            if tasks:
                await asyncio.wait(tasks, timeout=30)
            await self._server.wait_closed()
        self.audit.close()
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

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer, next(self._ids))
        self._conns[conn.conn_id] = conn
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.run()
        except Exception:  # noqa: BLE001 - one bad client must never take the server down
            log.exception("connection %s failed", conn.conn_id)
        finally:
            self.forget(conn)
            if task is not None:
                self._tasks.discard(task)

    def forget(self, conn: Connection) -> None:
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
