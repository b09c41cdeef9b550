"""The default schema (public, DuckDB's main) and the constants hati answers itself."""

from __future__ import annotations

from pglast import ast
from pglast.enums import SQLValueFunctionOp as Op

from hati.pg import catalog
from hati.pg.analyze import DEFAULT_SCHEMAS, children
from hati.pg.colnames import column_name
from hati.pg.translate import Translation, func_call, replace_child, walk

# CURRENT_DATE, LOCALTIME ... as the DuckDB function of the same meaning: DuckDB binds
# the keyword to a result column of that name (``SELECT current_date`` is named
# current_date) and refuses the query.
_CLOCK = {
    Op.SVFOP_CURRENT_DATE: "current_date",
    Op.SVFOP_CURRENT_TIME: "get_current_time",
    Op.SVFOP_CURRENT_TIME_N: "get_current_time",
    Op.SVFOP_CURRENT_TIMESTAMP: "get_current_timestamp",
    Op.SVFOP_CURRENT_TIMESTAMP_N: "get_current_timestamp",
    Op.SVFOP_LOCALTIME: "current_localtime",
    Op.SVFOP_LOCALTIME_N: "current_localtime",
    Op.SVFOP_LOCALTIMESTAMP: "current_localtimestamp",
    Op.SVFOP_LOCALTIMESTAMP_N: "current_localtimestamp",
}
# CURRENT_USER and the like: the user the client connected as.
_USERS = (Op.SVFOP_CURRENT_ROLE, Op.SVFOP_CURRENT_USER, Op.SVFOP_USER, Op.SVFOP_SESSION_USER)


def default_schema(stmt: ast.Node) -> ast.Node:
    """``public`` (and DuckDB's ``main``) is the schema unqualified names resolve to. A
    relation keeps its qualifier here (where it lives is the session's: see
    pipeline.py); a column, function or type loses it."""
    if isinstance(stmt, ast.DropStmt) and stmt.objects:
        # DROP TABLE public.t: the name resolves where the session's tables live.
        stmt.objects = tuple(
            obj[1:]
            if isinstance(obj, tuple) and len(obj) == 2 and obj[0].sval in DEFAULT_SCHEMAS
            else obj
            for obj in stmt.objects
        )
    for node in walk(stmt):
        if isinstance(node, ast.ColumnRef) and len(node.fields) >= 3:
            first = node.fields[0]
            if isinstance(first, ast.String) and first.sval in DEFAULT_SCHEMAS:
                node.fields = node.fields[1:]
        elif isinstance(node, ast.FuncCall | ast.TypeName):
            names = node.funcname if isinstance(node, ast.FuncCall) else node.names
            if names and len(names) == 2 and names[0].sval in DEFAULT_SCHEMAS:
                if isinstance(node, ast.FuncCall):
                    node.funcname = names[1:]
                else:
                    node.names = names[1:]
    return stmt


def const(value: str) -> ast.A_Const:
    return ast.A_Const(val=ast.String(sval=value))


_SERVER_VERSION = "PostgreSQL 15.0 (hati) on DuckDB"


def constants(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Functions whose answer hati knows: ``version()``, ``current_schema()``,
    ``current_database()`` / ``current_catalog``."""
    for node in walk(stmt):
        for attr, child in children(node):
            new: ast.Node | None = None
            if isinstance(child, ast.FuncCall) and not child.args and len(child.funcname) <= 2:
                name = child.funcname[-1].sval
                if name == "version":
                    new = const(_SERVER_VERSION)
                elif name == "current_schema":
                    new = _current_schema()
                elif name == "current_database":
                    new = const(ctx.database)
            elif isinstance(child, ast.SQLValueFunction):
                new = _value_function(child, ctx)
            if isinstance(child, ast.FuncCall) and child.funcname[-1].sval == "current_schemas":
                schema_, name_ = catalog.CURRENT_SCHEMAS.split(".")
                child.funcname = (ast.String(sval=schema_), ast.String(sval=name_))
            if new is not None:
                replace_child(node, attr, child, new)
    return stmt


def _current_schema() -> ast.Node:
    """The first schema of the search path that exists (public for main and a branch)."""
    schema_, name_ = catalog.CURRENT_SCHEMAS.split(".")
    schemas = ast.FuncCall(
        funcname=(ast.String(sval=schema_), ast.String(sval=name_)),
        args=(ast.A_Const(val=ast.Boolean(boolval=False)),),
    )
    first = ast.A_Indices(uidx=ast.A_Const(val=ast.Integer(ival=1)))
    return ast.A_Indirection(arg=schemas, indirection=(first,))


def _value_function(node: ast.SQLValueFunction, ctx: Translation) -> ast.Node | None:
    op = column_name(node)
    if op == "current_schema":
        return _current_schema()
    if op == "current_catalog":
        return const(ctx.database)
    if node.op in _CLOCK:
        return func_call(_CLOCK[node.op], hidden=False)
    if node.op in _USERS:
        ctx.reads_settings = True
        return func_call("current_setting", const("session_authorization"), hidden=False)
    return None
