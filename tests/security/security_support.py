"""Helpers for the security tests: a server with data, a branch and audit records, and
the check that an attack left all three as they were."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from conftest import RunningServer, internal, start_server


@dataclass
class Baseline:
    """What must be unchanged after a refused statement."""

    ledger: list[tuple]
    branch_ledger: list[tuple]
    branches: list[tuple]
    audit_rows: int


def seed(cur: Any) -> None:
    """main.ledger (2 rows), branch ``b`` with one change, one audit record at least."""
    cur.execute("CREATE TABLE ledger (id INT PRIMARY KEY, amt INT)")
    cur.execute("INSERT INTO ledger VALUES (1, 100), (2, 200)")
    cur.execute("CREATE TABLE notes (s TEXT)")  # key-less
    cur.execute("INSERT INTO notes VALUES ('keep')")
    cur.execute("SELECT branch_create('b')")
    cur.execute("SELECT * FROM branch_query('b', 'UPDATE ledger SET amt = 150 WHERE id = 1')")


def _query(server: RunningServer, sql: str, connect: Callable[[], Any] | None) -> list[tuple]:
    if connect is None:
        return server.query(sql)
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def baseline(server: RunningServer, connect: Callable[[], Any] | None = None) -> Baseline:
    """``connect``: how to reach a server that needs a key (default: trust)."""
    return Baseline(
        _query(server, "SELECT * FROM ledger ORDER BY id", connect),
        _query(
            server, "SELECT * FROM branch_query('b', 'SELECT * FROM ledger ORDER BY id')", connect
        ),
        _query(server, "SELECT name, parent, created_by FROM branch_list() ORDER BY name", connect),
        internal(server, "SELECT count(*) FROM _hati.audit")[0][0],
    )


def assert_intact(
    server: RunningServer, before: Baseline, connect: Callable[[], Any] | None = None
) -> None:
    """Rows on main and in the branch, the branch list and the audit trail are as before
    (the audit may only have grown: records are appended, never lost)."""
    after = baseline(server, connect)
    assert after.ledger == before.ledger
    assert after.branch_ledger == before.branch_ledger
    assert after.branches == before.branches
    assert after.audit_rows >= before.audit_rows
    assert _query(server, "SELECT count(*) FROM hati_audit", connect)[0][0] >= before.audit_rows


def refused(cur: Any, sql: str, sqlstate: str, params: Any = None) -> psycopg2.Error:
    """``sql`` fails with ``sqlstate``; returns the error."""
    with pytest.raises(psycopg2.Error) as info:
        cur.execute(sql, params)
    assert info.value.pgcode == sqlstate, (sql, info.value.pgcode, str(info.value))
    return info.value


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server seeded by ``seed``: the data, branch and audit an attack must leave alone."""
    s = start_server(tmp_path / "data")
    c = s.connect()
    seed(c.cursor())
    c.close()
    try:
        yield s
    finally:
        s.thread.stop()


@pytest.fixture
def cur(server: RunningServer) -> Iterator[Any]:
    """A cursor of the agent ``mallory`` on that server."""
    c = server.connect(agent="mallory")
    try:
        yield c.cursor()
    finally:
        c.close()
