"""One client connection: startup, authentication, simple and extended query protocol.

Each connection runs on its own OS thread with a blocking socket: reading a message,
running it on DuckDB, encoding the rows and writing the reply happen on that thread
without any hop, so a round trip is one recv and one send. Other clients are served by
their own threads while a query runs (DuckDB releases the GIL while it works).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from hati.auth import ScramServer, check_cleartext, mock_verifier, verifier_for
from hati.config import Config
from hati.errors import (
    AuthenticationFailed,
    DuplicatePreparedStatement,
    FeatureNotSupported,
    HatiError,
    IdleInTransactionSessionTimeout,
    InvalidCursorName,
    InvalidSqlStatementName,
    ProtocolViolation,
    QueryCanceled,
    TooManyConnections,
    to_sql_error,
)
from hati.gate import Pass
from hati.results import ALL_ROWS, CopyOut, Result
from hati.session import Session
from hati.wire import codec, datarows
from hati.wire import messages as m
from hati.wire import types as pgtypes

log = logging.getLogger("hati.server")
CHUNK_ROWS = 2000
LINGER_SECONDS = 1.0
RECV_BYTES = 65536


class Host(Protocol):
    """What a connection needs from the server that accepted it."""

    @property
    def config(self) -> Config: ...

    def at_capacity(self) -> bool: ...

    def open_session(
        self, conn_id: int, startup: dict[str, str], auth_agent: str | None
    ) -> Session: ...

    def cancel(self, pid: int, secret: int) -> None:
        """A CancelRequest: interrupt that connection's statement if the secret matches."""

    def forget(self, conn: Connection) -> None:
        """This connection is closing: it no longer counts against max_connections."""


@dataclass
class Prepared:
    sql: str
    param_oids: list[int]
    columns: list[tuple[str, int]] | None = None
    described: bool = False
    nparams: int = 0  # the highest $n the statement uses


@dataclass
class Portal:
    stmt: Prepared
    params: list[Any]
    result_formats: tuple[int, ...]
    result: Result | None = None
    sent_description: bool = False
    sent_rows: int = 0
    executed: bool = False
    name: str = ""


@dataclass
class _Encoded:
    data: bytes
    more: bool
    rows: int = 0


