"""The MCP server's link to hati: plain SQL over the PostgreSQL wire (psycopg 3).

One autocommit connection per agent id, opened with ``-c hatidata_agent_id=<agent>
-c hatidata_framework=mcp`` so hati's audit trail names the agent behind every
statement; each tool call first sets ``hatidata_request_id`` so the statements of one
call can be found together in ``hati_audit``. Calls on one connection are serialised
by a lock. A connection that dropped (hati restarted, network gone) is forgotten and
reopened by the next call. A :class:`Call` is one tool call's view of the link: its
agent id, its request id, and whether main is read-only for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq

FRAMEWORK = "mcp"
MAX_CONNECTIONS = 32  # agent ids with an open connection; the least recently used goes


class HatiError(Exception):
    """An error to hand back to the MCP client: SQLSTATE, message, detail, hint."""

    def __init__(
        self,
        sqlstate: str,
        message: str,
        *,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.sqlstate, self.message, self.detail, self.hint = sqlstate, message, detail, hint

    @classmethod
    def from_psycopg(cls, exc: psycopg.Error) -> HatiError:
        diag = exc.diag
        message = diag.message_primary or str(exc).strip() or type(exc).__name__
        if exc.sqlstate:
            return cls(exc.sqlstate, message, detail=diag.message_detail, hint=diag.message_hint)
        # No SQLSTATE: the connection itself failed (refused, dropped, timed out).
        return cls(
            "08006",
            f"lost the connection to hati: {message}",
            hint="The next call opens a new connection. If the statement changed data, check "
            "with query whether it took effect before repeating it.",
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sqlstate": self.sqlstate, "message": self.message}
        if self.detail:
            out["detail"] = self.detail
        if self.hint:
            out["hint"] = self.hint
        return out


@dataclass(frozen=True)
class Target:
    """Where hati listens and how to log in."""

    host: str = "127.0.0.1"
    port: int = 5439
    user: str = "hati"
    password: str | None = None
    dbname: str = "hati"
    connect_timeout: int = 10


@dataclass
class Result:
    """One statement's outcome, with values already turned into JSON."""

    columns: list[str] | None = None
    types: list[str] | None = None
    rows: list[list[Any]] = field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    status: str | None = None
    rows_affected: int | None = None

    @property
    def returns_rows(self) -> bool:
        return self.columns is not None

    def records(self) -> list[dict[str, Any]]:
        """Rows as ``{column: value}`` objects."""
        return [dict(zip(self.columns or [], row, strict=False)) for row in self.rows]

    def as_dict(self) -> dict[str, Any]:
        if self.columns is None:
            return {"status": self.status, "rows_affected": self.rows_affected}
        return {
            "columns": self.columns,
            "types": self.types,
            "rows": self.rows,
            "row_count": self.row_count,
            "truncated": self.truncated,
        }


def to_json(value: Any) -> Any:
    """A result value as JSON: numbers stay numbers where exact, the rest becomes text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        as_float = float(value)
        return as_float if decimal.Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()  # PostgreSQL's text form of bytea
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_json(v) for v in value]
    return str(value)


def _escape_option(value: str) -> str:
    """Escape a value for libpq's ``options`` (space separates the arguments)."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


class _Stale(HatiError):
    """The connection had dropped before this call sent its statement."""

    def __init__(self) -> None:
        super().__init__(
            "08006",
            "lost the connection to hati, and the new one failed too",
            hint="Check that hati runs (hati status) and call again.",
        )


class _Conn:
    def __init__(self) -> None:
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.lock = asyncio.Lock()


