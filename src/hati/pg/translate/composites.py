"""``CREATE TYPE t AS (...)``, ``CREATE DOMAIN`` and ``DROP DOMAIN`` as DuckDB types
(``pg/composites.py``)."""

from __future__ import annotations

from pglast import ast
from pglast.enums import ObjectType

from hati.errors import FeatureNotSupported
from hati.pg import composites, render
from hati.pg.translate import Translation
from hati.pg.translate.sqlfuncs import type_text


def _schema_name(names: list[str]) -> tuple[str | None, str]:
    schema = names[-2] if len(names) > 1 else None
    return ("main" if schema == "public" else schema), names[-1]


def _composite(stmt: ast.CompositeTypeStmt, ctx: Translation) -> None:
    rv = stmt.typevar
    schema, name = _schema_name([n for n in (rv.schemaname, rv.relname) if n])
    fields = tuple(c for c in stmt.coldeflist or () if isinstance(c, ast.ColumnDef))
    parts = []
    for col in fields:
        kind = type_text(col.typeName) if col.typeName is not None else None
        if kind is None:
            raise FeatureNotSupported(
                f'a field of type "{col.typeName.names[-1].sval}" is not supported',
                hint="Give each field of a composite type a concrete type.",
            )
        parts.append(f"{render.quote_name(col.colname or '')} {kind}")
    struct = "STRUCT(" + ", ".join(parts) + ")"
    ctx.steps = [composites.CreateComposite(schema, name, fields, struct)]


def _domain(stmt: ast.CreateDomainStmt, ctx: Translation) -> None:
    schema, name = _schema_name([n.sval for n in stmt.domainname])
    if stmt.constraints or stmt.collClause is not None:
        raise FeatureNotSupported(
            "domains with constraints are not supported",
            hint="Declare the column with the base type and a CHECK constraint.",
        )
    kind = type_text(stmt.typeName)
    if kind is None:
        raise FeatureNotSupported(
            f'a domain over "{stmt.typeName.names[-1].sval}" is not supported'
        )
    ctx.steps = [composites.CreateAlias(schema, name, kind)]


def types(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """CREATE TYPE ... AS (...), CREATE DOMAIN, DROP DOMAIN."""
    if isinstance(stmt, ast.CompositeTypeStmt):
        _composite(stmt, ctx)
    elif isinstance(stmt, ast.CreateDomainStmt):
        _domain(stmt, ctx)
    elif isinstance(stmt, ast.DropStmt) and stmt.removeType in (
        ObjectType.OBJECT_DOMAIN,
        ObjectType.OBJECT_TYPE,
    ):
        stmt.removeType = ObjectType.OBJECT_TYPE  # DuckDB's aliases are types
        for obj in stmt.objects or ():
            if isinstance(obj, ast.TypeName) and obj.names:
                composites.FIELDS.pop(str(obj.names[-1].sval), None)
    return stmt
