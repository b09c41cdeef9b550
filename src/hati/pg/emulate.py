"""DDL DuckDB cannot run as PostgreSQL writes it, run as several DuckDB statements.

The front end (``translate/ddl.py``) cuts such a statement into *steps*: parse-tree
nodes printed for DuckDB like any statement, and the :class:`Emulated` steps below,
which read DuckDB's catalog when they run (a statement's translation is cached, the
tables it names change). ``run_steps`` runs them all or none: in the caller's
transaction, or in one of their own.

- ``DROP TABLE a, b`` / ``TRUNCATE a, b``: one DuckDB statement per table, children
  (tables whose foreign keys reference another one dropped) first.
- ``TRUNCATE ... RESTART IDENTITY`` and ``ALTER SEQUENCE ... RESTART [WITH n]``: the
  sequences behind the tables' defaults start again (``setval(seq, start, false)``).
- ``ALTER TABLE`` actions DuckDB lacks (ADD CHECK / FOREIGN KEY / PRIMARY KEY on a table
  with indexes, DROP CONSTRAINT, a column's type or NOT NULL under an index): the table
  is rebuilt, as PostgreSQL's own table rewrite does: a new table with the altered
  definition, the rows copied, the old one dropped, the new one renamed, its indexes
  made again.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast, parser
from pglast.enums import AlterTableType, ConstrType

from hati.errors import FeatureNotSupported, UndefinedObject, UndefinedTable
from hati.pg import catalog, rebuild, render

Printer = Callable[[ast.Node], str]  # a node -> DuckDB text, relations placed
NEXTVAL = re.compile(r"nextval\('((?:[^']|'')+)'")


class Emulated:
    """A step that reads DuckDB's catalog when it runs."""

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        raise NotImplementedError


