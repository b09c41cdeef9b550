"""Domains (``CREATE DOMAIN d AS int NOT NULL CHECK (VALUE > 0)``).

DuckDB keeps a domain as a type alias of its base type (``CREATE TYPE d AS INTEGER``)
and its constraints as a macro in the hidden schema, ``pg_domain_<d>(value)``, which
answers the value or raises PostgreSQL's error: 23502 ``domain d does not allow null
values``, 23514 ``value for domain d violates check constraint "d_check"``. A cast to the
domain calls the macro; a column of the domain gets the constraints as CHECKs of its own
(``translate/domains.py``). The definitions are kept in ``DOMAINS`` (what the
translation needs when it translates) and in the hidden table ``domains`` (its
``CREATE DOMAIN`` text, read again at start).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast, parser

from hati.pg import catalog, render
from hati.pg.emulate import Emulated, Printer

S = catalog.HIDDEN
SETUP_SQL = (
    f"CREATE TABLE IF NOT EXISTS {S}.domains (schema_name VARCHAR, name VARCHAR, "
    "definition VARCHAR)"
)


@dataclass(frozen=True)
class Domain:
    name: str
    base: ast.TypeName
    not_null: bool
    checks: tuple[tuple[str, ast.Node], ...]  # (constraint name, PostgreSQL expression)
    default: ast.Node | None = None

    @property
    def constrained(self) -> bool:
        return self.not_null or bool(self.checks)


# domain name -> its definition
DOMAINS: dict[str, Domain] = {}


def macro_name(name: str) -> str:
    return "pg_domain_" + "".join(c if c.isalnum() else "_" for c in name)


def of(stmt: ast.CreateDomainStmt) -> Domain:
    """The definition of ``CREATE DOMAIN`` (unnamed checks named as PostgreSQL does)."""
    name = str((stmt.domainname or ())[-1].sval)
    not_null = False
    default = None
    checks: list[tuple[str, ast.Node]] = []
    taken: set[str] = set()
    for c in stmt.constraints or ():
        if not isinstance(c, ast.Constraint):
            continue
        kind = getattr(c.contype, "name", str(c.contype))
        if kind == "CONSTR_NOTNULL":
            not_null = True
        elif kind == "CONSTR_NULL":
            not_null = False
        elif kind == "CONSTR_DEFAULT":
            default = c.raw_expr
        elif kind == "CONSTR_CHECK":
            cname = c.conname
            if not cname:
                cname, n = f"{name}_check", 0
                while cname in taken:
                    n += 1
                    cname = f"{name}_check{n}"
            taken.add(cname)
            if c.raw_expr is not None:
                checks.append((cname, c.raw_expr))
    base = stmt.typeName or ast.TypeName(names=(ast.String(sval="text"),))
    return Domain(name, base, not_null, tuple(checks), default)


def macro_sql(domain: Domain, checks_sql: list[str]) -> str:
    """The macro that answers a value of the domain or raises its constraint's error
    (``checks_sql``: each check in DuckDB's words, over ``value``)."""
    name = domain.name.replace("'", "''")
    cases = []
    if domain.not_null:
        cases.append(
            f"WHEN value IS NULL THEN error('HATI-23502: domain {name} does not allow null values')"
        )
    for (cname, _), sql in zip(domain.checks, checks_sql, strict=True):
        quoted = cname.replace("'", "''")
        cases.append(
            f"WHEN ({sql}) IS FALSE THEN error('HATI-23514: value for domain {name} violates "
            f'check constraint "{quoted}"\')'
        )
    body = f"CASE {' '.join(cases)} ELSE value END" if cases else "value"
    return f"CREATE OR REPLACE MACRO {S}.{macro_name(domain.name)}(value) AS {body}"


@dataclass
class CreateDomain(Emulated):
    """CREATE DOMAIN as a type alias, the constraints' macro and the kept definition."""

    schema: str | None
    domain: Domain
    duck_type: str
    macro: str
    definition: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        target = render.quote_name(self.domain.name)
        if self.schema:
            target = render.quote_name(self.schema) + "." + target
        cur.execute(f"CREATE TYPE {target} AS {self.duck_type}")
        cur.execute(self.macro)
        cur.execute(
            f"INSERT INTO {S}.domains VALUES ($1, $2, $3)",
            [self.schema or "main", self.domain.name, self.definition],
        )
        DOMAINS[self.domain.name] = self.domain


@dataclass
class DropDomain(Emulated):
    """DROP DOMAIN / DROP TYPE of a domain: its definition and macro go with it."""

    name: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        cur.execute(f"DELETE FROM {S}.domains WHERE name = $1", [self.name])
        cur.execute(f"DROP MACRO IF EXISTS {S}.{macro_name(self.name)}")
        DOMAINS.pop(self.name, None)


def load(cur: duckdb.DuckDBPyConnection) -> None:
    """The domains clients made before (at start)."""
    for (definition,) in cur.execute(f"SELECT definition FROM {S}.domains").fetchall():
        try:
            stmt: Any = parser.parse_sql(str(definition))[0].stmt
        except parser.ParseError:
            continue
        if isinstance(stmt, ast.CreateDomainStmt):
            d = of(stmt)
            DOMAINS[d.name] = d
