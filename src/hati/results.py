"""What a statement produced: columns, rows (possibly streamed) and a command tag."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pyarrow as pa

from hati.wire import types as pgtypes

_COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE")
ALL_ROWS = 1 << 62

# A chunk of result rows: Python tuples (rows computed by hati) or an Arrow table (rows
# from DuckDB, encoded column-wise by hati.wire.datarows). Both have len() and slicing.
Rows: TypeAlias = list[tuple[Any, ...]] | pa.Table

# DuckDB warns that Arrow output of an executed cursor copies the rows once; that copy
# is what streams them in batches (and it is cheap next to any per-value conversion).
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


@dataclass
class Result:
    """A result set or a command outcome.

    ``columns`` is None for statements that return no rows (RowDescription is then
    NoData). ``fetch`` pulls up to n more rows; ``rows`` holds rows computed in Python
    (or, once a streamed result was read to the end, its Arrow table). ``close_more``
    releases what ``fetch_more`` holds when the rest of the rows will not be read.
    """

    tag: str
    columns: list[tuple[str, int]] | None = None
    rows: Rows = field(default_factory=list)
    fetch_more: Callable[[int], Rows] | None = None
    rowcount: int = 0
    _pos: int = 0
    close_more: Callable[[], None] | None = None
    copy: CopyIn | CopyOut | None = None  # COPY FROM STDIN / TO STDOUT: the data's way
    source: ArrowRows | None = None  # where fetch_more's rows come from, if a DuckDB cursor
    notices: list[tuple[str, str]] = field(default_factory=list)  # (severity, message) to send

    def fetch(self, n: int) -> Rows:
        """Up to ``n`` rows (tuples or an Arrow table); empty when exhausted."""
        if self._pos < len(self.rows):
            out = self.rows[self._pos : self._pos + n]
            self._pos += len(out)
            return out
        if self.fetch_more is None:
            return []
        out = self.fetch_more(n)
        if not out:
            self.fetch_more = None
        return out

    def fetch_for_wire(self, n: int) -> Rows:
        """``fetch`` for the DataRow encoder, which takes Python tuples as well as Arrow:
        a short result of plain columns skips Arrow altogether (ArrowRows)."""
        if self.source is not None:
            self.source.tuples_first()
        return self.fetch(n)

    def final_tag(self, sent: int) -> str:
        """The tag with the number of rows sent ("SELECT n"; "INSERT 0 n" for RETURNING)."""
        if self.columns is not None and self.tag.split(" ", 1)[0] in _COUNTED:
            return f"{self.tag.rsplit(' ', 1)[0] if ' ' in self.tag else self.tag} {sent}"
        return self.tag

    def buffer(self) -> Result:
        """Fetch every remaining row now, before its cursor runs anything else."""
        if self.fetch_more is not None:
            self.rows = self.fetch(ALL_ROWS)
            self.fetch_more = None
            self._pos = 0
        return self

    def tuples(self) -> list[tuple[Any, ...]]:
        """Every remaining row as Python tuples (for callers inside hati and tests; the
        wire encodes Arrow batches directly)."""
        return as_tuples(self.buffer().fetch(ALL_ROWS))

    def emptied(self, empty: bool = True) -> Result:
        """The same columns and no rows (SELECT ... SKIP LOCKED that skipped them all)."""
        if empty:
            self.close()
            self.rows = []
        return self

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self.rows) and self.fetch_more is None

    def close(self) -> None:
        """Drop the rows not fetched yet (frees the cursor they stream from)."""
        self.fetch_more = None
        if self.close_more is not None:
            self.close_more()
            self.close_more = None


@dataclass
class CopyIn:
    """COPY ... FROM STDIN: the client sends the data, then ``load`` inserts it all
    (its rows counted) or nothing."""

    binary: bool
    ncols: int
    load: Callable[[bytes], int]


@dataclass
class CopyOut:
    """COPY ... TO STDOUT: the CopyData messages to send, and then how many rows they held."""

    binary: bool
    ncols: int
    messages: Iterator[bytes]
    rows: Callable[[], int]


# DuckDB types whose Python values the per-value encoders write exactly as the Arrow
# encoders do, by the PostgreSQL type they are announced as.
_PLAIN = {"INTEGER": pgtypes.INT4, "BIGINT": pgtypes.INT8, "SMALLINT": pgtypes.INT2}
_PLAIN.update(BOOLEAN=pgtypes.BOOL, VARCHAR=pgtypes.TEXT)


def plain_columns(columns: list[tuple[str, int]], description: Any) -> bool:
    """Every column an integer, boolean or text announced as its own PostgreSQL type."""
    if not description or len(description) != len(columns):
        return False
    for (_, oid), d in zip(columns, description, strict=True):
        want = _PLAIN.get(str(d[1]))
        if want is None or (oid != want and not (want == pgtypes.TEXT and oid == pgtypes.VARCHAR)):
            return False
    return True


def _arrow_column(values: tuple[Any, ...], typ: pa.DataType) -> pa.Array:
    """Python values of a plain column as the reader's Arrow type (bool8 included)."""
    if isinstance(typ, pa.BaseExtensionType):
        storage = pa.array(values).cast(typ.storage_type)
        return pa.ExtensionArray.from_storage(typ, storage)
    return pa.array(values).cast(typ)


