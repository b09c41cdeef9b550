"""The character types columns were declared with, which DuckDB does not keep.

DuckDB stores ``text``, ``varchar(n)`` and ``char(n)`` all as VARCHAR and forgets the
length, so ``information_schema.columns`` would say ``character varying`` with no
``character_maximum_length`` for each. CREATE TABLE and ALTER TABLE ... ADD COLUMN /
ALTER COLUMN ... TYPE record the declared type in the hidden schema's
``column_types`` (``Record``, a step after the DDL); the catalog view reads it while the
column is still a VARCHAR in DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast

from hati.errors import UndefinedTable
from hati.pg import catalog, emulate
from hati.pg.emulate import Emulated, Printer

TABLE = f"{catalog.HIDDEN}.column_types"
SETUP_SQL = catalog.COLUMN_TYPES_SQL

# PostgreSQL's type name (last part) -> (information_schema data_type, udt_name).
_CHARACTER = {
    "varchar": ("character varying", "varchar"),
    "bpchar": ("character", "bpchar"),
    "text": ("text", "text"),
}


# timestamp(p): the digits of seconds' fractions kept (DuckDB's timestamps keep 6).
_PRECISE = {
    "timestamp": ("timestamp without time zone", "timestamp"),
    "timestamptz": ("timestamp with time zone", "timestamptz"),
}


def declared(col: ast.ColumnDef) -> tuple[str, str, str, int | None] | None:
    """(column, data_type, udt_name, length) of a character column, or of a timestamp(p)
    column (the length is p, below 6); None for others."""
    t = col.typeName
    if t is None or not t.names:
        return None
    names = [n.sval for n in t.names]
    if len(names) > 2 or (len(names) == 2 and names[0] != "pg_catalog"):
        return None
    mods = t.typmods or ()
    if names[-1] in _PRECISE and len(mods) == 1 and not t.arrayBounds:
        p = getattr(getattr(mods[0], "val", None), "ival", None)
        if isinstance(mods[0], ast.A_Const) and isinstance(p, int) and 0 <= p < 6:
            return (str(col.colname), *_PRECISE[names[-1]], p)
        return None
    found = _CHARACTER.get(names[-1])
    if found is None:
        return None
    length = None
    if len(mods) == 1 and isinstance(mods[0], ast.A_Const):
        value = getattr(mods[0].val, "ival", None)
        length = int(value) if value is not None else None
    if t.arrayBounds:  # text[], varchar(n)[]: PostgreSQL reports no length
        return (str(col.colname), "ARRAY", "_" + found[1], None)
    if names[-1] == "bpchar" and length is None and names[0] == "pg_catalog":
        length = 1  # char without a length is char(1)
    return (str(col.colname), found[0], found[1], length)


@dataclass
class Record(Emulated):
    """The declared types of some columns of a table, once the DDL ran."""

    relation: Any
    columns: tuple[tuple[str, str, str, int | None], ...]
    replace_all: bool = False  # CREATE TABLE: the table's earlier record goes

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        try:
            schema, table = emulate.locate(cur, printed, self.relation)
        except UndefinedTable:
            return  # a temporary table: its catalog view shows DuckDB's own types
        if self.replace_all:
            cur.execute(
                f"DELETE FROM {TABLE} WHERE schema_name = $1 AND table_name = $2", [schema, table]
            )
        for column, data_type, udt, length in self.columns:
            cur.execute(
                f"DELETE FROM {TABLE} WHERE schema_name = $1 AND table_name = $2 "
                "AND column_name = $3",
                [schema, table, column],
            )
            cur.execute(
                f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4, $5, $6)",
                [schema, table, column, data_type, udt, length],
            )


def of_create(stmt: ast.CreateStmt) -> Record | None:
    if stmt.relation is None or stmt.relation.relpersistence == "t":
        return None  # a temporary table: not recorded
    cols = tuple(
        d
        for e in stmt.tableElts or ()
        if isinstance(e, ast.ColumnDef)
        for d in [declared(e)]
        if d is not None
    )
    return Record(stmt.relation, cols, replace_all=True) if cols else None
