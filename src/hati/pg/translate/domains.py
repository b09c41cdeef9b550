"""Domains with constraints (``pg/domains.py``): ``CREATE DOMAIN``, casts to a domain
(``x::d`` answers ``pg_domain_d(x::d)``, which raises the constraint's error) and
columns of a domain (its constraints as CHECKs of the column, raising the domain's
errors)."""

from __future__ import annotations

import copy
from typing import Any

from pglast import ast
from pglast.enums import BoolTestType, ConstrType, NullTestType
from pglast.stream import RawStream

from hati.errors import FeatureNotSupported
from hati.pg import domains
from hati.pg.analyze import children
from hati.pg.translate import Translation, func_call, replace_child, translate, walk


def _value_as(expr: ast.Node, column: ast.Node) -> ast.Node:
    """The check expression with ``VALUE`` replaced by ``column``."""
    out = copy.deepcopy(expr)
    holder: Any = ast.SelectStmt(targetList=(ast.ResTarget(val=out),))
    for node in walk(holder):
        for attr, child in children(node):
            if (
                isinstance(child, ast.ColumnRef)
                and len(child.fields) == 1
                and isinstance(child.fields[0], ast.String)
                and str(child.fields[0].sval).lower() == "value"
            ):
                replace_child(node, attr, child, copy.deepcopy(column))
    return holder.targetList[0].val


def check_sql(expr: ast.Node) -> str:
    """A check over ``value`` in DuckDB's words."""
    from hati.pg import emulate

    holder: Any = ast.SelectStmt(targetList=(ast.ResTarget(val=copy.deepcopy(expr)),))
    holder = translate(holder, Translation())
    return emulate.text(holder.targetList[0].val)


def create(stmt: ast.CreateDomainStmt, schema: str | None, duck_type: str) -> domains.CreateDomain:
    if stmt.collClause is not None:
        raise FeatureNotSupported(
            "domains with a collation are not supported",
            hint="Declare the domain without COLLATE.",
        )
    domain = domains.of(stmt)
    sqls = [check_sql(e) for _, e in domain.checks]
    return domains.CreateDomain(
        schema, domain, duck_type, domains.macro_sql(domain, sqls), RawStream()(stmt)
    )


def _error_check(condition: ast.Node, message: str) -> ast.Constraint:
    """``CHECK (CASE WHEN condition THEN error(message) ELSE true END)``."""
    raised = func_call("error", ast.A_Const(val=ast.String(sval=message)), hidden=False)
    case = ast.CaseExpr(
        args=(ast.CaseWhen(expr=condition, result=raised),),
        defresult=ast.A_Const(val=ast.Boolean(boolval=True)),
    )
    return ast.Constraint(
        contype=ConstrType.CONSTR_CHECK, raw_expr=case, initially_valid=True, is_enforced=True
    )


def _column_checks(col: ast.ColumnDef) -> None:
    tn = col.typeName
    if tn is None or tn.arrayBounds:
        return
    domain = domains.DOMAINS.get(str(tn.names[-1].sval))
    if domain is None or not domain.constrained:
        return
    ref = ast.ColumnRef(fields=(ast.String(sval=col.colname or ""),))
    added: list[ast.Node] = []
    if domain.not_null:
        null = ast.NullTest(arg=copy.deepcopy(ref), nulltesttype=NullTestType.IS_NULL)
        added.append(
            _error_check(null, f"HATI-23502: domain {domain.name} does not allow null values")
        )
    for cname, expr in domain.checks:
        failed = ast.BooleanTest(arg=_value_as(expr, ref), booltesttype=BoolTestType.IS_FALSE)
        added.append(
            _error_check(
                failed,
                f'HATI-23514: value for domain {domain.name} violates check constraint "{cname}"',
            )
        )
    col.constraints = (*(col.constraints or ()), *added)
    if domain.default is not None and not any(
        isinstance(c, ast.Constraint) and c.contype == ConstrType.CONSTR_DEFAULT
        for c in col.constraints
    ):
        col.constraints = (
            *col.constraints,
            ast.Constraint(
                contype=ConstrType.CONSTR_DEFAULT, raw_expr=copy.deepcopy(domain.default)
            ),
        )


def columns(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Columns of a domain with constraints (CREATE TABLE, ALTER TABLE ADD COLUMN) get
    the domain's constraints."""
    if not domains.DOMAINS or not isinstance(stmt, ast.CreateStmt | ast.AlterTableStmt):
        return stmt
    for node in walk(stmt):
        if isinstance(node, ast.ColumnDef):
            _column_checks(node)
    return stmt


def casts(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """``x::d`` of a domain with constraints: ``pg_domain_d(x::d)``."""
    if not domains.DOMAINS or isinstance(stmt, ast.CreateDomainStmt):
        return stmt
    for node in walk(stmt):
        if isinstance(node, ast.FuncCall) and str(node.funcname[-1].sval).startswith("pg_domain_"):
            continue
        for attr, child in children(node):
            if not isinstance(child, ast.TypeCast) or child.typeName.arrayBounds:
                continue
            domain = domains.DOMAINS.get(str(child.typeName.names[-1].sval))
            if domain is None or not domain.constrained:
                continue
            replace_child(
                node, attr, child, func_call(domains.macro_name(domain.name), child, hidden=True)
            )
    return stmt