class Link:
    """Connections to one hati server, one per agent id."""

    def __init__(self, target: Target, framework: str = FRAMEWORK) -> None:
        self.target = target
        self.framework = framework
        self._conns: dict[str, _Conn] = {}

    async def _open(self, agent_id: str) -> psycopg.AsyncConnection[Any]:
        t = self.target
        kwargs: dict[str, Any] = {
            "host": t.host,
            "port": t.port,
            "user": t.user,
            "dbname": t.dbname,
            "autocommit": True,
            "connect_timeout": t.connect_timeout,
            "application_name": f"hati-mcp:{agent_id}"[:63],
            "options": f"-c hatidata_agent_id={_escape_option(agent_id)} "
            f"-c hatidata_framework={_escape_option(self.framework)}",
            "cursor_factory": psycopg.AsyncRawCursor,  # $1, $2 ... placeholders, as in SQL
        }
        if t.password:
            kwargs["password"] = t.password
        try:
            return await psycopg.AsyncConnection.connect(**kwargs)
        except psycopg.Error as exc:
            err = HatiError.from_psycopg(exc)
            if err.sqlstate == "08006":
                err = HatiError(
                    "08001",
                    f"cannot connect to hati at {t.host}:{t.port}: {exc.diag.message_primary or str(exc).strip()}",
                    hint="Start it with `hati init` (or let `hati mcp` start one: leave out "
                    "--no-start), or point --host/--port at a running server.",
                )
            raise err from exc

    async def run(
        self,
        agent_id: str,
        request_id: str,
        sql: str,
        params: Sequence[Any] | None = None,
        *,
        max_rows: int = 100,
        read_only: bool = False,
        all_results: bool = False,
        retry: bool = False,
    ) -> list[Result]:
        """Run ``sql`` as ``agent_id``; the last statement's result (or every one's).

        ``read_only`` runs it in a transaction that is rolled back whatever happens.
        ``retry`` reopens a dropped connection and runs once more: only for calls that
        cannot have changed anything.
        """
        slot = self._conns.pop(agent_id, None) or _Conn()
        self._conns[agent_id] = slot  # most recently used last
        await self._evict(keep=agent_id)
        args = (slot, agent_id, request_id, sql, params, max_rows, read_only, all_results)
        async with slot.lock:
            try:
                return await self._run(*args)
            except _Stale:
                pass  # dropped before the statement went out: always safe to send it again
            except HatiError as err:
                if err.sqlstate != "08006" or not retry:
                    raise
            return await self._run(*args)

    async def _run(
        self,
        slot: _Conn,
        agent_id: str,
        request_id: str,
        sql: str,
        params: Sequence[Any] | None,
        max_rows: int,
        read_only: bool,
        all_results: bool,
    ) -> list[Result]:
        if slot.conn is None or slot.conn.closed or slot.conn.broken:
            slot.conn = None
            slot.conn = await self._open(agent_id)
        conn = slot.conn
        try:
            async with conn.cursor() as cur:
                tag = f"SET hatidata_request_id = '{request_id}'"
                try:
                    await cur.execute(tag + ("; BEGIN READ ONLY" if read_only else ""))
                except psycopg.OperationalError as exc:
                    if not (conn.broken or conn.closed):
                        raise
                    slot.conn = None
                    raise _Stale() from exc
                try:
                    await cur.execute(sql, params)
                    results = [await _collect(cur, max_rows)]
                    while all_results and cur.nextset():
                        results.append(await _collect(cur, max_rows))
                finally:
                    if read_only and not conn.broken:
                        await cur.execute("ROLLBACK")
                if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                    await cur.execute("ROLLBACK")
                    raise HatiError(
                        "25001",
                        "the SQL left a transaction open, so it was rolled back: nothing it "
                        "wrote since BEGIN was kept",
                        hint="Put BEGIN and COMMIT in the same call, or leave them out: each "
                        "call commits on its own.",
                    )
                return results
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                slot.conn = None
            elif conn.info.transaction_status != pq.TransactionStatus.IDLE:
                await conn.rollback()
            raise HatiError.from_psycopg(exc) from exc

    async def _evict(self, keep: str) -> None:
        """Close the least recently used idle connections beyond MAX_CONNECTIONS."""
        idle = [a for a, c in self._conns.items() if a != keep and not c.lock.locked()]
        for agent in idle[: max(0, len(self._conns) - MAX_CONNECTIONS)]:
            slot = self._conns.pop(agent)
            if slot.conn is not None and not slot.conn.closed:
                await slot.conn.close()

    async def probe(self) -> None:
        """Log in once and leave: raises :class:`HatiError` if hati refuses us."""
        conn = await self._open("mcp")
        await conn.close()

    async def close(self) -> None:
        for slot in self._conns.values():
            if slot.conn is not None and not slot.conn.closed:
                await slot.conn.close()
        self._conns.clear()


@dataclass(frozen=True)
class Call:
    """One tool call: who makes it, its request id, and the link to hati."""

    link: Link
    agent_id: str
    request_id: str
    read_only_main: bool = False

    async def results(self, sql: str, params: list[Any] | None = None, **kw: Any) -> list[Result]:
        return await self.link.run(self.agent_id, self.request_id, sql, params, **kw)

    async def one(self, sql: str, params: list[Any] | None = None, **kw: Any) -> Result:
        return (await self.results(sql, params, **kw))[-1]


async def _collect(cur: psycopg.AsyncCursor[Any], max_rows: int) -> Result:
    if cur.description is None:
        return Result(status=cur.statusmessage, rows_affected=max(cur.rowcount, 0))
    types = cur.connection.adapters.types
    names = []
    for d in cur.description:
        info = types.get(d.type_code)
        names.append(info.name if info is not None else str(d.type_code))
    rows = await cur.fetchmany(max_rows + 1) if max_rows >= 0 else await cur.fetchall()
    truncated = max_rows >= 0 and len(rows) > max_rows
    rows = rows[:max_rows] if truncated else rows
    total = cur.rowcount if cur.rowcount >= 0 else len(rows)
    return Result(
        columns=[d.name for d in cur.description],
        types=names,
        rows=[[to_json(v) for v in row] for row in rows],
        row_count=total,
        truncated=truncated,
        status=cur.statusmessage,
    )
