"""The arbiter of ``INSERT ... ON CONFLICT``, chosen as PostgreSQL chooses it.

- ``ON CONFLICT (a, b)`` infers a unique index (a primary key, a unique constraint)
  whose key is exactly those columns. DuckDB takes any unique index that reads them,
  also ``lower(a)``'s, and then arbitrates on another key than the one PostgreSQL would
  refuse to infer: such a statement is 42P10 here, as in PostgreSQL.
- ``ON CONFLICT ON CONSTRAINT name``, which DuckDB lacks, is the constraint's columns:
  a name the client gave (``emulate.NAMES``) or one PostgreSQL gives itself
  (``t_pkey``, ``t_a_b_key``); another name is 42704.

Both read DuckDB's catalog when the statement runs (the translation is cached by
text). The table is looked up by name, the session's schemas first.
"""

from __future__ import annotations

from typing import Any

import duckdb
from pglast import ast, parser

from hati.errors import InvalidColumnReference, UndefinedObject
from hati.pg import emulate, render

_KEYS = "constraint_type IN ('PRIMARY KEY', 'UNIQUE')"


def _keys(cur: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, list[str]]]:
    """(kind, DuckDB's name, columns) of the table's primary key and unique
    constraints."""
    rows = cur.execute(
        "SELECT constraint_type, constraint_name, constraint_column_names FROM "
        f"duckdb_constraints() WHERE table_name = $1 AND {_KEYS} "
        "AND database_name = current_database() ORDER BY schema_name <> 'main'",
        [table],
    ).fetchall()
    return [(str(k), str(n), list(c)) for k, n, c in rows]


def _unique_indexes(cur: duckdb.DuckDBPyConnection, table: str) -> list[list[str] | None]:
    """The key columns of each unique index (None: it indexes an expression)."""
    out: list[list[str] | None] = []
    for (sql,) in cur.execute(
        "SELECT sql FROM duckdb_indexes() WHERE table_name = $1 AND is_unique "
        "AND sql IS NOT NULL AND database_name = current_database()",
        [table],
    ).fetchall():
        try:
            index: Any = parser.parse_sql(str(sql))[0].stmt
        except parser.ParseError:
            out.append(None)
            continue
        names = [e.name for e in index.indexParams or () if e.name]
        out.append(names if len(names) == len(index.indexParams or ()) else None)
    return out


def check_target(cur: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> None:
    """42P10 unless a unique key of ``table`` is exactly ``columns`` (module doc)."""
    wanted = set(columns)
    keys = [set(c) for _, _, c in _keys(cur, table)]
    indexes = _unique_indexes(cur, table)
    if not keys and not indexes:
        return  # not a table DuckDB knows by this name here: its own error follows
    if any(k == wanted for k in keys) or any(i is not None and set(i) == wanted for i in indexes):
        return
    raise InvalidColumnReference(
        "there is no unique or exclusion constraint matching the ON CONFLICT specification"
    )


def constraint_columns(cur: duckdb.DuckDBPyConnection, table: str, name: str) -> list[str]:
    """The columns of the constraint ``name`` of ``table`` (module doc)."""
    given = {
        str(duck): str(client)
        for duck, client in cur.execute(
            f"SELECT duck_name, name FROM {emulate.NAMES} WHERE table_name = $1", [table]
        ).fetchall()
    }
    for kind, duck, cols in _keys(cur, table):
        default = f"{table}_pkey" if kind == "PRIMARY KEY" else "_".join([table, *cols, "key"])
        if given.get(duck, default) == name:
            return cols
    raise UndefinedObject(f'constraint "{name}" for table "{table}" does not exist')


def target_text(columns: list[str]) -> str:
    return "(" + ", ".join(render.quote_name(c) for c in columns) + ")"


def conflict_columns(clause: Any) -> list[str] | None:
    """The columns an ON CONFLICT (...) names (None: no such list)."""
    infer = getattr(clause, "infer", None)
    elems = getattr(infer, "indexElems", None)
    if not elems or not all(isinstance(e, ast.IndexElem) and e.name for e in elems):
        return None
    return [str(e.name) for e in elems]
