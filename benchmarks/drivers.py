"""Thin adapters so every system runs SQL through the same two calls."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, Protocol

Row = tuple[Any, ...]

# Every connection the harness opened and has not closed: what the watchdog cancels.
OPEN: weakref.WeakSet[Any] = weakref.WeakSet()


def cancel_all() -> int:
    """Ask every open connection to cancel what it runs (a watchdog's last resort)."""
    n = 0
    for conn in list(OPEN):
        with contextlib.suppress(Exception):
            conn.cancel()
            n += 1
    return n


class Conn(Protocol):
    """A client connection in autocommit mode."""

    columns: list[str]

    def run(self, sql: str) -> list[Row] | None:
        """Execute one statement; return its rows if it returns a result set."""
        ...

    def close(self) -> None: ...

    def cancel(self) -> None:
        """Interrupt the running statement, from another thread."""
        ...


class DuckDBConn:
    """An in-process DuckDB cursor (its own transaction context)."""

    def __init__(self, cursor: Any) -> None:
        self.cur = cursor
        self.columns: list[str] = []
        OPEN.add(self)

    def run(self, sql: str) -> list[Row] | None:
        res = self.cur.execute(sql)
        if res.description is None:
            return None
        self.columns = [d[0] for d in res.description]
        return res.fetchall()

    def close(self) -> None:
        OPEN.discard(self)
        self.cur.close()

    def cancel(self) -> None:
        self.cur.interrupt()


class _PgConn:
    """What both PostgreSQL drivers share (their DB-API cursors differ in column names)."""

    conn: Any
    cur: Any

    def _opened(self) -> None:
        self.columns: list[str] = []
        OPEN.add(self)

    def run(self, sql: str) -> list[Row] | None:
        self.cur.execute(sql)
        if self.cur.description is None:
            return None
        self.columns = [d[0] for d in self.cur.description]
        return self.cur.fetchall()

    def close(self) -> None:
        OPEN.discard(self)
        with contextlib.suppress(Exception):
            self.conn.close()

    def cancel(self) -> None:
        cancel = getattr(self.conn, "cancel_safe", None) or self.conn.cancel
        cancel()


class Pg2Conn(_PgConn):
    """psycopg2 (simple query protocol), what the hatidata-agent SDK uses."""

    def __init__(self, host: str, port: int, dbname: str, user: str, **kw: Any) -> None:
        import psycopg2

        self.conn = psycopg2.connect(
            host=host, port=port, dbname=dbname, user=user, connect_timeout=10, **kw
        )
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self._opened()


class Pg3Conn(_PgConn):
    """psycopg 3 (extended protocol; statements are prepared after 5 runs)."""

    def __init__(
        self, host: str, port: int, dbname: str, user: str, binary: bool = False, **kw: Any
    ) -> None:
        import psycopg

        self.conn = psycopg.connect(
            host=host,
            port=port,
            dbname=dbname,
            user=user,
            autocommit=True,
            connect_timeout=10,
            **kw,
        )
        self.cur = self.conn.cursor(binary=binary)
        self._opened()


def sql_str(value: str) -> str:
    """Quote a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
