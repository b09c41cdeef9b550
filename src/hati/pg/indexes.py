"""ALTER INDEX, which DuckDB lacks: ``RENAME TO`` and ``ALTER COLUMN n SET STATISTICS``.

DuckDB renames no index, so a rename makes the index again under its new name (its
``CREATE INDEX`` text, as ``duckdb_indexes()`` keeps it). The index of a PRIMARY KEY or
UNIQUE constraint is the constraint's own in DuckDB (no ``duckdb_indexes()`` row):
renaming it renames the constraint, as PostgreSQL's does. PostgreSQL lets ``ALTER
INDEX`` rename a table too (the statement's kind need not match the relation's).
``SET STATISTICS`` tunes PostgreSQL's planner: it is checked as PostgreSQL checks it
(the index, the column number, an expression column) and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast, parser
from pglast.enums import ConstrType, ObjectType

from hati.errors import (
    DuplicateTable,
    FeatureNotSupported,
    InvalidParameter,
    UndefinedColumn,
    UndefinedTable,
)
from hati.pg import emulate, rebuild
from hati.pg.emulate import Emulated, Printer

_KEYED = (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE)


def _schemas(cur: duckdb.DuckDBPyConnection, rv: Any) -> list[str]:
    if rv.schemaname:
        return ["main" if rv.schemaname == "public" else str(rv.schemaname)]
    return list(cur.execute("SELECT current_schemas(false)").fetchall()[0][0] or ["main"])


def find(cur: duckdb.DuckDBPyConnection, rv: Any) -> tuple[str, str, str] | None:
    """(schema, table, CREATE INDEX text) of the index ``rv`` names, None: no such index."""
    for schema in _schemas(cur, rv):
        row = cur.execute(
            "SELECT table_name, sql FROM duckdb_indexes() WHERE database_name = "
            "current_database() AND schema_name = $1 AND index_name = $2 AND sql IS NOT NULL",
            [schema, rv.relname],
        ).fetchone()
        if row is not None:
            return schema, str(row[0]), str(row[1])
    return None


def key_constraint(cur: duckdb.DuckDBPyConnection, rv: Any) -> tuple[str, str, str] | None:
    """(schema, table, DuckDB's name) of the PRIMARY KEY / UNIQUE constraint whose index
    ``rv`` names (the constraint's name, the client's or PostgreSQL's)."""
    for schema in _schemas(cur, rv):
        tables = cur.execute(
            "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE database_name = "
            "current_database() AND schema_name = $1 AND constraint_type IN "
            "('PRIMARY KEY', 'UNIQUE') ORDER BY 1",
            [schema],
        ).fetchall()
        for (table,) in tables:
            duck = emulate.registered(cur, schema, table, str(rv.relname))
            if duck is not None:
                return schema, str(table), duck
            create = emulate.definition(cur, schema, table)
            for default, c, col in rebuild.constraints(create):
                if c.contype in _KEYED and default == rv.relname and not c.conname:
                    return (
                        schema,
                        str(table),
                        rebuild.duck_name(create, c, col.colname if col else None),
                    )
    return None


def _relation_exists(cur: duckdb.DuckDBPyConnection, name: str, schema: str) -> bool:
    row = cur.execute(
        "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = $1 AND table_name = $2 UNION ALL SELECT 1 FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = $1 AND view_name = $2 "
        "UNION ALL SELECT 1 FROM duckdb_indexes() WHERE database_name = current_database() "
        "AND schema_name = $1 AND index_name = $2",
        [schema, name],
    ).fetchone()
    return row is not None


@dataclass
class RenameIndex(Emulated):
    """ALTER INDEX [IF EXISTS] i RENAME TO j."""

    stmt: Any  # the RenameStmt

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        rv, new = self.stmt.relation, str(self.stmt.newname)
        found = find(cur, rv)
        if found is not None:
            schema, table, sql = found
            if _relation_exists(cur, new, schema):
                raise DuplicateTable(f'relation "{new}" already exists')
            index: Any = parser.parse_sql(sql)[0].stmt
            index.idxname = new
            index.relation = ast.RangeVar(relname=table, schemaname=schema, inh=True)
            cur.execute(f"DROP INDEX {emulate.qualified(schema, str(rv.relname))}")
            cur.execute(emulate.text(index))
            return
        key = key_constraint(cur, rv)
        if key is not None:
            emulate.record(cur, *key, new)
            return
        try:
            emulate.locate(cur, printed, rv)
        except UndefinedTable:
            if self.stmt.missing_ok:
                return
            raise
        rename = ast.RenameStmt(
            renameType=ObjectType.OBJECT_TABLE,
            relationType=ObjectType.OBJECT_ACCESS_METHOD,
            relation=rv,
            newname=new,
            missing_ok=self.stmt.missing_ok,
        )
        RenameTable(rename).run(cur, printed, branch)


@dataclass
class RenameTable(Emulated):
    """ALTER TABLE t RENAME TO u of a table with indexes: DuckDB renames no table an
    index depends on, so the indexes are dropped and made again on the renamed table."""

    stmt: Any  # the RenameStmt

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        try:
            schema, table = emulate.locate(cur, printed, self.stmt.relation)
        except UndefinedTable:
            if self.stmt.missing_ok:
                return
            raise
        rows = cur.execute(
            "SELECT index_name, sql FROM duckdb_indexes() WHERE database_name = "
            "current_database() AND schema_name = $1 AND table_name = $2 AND sql IS NOT NULL",
            [schema, table],
        ).fetchall()
        for name, _sql in rows:
            cur.execute(f"DROP INDEX {emulate.qualified(schema, str(name))}")
        cur.execute(printed(self.stmt))
        for _name, sql in rows:
            index: Any = parser.parse_sql(str(sql))[0].stmt
            index.relation = ast.RangeVar(relname=self.stmt.newname, schemaname=schema, inh=True)
            cur.execute(emulate.text(index))


@dataclass
class IndexStatistics(Emulated):
    """ALTER INDEX i ALTER COLUMN n SET STATISTICS m: checked, then nothing."""

    relation: Any
    cmd: Any

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        name = self.relation.relname
        found = find(cur, self.relation)
        if found is None:
            if key_constraint(cur, self.relation) is not None:
                raise FeatureNotSupported(
                    f'cannot alter statistics on non-expression column of index "{name}"',
                    hint="Statistics targets of an index apply to its expression columns only.",
                )
            raise UndefinedTable(f'relation "{name}" does not exist')
        index: Any = parser.parse_sql(found[2])[0].stmt
        params = index.indexParams or ()
        n = int(self.cmd.num or 0)
        if not 1 <= n <= 32767:
            raise InvalidParameter("column number must be in range from 1 to 32767")
        if n > len(params):
            raise UndefinedColumn(f'column number {n} of relation "{name}" does not exist')
        param = params[n - 1]
        if param.expr is None:
            raise FeatureNotSupported(
                f'cannot alter statistics on non-expression column "{param.name}" of index '
                f'"{name}"',
                hint="Alter statistics on table column instead.",
            )
        target = getattr(self.cmd.def_, "ival", 0)
        if target < -1:
            raise InvalidParameter(f"statistics target {target} is too low")
