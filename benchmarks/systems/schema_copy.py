"""Branching the way one would without hati: copy every table into a schema.

branch = ``CREATE SCHEMA`` + ``CREATE TABLE`` (same primary key) + ``INSERT … SELECT`` of
each main table (in one transaction, so the copy is a consistent snapshot); merge = full-scan two-way diff
(``UPDATE … FROM``, anti-join ``INSERT``, anti-join ``DELETE``); discard = ``DROP SCHEMA
… CASCADE``. Used for plain DuckDB in-process, for hati without branches (the same SQL
through the hati server) and for PostgreSQL's schema variant.

The merge is two-way (branch state overwrites main): a row changed on main after the
fork is reverted, and under concurrency a row merged by another agent after this
branch's fork is deleted. That is what a naive copy merge does; the correctness
columns show it.
"""

from __future__ import annotations

import contextlib
import re
from abc import abstractmethod
from typing import Any

from benchmarks import datagen
from benchmarks.drivers import Conn, Row
from benchmarks.systems.base import Agent, Session, System

RETRYABLE = ("conflict", "could not serialize", "deadlock", "being accessed")


def schema_of(branch: str) -> str:
    return "cp_" + re.sub(r"[^A-Za-z0-9_]", "_", branch).lower()


def retryable(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return any(word in msg for word in RETRYABLE)


class ConnSession(Session):
    def __init__(self, conn: Conn, prefix: str | None, owned: bool = True) -> None:
        self.conn = conn
        self.prefix = prefix
        self.owned = owned

    def query(self, sql: str) -> list[Row]:
        return self.conn.run(sql) or []

    def execute(self, sql: str) -> None:
        self.conn.run(sql)

    def table(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def close(self) -> None:
        if self.owned:
            self.conn.close()


def copy_statements(schema: str, tables: list[str]) -> list[str]:
    """Copies keep the primary key (a branch must reject what main rejects)."""
    out = ["BEGIN", f"CREATE SCHEMA {schema}"]
    for t in tables:
        out += [
            datagen.create_table(f"{schema}.{t}"),
            f"INSERT INTO {schema}.{t} SELECT * FROM {t}",
        ]
    out.append("COMMIT")
    return out


def merge_statements(schema: str, tables: list[str]) -> list[str]:
    out = ["BEGIN"]
    for t in tables:
        b = f"{schema}.{t}"
        out += [
            f"UPDATE {t} AS m SET v = b.v, s = b.s FROM {b} AS b "
            f"WHERE m.id = b.id AND (m.v IS DISTINCT FROM b.v OR m.s IS DISTINCT FROM b.s)",
            f"INSERT INTO {t} SELECT b.* FROM {b} AS b "
            f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS m WHERE m.id = b.id)",
            f"DELETE FROM {t} AS m WHERE NOT EXISTS (SELECT 1 FROM {b} AS b WHERE b.id = m.id)",
        ]
    out.append("COMMIT")
    out.append(f"DROP SCHEMA {schema} CASCADE")
    return out


def run_all(conn: Conn, stmts: list[str], attempts: int = 8) -> int:
    """Run statements as one unit, retrying the whole unit on serialization conflicts."""
    for attempt in range(attempts):
        try:
            for s in stmts:
                conn.run(s)
            return attempt
        except Exception as exc:
            with contextlib.suppress(Exception):
                conn.run("ROLLBACK")
            if attempt + 1 >= attempts or not retryable(exc):
                raise
    return attempts


class CopyAgent(Agent):
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def cycle(self, branch: str, table: str, row: tuple[int, int, str]) -> int:
        schema = schema_of(branch)
        retries = run_all(self.conn, copy_statements(schema, [table]))
        self.conn.run(f"INSERT INTO {schema}.{table} VALUES ({row[0]}, {row[1]}, '{row[2]}')")
        retries += run_all(self.conn, merge_statements(schema, [table]))
        return retries

    def close(self) -> None:
        self.conn.close()


class ConnSystem(System):
    """A system reached through connections: main is one cached connection."""

    def __init__(self) -> None:
        super().__init__()
        self._main: ConnSession | None = None

    @abstractmethod
    def connect(self) -> Conn:
        """A new connection on main."""

    def main(self) -> ConnSession:
        if self._main is None:
            self._main = ConnSession(self.connect(), None)
        return self._main

    def reconnect(self) -> None:
        self.close_main()

    def close_main(self) -> None:
        if self._main is not None:
            self._main.close()
            self._main = None


class SchemaCopySystem(ConnSystem):
    cheap_create = False
    merge_scans_main = True
    merge_note = "full-scan two-way diff + UPDATE … FROM"

    def branch_create(self, name: str) -> None:
        run_all(self.main().conn, copy_statements(schema_of(name), list(self.tables)))
        self.branches.add(name)

    def branch_discard(self, name: str) -> None:
        self.main().execute(f"DROP SCHEMA IF EXISTS {schema_of(name)} CASCADE")
        self.branches.discard(name)

    def branch_merge(self, name: str) -> dict[str, Any]:
        retries = run_all(self.main().conn, merge_statements(schema_of(name), list(self.tables)))
        self.branches.discard(name)
        return {"status": "merged", "retries": retries}

    def session(self, branch: str | None) -> Session:
        return ConnSession(self.connect(), schema_of(branch) if branch else None)

    def agent(self) -> Agent:
        return CopyAgent(self.connect())