class ArrowRows:
    """``fetch_more`` over a DuckDB cursor's open result: Arrow tables of up to n rows.

    The cursor's Arrow reader is opened at the first fetch and holds the cursor until it
    is read to the end or closed; no other statement may run on the cursor meanwhile.

    ``plain`` (see ``plain_columns``): once ``tuples_first`` is called, before the first
    fetch, the first ``HEAD_ROWS`` rows are fetched as Python tuples. Opening an Arrow
    reader costs more CPU than a point query itself, and most results (pgbench's, an
    ORM's) are a few rows: those never open one. A longer result goes on through Arrow,
    its head joined to it.
    """

    BATCH_ROWS = 8192
    HEAD_ROWS = 64

    def __init__(self, cur: Any, plain: bool = False) -> None:
        self._cur = cur
        self._reader: Any = None
        self._schema: pa.Schema | None = None
        self._left: pa.RecordBatch | None = None  # the unread part of the last batch
        self._done = False
        self._plain = plain
        self._head = False
        self._started = False

    def tuples_first(self) -> None:
        """The first fetch may answer Python tuples (the wire encodes either)."""
        self._head = self._plain and not self._started

    def __call__(self, n: int) -> Rows:
        self._started = True
        head: list[tuple[Any, ...]] = []
        if self._head:
            self._head = False
            head = self._cur.fetchmany(min(n, self.HEAD_ROWS))
            if len(head) < min(n, self.HEAD_ROWS):
                self.close()  # the whole result
                return head
            if len(head) == n:
                return head
            n -= len(head)
        rest = self._arrow(n)
        if not head:
            return rest
        assert isinstance(rest, pa.Table), "a full head leaves the reader open"
        columns = zip(zip(*head, strict=True), rest.schema, strict=True)
        first = pa.Table.from_arrays(
            [_arrow_column(c, f.type) for c, f in columns], schema=rest.schema
        )
        return pa.concat_tables([first, rest])

    def _arrow(self, n: int) -> Rows:
        if self._done and self._reader is None:
            return []
        if self._reader is None:
            self._reader = self._cur.to_arrow_reader(self.BATCH_ROWS)
            self._schema = self._reader.schema
        batches, have = [], 0
        while have < n:
            batch = self._left
            self._left = None
            if batch is None:
                batch = self._next()
                if batch is None:
                    break
            if have + batch.num_rows > n:
                self._left = batch.slice(n - have)
                batch = batch.slice(0, n - have)
            batches.append(batch)
            have += batch.num_rows
        return pa.Table.from_batches(batches, self._schema)

    def _next(self) -> pa.RecordBatch | None:
        if self._reader is None:
            return None
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            self.close()
            return None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.close()
        self._left = None
        self._done = True


def as_tuples(rows: Rows) -> list[tuple[Any, ...]]:
    """Rows as Python tuples, whether they are tuples already or an Arrow table."""
    if isinstance(rows, pa.Table):
        return list(zip(*(col.to_pylist() for col in rows.columns), strict=True))
    return list(rows)


def cursor_result(tag: str, columns: list[tuple[str, int]], cur: Any) -> Result:
    """A result whose rows stream from a DuckDB cursor as Arrow tables."""
    source = ArrowRows(cur, plain=plain_columns(columns, cur.description))
    return Result(tag, columns, fetch_more=source, close_more=source.close, source=source)


def counted_rows(cur: Any) -> Callable[[int], Rows]:
    """``fetch_more`` of a result without columns: as many empty rows as ``cur``'s
    result has (counted through Arrow batches, never held as Python tuples)."""
    left = sum(batch.num_rows for batch in cur.to_arrow_reader(ArrowRows.BATCH_ROWS))

    def fetch(n: int) -> Rows:
        nonlocal left
        take = min(n, left)
        left -= take
        return [()] * take

    return fetch


def rows_result(columns: list[tuple[str, int]], rows: list[tuple[Any, ...]]) -> Result:
    return Result(f"SELECT {len(rows)}", columns, list(rows), rowcount=len(rows))


def text_columns(*names: str) -> list[tuple[str, int]]:
    return [(n, pgtypes.TEXT) for n in names]


def command(tag: str, rowcount: int = 0) -> Result:
    return Result(tag, None, rowcount=rowcount)
