"""Server-side cursors of one session: DECLARE, FETCH, MOVE, CLOSE.

A cursor's query runs through the session's pipeline like any read (in a branch, the
branch's tables), and its rows stream from DuckDB in Arrow batches as FETCH asks for
them: a million-row cursor never holds more than a batch. A SCROLL cursor keeps its rows
(it may go back), as does a WITH HOLD cursor once its transaction ends. One DuckDB
cursor serves the whole session, so before any other statement runs, the open cursors
read their remaining rows into memory (``park``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
from pglast import ast
from pglast.enums import FetchDirection
from pglast.stream import RawStream

from hati.errors import (
    DuplicateCursor,
    FeatureNotSupported,
    InvalidCursorName,
    NoActiveSqlTransaction,
    ObjectNotInPrerequisiteState,
)
from hati.results import ALL_ROWS, Result, Rows, command

_BINARY, _SCROLL, _HOLD = 0x01, 0x02, 0x20
_ALL = (1 << 63) - 1  # FETCH ALL's count in the parse tree


class Runner(Protocol):
    @property
    def in_transaction(self) -> bool: ...

    def run_internal(self, sql: str, params: list[Any] | None = None) -> Result: ...


def _empty(rows: Rows) -> Rows:
    return rows[0:0]


def _concat(parts: list[Rows]) -> Rows:
    if parts and all(isinstance(p, pa.Table) for p in parts):
        return pa.concat_tables(parts)
    out: list[Any] = []
    for p in parts:
        out.extend(p.to_pylist() if isinstance(p, pa.Table) else p)
    return out


@dataclass(eq=False)
class Cursor:
    name: str
    result: Result
    scroll: bool
    hold: bool
    pos: int = 0  # PostgreSQL's position: 0 before the first row, n after row n
    rows: Rows | None = None  # every row, once kept (SCROLL, parked, held)
    at_end: bool = False
    _offset: int = 0  # rows fetched before ``rows`` were kept (never read again)

    def keep(self) -> None:
        """Read the rows still in DuckDB into memory (the session cursor is needed)."""
        if self.rows is None:
            self.rows = self.result.fetch(ALL_ROWS)
            self._offset = self.pos - 1 if self.at_end else self.pos
            self.result.close()

    def fetch(self, direction: FetchDirection, count: int) -> Rows:
        if direction == FetchDirection.FETCH_FORWARD and count >= 0:
            return self._forward(ALL_ROWS if count == _ALL else count)
        if not self.scroll:
            if direction == FetchDirection.FETCH_RELATIVE and count > 0:
                self._forward(count - 1)
                return self._forward(1)
            if direction == FetchDirection.FETCH_ABSOLUTE and count > self.pos:
                self._forward(count - self.pos - 1)
                return self._forward(1)
            raise ObjectNotInPrerequisiteState(
                "cursor can only scan forward",
                hint="Declare it with SCROLL option to enable backward scan.",
            )
        self.keep()
        assert self.rows is not None
        n = len(self.rows) + self._offset
        if direction == FetchDirection.FETCH_FORWARD:  # FORWARD -n
            direction, count = FetchDirection.FETCH_BACKWARD, -count
        if direction == FetchDirection.FETCH_BACKWARD:
            count = ALL_ROWS if count == _ALL else count
            first, last = max(self.pos - count, 1), self.pos - 1
            self.pos = first if self.pos - count >= 1 else 0
            if last < first:
                return _empty(self.rows)
            return _reverse(self.rows[first - 1 - self._offset : last - self._offset])
        target = count if direction == FetchDirection.FETCH_ABSOLUTE else self.pos + count
        if direction == FetchDirection.FETCH_ABSOLUTE and count < 0:
            target = n + count + 1
        if target < 1 or target > n:
            self.pos = 0 if target < 1 else n + 1
            return _empty(self.rows)
        self.pos = target
        return self.rows[target - 1 - self._offset : target - self._offset]

    def _forward(self, count: int) -> Rows:
        if count <= 0:
            return _empty(self.rows) if self.rows is not None else []
        if self.rows is not None:
            start = max(self.pos - self._offset, 0)
            out = self.rows[start : start + count]
            self.pos = (
                self.pos + len(out) if len(out) == count else len(self.rows) + self._offset + 1
            )
            return out
        if self.at_end:
            return []
        parts, have = [], 0
        while have < count:
            chunk = self.result.fetch(min(count - have, 65536))
            if not len(chunk):
                break
            parts.append(chunk)
            have += len(chunk)
        self.pos += have
        if have < count:
            self.at_end = True
            self.pos += 1
        if len(parts) == 1:
            return parts[0]
        return _concat(parts) if parts else []


def _reverse(rows: Rows) -> Rows:
    if isinstance(rows, pa.Table):
        return rows.take(pa.array(range(rows.num_rows - 1, -1, -1), pa.int64()))
    return list(reversed(rows))


class Cursors:
    """The open cursors of one session, by name."""

    def __init__(self) -> None:
        self.open: dict[str, Cursor] = {}

    def run(self, session: Runner, node: ast.Node, params: list[Any]) -> Result:
        if isinstance(node, ast.DeclareCursorStmt):
            return self._declare(session, node, params)
        if isinstance(node, ast.FetchStmt):
            return self._fetch(node)
        assert isinstance(node, ast.ClosePortalStmt)
        if node.portalname is None:
            for c in self.open.values():
                c.result.close()
            self.open.clear()
            return command("CLOSE CURSOR ALL")
        else:
            self._get(node.portalname).result.close()
            del self.open[node.portalname]
        return command("CLOSE CURSOR")

    def park(self, keep: str | None = None) -> None:
        """Before another statement runs on the session's DuckDB cursor."""
        for c in self.open.values():
            if c.name != keep and c.rows is None:
                c.keep()

    def publish(self, cur: Any, tables: Any) -> None:
        """Before a statement that reads pg_cursors: their names, where the view reads them."""
        if any(t.name == "pg_cursors" for t in tables):
            names = ", ".join("'" + n.replace("'", "''") + "'" for n in self.open)
            cur.execute(f"SET VARIABLE hati_cursors = [{names}]::VARCHAR[]")

    def end_transaction(self) -> None:
        """Before COMMIT or ROLLBACK: WITH HOLD cursors keep their rows, the rest close."""
        for name, c in list(self.open.items()):
            if c.hold:
                c.keep()
            else:
                c.result.close()
                del self.open[name]

    def _get(self, name: str) -> Cursor:
        c = self.open.get(name)
        if c is None:
            raise InvalidCursorName(f'cursor "{name}" does not exist')
        return c

    def adopt(self, name: str, result: Result) -> None:
        """A named portal of the extended protocol: FETCH and MOVE reach it by name."""
        self.open[name] = Cursor(name, result, scroll=False, hold=False)

    def _declare(self, session: Runner, node: ast.DeclareCursorStmt, params: list[Any]) -> Result:
        name, options = str(node.portalname), node.options or 0
        assert node.query is not None
        if options & _BINARY:
            raise FeatureNotSupported(
                "binary cursors are not supported", hint="Declare the cursor without BINARY."
            )
        hold = bool(options & _HOLD)
        if not hold and not session.in_transaction:
            raise NoActiveSqlTransaction("DECLARE CURSOR can only be used in transaction blocks")
        if name in self.open:
            raise DuplicateCursor(f'cursor "{name}" already exists')
        self.park()
        res = session.run_internal(RawStream()(node.query), params)
        if res.columns is None:
            raise FeatureNotSupported("a cursor's query must return rows")
        cursor = Cursor(name, res, scroll=bool(options & _SCROLL), hold=hold)
        if cursor.scroll or (hold and not session.in_transaction):
            cursor.keep()
        self.open[name] = cursor
        return command("DECLARE CURSOR")

    def _fetch(self, node: ast.FetchStmt) -> Result:
        c = self._get(str(node.portalname))
        self.park(keep=c.name)
        rows = c.fetch(node.direction or FetchDirection.FETCH_FORWARD, node.howMany or 0)
        verb = "MOVE" if node.ismove else "FETCH"
        if node.ismove:
            return command(f"MOVE {len(rows)}", len(rows))
        return Result(f"{verb} {len(rows)}", c.result.columns, rows, rowcount=len(rows))
