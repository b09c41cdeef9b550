"""Table DDL DuckDB lacks, made the way PostgreSQL makes it: SERIAL and identity columns."""

from __future__ import annotations

from pglast import ast
from pglast.enums import ConstrType

from hati.pg.translate import Translation
from hati.pg.translate.schema import const

_SERIAL = {
    "serial": "int4",
    "serial4": "int4",
    "bigserial": "int8",
    "serial8": "int8",
    "smallserial": "int2",
    "serial2": "int2",
}
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names


def serial_columns(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """``SERIAL`` and ``GENERATED ... AS IDENTITY`` columns, which DuckDB lacks, made as
    PostgreSQL makes them: an integer NOT NULL DEFAULT nextval('<table>_<col>_seq'), the
    sequence created just before the table. The sequence lives in ``main`` (also for a
    table created in a branch: its rows draw from the same sequence, so a merge brings
    no duplicate ids)."""
    if not isinstance(stmt, ast.CreateStmt):
        return stmt
    table = stmt.relation.relname
    for elt in stmt.tableElts or ():
        if not isinstance(elt, ast.ColumnDef) or elt.typeName is None:
            continue
        names = [n.sval for n in elt.typeName.names]
        serial = _SERIAL.get(names[-1]) if len(names) == 1 or names[0] == "pg_catalog" else None
        constraints = list(elt.constraints or ())
        identity = [c for c in constraints if c.contype == ConstrType.CONSTR_IDENTITY]
        if serial is None and not identity:
            continue
        seq = f"{table}_{elt.colname}_seq"[:MAX_IDENTIFIER]
        ctx.pre.append(f'CREATE SEQUENCE IF NOT EXISTS main."{seq.replace(chr(34), chr(34) * 2)}"')
        if serial is not None:
            elt.typeName = ast.TypeName(
                names=(ast.String(sval="pg_catalog"), ast.String(sval=serial))
            )
        qualified = 'main."' + seq.replace('"', '""') + '"'
        nextval = ast.FuncCall(funcname=(ast.String(sval="nextval"),), args=(const(qualified),))
        kept = [
            c
            for c in constraints
            if c.contype not in (ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_DEFAULT)
        ]
        elt.constraints = (
            ast.Constraint(contype=ConstrType.CONSTR_DEFAULT, raw_expr=nextval),
            ast.Constraint(contype=ConstrType.CONSTR_NOTNULL),
            *kept,
        )
    return stmt


# PostgreSQL types DuckDB knows under another name (or not in pg_catalog).


def storage_parameters(stmt: ast.Node) -> ast.Node:
    """``CREATE TABLE ... WITH (fillfactor = 100)`` (pgbench -i sends it): storage
    parameters tune PostgreSQL's heap and indexes, which DuckDB does not have; PostgreSQL's
    meaning (the same rows) does not depend on them, so they are left out."""
    if isinstance(stmt, ast.CreateStmt | ast.IndexStmt) and stmt.options:
        stmt.options = None
    elif isinstance(stmt, ast.CreateTableAsStmt) and stmt.into is not None and stmt.into.options:
        stmt.into.options = None
    return stmt
