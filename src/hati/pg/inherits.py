"""Table inheritance (``CREATE TABLE c (...) INHERITS (p)``), which DuckDB lacks.

Every table of an inheritance tree is a DuckDB table of its own (so branches, row
deltas and merges see ordinary tables); hati keeps who inherits from whom in the
hidden schema's ``inherits``. A child is made with its parents' columns first (their
types, NOT NULL and defaults), then its own. Reading a parent reads its rows and its
descendants', projected to the parent's columns (``FROM p`` is ``FROM (SELECT cols
FROM ONLY p UNION ALL SELECT cols FROM c ...) AS p``); ``ONLY p`` and INSERT are p's
own. UPDATE / DELETE of a parent with children is refused (0A000) rather than
changing only some of the rows PostgreSQL changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast, parser
from pglast.enums import ConstrType

from hati import wording
from hati.errors import (
    DatatypeMismatch,
    DuplicateTable,
    FeatureNotSupported,
    UndefinedTable,
    WrongObjectType,
)
from hati.pg import catalog, coltypes, emulate, partitions, rebuild
from hati.pg.emulate import Printer, locate
from hati.pg.partitions import Changes, Tree, columns, quote, refuse_in_branch, schema_of

TABLE = f"{catalog.HIDDEN}.inherits"
SETUP_SQL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (schema_name VARCHAR, child VARCHAR, "
    "parent VARCHAR, seqno INTEGER);"
)


def load_into(cur: duckdb.DuckDBPyConnection, tree: Tree) -> None:
    """The inheritance links, and each parent's columns, into ``tree``."""
    try:
        rows = cur.execute(
            f"SELECT schema_name, parent, list(child ORDER BY seqno, child) FROM {TABLE} "
            "GROUP BY ALL"
        ).fetchall()
    except duckdb.CatalogException:
        return
    for schema, parent, children in rows:
        tree.children_of[(schema, parent)] = tuple(children)
        tree.inh_columns[(schema, parent)] = tuple(c for c, _ in columns(cur, schema, parent))
        for child in children:
            tree.parents_of.setdefault((schema, child), []).append(parent)


def descendants(tree: Tree, schema: str, table: str) -> list[str]:
    out: list[str] = []
    for c in tree.children_of.get((schema, table), ()):
        if c not in out:
            out.append(c)
            out += [d for d in descendants(tree, schema, c) if d not in out]
    return out


def read(rv: ast.RangeVar, tree: Tree) -> ast.Node | None:
    """``FROM p`` of a parent: its rows and its descendants' (None: not a parent)."""
    schema = "main" if rv.schemaname in (None, "public") else str(rv.schemaname)
    name = str(rv.relname)
    if (schema, name) not in tree.children_of:
        return None
    if not rv.inh:
        return None  # ONLY p: the table's own rows (DuckDB's plain read)
    cols = ", ".join(quote(c) for c in tree.inh_columns[(schema, name)])
    where = quote(schema) + "." if rv.schemaname and schema != "main" else ""
    tables = [name, *descendants(tree, schema, name)]
    parts = [f"SELECT {cols} FROM ONLY {where}{quote(t)}" for t in tables]
    sub: Any = parser.parse_sql(" UNION ALL ".join(parts))[0].stmt
    alias = rv.alias or ast.Alias(aliasname=name)
    return ast.RangeSubselect(lateral=False, subquery=sub, alias=alias)


def refuse_write(rv: Any, tree: Tree) -> None:
    """UPDATE / DELETE of a parent with children (PostgreSQL changes theirs too)."""
    schema = "main" if rv.schemaname in (None, "public") else str(rv.schemaname)
    if rv.inh and (schema, str(rv.relname)) in tree.children_of:
        raise FeatureNotSupported(
            f'UPDATE and DELETE of table "{rv.relname}", which other tables inherit from, '
            "are not supported",
            hint="Write each table with ONLY (UPDATE ONLY parent ..., then each child).",
        )


def _inherited(
    cur: duckdb.DuckDBPyConnection, schema: str, parent: str, defaults: bool = True
) -> list[Any]:
    """The parent's columns as a child inherits them: type, NOT NULL, default (LIKE:
    the default only when INCLUDING DEFAULTS)."""
    create = emulate.definition(cur, schema, parent)
    out = []
    kinds = {ConstrType.CONSTR_NOTNULL, *((ConstrType.CONSTR_DEFAULT,) if defaults else ())}
    for elt in create.tableElts or ():
        if not isinstance(elt, ast.ColumnDef):
            continue
        kept = [c for c in elt.constraints or () if c.contype in kinds]
        elt.constraints = tuple(kept) or None
        out.append(elt)
    return out