def in_transaction(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the cursor is inside a transaction block: outside one, each statement
    is a transaction of its own and gets a new id."""
    first = cur.execute("SELECT txid_current()").fetchall()[0][0]
    return bool(first == cur.execute("SELECT txid_current()").fetchall()[0][0])


def run_steps(
    cur: duckdb.DuckDBPyConnection, steps: tuple[Any, ...], printed: Printer, branch: bool = False
) -> None:
    """Every step, all or none (a transaction of their own unless one is open);
    ``branch``: the statement runs in a branch."""
    own = not in_transaction(cur)
    if own:
        cur.execute("BEGIN TRANSACTION")
    try:
        for step in steps:
            if isinstance(step, Emulated):
                step.run(cur, printed, branch)
            else:
                cur.execute(printed(step))
        if own:
            cur.execute("COMMIT")
    except BaseException:
        if own:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
        raise


def text(node: ast.Node, substitute: render.Substitute | None = None) -> str:
    """DuckDB's text of a node made here (not from a parsed statement)."""
    render.prepare(node)
    return render.render(node, substitute)


# ---------------------------------------------------------------- catalog lookups
def locate(cur: duckdb.DuckDBPyConnection, printed: Printer, rv: Any) -> tuple[str, str]:
    """(schema, table) DuckDB resolves the relation ``rv`` to, as placed."""
    text = printed(ast.RangeVar(relname=rv.relname, schemaname=rv.schemaname, inh=True))
    select: Any = parser.parse_sql(f"SELECT * FROM {text}")[0].stmt
    target = select.fromClause[0]
    schema = target.schemaname
    if schema is None:
        path = cur.execute("SELECT current_schemas(false)").fetchall()[0][0] or ["main"]
        have = {
            r[0]
            for r in cur.execute(
                "SELECT schema_name FROM duckdb_tables() WHERE table_name = $1 "
                "AND database_name IN (current_database(), 'temp')",
                [target.relname],
            ).fetchall()
        }
        found = [s for s in path if s in have]
        if not found:
            raise UndefinedTable(f'relation "{rv.relname}" does not exist')
        schema = found[0]
    return schema, target.relname


def qualified(schema: str, table: str) -> str:
    return f"{render.quote_name(schema)}.{render.quote_name(table)}"


def sequences_of(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """The sequences the table's column defaults draw from (SERIAL, identity)."""
    rows = cur.execute(
        "SELECT column_default FROM duckdb_columns() WHERE schema_name = $1 "
        "AND table_name = $2 AND database_name = current_database() "
        "AND column_default LIKE 'nextval(%'",
        [schema, table],
    ).fetchall()
    out = []
    for (default,) in rows:
        m = NEXTVAL.search(default)
        if m:
            out.append(m.group(1).replace("''", "'"))
    return out


def restart(cur: duckdb.DuckDBPyConnection, sequence: str, value: int | None) -> None:
    """The sequence starts again at ``value`` (its START when None)."""
    if value is None:
        row = cur.execute(
            "SELECT start_value FROM duckdb_sequences() WHERE database_name = current_database() "
            "AND ($1 = sequence_name OR $1 = schema_name || '.' || sequence_name "
            "OR $1 = '\"' || schema_name || '\".\"' || sequence_name || '\"' "
            "OR $1 = schema_name || '.\"' || sequence_name || '\"' "
            "OR $1 = '\"' || sequence_name || '\"') LIMIT 1",
            [sequence],
        ).fetchone()
        value = 1 if row is None else int(row[0])
    cur.execute("SELECT setval($1, $2, false)", [sequence, value]).fetchall()


@dataclass
class RestartIdentity(Emulated):
    """TRUNCATE ... RESTART IDENTITY: the table's sequences start again."""

    relation: Any

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        schema, table = locate(cur, printed, self.relation)
        sequences = sequences_of(cur, schema, table)
        if branch and sequences:
            raise FeatureNotSupported(
                "TRUNCATE ... RESTART IDENTITY is not supported in a branch",
                detail="A branch's rows draw their ids from main's sequences, so that a "
                "merge brings no duplicate ids.",
                hint="Use TRUNCATE without RESTART IDENTITY in the branch.",
            )
        for seq in sequences:
            restart(cur, seq, None)


@dataclass
class RestartSequence(Emulated):
    """ALTER SEQUENCE s RESTART [WITH n]."""

    sequence: Any
    value: int | None

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        if branch:
            raise FeatureNotSupported(
                "ALTER SEQUENCE is not supported in a branch",
                detail="Sequences are main's: a branch draws its ids from them.",
                hint="Run ALTER SEQUENCE on main.",
            )
        rv = self.sequence
        name = render.quote_name(rv.relname or "")
        if rv.schemaname and rv.schemaname not in ("public", "main"):
            name = render.quote_name(rv.schemaname) + "." + name
        restart(cur, name, self.value)


@dataclass
class DropTables(Emulated):
    """DROP TABLE a, b, ...: each table once, the ones whose foreign keys reference
    another of them first (DuckDB refuses to drop a referenced table)."""

    drops: Any

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        names = [_last_name(d.objects[0]) for d in self.drops]
        refs = dict(
            cur.execute(
                "SELECT table_name, list(DISTINCT referenced_table) FROM duckdb_constraints() "
                "WHERE constraint_type = 'FOREIGN KEY' AND database_name = current_database() "
                "GROUP BY ALL"
            ).fetchall()
        )
        # Tables referenced by more of the others go last.
        order = sorted(
            range(len(names)), key=lambda i: sum(names[i] in (refs.get(o) or ()) for o in names)
        )
        for i in order:
            cur.execute(printed(self.drops[i]))


def _last_name(obj: Any) -> str:
    if isinstance(obj, tuple):
        return str(obj[-1].sval)
    return str(getattr(obj, "sval", ""))


# ---------------------------------------------------------------- ALTER TABLE
_NATIVE = frozenset(
    {
        AlterTableType.AT_AddColumn,
        AlterTableType.AT_ColumnDefault,
    }
)
# Actions DuckDB runs itself while nothing depends on the table.
_NATIVE_UNLESS_DEPENDED = frozenset(
    {
        AlterTableType.AT_DropColumn,
        AlterTableType.AT_SetNotNull,
        AlterTableType.AT_DropNotNull,
        AlterTableType.AT_AlterColumnType,
    }
)


@dataclass
class AlterAction(Emulated):
    """One action of an ALTER TABLE: DuckDB's own where it can, else a rebuild."""

    stmt: Any  # with exactly this one action

    @property
    def cmd(self) -> Any:
        return self.stmt.cmds[0]

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        cmd = self.cmd
        if cmd.subtype in _NATIVE:
            cur.execute(printed(self.stmt))
            return
        try:
            schema, table = locate(cur, printed, self.stmt.relation)
        except UndefinedTable:
            if self.stmt.missing_ok:
                return
            raise
        if self._native(cur, schema, table):
            cur.execute(printed(self.stmt))
            return
        Rebuild(schema, table, cmd).run_on(cur)

    def _native(self, cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
        cmd = self.cmd
        depended = _depended(cur, schema, table)
        if cmd.subtype in _NATIVE_UNLESS_DEPENDED:
            if cmd.subtype == AlterTableType.AT_AlterColumnType:
                return not depended and not _keyed_column(cur, schema, table, cmd.name)
            return not depended
        c = cmd.def_
        if cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(c, ast.Constraint):
            keyed = c.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE)
            return keyed and not depended and not c.conname
        return False


def _depended(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether an index or another table's foreign key depends on the table."""
    row = cur.execute(
        "SELECT (SELECT count(*) FROM duckdb_indexes() WHERE schema_name = $1 AND table_name = $2 "
        "AND database_name = current_database()) + (SELECT count(*) FROM duckdb_constraints() "
        "WHERE constraint_type = 'FOREIGN KEY' AND referenced_table = $2 AND table_name <> $2 "
        "AND schema_name = $1 AND database_name = current_database())",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def _keyed_column(cur: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    row = cur.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = $1 AND table_name = $2 "
        "AND database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'CHECK') "
        "AND list_contains(constraint_column_names, $3)",
        [schema, table, column],
    ).fetchone()
    return bool(row and row[0])


@dataclass
class Rebuild:
    """A table made again with one ALTER TABLE action applied to its definition. Tables
    whose foreign keys reference it are made again without those keys first, and with
    them once the table stands again (DuckDB drops no referenced table)."""

    schema: str
    table: str
    cmd: Any

    def run_on(self, cur: duckdb.DuckDBPyConnection) -> None:
        create = definition(cur, self.schema, self.table)
        before = _columns(create)
        cmd = self.cmd
        key = None
        if cmd.subtype == AlterTableType.AT_DropConstraint:
            key = registered(cur, self.schema, self.table, cmd.name)
        rebuild.apply(create, self.table, cmd, key)
        c = cmd.def_
        named = cmd.subtype == AlterTableType.AT_AddConstraint and c.conname
        duck = rebuild.duck_name(create, c) if named else None
        kept = [col for col in before if col in _columns(create)]
        indexes = indexes_of(cur, self.schema, self.table)
        children = cur.execute(
            "SELECT list(DISTINCT table_name) FROM duckdb_constraints() "
            "WHERE constraint_type = 'FOREIGN KEY' AND referenced_table = $2 AND table_name <> $2 "
            "AND schema_name = $1 AND database_name = current_database()",
            [self.schema, self.table],
        ).fetchall()[0][0]
        restore = []
        for child in children or ():
            original = definition(cur, self.schema, child)
            loose = definition(cur, self.schema, child)
            loose.tableElts = tuple(
                e
                for e in loose.tableElts
                if not (
                    isinstance(e, ast.Constraint)
                    and e.contype == ConstrType.CONSTR_FOREIGN
                    and getattr(e.pktable, "relname", None) == self.table
                )
            )
            child_indexes = indexes_of(cur, self.schema, child)
            remake(cur, self.schema, child, loose, _columns(loose), child_indexes)
            restore.append((child, original, child_indexes))
        using = {}
        if cmd.subtype == AlterTableType.AT_AlterColumnType and cmd.def_.raw_default is not None:
            using[str(cmd.name)] = text(cmd.def_.raw_default)  # ... TYPE t USING expr
        remake(cur, self.schema, self.table, create, kept, indexes, using)
        for child, original, child_indexes in restore:
            remake(cur, self.schema, child, original, _columns(original), child_indexes)
        if cmd.subtype == AlterTableType.AT_DropConstraint and key:
            forget(cur, self.schema, self.table, cmd.name)
        if duck is not None:
            record(cur, self.schema, self.table, duck, c.conname)


def _columns(create: Any) -> list[Any]:
    return [c.colname for c in create.tableElts if isinstance(c, ast.ColumnDef)]


def table_field(cur: duckdb.DuckDBPyConnection, schema: str, table: str, field: str) -> Any:
    """A field of the table's row in ``duckdb_tables()`` (42P01 if there is no table)."""
    row = cur.execute(
        f"SELECT {field} FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2 "
        "AND database_name IN (current_database(), 'temp')",
        [schema, table],
    ).fetchone()
    if row is None:
        raise UndefinedTable(f'relation "{table}" does not exist')
    return row[0]


def given_names(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """DuckDB's name -> the client's, of the table's constraints the client named."""
    return dict(
        cur.execute(
            f"SELECT duck_name, name FROM {NAMES} WHERE schema_name = $1 AND table_name = $2",
            [schema, table],
        ).fetchall()
    )


def definition(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> Any:
    """The table's CREATE TABLE, as DuckDB keeps it, parsed with PostgreSQL's grammar."""
    row = (table_field(cur, schema, table, "sql"),)
    try:
        return parser.parse_sql(row[0])[0].stmt
    except parser.ParseError:
        raise FeatureNotSupported(
            f'ALTER TABLE cannot rebuild "{table}": a column type has no PostgreSQL spelling',
            hint="Create a new table with the definition you want and copy the rows.",
        ) from None


def indexes_of(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in cur.execute(
            "SELECT sql FROM duckdb_indexes() WHERE schema_name = $1 AND table_name = $2 "
            "AND database_name = current_database() AND sql IS NOT NULL",
            [schema, table],
        ).fetchall()
    ]


def remake(
    cur: duckdb.DuckDBPyConnection,
    schema: str,
    name: str,
    create: Any,
    kept: list[Any],
    indexes: list[str],
    using: dict[str, str] | None = None,
) -> None:
    """Make the table again as ``create`` says, with its rows (the ``kept`` columns) and
    the ``indexes`` whose columns it still has. The rows wait in a temporary table while
    the table is made again under its own name (a renamed table would leave DuckDB's
    foreign keys naming the old one)."""
    rows = qualified("temp", name + "$rows")
    table = qualified(schema, name)
    create.relation = ast.RangeVar(relname=name, schemaname=schema, inh=True)
    cols = ", ".join(render.quote_name(c) for c in kept)
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {rows[len('temp.') :]} AS SELECT * FROM {table}")
    cur.execute(f"DROP TABLE {table}")
    cur.execute(text(create))
    cur.execute(
        f"INSERT INTO {table} ({cols}) SELECT {_converted(create, kept, using or {})} FROM {rows}"
    )
    cur.execute(f"DROP TABLE {rows}")
    after = set(_columns(create))
    for sql in indexes:
        index: Any = parser.parse_sql(sql)[0].stmt
        index.relation = ast.RangeVar(relname=name, schemaname=schema, inh=True)
        used = {e.name for e in index.indexParams if e.name} | rebuild.referenced(
            tuple(e.expr for e in index.indexParams if e.expr is not None)
        )
        if used <= after:  # an index over a dropped column goes with it
            cur.execute(text(index))


# ---------------------------------------------------------------- constraint names
# DuckDB names every constraint itself (duckdb_constraints().constraint_name); the names
# a client gave are kept here, by DuckDB's name, for DROP / RENAME CONSTRAINT and the
# catalog (pg_constraint.conname).
NAMES = f"{catalog.HIDDEN}.constraint_names"
NAMES_SQL = (
    f"CREATE TABLE IF NOT EXISTS {NAMES} (schema_name VARCHAR, table_name VARCHAR, "
    "duck_name VARCHAR, name VARCHAR);"
)


def registered(cur: duckdb.DuckDBPyConnection, schema: str, table: str, name: str) -> str | None:
    row = cur.execute(
        f"SELECT duck_name FROM {NAMES} WHERE schema_name = $1 AND table_name = $2 AND name = $3",
        [schema, table, name],
    ).fetchone()
    return None if row is None else str(row[0])


def forget(cur: duckdb.DuckDBPyConnection, schema: str, table: str, name: str) -> None:
    cur.execute(
        f"DELETE FROM {NAMES} WHERE schema_name = $1 AND table_name = $2 AND name = $3",
        [schema, table, name],
    )


def _resolved(cur: duckdb.DuckDBPyConnection, schema: str, table: str, duck: str) -> str:
    """DuckDB's name of a foreign key written without the referenced columns
    (``REFERENCES p``): DuckDB names it with the primary key's columns it took."""
    if not duck.endswith("_fkey"):
        return duck
    names = [
        str(r[0])
        for r in cur.execute(
            "SELECT constraint_name FROM duckdb_constraints() WHERE database_name = "
            "current_database() AND schema_name = $1 AND table_name = $2 "
            "AND constraint_type = 'FOREIGN KEY'",
            [schema, table],
        ).fetchall()
    ]
    if duck in names:
        return duck
    stem = duck.removesuffix("fkey")
    found = sorted({n for n in names if n.startswith(stem)})
    return found[0] if len(found) == 1 else duck


def record(cur: duckdb.DuckDBPyConnection, schema: str, table: str, duck: str, name: str) -> None:
    duck = _resolved(cur, schema, table, duck)
    cur.execute(
        f"DELETE FROM {NAMES} WHERE schema_name = $1 AND table_name = $2 AND duck_name = $3",
        [schema, table, duck],
    )
    cur.execute(f"INSERT INTO {NAMES} VALUES ($1, $2, $3, $4)", [schema, table, duck, name])


@dataclass
class RecordNames(Emulated):
    """CREATE TABLE with named constraints: the names, once the table exists."""

    relation: Any
    names: tuple[tuple[str, str], ...]  # (DuckDB's name, the client's)

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        try:
            schema, table = locate(cur, printed, self.relation)
        except UndefinedTable:
            return  # a temporary table: its catalog shows DuckDB's own constraint names
        cur.execute(
            f"DELETE FROM {NAMES} WHERE schema_name = $1 AND table_name = $2", [schema, table]
        )
        for duck, name in self.names:
            record(cur, schema, table, duck, name)


def _create_of(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> Any:
    """The parsed CREATE TABLE DuckDB keeps for a table (None: no such table)."""
    row = cur.execute(
        "SELECT sql FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2 "
        "AND database_name IN (current_database(), 'temp')",
        [schema, table],
    ).fetchone()
    return parser.parse_sql(row[0])[0].stmt if row else None


@dataclass
class ValidateConstraint(Emulated):
    """ALTER TABLE t VALIDATE CONSTRAINT c: hati's constraints hold for every row
    already (NOT VALID adds them checked), so only the name must exist."""

    relation: Any
    name: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        schema, table = locate(cur, printed, self.relation)
        if registered(cur, schema, table, self.name) is not None:
            return
        create = _create_of(cur, schema, table)
        for default, _c, _col in rebuild.constraints(create) if create is not None else ():
            if default == self.name:
                return
        fks = cur.execute(
            f"SELECT 1 FROM {catalog.HIDDEN}.foreign_keys WHERE schema_name = $1 "
            "AND table_name = $2 AND name = $3",
            [schema, table, self.name],
        ).fetchone()
        if fks is None:
            raise UndefinedObject(f'constraint "{self.name}" of relation "{table}" does not exist')


@dataclass
class RenameConstraint(Emulated):
    """ALTER TABLE t RENAME CONSTRAINT a TO b."""

    relation: Any
    old: str
    new: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        schema, table = locate(cur, printed, self.relation)
        duck = registered(cur, schema, table, self.old)
        if duck is None:
            create = _create_of(cur, schema, table)
            for default, c, col in rebuild.constraints(create) if create is not None else ():
                if default == self.old:
                    duck = rebuild.duck_name(create, c, col.colname if col else None)
        if duck is None:
            raise UndefinedObject(f'constraint "{self.old}" for table "{table}" does not exist')
        record(cur, schema, table, duck, self.new)


def _converted(create: Any, kept: list[str], using: dict[str, str]) -> str:
    """The select list that copies the rows: each kept column cast to its new type
    (``using``: a column's value computed from the old row, ALTER ... TYPE ... USING)."""
    out = []
    types = {c.colname: c.typeName for c in create.tableElts if isinstance(c, ast.ColumnDef)}
    for name in kept:
        t = types.get(name)
        col = f"({using[name]})" if name in using else render.quote_name(name)
        out.append(f"CAST({col} AS {text(t)})" if t is not None else col)
    return ", ".join(out)
