"""``COMMENT ON``: where each kind of object keeps its comment.

Tables, views, columns, indexes and sequences keep theirs in DuckDB's catalog; a
constraint's, and that of the index behind a PRIMARY KEY / UNIQUE constraint, go to
hati's comment table (pg/catalog_comments.py) under the oid hati's catalog shows. An
empty comment removes it, as in PostgreSQL. In a branch a comment is not kept (objects
seen there belong to main).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast
from pglast.enums import ObjectType

from hati.errors import UndefinedObject
from hati.pg import catalog, render
from hati.pg.analyze import DEFAULT_SCHEMAS
from hati.pg.catalog_comments import COMMENTS, PG_CLASS, PG_CONSTRAINT
from hati.pg.emulate import Emulated, Printer, locate, table_field

_NATIVE = {
    ObjectType.OBJECT_TABLE: "TABLE",
    ObjectType.OBJECT_VIEW: "VIEW",
    ObjectType.OBJECT_MATVIEW: "VIEW",
    ObjectType.OBJECT_FOREIGN_TABLE: "TABLE",
    ObjectType.OBJECT_INDEX: "INDEX",
    ObjectType.OBJECT_SEQUENCE: "SEQUENCE",
}


def _names(obj: Any) -> list[str]:
    items = obj if isinstance(obj, tuple) else (obj,)
    return [str(n.sval) for n in items if isinstance(n, ast.String)]


def _relation(names: list[str]) -> ast.RangeVar:
    schema = names[-2] if len(names) > 1 and names[-2] not in DEFAULT_SCHEMAS else None
    return ast.RangeVar(relname=names[-1], schemaname=schema, inh=True)


def _literal(text: str | None) -> str:
    return "NULL" if not text else "'" + text.replace("'", "''") + "'"


def _table_oid(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    return int(table_field(cur, schema, table, "table_oid"))


def _keep(cur: duckdb.DuckDBPyConnection, oid: int, classoid: int, text: str | None) -> None:
    cur.execute(f"DELETE FROM {COMMENTS} WHERE objoid = $1 AND classoid = $2", [oid, classoid])
    if text:
        cur.execute(f"INSERT INTO {COMMENTS} VALUES ($1, $2, $3)", [oid, classoid, text])


@dataclass
class Comment(Emulated):
    node: ast.CommentStmt

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        kind, names, text = self.node.objtype, _names(self.node.object), self.node.comment
        if branch or not names:
            return
        if kind == ObjectType.OBJECT_TABCONSTRAINT:
            self._constraint(cur, printed, names, text)
        elif kind == ObjectType.OBJECT_COLUMN:
            schema, table = locate(cur, printed, _relation(names[:-1]))
            column = f"{render.quote_name(table)}.{render.quote_name(names[-1])}"
            target = f"{render.quote_name(schema)}.{column}"
            cur.execute(f"COMMENT ON COLUMN {target} IS {_literal(text)}")
        elif kind == ObjectType.OBJECT_INDEX and self._key_index(cur, names, text):
            return
        elif kind in _NATIVE:
            rv = _relation(names)
            if kind not in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_FOREIGN_TABLE):
                target = printed(rv)
            else:
                target = ".".join(render.quote_name(n) for n in locate(cur, printed, rv))
            cur.execute(f"COMMENT ON {_NATIVE[kind]} {target} IS {_literal(text)}")
        # Other objects (schemas, functions, types, roles...): not kept.

    def _constraint(
        self, cur: duckdb.DuckDBPyConnection, printed: Printer, names: list[str], text: str | None
    ) -> None:
        schema, table = locate(cur, printed, _relation(names[:-1]))
        row = cur.execute(
            f"SELECT oid FROM {catalog.HIDDEN}.pg_constraint WHERE conrelid = $1 AND conname = $2",
            [_table_oid(cur, schema, table), names[-1]],
        ).fetchone()
        if row is None:
            raise UndefinedObject(f'constraint "{names[-1]}" for table "{table}" does not exist')
        _keep(cur, int(row[0]), PG_CONSTRAINT, text)

    def _key_index(
        self, cur: duckdb.DuckDBPyConnection, names: list[str], text: str | None
    ) -> bool:
        """The index behind a PRIMARY KEY / UNIQUE constraint, which DuckDB does not list."""
        native = cur.execute(
            "SELECT 1 FROM duckdb_indexes() WHERE index_name = $1", [names[-1]]
        ).fetchone()
        if native is not None:
            return False
        row = cur.execute(
            f"SELECT oid FROM {catalog.HIDDEN}.pg_class WHERE relkind = 'i' AND relname = $1",
            [names[-1]],
        ).fetchone()
        if row is None:
            return False
        _keep(cur, int(row[0]), PG_CLASS, text)
        return True
