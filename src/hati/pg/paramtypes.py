"""Parameter type inference for ParameterDescription.

Drivers such as asyncpg encode bound values according to the types the server
reports in ParameterDescription, so reporting every ``$n`` as ``text`` makes them
reject an ``int``.  DuckDB does not expose the types it infers for a prepared
statement (``duckdb_prepared_statements()`` says UNKNOWN), so they are read off the
statement's PostgreSQL parse tree (pglast), from three sources, first wins:

* an explicit cast: ``$1::int``, ``CAST($1 AS DATE)``;
* a comparison or assignment with a column: ``col = $1``, ``SET col = $1``,
  ``col IN ($1, $2)``, ``col BETWEEN $1 AND $2``, ``col LIKE $1``;
* the position in ``INSERT INTO t [(cols)] VALUES (...)``.

Column types come from the DuckDB catalog as seen by the session's cursor (so a
session in a branch sees its own search path).  Anything else stays unknown (0),
which PostgreSQL clients answer by sending text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import duckdb
import pglast
from pglast import ast

from hati.wire import types as pgtypes

_MAIN_NAMES = {"public", "main"}


def _walk(node: Any) -> Iterator[ast.Node]:
    """Every node of a parse tree, parents before children, in source order."""
    if isinstance(node, tuple | list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, ast.Node):
        yield node
        for slot in node:
            yield from _walk(getattr(node, slot))


def _param(node: Any) -> int | None:
    """The 0-based index of a ``$n`` node, else None."""
    return node.number - 1 if isinstance(node, ast.ParamRef) else None


def _column(node: Any) -> str | None:
    """The column name of a plain column reference, else None."""
    if isinstance(node, ast.ColumnRef) and node.fields:
        last = node.fields[-1]
        if isinstance(last, ast.String):
            return last.sval.lower()
    return None


def _cast_oid(cur: duckdb.DuckDBPyConnection, type_name: ast.TypeName) -> int | None:
    names = [n.sval for n in type_name.names or () if isinstance(n, ast.String)]
    oid = pgtypes.oid_of_name(names[-1]) if names else 0
    if not oid and len(names) == 1 and _BARE_NAME.match(names[0]):
        oid = _duckdb_type_oid(cur, names[0])
    if oid and type_name.arrayBounds:
        return pgtypes.ARRAY_OF.get(oid)
    return oid


_BARE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _duckdb_type_oid(cur: duckdb.DuckDBPyConnection, name: str) -> int:
    """A type name only DuckDB knows (``double``), as DuckDB resolves it."""
    try:  # a separate cursor: a failing statement must not abort the client's transaction
        with cur.cursor() as side:
            row = side.execute(f"SELECT typeof(CAST(NULL AS {name}))").fetchone()
    except duckdb.Error:
        return 0
    return pgtypes.oid_for(row[0]) if row else 0


def _column_types(cur: duckdb.DuckDBPyConnection, rel: ast.RangeVar) -> dict[str, str]:
    schema = rel.schemaname if rel.schemaname not in _MAIN_NAMES else None
    rows = cur.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = ? AND (? IS NULL OR schema_name = ?) "
        "AND database_name = current_database() "
        "ORDER BY (schema_name = current_schema()) DESC, column_index",
        [rel.relname, schema, schema],
    ).fetchall()
    out: dict[str, str] = {}
    for col, typ in rows:
        out.setdefault(col.lower(), typ)
    return out


class _Found:
    """The type found for each parameter so far (the first source wins)."""

    def __init__(self, count: int, columns: dict[str, str]) -> None:
        self.oids: list[int] = [0] * count
        self.columns = columns

    def put(self, node: Any, oid: int | None) -> None:
        i = _param(node)
        if oid and i is not None and 0 <= i < len(self.oids) and not self.oids[i]:
            self.oids[i] = oid

    def put_column(
        self, node: Any, column: str | None, types: dict[str, str] | None = None
    ) -> None:
        typ = (types if types is not None else self.columns).get(column or "")
        if typ:
            self.put(node, pgtypes.oid_for(typ))


def _compare(node: ast.A_Expr, found: _Found) -> None:
    left, right = node.lexpr, node.rexpr
    if isinstance(right, tuple):  # IN (...), BETWEEN a AND b
        for item in right:
            found.put_column(item, _column(left))
    else:
        found.put_column(right, _column(left))
        found.put_column(left, _column(right))


def _assignments(targets: Any, types: dict[str, str], found: _Found) -> None:
    for target in targets or ():
        if isinstance(target, ast.ResTarget):
            found.put_column(target.val, (target.name or "").lower(), types)


def _insert(cur: duckdb.DuckDBPyConnection, node: ast.InsertStmt, found: _Found) -> None:
    """Parameters in ``INSERT INTO t [(cols)] VALUES (...)`` take their column's type."""
    with contextlib.suppress(duckdb.Error):
        types = _column_types(cur, node.relation)
        names = [c.name.lower() for c in node.cols] if node.cols else list(types)
        select = node.selectStmt
        for row in getattr(select, "valuesLists", None) or ():
            for name, item in zip(names, row, strict=False):
                found.put_column(item, name, types)
        conflict = node.onConflictClause
        if conflict is not None:
            _assignments(conflict.targetList, types, found)


def _update(cur: duckdb.DuckDBPyConnection, node: ast.UpdateStmt, found: _Found) -> None:
    with contextlib.suppress(duckdb.Error):
        _assignments(node.targetList, _column_types(cur, node.relation), found)


def infer(cur: duckdb.DuckDBPyConnection, sql: str, count: int) -> list[int]:
    """OIDs for parameters ``$1..$count`` (0 where nothing could be inferred)."""
    try:
        trees = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return [0] * count
    nodes = [n for tree in trees for n in _walk(tree.stmt)]
    columns: dict[str, str] = {}
    for rel in (n for n in nodes if isinstance(n, ast.RangeVar)):
        with contextlib.suppress(duckdb.Error):
            for col, typ in _column_types(cur, rel).items():
                columns.setdefault(col, typ)
    found = _Found(count, columns)
    for node in nodes:
        if isinstance(node, ast.TypeCast):
            found.put(node.arg, _cast_oid(cur, node.typeName))
    for node in nodes:
        if isinstance(node, ast.A_Expr):
            _compare(node, found)
        elif isinstance(node, ast.UpdateStmt):
            _update(cur, node, found)
    for node in nodes:
        if isinstance(node, ast.InsertStmt):
            _insert(cur, node, found)
    return found.oids
