"""Thin adapters so every system runs SQL through the same two calls."""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

Row = tuple[Any, ...]


class Conn(Protocol):
    """A client connection in autocommit mode."""

    columns: list[str]

    def run(self, sql: str) -> list[Row] | None:
        """Execute one statement; return its rows if it returns a result set."""
        ...

    def close(self) -> None: ...


class DuckDBConn:
    """An in-process DuckDB cursor (its own transaction context)."""

    def __init__(self, cursor: Any) -> None:
        self.cur = cursor
        self.columns: list[str] = []

    def run(self, sql: str) -> list[Row] | None:
        res = self.cur.execute(sql)
        if res.description is None:
            return None
        self.columns = [d[0] for d in res.description]
        return res.fetchall()

    def close(self) -> None:
        self.cur.close()


class Pg2Conn:
    """psycopg2 (simple query protocol), what the hatidata-agent SDK uses."""

    def __init__(self, host: str, port: int, dbname: str, user: str, **kw: Any) -> None:
        import psycopg2

        self.conn = psycopg2.connect(
            host=host, port=port, dbname=dbname, user=user, connect_timeout=10, **kw
        )
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.columns: list[str] = []

    def run(self, sql: str) -> list[Row] | None:
        self.cur.execute(sql)
        if self.cur.description is None:
            return None
        self.columns = [d[0] for d in self.cur.description]
        return self.cur.fetchall()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class Pg3Conn:
    """psycopg 3 (extended protocol; statements are prepared after 5 runs)."""

    def __init__(
        self, host: str, port: int, dbname: str, user: str, binary: bool = False, **kw: Any
    ) -> None:
        import psycopg

        self.conn = psycopg.connect(
            host=host, port=port, dbname=dbname, user=user, autocommit=True,
            connect_timeout=10, **kw,
        )
        self.cur = self.conn.cursor(binary=binary)
        self.columns: list[str] = []

    def run(self, sql: str) -> list[Row] | None:
        self.cur.execute(sql)  # type: ignore[arg-type]
        if self.cur.description is None:
            return None
        self.columns = [d.name for d in self.cur.description]
        return self.cur.fetchall()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def sql_str(value: str) -> str:
    """Quote a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
