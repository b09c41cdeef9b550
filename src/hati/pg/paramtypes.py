"""Parameter type inference for ParameterDescription.

Drivers such as asyncpg encode bound values according to the types the server
reports in ParameterDescription, so reporting every ``$n`` as ``text`` makes them
reject an ``int``.  DuckDB does not expose the types it infers for a prepared
statement (``duckdb_prepared_statements()`` says UNKNOWN), so they are read off the
statement's PostgreSQL parse tree (pglast), from three sources, first wins:

* an explicit cast: ``$1::int``, ``CAST($1 AS DATE)``;
* a comparison, operator or assignment with something typed: ``col = $1``,
  ``SET col = $1``, ``col IN ($1, $2)``, ``col BETWEEN $1 AND $2``, ``col LIKE $1``,
  ``abalance + $1`` (the column's type), ``$1 + 1`` (int4: PostgreSQL's rule for an
  unknown operand is the other operand's type);
* the position in ``INSERT INTO t [(cols)] VALUES (...)``.

Column types come from the DuckDB catalog as seen by the session's cursor (so a
session in a branch sees its own search path).  Anything else stays unknown (0),
which PostgreSQL clients answer by sending text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import duckdb
import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind

from hati.pg.analyze import Analysis
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


_ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
# PostgreSQL's numeric promotion: int2 + int8 is int8, int8 * numeric is numeric, ...
_WIDER = [pgtypes.INT2, pgtypes.INT4, pgtypes.INT8, pgtypes.NUMERIC, pgtypes.FLOAT4, pgtypes.FLOAT8]
_INT4_MAX, _INT8_MAX = 2**31 - 1, 2**63 - 1


def _const_oid(value: Any) -> int:
    """The type PostgreSQL gives a literal: 1 is int4, 10000000000 int8, 2.5 numeric,
    'x' unknown (0)."""
    if isinstance(value, ast.Integer):
        return pgtypes.INT4
    if isinstance(value, ast.Float):  # an integer too large for int4, or a decimal
        digits = value.fval.lstrip("-")
        if digits.isdigit():
            return (
                pgtypes.INT4
                if int(digits) <= _INT4_MAX
                else (pgtypes.INT8 if int(digits) <= _INT8_MAX else pgtypes.NUMERIC)
            )
        return pgtypes.NUMERIC
    if isinstance(value, ast.Boolean):
        return pgtypes.BOOL
    return 0


def _expr_oid(cur: duckdb.DuckDBPyConnection, node: Any, found: _Found) -> int:
    """The type of an expression as far as it is known (0: unknown)."""
    if isinstance(node, ast.ParamRef):
        i = node.number - 1
        return found.oids[i] if 0 <= i < len(found.oids) else 0
    if isinstance(node, ast.ColumnRef):
        typ = found.columns.get(_column(node) or "")
        return pgtypes.oid_for(typ) if typ else 0
    if isinstance(node, ast.A_Const):
        return 0 if node.isnull else _const_oid(node.val)
    if isinstance(node, ast.TypeCast):
        return _cast_oid(cur, node.typeName) or 0
    if isinstance(node, ast.A_Expr) and _operator(node) in _ARITHMETIC:
        sides = [
            o for o in (_expr_oid(cur, node.lexpr, found), _expr_oid(cur, node.rexpr, found)) if o
        ]
        if node.lexpr is None or len(sides) < 2 or sides[0] == sides[1]:
            return sides[0] if sides else 0
        if all(o in _WIDER for o in sides):
            return max(sides, key=_WIDER.index)
    return 0


def _operator(node: ast.A_Expr) -> str | None:
    if node.kind != A_Expr_Kind.AEXPR_OP or not node.name:
        return None
    last = node.name[-1]
    return last.sval if isinstance(last, ast.String) else None


def _compare(cur: duckdb.DuckDBPyConnection, node: ast.A_Expr, found: _Found) -> None:
    """An unknown operand of a comparison or an operator takes the other operand's
    type, as PostgreSQL resolves ``col = $1``, ``abalance + $1``, ``$1 + 1``."""
    left, right = node.lexpr, node.rexpr
    if isinstance(right, tuple):  # IN (...), BETWEEN a AND b
        oid = _expr_oid(cur, left, found)
        for item in right:
            found.put(item, oid)
    else:
        found.put(right, _expr_oid(cur, left, found))
        found.put(left, _expr_oid(cur, right, found))


def _operands(cur: duckdb.DuckDBPyConnection, exprs: list[ast.A_Expr], found: _Found) -> None:
    for _ in range(len(exprs) + 1):  # a parameter typed by one expression may type another
        before = list(found.oids)
        for node in exprs:
            _compare(cur, node, found)
        if found.oids == before:
            return


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
    _operands(cur, [n for n in nodes if isinstance(n, ast.A_Expr)], found)
    for node in nodes:
        if isinstance(node, ast.UpdateStmt):
            _update(cur, node, found)
    for node in nodes:
        if isinstance(node, ast.InsertStmt):
            _insert(cur, node, found)
    return found.oids


# Statement kinds that never change a table's columns (a rollback moves the epoch itself).
_KEEPS_COLUMNS = frozenset(
    "SELECT INSERT UPDATE DELETE SET SHOW COPY TRANSACTION DECLARE FETCH CLOSE PREPARE "  # noqa: SIM905
    "DEALLOCATE".split()
)


def may_change_columns(a: Analysis) -> bool:
    """Could this statement change the columns a statement's parameters are typed by
    (DDL; branch_merge, which brings a branch's tables to main; anything unusual)?"""
    return a.kind not in _KEEPS_COLUMNS or any(f[-1].startswith("branch_") for f in a.functions)


class Remembered:
    """A session's parameter types per key (statement text, branch, search_path,
    catalog epoch): inferring reads the catalog, milliseconds a statement, and clients
    that never Describe (pgbench -M extended) ask at every Bind."""

    KEPT = 256

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur
        self._side: duckdb.DuckDBPyConnection | None = None
        self._oids: dict[Hashable, list[int]] = {}

    def get(
        self,
        key: Hashable,
        sql: str,
        count: int,
        path: str | None,
        before_query: Callable[[], None] | None = None,
    ) -> list[int]:
        """The types remembered for ``key``, else inferred on the session's cursor
        (after ``before_query``) or, when ``path`` (its DuckDB search_path) is given, on
        a cursor of its own: in a transaction block a catalog read would start the
        transaction's snapshot before its statement waits for its locks (pg/locks.py)."""
        oids = self._oids.get(key)
        if oids is None:
            if path is None:
                if before_query is not None:
                    before_query()
                oids = infer(self._cur, sql, count)
            else:
                if self._side is None:
                    self._side = self._cur.cursor()
                self._side.execute(f"SET search_path = '{path.replace(chr(39), chr(39) * 2)}'")
                oids = infer(self._side, sql, count)
            if len(self._oids) >= self.KEPT:
                self._oids.clear()
            self._oids[key] = oids
        return list(oids)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
