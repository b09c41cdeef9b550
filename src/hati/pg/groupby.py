"""GROUP BY a primary key: the table's other columns are grouped too.

PostgreSQL lets a query that groups by a table's primary key read that table's other
columns (they are functionally dependent on the key: ``SELECT c.id, c.name, count(*)
FROM c JOIN o ... GROUP BY c.id``); DuckDB wants each of them in the GROUP BY. Adding
them changes no group, so where a GROUP BY of plain columns covers a FROM table's
primary key and the query reads a column it does not group, that table's remaining
columns are appended to the GROUP BY for this execution (read when it runs: the
translation is cached by text, the keys may change). Only such queries pay for the
catalog lookup.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
from pglast import ast

from hati.pg import render
from hati.pg.analyze import children

# Calls whose arguments are aggregated (a column inside needs no grouping). A call not
# listed only costs the lookup below, never a wrong answer.
_AGGREGATES = frozenset(
    {"count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and", "bool_or",
     "every", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "stddev",
     "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop", "list", "first",
     "any_value", "arbitrary", "median", "mode", "percentile_cont", "percentile_disc",
     "bit_and", "bit_or", "xmlagg", "corr", "covar_pop", "covar_samp", "regr_count"}
)  # fmt: skip


def _refs(node: ast.Node) -> Iterator[ast.ColumnRef]:
    """Column references outside aggregates and subqueries."""
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, ast.SubLink):
            continue
        if isinstance(n, ast.FuncCall) and n.over is None:
            name = str(n.funcname[-1].sval).lower() if n.funcname else ""
            if n.agg_star or n.agg_filter or n.agg_order or name in _AGGREGATES:
                continue
        if isinstance(n, ast.ColumnRef):
            yield n
        todo.extend(child for _, child in children(n))


def _names(ref: ast.ColumnRef) -> tuple[str | None, str] | None:
    fields = [
        "*" if isinstance(f, ast.A_Star) else getattr(f, "sval", None) for f in ref.fields or ()
    ]
    if not fields or any(f is None for f in fields) or len(fields) > 2:
        return None
    return (str(fields[0]) if len(fields) == 2 else None), str(fields[-1])


def _tables(items: tuple[ast.Node, ...]) -> Iterator[ast.RangeVar]:
    for item in items:
        if isinstance(item, ast.RangeVar):
            yield item
        elif isinstance(item, ast.JoinExpr):
            yield from _tables(tuple(x for x in (item.larg, item.rarg) if x is not None))


def _key_and_columns(cur: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], list[str]]:
    row = cur.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = $1 "
        "AND constraint_type = 'PRIMARY KEY' ORDER BY schema_name <> 'main' LIMIT 1",
        [table],
    ).fetchone()
    if row is None:
        return [], []
    cols = cur.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = $1 AND schema_name = "
        "(SELECT schema_name FROM duckdb_constraints() WHERE table_name = $1 AND "
        "constraint_type = 'PRIMARY KEY' ORDER BY schema_name <> 'main' LIMIT 1) "
        "ORDER BY column_index",
        [table],
    ).fetchall()
    return list(row[0]), [str(c[0]) for c in cols]


def answers(cur: duckdb.DuckDBPyConnection, node: ast.Node) -> dict[int, str]:
    """For each SELECT that groups by a table's primary key and reads its other
    columns: its last GROUP BY item, printed with those columns after it."""
    out: dict[int, str] = {}
    todo = [node]
    while todo:
        n = todo.pop()
        todo.extend(child for _, child in children(n))
        if not isinstance(n, ast.SelectStmt) or not n.groupClause or not n.fromClause:
            continue
        groups = [_names(g) if isinstance(g, ast.ColumnRef) else None for g in n.groupClause]
        if any(g is None for g in groups):
            continue  # expressions, GROUPING SETS: left as they are
        grouped = {g for g in groups if g is not None}
        read = [r for part in (n.targetList or (), n.havingClause, n.sortClause or ())
                for item in (part if isinstance(part, tuple) else (part,)) if item is not None
                for r in _refs(item)]  # fmt: skip
        loose = {x for x in (_names(r) for r in read) if x is not None} - grouped
        loose = {(q, c) for q, c in loose if (None, c) not in grouped}
        if not loose:
            continue
        extra = _dependent(cur, tuple(_tables(n.fromClause)), grouped)
        if extra:
            last = n.groupClause[-1]
            out[id(last)] = _text(last) + "".join(f", {e}" for e in extra)
    return out


def _dependent(
    cur: duckdb.DuckDBPyConnection,
    tables: tuple[ast.RangeVar, ...],
    grouped: set[tuple[str | None, str]],
) -> list[str]:
    """The columns to group by too: those of each table whose primary key is grouped."""
    extra: list[str] = []
    alone = len(tables) == 1  # then an unqualified column is the table's
    for rv in tables:
        alias = str(rv.alias.aliasname if rv.alias is not None else rv.relname)
        key, cols = _key_and_columns(cur, str(rv.relname))
        done = {c for c in cols if (alias, c) in grouped or (alone and (None, c) in grouped)}
        if key and set(key) <= done:
            extra += [
                f"{render.quote_name(alias)}.{render.quote_name(c)}" for c in cols if c not in done
            ]
    return extra


def _text(ref: ast.Node) -> str:
    assert isinstance(ref, ast.ColumnRef)
    return ".".join(render.quote_name(str(f.sval)) for f in ref.fields or ())
