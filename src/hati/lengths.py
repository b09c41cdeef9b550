"""The declared length of varchar(n) / char(n) columns, which DuckDB does not keep.

DuckDB stores every character column as VARCHAR without a length; hati records the
declared type (``pg/coltypes.py``). Before an INSERT ... VALUES or an UPDATE ... SET c
= value runs, each constant or parameter written to such a column is checked as
PostgreSQL checks it on assignment: longer than n is 22001 (``value too long for type
character varying(n)``), unless the excess is spaces, which PostgreSQL cuts off (done
here for parameters). Values computed by expressions or read by INSERT ... SELECT are
not checked.
"""

from __future__ import annotations

from typing import Any

import duckdb
from pglast import ast

from hati.errors import StringDataRightTruncation
from hati.pg import catalog, lex, written_datetimes
from hati.pipeline import Statement

_NAMES = {"varchar": "character varying", "bpchar": "character"}
_ROUNDED = {"timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ"}  # timestamp(p)


def check(
    declared: dict[tuple[str, str], dict[str, tuple[str, int]]],
    cur: duckdb.DuckDBPyConnection,
    stmt: Statement,
) -> None:
    node: Any = stmt.node
    rel = node.relation
    if not declared or rel is None:
        return
    schema = rel.schemaname if rel.schemaname not in (None, "public", "main") else "main"
    cols = declared.get((schema, str(rel.relname).lower()))
    if not cols:
        return
    if isinstance(node, ast.UpdateStmt):
        for t in node.targetList or ():
            if isinstance(t, ast.ResTarget) and t.name in cols and not t.indirection:
                _check_value(stmt, t.val, cols[t.name])
        return
    rows = getattr(node.selectStmt, "valuesLists", None)
    if not rows:
        return
    if node.cols:
        names = [str(c.name) for c in node.cols]
    else:
        try:
            text = f'SELECT * FROM "{schema}"."{rel.relname}" LIMIT 0'
            names = [d[0] for d in cur.execute(text).description]
        except duckdb.Error:
            return
    for row in rows:
        for name, value in zip(names, row, strict=False):
            if name in cols:
                _check_value(stmt, value, cols[name])


def _check_value(stmt: Statement, node: Any, declared: tuple[str, int]) -> None:
    if not isinstance(node, ast.A_Const | ast.ParamRef):
        return  # an expression or an explicit cast (which PostgreSQL cuts silently)
    try:
        value = stmt.compiled.value(node, stmt.params)
    except ValueError:
        return
    udt, n = declared
    if udt in _ROUNDED:
        _round(stmt, node, value, udt, n)
        return
    if not isinstance(value, str) or len(value) <= n:
        return
    if value[n:].strip(" ") == "":
        number = int(node.number or 0) if isinstance(node, ast.ParamRef) else 0
        if 0 < number <= stmt.compiled.params:
            stmt.params[number - 1] = value[:n]  # PostgreSQL cuts trailing spaces
        else:  # a literal: printed cut for this execution
            stmt.answers[id(node)] = "'" + value[:n].replace("'", "''") + "'"
            stmt._sql = None
        return
    raise StringDataRightTruncation(f"value too long for type {_NAMES.get(udt, udt)}({n})")


def _round(stmt: Statement, node: Any, value: Any, udt: str, p: int) -> None:
    """A constant written to a timestamp(p) column, rounded to p digits of seconds as
    PostgreSQL rounds it (read by PostgreSQL's input rules, pg/written_datetimes.py)."""
    client = isinstance(node, ast.ParamRef) and (node.number or 0) <= stmt.compiled.params
    if not isinstance(value, str) or client:
        return
    inner = None
    if udt == "timestamp" and written_datetimes.candidate(value):
        inner = written_datetimes.expression(value, "timestamp")
    if inner is None:
        inner = f"CAST({lex.quote_string(value)} AS {_ROUNDED[udt]})"
    stmt.answers[id(node)] = f"{catalog.HIDDEN}.pg_round_timestamp({inner}, {p})"
    stmt._sql = None
