"""What PostgreSQL checks before it alters a table, and what it alters with it.

- A column may not take a system column's name (``xmin``, ``ctid``, ...: 42701).
- A constraint's name is one of the table's own once (42710); a primary key's or
  unique constraint's is also its index's, one name among the schema's relations
  (42P07).
- A column a table inherits is its parents' (``pg/inherits.py``): it is neither
  dropped nor renamed in the child (42P16). ``ALTER TABLE ONLY p`` of a table with
  children neither adds nor renames a column (the children would lack it, 42P16);
  ``ALTER TABLE p ADD COLUMN`` / ``RENAME COLUMN`` does both in every descendant too,
  as PostgreSQL's recursion does.
- ``SET DEFAULT 'text'``: the constant is read as the column's type now (22P02),
  as PostgreSQL does when the default is set.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast
from pglast.enums import AlterTableType, ConstrType

from hati import wording
from hati.errors import (
    DatatypeMismatch,
    DuplicateColumn,
    DuplicateObject,
    DuplicateTable,
    FeatureNotSupported,
    InvalidTableDefinition,
    UndefinedTable,
)
from hati.pg import catalog, emulate, partitions, rebuild
from hati.pg.emulate import Emulated, Printer, locate
from hati.pg.translate import walk

SYSTEM_COLUMNS = frozenset({"tableoid", "cmax", "xmax", "cmin", "xmin", "ctid"})
_LINKS = f"{catalog.HIDDEN}.inherits"


def system_name(name: str | None) -> None:
    """42701 for a column named like a system column."""
    if name in SYSTEM_COLUMNS:
        raise DuplicateColumn(f'column name "{name}" conflicts with a system column name')


# Set-returning functions of PostgreSQL's catalog, as a default may not call them.
_SRFS = frozenset(
    {
        "generate_series", "generate_subscripts", "unnest", "regexp_matches",
        "regexp_split_to_table", "json_array_elements", "jsonb_array_elements",
        "json_array_elements_text", "jsonb_array_elements_text", "json_each", "jsonb_each",
        "json_each_text", "jsonb_each_text", "json_object_keys", "jsonb_object_keys",
        "jsonb_path_query", "pg_get_keywords", "string_to_table",
    }
)  # fmt: skip


def created(stmt: Any) -> None:
    """CREATE TABLE's own checks: column names (system ones, twice: 42701), a temporary
    table in a schema of its own (42P16), a set-returning function as a default (0A000)."""
    rv = stmt.relation
    if rv.relpersistence == "t" and rv.schemaname not in (None, "pg_temp"):
        raise InvalidTableDefinition("cannot create temporary relation in non-temporary schema")
    seen: set[str] = set()
    for e in stmt.tableElts or ():
        if not isinstance(e, ast.ColumnDef):
            continue
        system_name(e.colname)
        if e.colname in seen:
            raise DuplicateColumn(f'column "{e.colname}" specified more than once')
        seen.add(str(e.colname))
        for c in e.constraints or ():
            if c.contype == ConstrType.CONSTR_DEFAULT and _calls_srf(c.raw_expr):
                raise FeatureNotSupported(
                    "set-returning functions are not allowed in DEFAULT expressions"
                )


def _calls_srf(expr: Any) -> bool:
    if expr is None:
        return False
    return any(
        isinstance(n, ast.FuncCall) and n.funcname and str(n.funcname[-1].sval) in _SRFS
        for n in walk(expr)
    )


def _linked(cur: duckdb.DuckDBPyConnection, sql: str, schema: str, table: str) -> list[str]:
    try:
        return [str(r[0]) for r in cur.execute(sql, [schema, table]).fetchall()]
    except duckdb.CatalogException:
        return []  # no inheritance made yet


def parents(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return _linked(
        cur, f"SELECT parent FROM {_LINKS} WHERE schema_name = $1 AND child = $2", schema, table
    )


def descendants(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    sql = (
        f"WITH RECURSIVE down(t) AS (SELECT child FROM {_LINKS} WHERE schema_name = $1 "
        f"AND parent = $2 UNION SELECT k.child FROM {_LINKS} k JOIN down ON k.parent = down.t "
        "AND k.schema_name = $1) SELECT t FROM down ORDER BY t"
    )
    return _linked(cur, sql, schema, table)


def _types(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    rows = cur.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = $1 "
        "AND table_name = $2 AND database_name IN (current_database(), 'temp')",
        [schema, table],
    ).fetchall()
    return {str(n): str(t) for n, t in rows}


def _inherited(cur: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return any(column in _types(cur, schema, p) for p in parents(cur, schema, table))


def _names(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[set[str], set[str]]:
    """The names of the table's constraints, and those of them that name an index."""
    create = emulate.definition(cur, schema, table)
    given = emulate.given_names(cur, schema, table)
    names, indexed = set(), set()
    for default, c, col in rebuild.constraints(create):
        name = str(given.get(rebuild.duck_name(create, c, col.colname if col else None), default))
        names.add(name)
        if c.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE):
            indexed.add(name)
    with contextlib.suppress(duckdb.CatalogException):  # no foreign key with actions yet
        names |= {
            str(r[0])
            for r in cur.execute(
                f"SELECT name FROM {catalog.HIDDEN}.foreign_keys WHERE schema_name = $1 "
                "AND table_name = $2",
                [schema, table],
            ).fetchall()
        }
    return names, indexed


