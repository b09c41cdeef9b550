"""What a statement produced: columns, rows (possibly streamed) and a command tag."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from hati.wire import types as pgtypes

_COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE")

# A chunk of result rows: Python tuples (rows computed by hati) or an Arrow table (rows
# from DuckDB, encoded column-wise by hati.wire.datarows). Both have len() and slicing.
Rows = list[tuple[Any, ...]] | pa.Table

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

    def final_tag(self, sent: int) -> str:
        """The tag with the number of rows sent ("SELECT n"; "INSERT 0 n" for RETURNING)."""
        if self.columns is not None and self.tag.split(" ", 1)[0] in _COUNTED:
            return f"{self.tag.rsplit(' ', 1)[0] if ' ' in self.tag else self.tag} {sent}"
        return self.tag

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self.rows) and self.fetch_more is None

    def close(self) -> None:
        """Drop the rows not fetched yet (frees the cursor they stream from)."""
        self.fetch_more = None
        if self.close_more is not None:
            self.close_more()
            self.close_more = None


class ArrowRows:
    """``fetch_more`` over a DuckDB cursor's open result: Arrow tables of up to n rows.

    The cursor's Arrow reader is opened at the first fetch and holds the cursor until it
    is read to the end or closed; no other statement may run on the cursor meanwhile.
    """

    BATCH_ROWS = 8192

    def __init__(self, cur: Any) -> None:
        self._cur = cur
        self._reader: Any = None
        self._schema: pa.Schema | None = None
        self._left: pa.RecordBatch | None = None  # the unread part of the last batch
        self._done = False

    def __call__(self, n: int) -> pa.Table:
        if self._reader is None and not self._done:
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


def cursor_result(tag: str, columns: list[tuple[str, int]], cur: Any) -> Result:
    """A result whose rows stream from a DuckDB cursor as Arrow tables."""
    source = ArrowRows(cur)
    return Result(tag, columns, fetch_more=source, close_more=source.close)


def rows_result(columns: list[tuple[str, int]], rows: list[tuple[Any, ...]]) -> Result:
    return Result(f"SELECT {len(rows)}", columns, list(rows), rowcount=len(rows))


def text_columns(*names: str) -> list[tuple[str, int]]:
    return [(n, pgtypes.TEXT) for n in names]


def command(tag: str, rowcount: int = 0) -> Result:
    return Result(tag, None, rowcount=rowcount)


# DuckDB names an unaliased expression by its text ("count_star()", "sum(x)"); PostgreSQL
# by the function's name ("count", "sum"). The DuckDB name still spells the function the
# way the user wrote it, after an optional schema and quotes: "main.upper(s)", '"left"(s, 1)'.
_DUCK_FUNC = re.compile(r'^(?:[A-Za-z_]\w*\.)?"?([A-Za-z_]\w*)"?\(')
_DUCK_RENAMED = {"count_star": "count"}


def pg_column_names(sql: str, names: list[str]) -> list[str]:
    """Result column names as PostgreSQL gives them for ``sql``'s select list.

    Only unaliased function calls (``count(*)`` -> ``count``, ``sum(x)`` -> ``sum``,
    ``f(...)`` -> ``f``), casts of a column or a call (``x::text`` -> ``x``), ``CASE``,
    ``ARRAY[...]``, ``EXISTS`` and scalar subqueries are renamed; every other column keeps
    DuckDB's name. Cheap unless a name looks like a call: the statement is parsed (with
    sqlglot, never rewritten) only when some name contains ``(``.
    """
    if not any("(" in n for n in names):
        return names
    return list(_pg_names(sql, tuple(names)))


@functools.lru_cache(maxsize=512)
def _pg_names(sql: str, names: tuple[str, ...]) -> tuple[str, ...]:
    import sqlglot
    from sqlglot import exp

    tree = None
    for dialect in ("postgres", "duckdb"):
        try:
            tree = sqlglot.parse_one(sql, read=dialect)
            break
        except (sqlglot.errors.SqlglotError, RecursionError, ValueError):
            continue
    while isinstance(tree, (exp.SetOperation, exp.Subquery)):
        tree = tree.this  # a UNION takes its column names from its first SELECT
    if not isinstance(tree, exp.Select):
        return names
    items = tree.expressions
    if len(items) != len(names) or any(
        isinstance(e, (exp.Star, exp.Columns)) or (isinstance(e, exp.Column) and e.is_star)
        for e in items
    ):
        return names  # a star or COLUMNS(...) expands: items and columns do not pair up
    out = []
    for item, name in zip(items, names, strict=True):
        new = None if "(" not in name or isinstance(item, exp.Alias) else _figure(item, name)
        out.append(new or name)
    return tuple(out)


def _figure(node: Any, duck: str | None) -> str | None:
    """PostgreSQL's name for an unaliased select item (its FigureColname), or None."""
    from sqlglot import exp

    while isinstance(node, (exp.Paren, exp.Window, exp.Filter, exp.WithinGroup, exp.IgnoreNulls)):
        node = node.this
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        node = node.expression  # schema.f(...)
    if isinstance(node, exp.Column):
        return node.name or None
    if isinstance(node, (exp.Cast, exp.TryCast)):
        inner = None
        if duck:
            inner = (
                duck.split("(", 1)[1] if duck.upper().startswith(("CAST(", "TRY_CAST(")) else None
            )
        return _figure(node.this, inner)
    if isinstance(node, exp.Case):
        return "case"
    if isinstance(node, exp.Array):
        return "array"
    if isinstance(node, exp.Exists):
        return "exists"
    if isinstance(node, exp.Subquery):
        sub = node.this
        if isinstance(sub, exp.Select) and len(sub.expressions) == 1:
            first = sub.expressions[0]
            if isinstance(first, exp.Alias):
                return first.alias or None
            inner = (
                duck[len("(SELECT ") :] if duck and duck.upper().startswith("(SELECT ") else None
            )
            return _figure(first, inner)
        return None
    if isinstance(node, exp.Func):
        m = _DUCK_FUNC.match(duck) if duck else None
        if m:
            name = m.group(1).lower()
            return _DUCK_RENAMED.get(name, name)
        if isinstance(node, exp.Anonymous):
            return str(node.name).lower() or None
        return node.sql_name().lower() or None
    return None
