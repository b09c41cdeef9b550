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
import socket
import threading
from dataclasses import dataclass

from hati.app import App
from hati.config import Config
from hati.errors import InvalidAuthorizationSpecification
from hati.server.connection import Connection
from hati.session import Session

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
        self.app = App(self.config)
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
        self.app.close()

    async def _gc_loop(self) -> None:
        """Every few seconds: discard expired branches, compact the file if it is due."""
        engine = self.app.engine
        try:
            while True:
                await asyncio.sleep(GC_EVERY_SECONDS)
                try:
                    if any(b.expires_at for b in engine.live()):
                        await asyncio.to_thread(self._expire)
                    await asyncio.to_thread(self.app.compactor.tick, len(engine.live()))
                except Exception:
                    log.exception("background maintenance failed")
        except asyncio.CancelledError:
            pass

    def _expire(self) -> None:
        with self.app.state.gate.passed():
            cur = self.app.db.cursor()
            try:
                self.app.engine.expire(cur)
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

    def open_session(
        self, conn_id: int, startup: dict[str, str], auth_agent: str | None
    ) -> Session:
        return self.app.session(conn_id, startup, auth_agent)

    def forget(self, conn: Connection) -> None:
        with self._lock:
            self._conns.pop(conn.conn_id, None)

    def at_capacity(self) -> bool:
        """Whether one more client may not have a session: counts the authenticated
        ones (a socket still in startup holds no slot; startup_timeout_seconds ends it)."""
        with self._lock:
            sessions = sum(1 for c in self._conns.values() if c.session is not None)
        return sessions >= self.config.max_connections

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
