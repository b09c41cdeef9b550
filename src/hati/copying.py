"""COPY ... FROM STDIN / TO STDOUT for one session.

A COPY is two ordinary statements of the session's pipeline: ``COPY t FROM STDIN``
becomes ``INSERT INTO t (cols) SELECT ... FROM`` the parsed rows (an Arrow table
registered on the session's cursor for that statement only), so in a branch it takes
the branch's copy-on-write path like any INSERT, and inside a transaction block it is
part of the transaction; ``COPY t TO STDOUT`` and ``COPY (query) TO STDOUT`` become the
query, whose rows stream into CopyData messages. The connection moves the bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import duckdb
import pyarrow as pa
from pglast.stream import RawStream

from hati.errors import FeatureNotSupported
from hati.pg import copy as pgcopy
from hati.pg.copy import CopySpec
from hati.results import CopyIn, CopyOut, Result, as_tuples

SOURCE = "__hati_copy_rows"  # the registered Arrow table, on the session's own cursor
CHUNK_ROWS = 8192


class Runner(Protocol):
    """The session a COPY runs in."""

    cur: duckdb.DuckDBPyConnection

    def run_internal(self, sql: str) -> Result:
        """One statement through the session's pipeline, without its own audit record."""
        ...

    def zone(self) -> str | None: ...


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation(s: CopySpec) -> str:
    assert s.relation is not None
    return str(RawStream()(s.relation))


def _columns(s: CopySpec) -> str:
    return ", ".join(_ident(c) for c in s.columns) if s.columns else "*"


def start(session: Runner, node: object) -> Result:
    """The Result of a COPY statement: what the connection needs to move its data."""
    s = pgcopy.spec(node)  # type: ignore[arg-type]
    if s.is_from:
        return _copy_in(session, s)
    return _copy_out(session, s)


def _copy_in(session: Runner, s: CopySpec) -> Result:
    if s.relation is None:
        raise FeatureNotSupported("COPY FROM needs a table, not a query")
    rel = _relation(s)
    probe = session.run_internal(f"SELECT * FROM {rel} LIMIT 0")
    assert probe.columns is not None
    probe.close()
    columns = pgcopy.target_columns(s, probe.columns)

    def load(data: bytes) -> int:
        table = pgcopy.decode(s, data, columns)
        if table.num_rows == 0:
            return 0
        names = ", ".join(_ident(n) for n, _ in columns)
        source = ", ".join(table.schema.names)
        session.cur.register(SOURCE, table)
        try:
            res = session.run_internal(f"INSERT INTO {rel} ({names}) SELECT {source} FROM {SOURCE}")
        finally:
            session.cur.unregister(SOURCE)
        return res.rowcount

    return Result("COPY", None, copy=CopyIn(s.binary, len(columns), load))


def _copy_out(session: Runner, s: CopySpec) -> Result:
    if s.query is not None:
        res = session.run_internal(s.query)
    else:
        res = session.run_internal(f"SELECT {_columns(s)} FROM {_relation(s)}")
    if res.columns is None:
        raise FeatureNotSupported("COPY query must return rows")
    pgcopy.target_columns(s, res.columns)  # FORCE_QUOTE names a copied column
    encoder = pgcopy.Encoder(s, res.columns, session.zone())
    sent = [0]

    def messages() -> Iterator[bytes]:
        try:
            head = encoder.head()
            if head:
                yield head
            while True:
                rows = res.fetch(CHUNK_ROWS)
                if not len(rows):
                    break
                if not isinstance(rows, pa.Table):
                    rows = _as_table(as_tuples(rows), res.columns or [])
                sent[0] += rows.num_rows
                yield encoder.rows(rows)
            tail = encoder.tail()
            if tail:
                yield tail
        finally:
            res.close()

    return Result(
        "COPY", None, copy=CopyOut(s.binary, len(res.columns), messages(), lambda: sent[0])
    )


def _as_table(rows: list[tuple[object, ...]], columns: list[tuple[str, int]]) -> pa.Table:
    """Rows hati computed itself (a branch function's, SHOW's) as Arrow text columns."""
    cols = [
        pa.array([None if r[i] is None else str(r[i]) for r in rows], pa.string())
        for i in range(len(columns))
    ]
    return pa.table(cols, names=[f"c{i}" for i in range(len(columns))])


__all__ = ["SOURCE", "start"]