def _record(cur: duckdb.DuckDBPyConnection, schema: str, child: str, parent: str, n: int) -> None:
    cur.execute(f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4)", [schema, child, parent, n])


@dataclass
class DefineChild(Changes):
    """CREATE TABLE c (...) INHERITS (p, ...): c with its parents' columns first."""

    stmt: Any  # the CreateStmt without its INHERITS
    parents: tuple[Any, ...]

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        sources: list[Any] = []
        self.stmt.tableElts = _like(cur, printed, self.stmt.tableElts or (), sources)
        if not self.parents:
            cur.execute(printed(self.stmt))
            schema, table = locate(cur, printed, self.stmt.relation)
            _declared_types(cur, schema, table, sources)
            return
        refuse_in_branch(branch)
        merged: list[Any] = []
        names: list[str] = []
        located = []
        for rv in self.parents:
            _not_partitioned(cur, schema_of(cur, rv), str(rv.relname))
            try:
                pschema, parent = locate(cur, printed, rv)
            except UndefinedTable:
                raise UndefinedTable(f'relation "{rv.relname}" does not exist') from None
            located.append(parent)
            sources.append((pschema, parent))
            for col in _inherited(cur, pschema, parent):
                if col.colname in names:
                    continue
                names.append(col.colname)
                merged.append(col)
        own = []
        for elt in self.stmt.tableElts or ():
            if isinstance(elt, ast.ColumnDef) and elt.colname in names:
                i = names.index(elt.colname)
                _same_type(cur, str(elt.colname), merged[i].typeName, elt.typeName)
                if elt.constraints:
                    merged[i].constraints = (*(merged[i].constraints or ()), *elt.constraints)
                continue
            own.append(elt)
        self.stmt.tableElts = (*merged, *own)
        cur.execute(printed(self.stmt))
        schema = schema_of(cur, self.stmt.relation)
        _declared_types(cur, schema, str(self.stmt.relation.relname), sources)
        for n, parent in enumerate(located, 1):
            _record(cur, schema, str(self.stmt.relation.relname), parent, n)


def _not_partitioned(cur: duckdb.DuckDBPyConnection, schema: str, parent: str) -> None:
    """PostgreSQL's partitions and partitioned tables have no inheritance children."""
    node = partitions.load(cur).find(schema, parent)
    if node is not None:
        what = "partitioned table" if node.strategy else "partition"
        raise WrongObjectType(f'cannot inherit from {what} "{parent}"')


def _same_type(cur: duckdb.DuckDBPyConnection, name: str, inherited: Any, own: Any) -> None:
    """A column the child declares again has its parent's type (42804)."""
    if inherited is None or own is None:
        return
    kinds = cur.execute(
        f"SELECT typeof(CAST(NULL AS {emulate.text(inherited)})), "
        f"typeof(CAST(NULL AS {emulate.text(own)}))"
    ).fetchall()[0]
    if kinds[0] != kinds[1]:
        raise DatatypeMismatch(
            f'column "{name}" has a type conflict',
            detail=f"{wording.pg_type(str(kinds[0]))} versus {wording.pg_type(str(kinds[1]))}",
        )


def _like(
    cur: duckdb.DuckDBPyConnection, printed: Printer, elts: Any, sources: list[Any]
) -> tuple[Any, ...]:
    """``LIKE t [INCLUDING ...]`` items as t's columns (types, NOT NULL, defaults when
    INCLUDING DEFAULTS or ALL); ``sources`` gets each (schema, table)."""
    out: list[Any] = []
    for elt in elts:
        if not isinstance(elt, ast.TableLikeClause):
            out.append(elt)
            continue
        rv: Any = elt.relation
        try:
            schema, table = locate(cur, printed, rv)
        except UndefinedTable:
            raise UndefinedTable(f'relation "{rv.relname}" does not exist') from None
        sources.append((schema, table))
        out += _inherited(cur, schema, table, defaults=bool((elt.options or 0) & 8))
    return tuple(out)


def _declared_types(
    cur: duckdb.DuckDBPyConnection, schema: str, table: str, sources: list[Any]
) -> None:
    """The declared character types (coltypes.py) of the columns taken from ``sources``."""
    cur.execute(
        f"DELETE FROM {coltypes.TABLE} WHERE schema_name = $1 AND table_name = $2",
        [schema, table],
    )
    for sschema, stable in sources:
        cur.execute(
            f"INSERT INTO {coltypes.TABLE} SELECT $1, $2, column_name, data_type, udt_name, "
            f"length FROM {coltypes.TABLE} WHERE schema_name = $3 AND table_name = $4 "
            f"AND column_name NOT IN (SELECT column_name FROM {coltypes.TABLE} "
            "WHERE schema_name = $1 AND table_name = $2)",
            [schema, table, sschema, stable],
        )


