"""``CREATE TYPE t AS (...)``, ``CREATE DOMAIN`` and ``DROP DOMAIN`` as DuckDB types
(``pg/composites.py``)."""

from __future__ import annotations

import copy

from pglast import ast
from pglast.enums import ObjectType

from hati.errors import FeatureNotSupported
from hati.pg import composites, domains, render
from hati.pg.translate import Translation
from hati.pg.translate import domains as domain_ddl
from hati.pg.translate.sqlfuncs import type_text


def _schema_name(names: list[str]) -> tuple[str | None, str]:
    schema = names[-2] if len(names) > 1 else None
    return ("main" if schema == "public" else schema), names[-1]


def _composite(stmt: ast.CompositeTypeStmt, ctx: Translation) -> None:
    rv = stmt.typevar
    schema, name = _schema_name([n for n in (rv.schemaname, rv.relname) if n])
    # a copy: the later rules rewrite the statement's own type names (char(10): varchar)
    fields = tuple(copy.deepcopy(c) for c in stmt.coldeflist or () if isinstance(c, ast.ColumnDef))
    parts = []
    for col in fields:
        kind = _field_type(col.typeName) if col.typeName is not None else None
        if kind is None:
            raise FeatureNotSupported(
                f'a field of type "{col.typeName.names[-1].sval}" is not supported',
                hint="Give each field of a composite type a concrete type.",
            )
        parts.append(f"{render.quote_name(col.colname or '')} {kind}")
    struct = "STRUCT(" + ", ".join(parts) + ")"
    ctx.steps = [composites.CreateComposite(schema, name, fields, struct)]


def _field_type(tn: ast.TypeName) -> str | None:
    """DuckDB's type of a field: char(n) as VARCHAR (DuckDB has no padded strings), a
    domain as its alias."""
    last = str(tn.names[-1].sval)
    bounds = "[]" * len(tn.arrayBounds or ())
    if last in ("bpchar", "char", "character") and len(tn.names) <= 2:
        return "VARCHAR" + bounds
    if last in domains.DOMAINS:
        return render.quote_name(last) + bounds
    return type_text(copy.deepcopy(tn))  # type_text rewrites the names it is given


def _domain(stmt: ast.CreateDomainStmt, ctx: Translation) -> None:
    schema, _ = _schema_name([n.sval for n in stmt.domainname])
    kind = _field_type(stmt.typeName)
    if kind is None:
        raise FeatureNotSupported(
            f'a domain over "{stmt.typeName.names[-1].sval}" is not supported'
        )
    ctx.steps = [domain_ddl.create(stmt, schema, kind)]


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
        dropped: list[object] = []
        for obj in stmt.objects or ():
            if isinstance(obj, ast.TypeName) and obj.names:
                name = str(obj.names[-1].sval)
                composites.FIELDS.pop(name, None)
                if name in domains.DOMAINS:
                    dropped.append(domains.DropDomain(name))
        if dropped:
            ctx.steps = [stmt, *dropped]
    return stmt
