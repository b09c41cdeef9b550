"""Functions clients create (``CREATE FUNCTION ... LANGUAGE sql``), as DuckDB macros.

``translate/sqlfuncs.py`` turns the definition into a macro's text: a scalar function
becomes a scalar macro, ``RETURNS SETOF`` / ``RETURNS TABLE`` a table macro. The steps
below run it when the statement runs: they look the function up first (PostgreSQL's
42723 for a second CREATE without OR REPLACE, 42883 for a DROP of a missing one). A
macro's body names tables unqualified, so a call reads them where the caller's search
path places them (a branch's own tables in a branch). A function created in a branch
lives in the branch's schema.

The names of table macros are kept here (``TABLE_MACROS``): the guard lets a FROM clause
call them like PostgreSQL's own set-returning functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from hati.errors import DuplicateFunction, FeatureNotSupported, UndefinedFunction
from hati.pg import render, triggerdefs
from hati.pg.catalog import HIDDEN
from hati.pg.emulate import Emulated, Printer

TABLE_MACROS: set[str] = set()


def load(cur: duckdb.DuckDBPyConnection, internal: tuple[str, ...]) -> None:
    """The table macros clients made before (at start)."""
    rows = cur.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = "
        "'table_macro' AND NOT internal AND database_name = current_database() "
        "AND NOT list_contains($1, schema_name)",
        [list(internal)],
    ).fetchall()
    TABLE_MACROS.update(str(r[0]) for r in rows)


def _found(cur: duckdb.DuckDBPyConnection, schema: str | None, name: str) -> list[tuple[str, str]]:
    """(schema, 'macro' | 'table_macro') of the user's macros named ``name`` that an
    unqualified name reaches (or in ``schema``)."""
    path = [schema] if schema else cur.execute("SELECT current_schemas(false)").fetchall()[0][0]
    rows = cur.execute(
        "SELECT schema_name, function_type FROM duckdb_functions() WHERE function_name = $1 "
        "AND function_type IN ('macro', 'table_macro') AND NOT internal "
        "AND database_name = current_database()",
        [name],
    ).fetchall()
    return [(str(s), str(t)) for s, t in rows if s in (path or ["main"])]


def _label(name: str, args: str | None) -> str:
    return f"{name}({args})" if args is not None else name


@dataclass
class CreateMacro(Emulated):
    """CREATE [OR REPLACE] FUNCTION as CREATE [OR REPLACE] MACRO (``sql``: its text
    after the name, ``(a, b) AS ...``)."""

    schema: str | None
    name: str
    sql: str
    table: bool
    replace: bool
    args: str  # the argument types, for messages

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        builtin = cur.execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = $1 AND "
            "(internal OR schema_name = $2)",
            [self.name, HIDDEN],
        ).fetchall()[0][0]
        if builtin or self.name.startswith(("branch_", "hati")):
            raise FeatureNotSupported(
                f'function "{self.name}" is a built-in function',
                hint="A function of one's own takes a name no built-in function has "
                "(it would change what every session's calls of it mean).",
            )
        found = _found(cur, self.schema, self.name)
        if found and not self.replace:
            raise DuplicateFunction(
                f'function "{self.name}" already exists with same argument types'
            )
        for schema, kind in found:
            if (kind == "table_macro") != self.table:  # a macro of the other kind
                what = "MACRO TABLE" if kind == "table_macro" else "MACRO"
                cur.execute(
                    f"DROP {what} {render.quote_name(schema)}.{render.quote_name(self.name)}"
                )
        target = render.quote_name(self.name)
        if self.schema:
            target = render.quote_name(self.schema) + "." + target
        cur.execute(f"CREATE OR REPLACE MACRO {target}{self.sql}")
        if self.table:
            TABLE_MACROS.add(self.name)


@dataclass
class DropMacro(Emulated):
    """DROP FUNCTION [IF EXISTS] f(args) as DROP MACRO [TABLE]."""

    schema: str | None
    name: str
    args: str | None
    missing_ok: bool
    cascade: bool = False

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        if not self.args and triggerdefs.drop_function(cur, self.name, self.cascade):
            return
        found = _found(cur, self.schema, self.name)
        if not found:
            if self.missing_ok:
                return
            raise UndefinedFunction(f"function {_label(self.name, self.args)} does not exist")
        schema, kind = found[0]
        what = "MACRO TABLE" if kind == "table_macro" else "MACRO"
        cur.execute(f"DROP {what} {render.quote_name(schema)}.{render.quote_name(self.name)}")