@dataclass
class AlterInherit(Changes):
    """ALTER TABLE c [NO] INHERIT p."""

    child: Any
    parent: Any
    add: bool

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        refuse_in_branch(branch)
        schema, child = locate(cur, printed, self.child)
        pschema, parent = locate(cur, printed, self.parent)
        if not self.add:
            found = cur.execute(
                f"DELETE FROM {TABLE} WHERE schema_name = $1 AND child = $2 AND parent = $3 "
                "RETURNING 1",
                [schema, child, parent],
            ).fetchall()
            if not found:
                raise UndefinedTable(f'relation "{parent}" is not a parent of relation "{child}"')
            return
        _refuse_loop(cur, schema, child, parent)
        mine = dict(columns(cur, schema, child))
        nullable = dict(
            cur.execute(
                "SELECT column_name, is_nullable FROM duckdb_columns() WHERE database_name = "
                "current_database() AND schema_name = $1 AND table_name = $2",
                [schema, child],
            ).fetchall()
        )
        required = {
            r[0]
            for r in cur.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = "
                "current_database() AND schema_name = $1 AND table_name = $2 AND NOT is_nullable",
                [pschema, parent],
            ).fetchall()
        }
        for col, typ in columns(cur, pschema, parent):
            if col not in mine:
                raise DatatypeMismatch(f'child table is missing column "{col}"')
            if col in required and nullable.get(col):
                raise DatatypeMismatch(f'column "{col}" in child table must be marked NOT NULL')
            if mine[col] != typ:
                raise DatatypeMismatch(
                    f'child table "{child}" has different type for column "{col}"'
                )
        missing = sorted(check_names(cur, pschema, parent) - check_names(cur, schema, child))
        if missing:
            raise DatatypeMismatch(f'child table is missing constraint "{missing[0]}"')
        row = cur.execute(
            f"SELECT count(*) FROM {TABLE} WHERE schema_name = $1 AND child = $2", [schema, child]
        ).fetchone()
        _record(cur, schema, child, parent, int(row[0] if row else 0) + 1)


def _ancestors(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = cur.execute(
        f"WITH RECURSIVE up(t) AS (SELECT $2::VARCHAR UNION SELECT k.parent FROM {TABLE} k "
        "JOIN up ON k.child = up.t AND k.schema_name = $1) SELECT t FROM up",
        [schema, table],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _refuse_loop(cur: duckdb.DuckDBPyConnection, schema: str, child: str, parent: str) -> None:
    """ALTER TABLE c INHERIT p where p is c's parent already, or c or one of its
    descendants (PostgreSQL refuses both, 42P07)."""
    linked = cur.execute(
        f"SELECT 1 FROM {TABLE} WHERE schema_name = $1 AND child = $2 AND parent = $3",
        [schema, child, parent],
    ).fetchone()
    if linked is not None:
        raise DuplicateTable(f'relation "{parent}" would be inherited from more than once')
    if child in _ancestors(cur, schema, parent):
        raise DuplicateTable(
            "circular inheritance not allowed",
            detail=f'"{parent}" is already a child of "{child}".',
        )


def check_names(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    """The names of the table's CHECK constraints (the client's, else PostgreSQL's)."""
    return set(checks(cur, schema, table))


def checks(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """The table's CHECK constraints: name (the client's, else PostgreSQL's) -> the
    condition's text as DuckDB keeps it."""
    create = emulate.definition(cur, schema, table)
    given = emulate.given_names(cur, schema, table)
    out = {}
    for default, c, col in rebuild.constraints(create):
        if c.contype == ConstrType.CONSTR_CHECK:
            duck = rebuild.duck_name(create, c, col.colname if col else None)
            out[str(given.get(duck, default))] = (
                emulate.text(c.raw_expr) if c.raw_expr is not None else ""
            )
    return out


@dataclass
class Forget(Changes):
    """After DROP TABLE: the links of tables that no longer exist."""

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        cur.execute(
            f"DELETE FROM {TABLE} k WHERE NOT EXISTS (SELECT 1 FROM duckdb_tables() t WHERE "
            "t.database_name = current_database() AND t.schema_name = k.schema_name "
            "AND t.table_name = k.child) OR NOT EXISTS (SELECT 1 FROM duckdb_tables() t "
            "WHERE t.database_name = current_database() AND t.schema_name = k.schema_name "
            "AND t.table_name = k.parent)"
        )
