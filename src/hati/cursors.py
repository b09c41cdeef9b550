"""Server-side cursors of one session: DECLARE, FETCH, MOVE, CLOSE.

A cursor's query runs through the session's pipeline like any read (in a branch, the
branch's tables), and its rows stream from DuckDB in Arrow batches as FETCH asks for
them: a million-row cursor never holds more than a batch. A SCROLL cursor keeps its rows
(it may go back), as does a WITH HOLD cursor once its transaction ends. One DuckDB
cursor serves the whole session, so before any other statement runs, the open cursors
read their remaining rows into memory (``park``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """One cursor: its rows stream from ``result``; the rows of the last FETCH stay in
    memory (``known``, from position ``first``), so a cursor without SCROLL can step back
    over them; a SCROLL cursor, or one parked or held, keeps every row."""

    name: str
    result: Result
    scroll: bool
    hold: bool
    pos: int = 0  # PostgreSQL's position: 0 before the first row, n after row n
    known: Rows = field(default_factory=list)
    first: int = 1  # the position of known[0]
    seen: int = 0  # rows read from the result so far
    done: bool = False  # the result is read to its end: ``seen`` rows in all
    kept: bool = False  # every row from ``first`` on is in ``known``

    def keep(self) -> None:
        """Read the rows still in DuckDB into memory (the session cursor is needed)."""
        if not self.kept:
            rest = self._pull(ALL_ROWS)
            self.known = _concat([self.known, rest]) if len(self.known) else rest
            if not len(self.known):
                self.first = self.seen + 1
            self.kept = True
            self.result.close()

    def _pull(self, n: int) -> Rows:
        if self.done or n <= 0:
            return []
        parts, have = [], 0
        while have < n:
            chunk = self.result.fetch(min(n - have, 65536))
            if not len(chunk):
                self.done = True
                break
            parts.append(chunk)
            have += len(chunk)
        self.seen += have
        return parts[0] if len(parts) == 1 else _concat(parts)

    def _rows(self, lo: int, hi: int) -> Rows:
        """Rows ``lo..hi`` (positions, as many as exist), reading on from DuckDB as needed."""
        if lo < self.first:
            raise ObjectNotInPrerequisiteState(
                "cursor can only scan forward",
                hint="Declare it with SCROLL option to enable backward scan.",
            )
        end = self.first + len(self.known) - 1  # the last position in memory
        if hi <= end or self.done or self.kept:
            return self.known[lo - self.first : hi - self.first + 1]
        kept = self.known[lo - self.first :] if lo <= end else self.known[0:0]
        if lo > end + 1:
            self._pull(lo - end - 1)  # skipped: never read again
        pulled = self._pull(hi - max(end, lo - 1))
        out = _concat([kept, pulled]) if len(kept) else pulled
        if self.scroll:
            self.known = _concat([self.known, pulled]) if len(self.known) else pulled
        else:
            self.known, self.first = out, lo
        return out

    def _total(self) -> int:
        self.keep()
        return self.seen

    def fetch(self, direction: FetchDirection, count: int) -> Rows:
        count = ALL_ROWS if count == _ALL else count
        if direction == FetchDirection.FETCH_FORWARD and count < 0:
            direction, count = FetchDirection.FETCH_BACKWARD, -count
        elif direction == FetchDirection.FETCH_BACKWARD and count < 0:
            direction, count = FetchDirection.FETCH_FORWARD, -count
        if direction == FetchDirection.FETCH_FORWARD:
            if count == 0 or (self.done and self.pos > self.seen):
                self.pos = self.pos if count == 0 else self.seen + 1
                return self.known[0:0]
            out = self._rows(self.pos + 1, self.pos + count)
            self.pos = self.pos + len(out) if len(out) == count else self.seen + 1
            return out
        if direction == FetchDirection.FETCH_BACKWARD:
            lo, hi = max(self.pos - count, 1), self.pos - 1
            self.pos = lo if self.pos - count >= 1 else 0
            return self.known[0:0] if hi < lo else _reverse(self._rows(lo, hi))
        target = count if direction == FetchDirection.FETCH_ABSOLUTE else self.pos + count
        if direction == FetchDirection.FETCH_ABSOLUTE and count < 0:
            target = self._total() + count + 1
        if target < 1:
            self.pos = 0
            return self.known[0:0]
        out = self._rows(target, target)
        self.pos = target if len(out) else self.seen + 1
        return out


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
            if c.name != keep and not c.kept:
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

    def drop(self, names: set[str]) -> None:
        """Close these cursors, WITH HOLD ones too (a savepoint rolled back their DECLARE)."""
        for name in names & set(self.open):
            self.open.pop(name).result.close()

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
