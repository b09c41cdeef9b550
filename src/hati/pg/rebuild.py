"""One ALTER TABLE action applied to a table's definition (for ``emulate.Rebuild``).

The definition is DuckDB's own ``CREATE TABLE`` text (``duckdb_tables().sql``), parsed
with PostgreSQL's grammar; the action edits that tree the way PostgreSQL would alter the
table, and the rebuild creates the edited table and copies the rows.

Constraints are matched by the names PostgreSQL gives them when none is written
(``t_pkey``, ``t_a_key``, ``t_a_fkey``, ``t_a_check``); a name a client gave is found
through hati's record of constraint names (``constraint_names``).
"""

from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType

from hati.errors import FeatureNotSupported, UndefinedColumn, UndefinedObject
from hati.pg.translate import walk

_KEYS = {
    ConstrType.CONSTR_PRIMARY: "pkey",
    ConstrType.CONSTR_UNIQUE: "key",
    ConstrType.CONSTR_FOREIGN: "fkey",
    ConstrType.CONSTR_CHECK: "check",
}


def default_name(table: str, c: Any, column: str | None = None) -> str:
    """The name PostgreSQL gives constraint ``c`` of ``table`` when none is written."""
    suffix = _KEYS.get(c.contype, "con")
    if c.contype == ConstrType.CONSTR_PRIMARY:
        return f"{table}_pkey"
    if column is not None:
        cols = [column]
    elif c.contype == ConstrType.CONSTR_CHECK:
        found = sorted(referenced(c.raw_expr))
        cols = found if len(found) == 1 else []
    else:
        cols = [
            k.sval for k in (c.fk_attrs if c.contype == ConstrType.CONSTR_FOREIGN else c.keys) or ()
        ]
    return "_".join([table, *cols, suffix])


def referenced(expr: Any) -> set[str]:
    """The names of the columns an expression reads."""
    out: set[str] = set()
    if expr is None:
        return out
    for n in (x for e in (expr if isinstance(expr, tuple) else (expr,)) for x in walk(e)):
        if isinstance(n, ast.ColumnRef):
            fields: Any = n.fields
            out.add(fields[-1].sval)
    return out


def duck_name(create: Any, c: Any, column: str | None = None) -> str:
    """The name DuckDB gives constraint ``c`` (``duckdb_constraints().constraint_name``):
    the table, the columns it covers (in table order; a foreign key's referenced ones
    too) and the kind."""
    table = create.relation.relname
    order: list[Any] = [e.colname for e in create.tableElts or () if isinstance(e, ast.ColumnDef)]
    if column is not None:
        cols = [column]
    elif c.contype == ConstrType.CONSTR_CHECK:
        found = referenced(c.raw_expr)
        cols = [o for o in order if o in found]
    elif c.contype == ConstrType.CONSTR_FOREIGN:
        cols = [k.sval for k in c.fk_attrs or ()]
    else:
        cols = [k.sval for k in c.keys or ()]
    if c.contype == ConstrType.CONSTR_FOREIGN:
        cols += [k.sval for k in c.pk_attrs or ()]
    return "_".join([table, *cols, _KEYS.get(c.contype, "con")])


def constraints(create: Any) -> list[tuple[str, ast.Constraint, Any]]:
    """(default name, constraint, its column or None) of every named kind of constraint."""
    table = create.relation.relname
    out: list[tuple[str, Any, Any]] = []
    for elt in create.tableElts or ():
        if isinstance(elt, ast.Constraint) and elt.contype in _KEYS:
            out.append((default_name(table, elt), elt, None))
        elif isinstance(elt, ast.ColumnDef):
            for c in elt.constraints or ():
                if c.contype in _KEYS:
                    out.append((default_name(table, c, elt.colname), c, elt))
    return out


def _column(create: Any, name: str) -> Any:
    for elt in create.tableElts or ():
        if isinstance(elt, ast.ColumnDef) and elt.colname == name:
            return elt
    raise UndefinedColumn(f'column "{name}" of relation "{create.relation.relname}" does not exist')


def _not_null(col: Any, on: bool) -> None:
    kept = tuple(c for c in col.constraints or () if c.contype != ConstrType.CONSTR_NOTNULL)
    col.constraints = (*kept, ast.Constraint(contype=ConstrType.CONSTR_NOTNULL)) if on else kept


def apply(create: Any, table: str, cmd: Any, key: str | None = None) -> None:
    """Edit ``create`` as ``cmd`` alters the table; ``key``: DuckDB's name of the
    constraint DROP CONSTRAINT names, when the record of names knows it."""
    t = cmd.subtype
    if t == AlterTableType.AT_AddConstraint:
        c = cmd.def_
        if c.contype == ConstrType.CONSTR_FOREIGN and (
            c.fk_del_action not in ("a", "r", "\x00") or c.fk_upd_action not in ("a", "r", "\x00")
        ):
            raise FeatureNotSupported(
                "foreign keys with ON DELETE / ON UPDATE actions are not supported",
                hint="Use a foreign key without actions (NO ACTION), and delete the "
                "referencing rows first.",
            )
        if c.contype == ConstrType.CONSTR_PRIMARY:
            for k in c.keys or ():
                _not_null(_column(create, k.sval), True)
        create.tableElts = (*create.tableElts, c)
    elif t == AlterTableType.AT_DropConstraint:
        _drop_constraint(create, table, key, cmd)
    elif t in (AlterTableType.AT_SetNotNull, AlterTableType.AT_DropNotNull):
        _not_null(_column(create, cmd.name), t == AlterTableType.AT_SetNotNull)
    elif t == AlterTableType.AT_AlterColumnType:
        _column(create, cmd.name).typeName = cmd.def_.typeName
    elif t == AlterTableType.AT_DropColumn:
        _column(create, cmd.name)
        create.tableElts = tuple(
            e
            for e in create.tableElts
            if not (isinstance(e, ast.ColumnDef) and e.colname == cmd.name)
            and not (isinstance(e, ast.Constraint) and _mentions(e, cmd.name))
        )
    else:
        raise FeatureNotSupported(
            f"ALTER TABLE {t.name[3:]} is not supported",
            hint="Create a new table with the definition you want and copy the rows.",
        )


def _mentions(c: Any, column: str) -> bool:
    keys = {k.sval for k in (c.keys or ()) + (c.fk_attrs or ())}
    if c.raw_expr is not None:
        keys |= referenced(c.raw_expr)
    return column in keys


def _drop_constraint(create: Any, table: str, key: str | None, cmd: Any) -> None:
    for default, c, col in constraints(create):
        matched = duck_name(create, c, col.colname if col else None) == key if key else False
        if not matched and (key or default != cmd.name):
            continue
        if col is None:
            create.tableElts = tuple(e for e in create.tableElts if e is not c)
        else:
            col.constraints = tuple(x for x in col.constraints if x is not c)
        return
    if not cmd.missing_ok:
        raise UndefinedObject(f'constraint "{cmd.name}" of relation "{table}" does not exist')
