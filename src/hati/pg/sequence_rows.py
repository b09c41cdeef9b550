"""A sequence read as a table: ``SELECT * FROM s`` is its one row, ``last_value``,
``log_cnt``, ``is_called``, as PostgreSQL keeps a sequence.

DuckDB's sequences are no relations. Where a statement reads a relation that names a
sequence (the set of sequences is read when it runs, after DDL: ``referential.py``), the
relation is printed as its row, read when the statement runs (``sequences.py``).
``log_cnt`` (the values PostgreSQL logs ahead) is 0 before the first nextval(), 32 after.
"""

from __future__ import annotations

from typing import Any

import duckdb
from pglast import ast

from hati.pg import render, sequences
from hati.pg.translate import walk

SQL = (
    "SELECT schema_name, sequence_name FROM duckdb_sequences() "
    "WHERE database_name IN (current_database(), 'temp')"
)


def read_names(cur: duckdb.DuckDBPyConnection) -> frozenset[tuple[str, str]]:
    """(schema, name) of every sequence (main's schema is ``main``)."""
    return frozenset((str(s), str(n)) for s, n in cur.execute(SQL).fetchall())


def answer(cur: duckdb.DuckDBPyConnection, names: frozenset[tuple[str, str]], stmt: Any) -> None:
    """Print each relation of the SELECT ``stmt`` that names a sequence as its row."""
    if not names or not isinstance(stmt.node, ast.SelectStmt):
        return
    for node in walk(stmt.node):
        if not isinstance(node, ast.RangeVar) or node.catalogname:
            continue
        schema = node.schemaname if node.schemaname not in (None, "public") else "main"
        if (schema, node.relname) not in names:
            continue
        found = sequences.read(cur, node)
        if found is None:
            continue
        seq = found.seq
        alias = node.alias.aliasname if node.alias is not None else node.relname
        stmt.answers[id(node)] = (
            f"(SELECT {seq.last}::BIGINT AS last_value, {32 if seq.called else 0}::BIGINT "
            f"AS log_cnt, {str(seq.called).lower()} AS is_called) "
            f"AS {render.quote_name(str(alias))}"
        )
        stmt._sql = None