@dataclass
class Connection:
    """One client on its own OS thread with a blocking socket (like a PostgreSQL backend).

    The thread reads messages, runs statements on the session's DuckDB cursor and
    writes the replies: a round trip costs no event-loop wake-ups and no thread hops.
    A query that runs for long blocks only this client. Other threads may call
    :meth:`abort` (server shutdown) and ``session.interrupt()`` (CancelRequest).
    """

    host: Host
    sock: socket.socket
    conn_id: int = 0
    session: Session | None = None
    prepared: dict[str, Prepared] = field(default_factory=dict)
    portals: dict[str, Portal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.decoder = codec.FrontendDecoder(self.host.config.max_message_bytes)
        self.secret = secrets.randbits(31)
        self._skip_to_sync = False
        self._startup_deadline: float | None = None
        self._idle: float | None = None  # the socket's timeout while idle in a transaction
        self._out = bytearray()
        self.closed = threading.Event()
        self._aborted = False
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ------------------------------------------------------------------ plumbing
    def _send(self, data: bytes) -> None:
        self._out += data

    def _flush(self) -> None:
        if self._out:
            self.sock.sendall(self._out)
            self._out.clear()

    def _recv(self) -> bytes:
        deadline = self._startup_deadline
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
        elif self.session is not None:
            idle = self.session.idle_timeout()
            if idle != self._idle:  # a syscall: only when the limit changes
                self.sock.settimeout(idle)
                self._idle = idle
        try:
            return self.sock.recv(RECV_BYTES)
        except TimeoutError:
            if deadline is None and self._idle is not None:
                raise IdleInTransactionSessionTimeout(
                    "terminating connection due to idle-in-transaction timeout"
                ) from None
            raise
        except OSError:
            if self._aborted:
                return b""
            raise

    def _messages(self) -> Iterator[m.FrontendMessage]:
        while True:
            yield from self.decoder.messages()
            data = self._recv()
            if not data:
                return
            self.decoder.feed(data)

    def abort(self) -> None:
        """Called from another thread: wake this connection up and make it finish."""
        self._aborted = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------------ lifecycle
    def run(self) -> None:
        try:
            self._serve()
        except Exception:  # one bad client must never take the server down
            log.exception("connection %s failed", self.conn_id)
        finally:
            self._close()

    def _serve(self) -> None:
        try:
            stream = self._messages()
            limit = self.host.config.startup_timeout_seconds
            self._startup_deadline = time.monotonic() + limit
            try:
                if not self._startup(stream):
                    return
            except TimeoutError:
                raise ProtocolViolation(
                    f"startup and authentication did not finish within {limit:g} s"
                ) from None
            self._startup_deadline = None
            self.sock.settimeout(None)
            for msg in stream:
                if isinstance(msg, m.Terminate):
                    return
                self._handle(msg)
        except (ProtocolViolation, AuthenticationFailed, IdleInTransactionSessionTimeout) as exc:
            self._send(codec.encode_error(to_sql_error(exc).fatal()))
            self._safe_flush()
            self._linger()
        except OSError:  # the client went away (or the server is stopping)
            pass

    def _linger(self) -> None:
        """Before dropping a client, let it read our last ErrorResponse.

        Closing a socket with unread input makes the kernel send RST, which can
        destroy the error in flight. So stop writing, then discard what the client
        still sends, for at most LINGER_SECONDS.
        """
        with contextlib.suppress(Exception):
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            while not self._aborted:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                if not self.sock.recv(RECV_BYTES):
                    break

    def _safe_flush(self) -> None:
        with contextlib.suppress(OSError):
            self._flush()

    def _close(self) -> None:
        self.host.forget(self)
        if self.session is not None:
            session = self.session
            self.session = None
            passage = session.passage or Pass(session.state.gate)
            passage.hold()  # not while compaction swaps the cursor
            try:
                session.close()
            except Exception:  # closing must not raise
                log.exception("closing session")
            finally:
                passage.release()
        with contextlib.suppress(Exception):
            self.sock.close()
        self.closed.set()

    # ------------------------------------------------------------------ startup
    def _startup(self, stream: Any) -> bool:
        for msg in stream:
            if isinstance(msg, (m.SSLRequest, m.GSSENCRequest)):
                self.sock.sendall(b"N")
                continue
            if isinstance(msg, m.CancelRequest):
                self.host.cancel(msg.process_id, msg.secret_key)
                return False
            if isinstance(msg, m.StartupMessage):
                return self._begin_session(msg, stream)
            raise ProtocolViolation("expected a startup message")
        return False

    def _begin_session(self, msg: m.StartupMessage, stream: Any) -> bool:
        params = msg.parameters
        auth_agent = self._authenticate(params, stream)
        self._startup_deadline = None  # authenticated: no more deadline
        self.sock.settimeout(None)
        if self.host.at_capacity():  # counts authenticated clients: idle sockets lock no one out
            full = TooManyConnections(
                "sorry, too many clients already",
                hint="Raise max_connections in hati.toml or close idle connections.",
            )
            self._send(codec.encode_error(to_sql_error(full).fatal()))
            self._flush()
            return False
        try:
            self.session = self.host.open_session(self.conn_id, dict(params), auth_agent)
            self.session.passage = Pass(self.session.state.gate)
        except HatiError as exc:
            self._send(codec.encode_error(to_sql_error(exc).fatal()))
            self._flush()
            return False
        self._send(codec.encode_auth_ok())
        for k, v in self.session.startup_status():
            self._send(codec.encode_parameter_status(k, v))
        self._send(codec.encode_backend_key(self.conn_id, self.secret))
        self._send(codec.encode_ready("I"))
        self._flush()
        return True

    def _authenticate(self, params: dict[str, str], stream: Any) -> str | None:
        """Run the configured exchange; return the agent name when a per-agent key matched."""
        cfg = self.host.config
        user = params.get("user", "")
        agent_key = cfg.agent_keys.get(user) if cfg.agent_keys else None
        secret = agent_key or cfg.password
        if secret is None and cfg.agent_keys and not cfg.password:
            # Unknown agent: run the exchange against a mock verifier (its own salt, no
            # password matches), so it fails as a wrong key does: no name enumeration.
            verifier = mock_verifier(user, list(cfg.agent_keys.values()))
        elif secret is None:
            return None  # trust (only ever on loopback: the listener refuses otherwise)
        else:
            verifier = verifier_for(secret)
        auth_agent = user if agent_key else None
        if cfg.allow_cleartext:
            self._send(codec.encode_auth_cleartext())
            self._flush()
            msg = _next(stream)
            if not isinstance(msg, m.PasswordMessage):
                raise AuthenticationFailed("expected a password message")
            check_cleartext(msg.payload, verifier)
            return auth_agent
        scram = ScramServer(verifier)
        self._send(codec.encode_auth_sasl(["SCRAM-SHA-256"]))
        self._flush()
        msg = _next(stream)
        if not isinstance(msg, m.PasswordMessage):
            raise AuthenticationFailed("expected a SASL initial response")
        self._send(codec.encode_auth_sasl_continue(scram.first(msg.payload)))
        self._flush()
        msg = _next(stream)
        if not isinstance(msg, m.PasswordMessage):
            raise AuthenticationFailed("expected a SASL response")
        self._send(codec.encode_auth_sasl_final(scram.final(msg.payload)))
        return auth_agent

    # ------------------------------------------------------------------ messages
    def _handle(self, msg: m.FrontendMessage) -> None:  # noqa: C901 - one branch per message type
        if self.session is not None and not isinstance(msg, (m.Sync, m.Flush)):
            self._passage().hold()  # until ReadyForQuery with no transaction open (hati.gate)
        if isinstance(msg, m.Query):
            self._skip_to_sync = False
            self._simple_query(msg.sql)
            return
        if isinstance(msg, m.Sync):
            self._skip_to_sync = False
            self._ready()
            self._flush()
            return
        if isinstance(msg, m.Flush):
            self._flush()
            return
        if self._skip_to_sync:
            return
        try:
            if isinstance(msg, m.Parse):
                self._parse(msg)
            elif isinstance(msg, m.Bind):
                self._bind(msg)
            elif isinstance(msg, m.Describe):
                self._describe(msg)
            elif isinstance(msg, m.Execute):
                self._execute(msg)
            elif isinstance(msg, m.Close):
                gone = (self.prepared if msg.kind == "S" else self.portals).pop(msg.name, None)
                if isinstance(gone, Portal) and gone.result is not None:
                    gone.result.close()
                    assert self.session is not None
                    self.session.cursors.open.pop(msg.name, None)
                self._send(codec.encode_close_complete())
            elif isinstance(msg, (m.CopyData, m.CopyDone, m.CopyFail)):
                pass  # stray copy messages outside COPY: ignored, as PostgreSQL does
            elif isinstance(msg, m.FunctionCall):
                raise FeatureNotSupported(
                    "the fast-path function call protocol is not supported",
                    hint="Call the function with a SELECT statement instead.",
                )
            else:
                raise ProtocolViolation(f"unexpected message {type(msg).__name__}")
        except ProtocolViolation:
            raise
        except Exception as exc:  # noqa: BLE001 - every error becomes an ErrorResponse
            self._error(exc)
            self._skip_to_sync = True
        if len(self._out) > 65536:
            self._flush()

    def _ready(self) -> None:
        """ReadyForQuery, after the settings the client must hear about (ParameterStatus)."""
        if self.session is not None:
            for k, v in self.session.reports():
                self._send(codec.encode_parameter_status(k, v))
            if self.session.txn == "I":  # idle: out of the gate, nothing left on the cursor
                self._park_portals()
                self._passage().release()
        self._send(codec.encode_ready(self._status()))
        self._flush()

    def _passage(self) -> Pass:
        assert self.session is not None and self.session.passage is not None
        return self.session.passage

    def _status(self) -> str:
        return self.session.txn if self.session else "I"

    def _zone(self) -> tuple[str | None, int, bool]:
        """The session's TimeZone (timestamptz text), extra_float_digits, bytea_output."""
        if self.session is None:
            return None, 1, False
        get, digits = self.session.settings.get, self.session.settings.get("extra_float_digits")
        return self.session.zone(), int(digits) if digits else 1, get("bytea_output") == "escape"

    def _error(self, exc: BaseException) -> None:
        err = to_sql_error(exc)
        if err.sqlstate == "XX000":
            log.error("internal error", exc_info=exc)
        self._send(codec.encode_error(err))

    # ------------------------------------------------------------------ simple query
    def _simple_query(self, sql: str) -> None:
        assert self.session is not None
        if not sql.strip():
            self._send(codec.encode_empty_query())
        else:
            self._park_portals()
            results = self.session.run(sql)
            try:
                while True:
                    data, pending, done, error = self._run_batch(results)
                    self._send(data)
                    if error is not None:
                        raise error
                    if pending is not None:
                        self._stream(pending)
                    if done:
                        break
            except Exception as exc:  # noqa: BLE001
                self._error(exc)
        self._ready()

    def _run_batch(
        self, results: Iterator[Result]
    ) -> tuple[bytes, tuple[Result, _Encoded] | None, bool, Exception | None]:
        """Run statements on the worker thread until one needs streaming, fails, or all are done.

        One thread hop per Query message for ordinary results keeps round trips short;
        the output of statements that ran before a failing one is still sent.
        """
        out = bytearray()
        while True:
            try:
                item = self._run_next(results)
            except Exception as exc:  # noqa: BLE001 - reported after the earlier output
                return bytes(out), None, True, exc
            if item is None:
                return bytes(out), None, True, None
            res, enc = item
            if enc.more:
                return bytes(out), item, False, None
            out += enc.data
            out += codec.encode_command_complete(res.final_tag(enc.rows))

    def _run_next(self, results: Iterator[Result]) -> tuple[Result, _Encoded] | None:
        res = next(results, None)
        if res is None:
            return None
        if res.copy is not None:
            return res, _Encoded(b"", True)  # the data moves in _stream
        head = _notices(res)
        if res.columns is not None:
            head = codec.encode_row_description(_fields(res.columns, ()))
        enc = _encode_rows(res, (), ALL_ROWS, self._zone())  # CHUNK_ROWS at a time, all of them
        enc.data = head + enc.data
        return res, enc

    def _stream(self, item: tuple[Result, _Encoded], max_rows: int = 0) -> None:
        res, enc = item
        if res.copy is not None:
            self._copy(res)
            self._send(codec.encode_command_complete(res.tag))
            return
        self._send(enc.data)
        total = enc.rows
        while enc.more:
            self._flush()
            enc = _encode_rows(res, (), ALL_ROWS, self._zone())
            self._send(enc.data)
            total += enc.rows
        self._send(codec.encode_command_complete(res.final_tag(total)))

    # ------------------------------------------------------------------ extended query
    def _parse(self, msg: m.Parse) -> None:
        if msg.name and msg.name in self.prepared:
            raise DuplicatePreparedStatement(f'prepared statement "{msg.name}" already exists')
        nparams = 0
        if msg.sql.strip():
            assert self.session is not None
            # Parsed now, as PostgreSQL does: a syntax error is the Parse message's error.
            nparams = self.session.compile(msg.sql).compiled.params
        self.prepared[msg.name] = Prepared(msg.sql, list(msg.param_oids), nparams=nparams)
        self._send(codec.encode_parse_complete())

    def _bind(self, msg: m.Bind) -> None:
        stmt = self.prepared.get(msg.statement)
        if stmt is None:
            raise InvalidSqlStatementName(f'prepared statement "{msg.statement}" does not exist')
        n = len(msg.params)
        fmts = msg.param_formats
        if len(fmts) not in (0, 1, n):
            raise ProtocolViolation("bind message has a wrong number of parameter formats")
        formats = [fmts[i] if len(fmts) == n else (fmts[0] if fmts else 0) for i in range(n)]
        oids = [stmt.param_oids[i] if i < len(stmt.param_oids) else 0 for i in range(n)]
        if any(
            not oid and not fmt and raw is not None
            for oid, fmt, raw in zip(oids, formats, msg.params, strict=True)
        ):
            oids = self._untyped_params(stmt, oids)
        values = [
            pgtypes.decode_param(raw, oid, fmt)
            for raw, oid, fmt in zip(msg.params, oids, formats, strict=True)
        ]
        old = self.portals.get(msg.portal)
        if old is not None and old.result is not None:
            old.result.close()
        self.portals[msg.portal] = Portal(stmt, values, msg.result_formats, name=msg.portal)
        self._send(codec.encode_bind_complete())

    def _untyped_params(self, stmt: Prepared, oids: list[int]) -> list[int]:
        """Untyped (oid 0) text parameters take the type PostgreSQL would have inferred
        at Parse where that type is parsed here (numbers, booleans, bytea, arrays):
        ``abalance + $1`` gets an integer, as pgbench -M extended/prepared expect, and
        psycopg 3's untyped '{a,b}' becomes a list. Other values stay text for DuckDB to
        cast, as before."""
        assert self.session is not None
        try:
            inferred = self.session.parameter_types(stmt.sql, len(oids), self._park_portals)
        except Exception:  # noqa: BLE001 - the statement's own error surfaces at Execute
            return oids
        return [
            oid or (t if pgtypes.parses_text(t) else 0)
            for oid, t in zip(oids, inferred, strict=True)
        ]

    def _describe(self, msg: m.Describe) -> None:
        assert self.session is not None
        self._park_portals()  # describing runs a probe on the session's cursor
        if msg.kind == "S":
            stmt = self.prepared.get(msg.name)
            if stmt is None:
                raise InvalidSqlStatementName(f'prepared statement "{msg.name}" does not exist')
            nparams = max(stmt.nparams, len(stmt.param_oids))
            given = [stmt.param_oids[i] if i < len(stmt.param_oids) else 0 for i in range(nparams)]
            if nparams and not all(given):
                inferred = self.session.parameter_types(stmt.sql, nparams)
                given = [g or inferred[i] for i, g in enumerate(given)]
            oids = [g or pgtypes.TEXT for g in given]
            stmt.param_oids = oids
            self._send(codec.encode_parameter_description(oids))
            cols = self.session.describe(stmt.sql)
            stmt.columns, stmt.described = cols, True
            if cols is None:
                self._send(codec.encode_no_data())
            else:
                self._send(codec.encode_row_description(_fields(cols, ())))
            return
        portal = self.portals.get(msg.name)
        cursor = self.session.cursors.open.get(msg.name) if portal is None else None
        if cursor is not None and cursor.result.columns is not None:  # a DECLAREd cursor
            self._send(codec.encode_row_description(_fields(cursor.result.columns, ())))
            return
        if portal is None:
            raise InvalidCursorName(f'portal "{msg.name}" does not exist')
        # Run now so the description is exact; Execute then streams the buffered rows.
        self._run_portal(portal)
        assert portal.result is not None
        if portal.result.columns is None:
            self._send(codec.encode_no_data())
        else:
            self._send(
                codec.encode_row_description(_fields(portal.result.columns, portal.result_formats))
            )
        portal.sent_description = True

    def _run_portal(self, portal: Portal) -> None:
        """Run a portal's statement; its rows stream as Execute asks for them (max_rows:
        PortalSuspended), until another statement needs the session's cursor."""
        if portal.executed:
            return
        assert self.session is not None
        self._park_portals()
        portal.result = self.session.run_one(portal.stmt.sql, portal.params)
        portal.executed = True
        if portal.name and portal.result.columns is not None:  # FETCH / MOVE reach it too
            self.session.cursors.adopt(portal.name, portal.result)

    def _park_portals(self) -> None:
        """Before another statement runs: open portals read their rows into memory."""
        for p in self.portals.values():
            if p.result is not None and not p.result.exhausted:
                try:
                    p.result.buffer()
                except Exception:  # noqa: BLE001 - that portal's rows are lost, not this statement
                    p.result.close()

    def _execute(self, msg: m.Execute) -> None:
        portal = self.portals.get(msg.portal)
        if portal is None:
            raise InvalidCursorName(f'portal "{msg.portal}" does not exist')
        if not portal.stmt.sql.strip():
            self._send(codec.encode_empty_query())
            return
        self._run_portal(portal)
        res = portal.result
        assert res is not None
        if res.copy is not None:
            self._copy(res)
            res.copy = None  # done: a second Execute only repeats the tag
        if res.columns is None:
            self._send(_notices(res) + codec.encode_command_complete(res.tag))
            return
        remaining = msg.max_rows if msg.max_rows > 0 else ALL_ROWS
        while True:
            enc = _encode_rows(res, portal.result_formats, remaining, self._zone())
            self._send(enc.data)
            portal.sent_rows += enc.rows
            remaining -= enc.rows
            if not enc.more or remaining <= 0:
                break
            self._flush()
        if not res.exhausted and msg.max_rows > 0:
            self._send(codec.encode_portal_suspended())
        else:
            res.close()  # read to the end: the session's cursor is free again
            self._send(codec.encode_command_complete(res.final_tag(portal.sent_rows)))

    # ------------------------------------------------------------------ COPY
    def _copy(self, res: Result) -> None:
        """Move a COPY's data: CopyOutResponse and the rows, or CopyInResponse, the
        client's CopyData until CopyDone, then the load (all rows or none)."""
        c = res.copy
        assert c is not None
        fmt = 1 if c.binary else 0
        if isinstance(c, CopyOut):
            self._send(codec.encode_copy_out_response(fmt, c.ncols))
            for data in c.messages:
                self._send(data)
                if len(self._out) > RECV_BYTES:
                    self._flush()
            self._send(codec.encode_copy_done())
            res.tag = f"COPY {c.rows()}"
            return
        self._send(codec.encode_copy_in_response(fmt, c.ncols))
        self._flush()
        res.tag = f"COPY {c.load(self._copy_data())}"

    def _copy_data(self) -> bytes:
        chunks: list[bytes] = []
        for msg in self._messages():
            if isinstance(msg, m.CopyData):
                chunks.append(msg.data)
            elif isinstance(msg, m.CopyDone):
                return b"".join(chunks)
            elif isinstance(msg, m.CopyFail):
                raise QueryCanceled(f"COPY from stdin failed: {msg.message}")
            elif not isinstance(msg, (m.Flush, m.Sync)):  # both ignored during COPY, as in PG
                raise ProtocolViolation(
                    f"unexpected message {type(msg).__name__} during COPY from stdin"
                )
        raise ConnectionError("the client went away during COPY")


def _next(stream: Any) -> m.FrontendMessage:
    for msg in stream:
        return msg
    raise ConnectionError("client went away during authentication")


def _fields(
    columns: list[tuple[str, int]], formats: tuple[int, ...]
) -> list[tuple[str, int, int, int]]:
    out = []
    for i, (name, oid) in enumerate(columns):
        fmt = formats[i] if len(formats) > 1 else (formats[0] if formats else 0)
        out.append((name, oid, pgtypes.TYPE_SIZE.get(oid, -1), fmt))
    return out


def _encode_rows(
    res: Result,
    formats: tuple[int, ...],
    limit: int,
    zone: tuple[str | None, int, bool] = (None, 1, False),
) -> _Encoded:
    if res.columns is None:
        return _Encoded(b"", False)
    n = min(limit, CHUNK_ROWS)
    try:
        rows = res.fetch_for_wire(n) if n > 0 else []
        data = datarows.encode_rows(res.columns, formats, rows, *zone)
    except BaseException:
        res.close()  # the rest will not be read: free the cursor for the next statement
        raise
    more = len(rows) == n and not res.exhausted and limit > n
    return _Encoded(data, more, len(rows))


def _notices(res: Result) -> bytes:
    """NoticeResponses for what the statement raised below ERROR (a DO block's RAISE)."""
    out = b"".join(codec.encode_notice(msg, "00000", sev) for sev, msg in res.notices)
    res.notices = []
    return out
