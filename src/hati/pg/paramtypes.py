"""Parameter type inference for ParameterDescription.

Drivers such as asyncpg encode bound values according to the types the server
reports in ParameterDescription, so reporting every ``$n`` as ``text`` makes them
reject an ``int``.  DuckDB does not expose the types it infers for a prepared
statement, so we infer them here with sqlglot, from three sources, first wins:

* an explicit cast: ``$1::int``, ``CAST($1 AS DATE)``;
* a comparison or assignment with a column: ``col = $1``, ``SET col = $1``,
  ``col IN ($1, $2)``, ``col BETWEEN $1 AND $2``;
* the position in ``INSERT INTO t [(cols)] VALUES (...)``.

Column types come from the DuckDB catalog as seen by the session's cursor (so a
session in a branch sees its own search path).  Anything else stays ``text``, which
PostgreSQL clients accept for any value.
"""

from __future__ import annotations

import contextlib
import re

import duckdb
import sqlglot
from sqlglot import exp

from hati.wire import types as pgtypes

# Statements the session answers itself, which DuckDB may not parse.
_SESSION_WORDS = {
    "SET",
    "SHOW",
    "RESET",
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "DISCARD",
    "DEALLOCATE",
    "LISTEN",
    "UNLISTEN",
    "NOTIFY",
    "CLOSE",
}
_COMPARE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)


def _column_types(cur: duckdb.DuckDBPyConnection, table: exp.Table) -> dict[str, str]:
    name = table.name
    schema = table.db or None
    rows = cur.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = ? AND (? IS NULL OR schema_name = ?) "
        "AND database_name = current_database() "
        "ORDER BY (schema_name = current_schema()) DESC, column_index",
        [name, schema, schema],
    ).fetchall()
    out: dict[str, str] = {}
    for col, typ in rows:
        out.setdefault(col.lower(), typ)
    return out


def _cast_type(cur: duckdb.DuckDBPyConnection, dtype: exp.DataType) -> str | None:
    # A separate cursor: a failing statement must not abort the client's transaction.
    try:
        with cur.cursor() as side:
            row = side.execute(f"SELECT typeof(CAST(NULL AS {dtype.sql('duckdb')}))").fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row else None


# sqlglot's tokenizer reads "$1,$" in "VALUES ($1,$2)" as a dollar-quoted string, so
# parameters are renamed to plain identifiers before parsing (the SQL is never run).
_PARAM = re.compile(r"\$(\d+)")
_MARK = "__hati_param_"


def _index(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Column) and not node.table and node.name.startswith(_MARK):
        with contextlib.suppress(ValueError):
            return int(node.name[len(_MARK) :]) - 1
    return None


class _Found:
    """The type found for each parameter so far (the first source wins)."""

    def __init__(self, count: int, columns: dict[str, str]) -> None:
        self.types: list[str | None] = [None] * count
        self.columns = columns

    def put(self, node: exp.Expression | None, typ: str | None) -> None:
        i = _index(node)
        if typ and i is not None and 0 <= i < len(self.types) and self.types[i] is None:
            self.types[i] = typ

    def col_type(self, node: exp.Expression) -> str | None:
        if not isinstance(node, exp.Column) or _index(node) is not None:
            return None
        return self.columns.get(node.name.lower())


def infer(cur: duckdb.DuckDBPyConnection, sql: str, count: int) -> list[int]:
    """OIDs for parameters ``$1..$count`` (0 where nothing could be inferred)."""
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    if word not in _SESSION_WORDS:
        # A statement DuckDB cannot parse fails here, at Describe, with 42601 as in
        # PostgreSQL (where Parse fails), before the client tries to encode parameters.
        cur.extract_statements(sql)
    try:
        tree = sqlglot.parse_one(_PARAM.sub(_MARK + r"\1", sql), read="duckdb")
    except sqlglot.errors.SqlglotError:
        return [0] * count
    columns: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        with contextlib.suppress(duckdb.Error):
            for col, typ in _column_types(cur, table).items():
                columns.setdefault(col, typ)
    found = _Found(count, columns)
    for node in tree.walk():
        _from_expression(cur, node, found)
    if isinstance(tree, exp.Insert):
        _from_insert(cur, tree, found)
    return [pgtypes.oid_for(t) if t else 0 for t in found.types]


def _from_expression(cur: duckdb.DuckDBPyConnection, node: exp.Expr, found: _Found) -> None:
    """A cast of a parameter, or a parameter compared with a column."""
    if isinstance(node, exp.Cast):
        if _index(node.this) is not None:
            found.put(node.this, _cast_type(cur, node.to))
    elif isinstance(node, _COMPARE):
        left, right = node.this, node.expression
        found.put(right, found.col_type(left))
        found.put(left, found.col_type(right))
    elif isinstance(node, exp.In):
        typ = found.col_type(node.this)
        for e in node.expressions:
            found.put(e, typ)
    elif isinstance(node, exp.Between):
        typ = found.col_type(node.this)
        found.put(node.args.get("low"), typ)
        found.put(node.args.get("high"), typ)


def _from_insert(cur: duckdb.DuckDBPyConnection, tree: exp.Insert, found: _Found) -> None:
    """Parameters in ``INSERT INTO t [(cols)] VALUES (...)`` take their column's type."""
    target = tree.this
    table = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table, exp.Table):
        return
    with contextlib.suppress(duckdb.Error):
        types = _column_types(cur, table)
        if isinstance(target, exp.Schema) and target.expressions:
            names = [c.name.lower() for c in target.expressions]
        else:
            names = list(types)
        values = tree.expression
        if isinstance(values, exp.Values):
            for row in values.expressions:
                items = row.expressions if isinstance(row, exp.Tuple) else [row]
                for name, item in zip(names, items, strict=False):
                    found.put(item, types.get(name))