def _relation_exists(cur: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = cur.execute(
        "SELECT (SELECT count(*) FROM duckdb_indexes() WHERE schema_name = $1 AND index_name = $2 "
        "AND database_name = current_database()) + (SELECT count(*) FROM duckdb_tables() "
        "WHERE schema_name = $1 AND table_name = $2 AND database_name = current_database())",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def new_constraint(cur: duckdb.DuckDBPyConnection, schema: str, table: str, c: Any) -> None:
    """42710 / 42P07 for ADD CONSTRAINT name when the name is taken (module doc)."""
    name = getattr(c, "conname", None)
    if not isinstance(c, ast.Constraint) or not name:
        return
    names, indexed = _names(cur, schema, table)
    keyed = c.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE)
    if keyed and (name in indexed or _relation_exists(cur, schema, name)):
        raise DuplicateTable(f'relation "{name}" already exists')
    if name in names:
        raise DuplicateObject(f'constraint "{name}" for relation "{table}" already exists')


def default_value(cur: duckdb.DuckDBPyConnection, schema: str, table: str, cmd: Any) -> None:
    """SET DEFAULT 'constant': read as the column's type now (module doc)."""
    value = cmd.def_
    if not (isinstance(value, ast.A_Const) and isinstance(value.val, ast.String)):
        return
    typ = _types(cur, schema, table).get(str(cmd.name))
    if typ is not None:
        cur.execute(f"SELECT CAST({emulate.text(value)} AS {typ})").fetchall()


_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_TIMES = ("DATE", "TIME", "TIMESTAMP", "INTERVAL")


def _family(duck: str) -> str:
    if duck == "VARCHAR":
        return "string"
    if duck == "BOOLEAN":
        return "boolean"
    if duck.startswith(_NUMBERS):
        return "number"
    if duck.startswith(_TIMES):
        return "time"
    return "other"


def retyped(cur: duckdb.DuckDBPyConnection, schema: str, table: str, cmd: Any) -> None:
    """ALTER COLUMN c TYPE t without USING: PostgreSQL converts only where an implicit or
    assignment cast exists (to text from anything, among numbers, among dates and
    times); text to a number, a number to boolean and the like need USING (42804)."""
    if cmd.def_.raw_default is not None or cmd.def_.typeName is None:
        return
    old = _types(cur, schema, table).get(str(cmd.name))
    if old is None:
        return
    new = str(
        cur.execute(f"SELECT typeof(CAST(NULL AS {emulate.text(cmd.def_.typeName)}))").fetchall()[
            0
        ][0]
    )
    a, b = _family(old), _family(new)
    if a == b or b == "string" or "other" in (a, b):
        return
    shown = wording.pg_type(new)
    raise DatatypeMismatch(
        f'column "{cmd.name}" cannot be cast automatically to type {shown}',
        hint=f'You might need to specify "USING {cmd.name}::{shown}".',
    )


def _partition_key(cur: duckdb.DuckDBPyConnection, schema: str, table: str, cmd: Any) -> None:
    """A column a partition key reads is neither dropped nor retyped (42P16)."""
    node = partitions.load(cur).find(schema, table)
    if node is None or not node.strategy:
        return
    if cmd.name in {c for k in node.key for c in partitions.key_reads(k)}:
        verb = "drop" if cmd.subtype == AlterTableType.AT_DropColumn else "alter"
        raise InvalidTableDefinition(
            f'cannot {verb} column "{cmd.name}" because it is part of the partition key of '
            f'relation "{table}"'
        )


def before(cur: duckdb.DuckDBPyConnection, stmt: Any, schema: str, table: str, only: bool) -> None:
    """The checks of one ALTER TABLE action (``stmt`` has exactly one; ``only``: ALTER
    TABLE ONLY)."""
    cmd = stmt.cmds[0]
    t = cmd.subtype
    if t in (AlterTableType.AT_DropColumn, AlterTableType.AT_AlterColumnType):
        _partition_key(cur, schema, table, cmd)
    if t == AlterTableType.AT_AddConstraint:
        new_constraint(cur, schema, table, cmd.def_)
    elif t == AlterTableType.AT_DropColumn and _inherited(cur, schema, table, cmd.name):
        raise InvalidTableDefinition(f'cannot drop inherited column "{cmd.name}"')
    elif t == AlterTableType.AT_AlterColumnType:
        retyped(cur, schema, table, cmd)
    elif t == AlterTableType.AT_ColumnDefault:
        default_value(cur, schema, table, cmd)
    elif t == AlterTableType.AT_AddColumn and only:
        _only(cur, schema, table)


def _only(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    """ALTER TABLE ONLY p ADD COLUMN: refused when p has children."""
    if descendants(cur, schema, table):
        raise InvalidTableDefinition("column must be added to child tables too")


def after(
    cur: duckdb.DuckDBPyConnection, printed: Printer, stmt: Any, schema: str, table: str
) -> None:
    """ADD COLUMN of a table with children: the column in each descendant too."""
    cmd = stmt.cmds[0]
    if cmd.subtype != AlterTableType.AT_AddColumn or not isinstance(cmd.def_, ast.ColumnDef):
        return
    name = str(cmd.def_.colname)
    typ = _types(cur, schema, table).get(name)
    for child in descendants(cur, schema, table):
        have = _types(cur, schema, child)
        if name in have:
            if have[name] != typ:
                raise DatatypeMismatch(
                    f'child table "{child}" has different type for column "{name}"'
                )
            continue
        col = ast.ColumnDef(
            colname=name,
            typeName=cmd.def_.typeName,
            constraints=tuple(
                c
                for c in cmd.def_.constraints or ()
                if c.contype in (ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_DEFAULT)
            )
            or None,
        )
        add = ast.AlterTableStmt(
            relation=_relation(schema, child),
            cmds=(ast.AlterTableCmd(subtype=AlterTableType.AT_AddColumn, def_=col),),
            objtype=stmt.objtype,
        )
        cur.execute(printed(add))


@dataclass
class CheckedAction(emulate.AlterAction):
    """One ALTER TABLE action with PostgreSQL's checks before it and its recursion into
    the table's children after it (module doc)."""

    only: bool = False  # ALTER TABLE ONLY t (the tree's RangeVar loses it: translate/exprs.py)

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        try:
            schema, table = locate(cur, printed, self.stmt.relation)
        except UndefinedTable:
            super().run(cur, printed, branch)  # IF EXISTS, or DuckDB's own error
            return
        before(cur, self.stmt, schema, table, self.only)
        super().run(cur, printed, branch)
        after(cur, printed, self.stmt, schema, table)


@dataclass
class RenameColumn(Emulated):
    """ALTER TABLE t RENAME [COLUMN] a TO b, checked (module doc), in the descendants too."""

    stmt: Any  # the RenameStmt
    only: bool  # RENAME of ONLY t (the tree's RangeVar loses it: translate/exprs.py)

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        stmt = self.stmt
        system_name(stmt.newname)
        try:
            schema, table = locate(cur, printed, stmt.relation)
        except UndefinedTable:
            if stmt.missing_ok:
                return
            raise
        old = str(stmt.subname)
        if _inherited(cur, schema, table, old):
            raise InvalidTableDefinition(f'cannot rename inherited column "{old}"')
        below = [c for c in descendants(cur, schema, table) if old in _types(cur, schema, c)]
        if below and self.only:
            raise InvalidTableDefinition(
                f'inherited column "{old}" must be renamed in child tables too'
            )
        cur.execute(printed(stmt))
        for child in below:
            one = ast.RenameStmt(
                renameType=stmt.renameType,
                relationType=stmt.relationType,
                relation=_relation(schema, child),
                subname=old,
                newname=stmt.newname,
                behavior=stmt.behavior,
                missing_ok=False,
            )
            cur.execute(printed(one))


def _relation(schema: str, table: str) -> ast.RangeVar:
    return ast.RangeVar(relname=table, schemaname=None if schema == "main" else schema, inh=True)
