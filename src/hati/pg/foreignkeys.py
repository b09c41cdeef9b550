"""Foreign keys with ON DELETE / ON UPDATE actions, which DuckDB lacks.

DuckDB's foreign keys only restrict, and refuse even a parent row whose children were
deleted earlier in the same transaction, so a cascade cannot run through them. A
foreign key with an action (CASCADE, SET NULL, SET DEFAULT, or RESTRICT / NO ACTION on
one side and an action on the other) is therefore kept out of DuckDB: CREATE TABLE and
ALTER TABLE ... ADD FOREIGN KEY record it in the hidden schema's ``foreign_keys``
(``Define``), and the session checks it and applies its actions after every write to
either table (``hati/referential.py``). Foreign keys without actions stay DuckDB's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast
from pglast.enums import ConstrType

from hati.errors import (
    DuplicateObject,
    FeatureNotSupported,
    ForeignKeyViolation,
    InvalidForeignKey,
    UndefinedColumn,
    UndefinedTable,
)
from hati.pg import catalog, emulate, rebuild
from hati.pg.emulate import Emulated, Printer
from hati.storage.duckdb_backend import qident

TABLE = f"{catalog.HIDDEN}.foreign_keys"
SETUP_SQL = catalog.FOREIGN_KEYS_SQL
PLAIN = frozenset({"a", "r", "\x00", ""})  # NO ACTION, RESTRICT (and unset)


@dataclass(frozen=True)
class ForeignKey:
    """One foreign key, named as PostgreSQL names it. ``on_delete`` / ``on_update``
    are PostgreSQL's action letters (``pg_constraint.confdeltype``): a (no action),
    r (restrict), c (cascade), n (set null), d (set default); ``managed``: hati keeps
    it, DuckDB does not know it."""

    child: str
    cols: tuple[str, ...]
    parent: str
    pcols: tuple[str, ...]
    name: str
    on_delete: str = "a"
    on_update: str = "a"
    set_cols: tuple[str, ...] = ()  # ON DELETE SET NULL (a, b): only these
    schema: str = "main"
    pschema: str = "main"
    managed: bool = False


def has_actions(c: Any) -> bool:
    """Whether the FOREIGN KEY constraint ``c`` has an action DuckDB lacks."""
    return c.contype == ConstrType.CONSTR_FOREIGN and (
        (c.fk_del_action or "") not in PLAIN or (c.fk_upd_action or "") not in PLAIN
    )


def load(cur: duckdb.DuckDBPyConnection) -> list[ForeignKey]:
    """Every foreign key hati keeps."""
    rows = cur.execute(
        f"SELECT table_name, cols, ref_table, ref_cols, name, on_delete, on_update, "
        f"set_cols, schema_name, ref_schema FROM {TABLE} ORDER BY table_name, name"
    ).fetchall()
    return [
        ForeignKey(
            r[0],
            tuple(r[1]),
            r[2],
            tuple(r[3]),
            r[4],
            r[5],
            r[6],
            tuple(r[7] or ()),
            r[8],
            r[9],
            True,
        )
        for r in rows
    ]


def relation(schema: str, table: str) -> str:
    """PostgreSQL's text for a table hati keeps a foreign key of (main's is public's)."""
    return f"{'public' if schema == 'main' else qident(schema)}.{qident(table)}"


def orphan_condition(fk: ForeignKey, child_alias: str) -> str:
    """A row of the child (aliased ``child_alias``) whose key the parent lacks."""
    c, p = child_alias, qident("$fk_p")
    set_ = " AND ".join(f"{c}.{qident(x)} IS NOT NULL" for x in fk.cols)
    match = " AND ".join(
        f"{p}.{qident(y)} = {c}.{qident(x)}" for x, y in zip(fk.cols, fk.pcols, strict=True)
    )
    prel = relation(fk.pschema, fk.parent)
    return f"{set_} AND NOT EXISTS (SELECT 1 FROM {prel} {p} WHERE {match})"


def orphan_query(fk: ForeignKey) -> str:
    """The first orphan's key (PostgreSQL's text)."""
    c = qident("$fk_c")
    cols = ", ".join(f"{c}.{qident(x)}" for x in fk.cols)
    return (
        f"SELECT {cols} FROM {relation(fk.schema, fk.child)} {c} "
        f"WHERE {orphan_condition(fk, c)} LIMIT 1"
    )


def child_violation(fk: ForeignKey, key: tuple[Any, ...]) -> ForeignKeyViolation:
    shown = f"({', '.join(fk.cols)})=({', '.join(_shown(v) for v in key)})"
    exc = ForeignKeyViolation(
        f'insert or update on table "{fk.child}" violates foreign key constraint "{fk.name}"',
        detail=f'Key {shown} is not present in table "{fk.parent}".',
    )
    exc.fk, exc.key = fk.name, key  # type: ignore[attr-defined]
    return exc


