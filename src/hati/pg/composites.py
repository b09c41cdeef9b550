"""Composite types (``CREATE TYPE ct AS (f1 int, f2 text)``) as DuckDB STRUCT types,
and domains as DuckDB type aliases (``domains.py``).

DuckDB casts ``ROW(1, 'a')::ct``, reads ``(x).f1`` and stores ct columns itself; what
it lacks is PostgreSQL's functions that fill a record of a named type from json
(``json_populate_record(null::ct, ...)``): their translation (``translate/jsonops.py``)
needs the type's fields when the statement is translated, so they are kept here
(``FIELDS``), filled when a type is made and, at start, from DuckDB's catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast, parser

from hati.pg import render
from hati.pg.emulate import Emulated, Printer

# type name -> its fields, as the column definitions of a table
FIELDS: dict[str, tuple[ast.ColumnDef, ...]] = {}


def _fields_of(struct: str) -> tuple[ast.ColumnDef, ...] | None:
    """The fields of DuckDB's ``STRUCT(a VARCHAR, b INTEGER)`` as column definitions."""
    if not struct.startswith("STRUCT(") or not struct.endswith(")"):
        return None
    try:
        stmt: Any = parser.parse_sql(f"CREATE TABLE hati_fields ({struct[7:-1]})")[0].stmt
    except parser.ParseError:
        return None  # a field of a type PostgreSQL's grammar does not spell (nested)
    return tuple(e for e in stmt.tableElts if isinstance(e, ast.ColumnDef))


def load(cur: duckdb.DuckDBPyConnection, internal: tuple[str, ...]) -> None:
    """The composite types clients made before (at start)."""
    rows = cur.execute(
        "SELECT schema_name, type_name FROM duckdb_types() WHERE logical_type = 'STRUCT' "
        "AND NOT internal AND database_name = current_database() "
        "AND NOT list_contains($1, schema_name)",
        [list(internal)],
    ).fetchall()
    for schema, name in rows:
        _remember(cur, str(schema), str(name))


def _remember(cur: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    qualified = f"{render.quote_name(schema)}.{render.quote_name(name)}"
    struct = cur.execute(f"SELECT typeof(CAST(NULL AS {qualified}))").fetchall()[0][0]
    fields = _fields_of(str(struct))
    if fields is not None:
        FIELDS[name] = fields


@dataclass
class CreateComposite(Emulated):
    """CREATE TYPE t AS (...) as CREATE TYPE t AS STRUCT(...)."""

    schema: str | None
    name: str
    fields: tuple[ast.ColumnDef, ...]
    struct: str  # DuckDB's STRUCT(...) of the fields

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        target = render.quote_name(self.name)
        if self.schema:
            target = render.quote_name(self.schema) + "." + target
        cur.execute(f"CREATE TYPE {target} AS {self.struct}")
        FIELDS[self.name] = self.fields
