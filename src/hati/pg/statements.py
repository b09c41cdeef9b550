"""What a statement DuckDB ran answers: its Result, its command tag, its description.

``finish`` turns DuckDB's answer into PostgreSQL's (a command tag with its row count, or
columns and a stream of rows); ``tag`` gives the tag PostgreSQL sends for a statement
kind; ``describe_sql`` prints, from the parse tree, a read with exactly the columns a
statement will send, so a prepared statement can be described before it runs.
"""

from __future__ import annotations

import copy
from typing import Any

import duckdb
from pglast import ast
from pglast.enums import LimitOption

from hati.pg import catalog, lex, render
from hati.pg.analyze import Analysis, returning_list
from hati.pg.frontend import Compiled
from hati.pg.translate import walk
from hati.pg.translate.naming import NO_COLUMNS
from hati.results import Result, command, counted_rows, cursor_result
from hati.wire import types as pgtypes

_DML = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})
_COUNTED = frozenset({"SELECT", "COPY", *_DML})


def tag(a: Analysis, n: int = 0) -> str:
    """PostgreSQL's command tag for a statement that affected ``n`` rows."""
    command_ = a.command or a.kind
    if command_ == "INSERT":
        return f"INSERT 0 {n}"
    if command_ in _COUNTED:
        return f"{command_} {n}"
    return command_


def columns_of(description: Any, a: Analysis | None = None) -> list[tuple[str, int]]:
    """(name, type oid) of a DuckDB cursor's description.

    In a query over the catalog, a list of int8 is a list of oids, as PostgreSQL types
    it (DuckDB has no oid type): drivers such as asyncpg know ``oid[]`` without asking,
    and would otherwise introspect ``int8[]`` with a query whose answer is ``int8[]``."""
    columns = [(d[0], pgtypes.oid_for(d[1])) for d in description if d[0] != NO_COLUMNS]
    if a is not None and catalog.reads_catalog(a.tables):
        oid_list = pgtypes.ARRAY_OF[pgtypes.OID]
        int8_list = pgtypes.ARRAY_OF[pgtypes.INT8]
        columns = [(n, oid_list if oid == int8_list else oid) for n, oid in columns]
    return columns


def finish(cur: duckdb.DuckDBPyConnection, rel: Any, a: Analysis) -> Result:
    """The Result of a statement DuckDB has just run on ``cur``: a command tag with its
    row count, or the columns and a stream of the rows."""
    desc = cur.description
    if a.kind in _DML and not a.returning:
        row = rel.fetchone() if desc else None
        n = int(row[0]) if row and row[0] is not None else 0
        return command(tag(a, n), n)
    if desc is None or (a.kind != "SELECT" and not a.returning and a.kind != "EXPLAIN"):
        n = 0
        if desc:
            rows = rel.fetchall()
            # CREATE TABLE AS and COPY answer with the number of rows.
            if rows and len(rows[0]) == 1 and isinstance(rows[0][0], int):
                n = rows[0][0]
        return command(tag(a, n), n)
    # INSERT/UPDATE/DELETE ... RETURNING keep their own tag; the row count is filled in
    # once the rows are sent, as for SELECT.
    base = tag(a, 0) if a.kind in _DML else "SELECT"
    columns = columns_of(desc, a)
    if not columns:  # SELECT FROM t: rows of no columns
        return Result(base, columns, fetch_more=counted_rows(cur))
    return cursor_result(base, columns, cur)


def _joined(node: ast.Node) -> tuple[ast.Node, ...]:
    """An UPDATE's FROM items, a DELETE's USING items (RETURNING may read them)."""
    if isinstance(node, ast.UpdateStmt):
        return tuple(node.fromClause or ())
    if isinstance(node, ast.DeleteStmt):
        return tuple(node.usingClause or ())
    return ()


def describe_sql(c: Compiled, text: str | None = None) -> tuple[str, int] | None:
    """A read with exactly the columns ``c`` will send, printed from its tree (``text``:
    the statement as printed for this session), and the number of parameters it takes
    (to run with NULLs); None when it sends no rows."""
    node = c.node
    if isinstance(node, ast.SelectStmt) and node.intoClause is None:
        return f"SELECT * FROM ({text or c.sql()}) AS q LIMIT 0", c.params
    returning = returning_list(node)
    if returning and isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
        # Copies: the statement's own nodes must keep their place in its tree.
        probe = ast.SelectStmt(
            targetList=copy.deepcopy(returning),
            fromClause=(copy.deepcopy(node.relation), *copy.deepcopy(_joined(node))),
            limitCount=ast.A_Const(val=ast.Integer(ival=0)),
            limitOption=LimitOption.LIMIT_OPTION_COUNT,
        )
        render.prepare(probe)
        parts, slots = lex.split_markers(render.render(probe), c.params)
        used = [n.number or 0 for n in walk(probe) if isinstance(n, ast.ParamRef)]
        return lex.splice(parts, slots, c.literals), max(
            (n for n in used if n <= c.params), default=0
        )
    return None