def parent_violation(fk: ForeignKey, key: tuple[Any, ...]) -> ForeignKeyViolation:
    shown = f"({', '.join(fk.pcols)})=({', '.join(_shown(v) for v in key)})"
    return ForeignKeyViolation(
        f'update or delete on table "{fk.parent}" violates foreign key constraint '
        f'"{fk.name}" on table "{fk.child}"',
        detail=f'Key {shown} is still referenced from table "{fk.child}".',
    )


def _shown(v: Any) -> str:
    return "null" if v is None else str(v)


# ---------------------------------------------------------------- DDL
def _columns(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in cur.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = $1 AND table_name = $2 ORDER BY column_index",
            [schema, table],
        ).fetchall()
    ]


def _unique_keys(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[list[str]]:
    """(PRIMARY KEY first) the column sets of the table's PRIMARY KEY / UNIQUE constraints."""
    rows = cur.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = "
        "current_database() AND schema_name = $1 AND table_name = $2 "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
        "ORDER BY constraint_type <> 'PRIMARY KEY', constraint_index",
        [schema, table],
    ).fetchall()
    return [list(r[0]) for r in rows]


@dataclass
class Define(Emulated):
    """A foreign key with actions, recorded once its table exists (CREATE TABLE, ALTER
    TABLE ... ADD): checked as PostgreSQL checks it, and against the rows already there."""

    relation: Any  # the referencing table
    constraint: Any
    column: str | None = None  # a column constraint's column

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        if branch:
            raise FeatureNotSupported(
                "foreign keys with ON DELETE / ON UPDATE actions cannot be created in a branch",
                hint="Create the table (or add the foreign key) on main; branches then apply "
                "its actions.",
            )
        c = self.constraint
        schema, table = emulate.locate(cur, printed, self.relation)
        try:
            pschema, parent = emulate.locate(cur, printed, c.pktable)
        except UndefinedTable:
            raise UndefinedTable(f'relation "{c.pktable.relname}" does not exist') from None
        cols = [self.column] if self.column else [k.sval for k in c.fk_attrs or ()]
        have = _columns(cur, schema, table)
        for col in cols:
            if col not in have:
                raise UndefinedColumn(
                    f'column "{col}" referenced in foreign key constraint does not exist'
                )
        pcols = _referenced(cur, c, pschema, parent)
        if len(pcols) != len(cols):
            raise InvalidForeignKey(
                "number of referencing and referenced columns for foreign key disagree"
            )
        name = c.conname or rebuild.default_name(table, c, self.column)[:63]
        set_cols = [k.sval for k in getattr(c, "fk_del_set_cols", None) or ()]
        fk = ForeignKey(
            table,
            tuple(cols),
            parent,
            tuple(pcols),
            name,
            _action(c.fk_del_action),
            _action(c.fk_upd_action),
            tuple(set_cols),
            schema,
            pschema,
            True,
        )
        dup = cur.execute(
            f"SELECT 1 FROM {TABLE} WHERE schema_name = $1 AND table_name = $2 AND name = $3",
            [schema, table, name],
        ).fetchone()
        if dup is not None:
            raise DuplicateObject(f'constraint "{name}" for relation "{table}" already exists')
        orphan = cur.execute(_duck_orphans(fk)).fetchone()
        if orphan is not None:
            raise child_violation(fk, tuple(orphan))
        cur.execute(
            f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                schema,
                table,
                cols,
                pschema,
                parent,
                pcols,
                name,
                fk.on_delete,
                fk.on_update,
                set_cols,
            ],
        )


def _referenced(cur: duckdb.DuckDBPyConnection, c: Any, schema: str, parent: str) -> list[str]:
    """The referenced columns: those named, which a PRIMARY KEY or UNIQUE constraint of
    the parent must cover exactly, or the parent's primary key."""
    keys = _unique_keys(cur, schema, parent)
    if not c.pk_attrs:
        if not keys:
            raise InvalidForeignKey(f'there is no primary key for referenced table "{parent}"')
        return keys[0]
    pcols = [k.sval for k in c.pk_attrs]
    have = _columns(cur, schema, parent)
    for col in pcols:
        if col not in have:
            raise UndefinedColumn(
                f'column "{col}" referenced in foreign key constraint does not exist'
            )
    if not any(set(k) == set(pcols) for k in keys):
        raise InvalidForeignKey(
            f'there is no unique constraint matching given keys for referenced table "{parent}"'
        )
    return pcols


def _action(letter: str | None) -> str:
    return "a" if not letter or letter == "\x00" else letter


def _duck_orphans(fk: ForeignKey) -> str:
    """DuckDB's text of ``orphan_query`` (DDL steps run on DuckDB's cursor directly)."""
    c, p = qident("$fk_c"), qident("$fk_p")
    set_ = " AND ".join(f"{c}.{qident(x)} IS NOT NULL" for x in fk.cols)
    match = " AND ".join(
        f"{p}.{qident(y)} = {c}.{qident(x)}" for x, y in zip(fk.cols, fk.pcols, strict=True)
    )
    return (
        f"SELECT {', '.join(f'{c}.{qident(x)}' for x in fk.cols)} "
        f"FROM {qident(fk.schema)}.{qident(fk.child)} {c} WHERE {set_} AND NOT EXISTS "
        f"(SELECT 1 FROM {qident(fk.pschema)}.{qident(fk.parent)} {p} WHERE {match}) LIMIT 1"
    )


@dataclass
class DropConstraint(Emulated):
    """ALTER TABLE ... DROP CONSTRAINT: a foreign key hati keeps is forgotten, any other
    goes to the ALTER TABLE emulation."""

    action: Any  # emulate.AlterAction

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        stmt = self.action.stmt
        try:
            schema, table = emulate.locate(cur, printed, stmt.relation)
        except UndefinedTable:
            self.action.run(cur, printed, branch)
            return
        name = stmt.cmds[0].name
        found = cur.execute(
            f"SELECT 1 FROM {TABLE} WHERE schema_name = $1 AND table_name = $2 AND name = $3",
            [schema, table, name],
        ).fetchone()
        if found is None:
            self.action.run(cur, printed, branch)
            return
        if branch:
            raise FeatureNotSupported(
                "a foreign key with actions cannot be dropped in a branch",
                hint="Drop it on main.",
            )
        cur.execute(
            f"DELETE FROM {TABLE} WHERE schema_name = $1 AND table_name = $2 AND name = $3",
            [schema, table, name],
        )


def forget_tables(cur: duckdb.DuckDBPyConnection) -> None:
    """Forget the foreign keys of tables that no longer exist (after DROP TABLE)."""
    cur.execute(
        f"DELETE FROM {TABLE} k WHERE NOT EXISTS (SELECT 1 FROM duckdb_tables() t WHERE "
        "t.database_name = current_database() AND t.schema_name = k.schema_name "
        "AND t.table_name = k.table_name) OR NOT EXISTS (SELECT 1 FROM duckdb_tables() t "
        "WHERE t.database_name = current_database() AND t.schema_name = k.ref_schema "
        "AND t.table_name = k.ref_table)"
    )


def rename_table(cur: duckdb.DuckDBPyConnection, schema: str, old: str, new: str) -> None:
    cur.execute(
        f"UPDATE {TABLE} SET table_name = $3 WHERE schema_name = $1 AND table_name = $2",
        [schema, old, new],
    )
    cur.execute(
        f"UPDATE {TABLE} SET ref_table = $3 WHERE ref_schema = $1 AND ref_table = $2",
        [schema, old, new],
    )


def rename_column(
    cur: duckdb.DuckDBPyConnection, schema: str, table: str, old: str, new: str
) -> None:
    cur.execute(
        f"UPDATE {TABLE} SET cols = list_transform(cols, x -> CASE WHEN x = $3 THEN $4 ELSE x END) "
        "WHERE schema_name = $1 AND table_name = $2",
        [schema, table, old, new],
    )
    cur.execute(
        f"UPDATE {TABLE} SET ref_cols = list_transform(ref_cols, x -> CASE WHEN x = $3 THEN $4 "
        "ELSE x END) WHERE ref_schema = $1 AND ref_table = $2",
        [schema, table, old, new],
    )


def strip(create: ast.CreateStmt) -> list[Define]:
    """Take the foreign keys with actions out of a CREATE TABLE (DuckDB gets the rest):
    the steps that record them once the table exists."""
    out: list[Define] = []
    elts = []
    for elt in create.tableElts or ():
        if isinstance(elt, ast.Constraint) and has_actions(elt):
            out.append(Define(create.relation, elt))
            continue
        if isinstance(elt, ast.ColumnDef) and elt.constraints:
            kept = []
            for c in elt.constraints:
                if has_actions(c):
                    out.append(Define(create.relation, c, elt.colname))
                else:
                    kept.append(c)
            elt.constraints = tuple(kept) or None
        elts.append(elt)
    create.tableElts = tuple(elts)
    return out
