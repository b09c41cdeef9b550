"""``CREATE FUNCTION ... LANGUAGE sql`` and ``DROP FUNCTION`` as DuckDB macros.

The body is parsed with PostgreSQL's grammar and translated like any statement;
``$1`` and the parameters' names become the macro's parameters, cast to their declared
types. A function of one ``SELECT expr`` is a scalar macro of that expression; a
query is a scalar subquery (PostgreSQL answers the first row); ``RETURNS SETOF`` /
``RETURNS TABLE`` make a table macro whose columns are named as PostgreSQL names
them. A plpgsql body is compiled to the one expression it computes
(``pg/plpgsql.py``). The steps that run the macro's DDL are in
``pg/sqlfunctions.py``.
"""

from __future__ import annotations

from typing import Any

from pglast import ast, parser
from pglast.enums import DropBehavior, FunctionParameterMode, ObjectType

from hati.errors import FeatureNotSupported, InvalidFunctionDefinition
from hati.pg import analyze, emulate, plpgsql, render, sqlfunctions, triggerdefs
from hati.pg.translate import Translation, translate

# Types a value is not cast to (polymorphic, or only a marker).
_UNCAST = frozenset(
    {"anyelement", "anyarray", "anynonarray", "anycompatible", "anycompatiblearray", "any",
     "record", "void", "anyenum", "anyrange", "cstring", "internal"}
)  # fmt: skip
_PLPGSQL_HINT = (
    "hati runs LANGUAGE sql functions (as DuckDB macros); write the plpgsql logic as a "
    "SQL expression or query."
)


def _option(stmt: ast.CreateFunctionStmt, name: str) -> Any:
    for opt in stmt.options or ():
        if isinstance(opt, ast.DefElem) and opt.defname == name:
            return opt.arg
    return None


def type_text(tn: ast.TypeName) -> str | None:
    """DuckDB's spelling of a declared type (None: not cast to)."""
    if tn.names[-1].sval in _UNCAST or tn.pct_type:
        return None
    holder: Any = ast.SelectStmt(
        targetList=(ast.ResTarget(val=ast.TypeCast(arg=ast.A_Const(isnull=True), typeName=tn)),)
    )
    holder = translate(holder, Translation())
    cast = holder.targetList[0].val
    if not isinstance(cast, ast.TypeCast):
        return None
    return emulate.text(cast.typeName)


def _body(stmt: ast.CreateFunctionStmt) -> ast.Node:
    """The one statement of the body (a ``RETURN expr`` as ``SELECT expr``)."""
    if isinstance(stmt.sql_body, ast.ReturnStmt):
        return ast.SelectStmt(targetList=(ast.ResTarget(val=stmt.sql_body.returnval),))
    if stmt.sql_body is not None:
        return _one_statement([s for part in stmt.sql_body for s in (part or ())])
    language = _option(stmt, "language")
    lang = str(language.sval).lower() if language is not None else "sql"
    parts = _option(stmt, "as") or ()
    text = str(parts[0].sval) if parts else ""
    if lang == "plpgsql":
        return plpgsql.as_select(stmt, text)
    if lang != "sql":
        raise FeatureNotSupported(
            f'language "{lang}" is not supported', hint="hati runs LANGUAGE sql functions."
        )
    try:
        stmts: list[Any] = [r.stmt for r in parser.parse_sql(text)]
    except parser.ParseError as exc:
        raise InvalidFunctionDefinition(f"syntax error in function body: {exc}") from None
    return _one_statement(stmts)


_ARGS = "_hati_args"


def _parameters(body: ast.Node, params: list[tuple[str, ast.TypeName]], hygienic: bool) -> None:
    """``$n`` and the parameters' names in the body as the macro's parameters.

    ``hygienic``: as columns of ``_hati_args``, a one-row subquery that casts the
    arguments (see :func:`_with_arguments`), not as the parameters themselves."""
    by_name = {name: tn for name, tn in params}

    def cast(name: str, tn: ast.TypeName) -> ast.Node:
        if hygienic:
            return ast.ColumnRef(fields=(ast.String(sval=_ARGS), ast.String(sval=name)))
        ref = ast.ColumnRef(fields=(ast.String(sval=name),))
        if tn.names[-1].sval in _UNCAST:
            return ref
        return ast.TypeCast(arg=ref, typeName=tn)

    def swap(value: ast.Node) -> ast.Node | None:
        if isinstance(value, ast.ParamRef) and 0 < (value.number or 0) <= len(params):
            return cast(*params[value.number - 1])
        if isinstance(value, ast.ColumnRef) and value.fields and len(value.fields) == 1:
            name = getattr(value.fields[0], "sval", None)
            if name in by_name:
                return cast(name, by_name[name])
        return None

    analyze.replace_nodes(body, swap)


def _has_subquery(body: ast.Node) -> bool:
    """Does the body read a table? (Then an argument naming a column of the caller's
    query must not be captured by a column of the same name inside the body.)"""
    todo = [body]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.RangeVar | ast.RangeFunction | ast.RangeSubselect):
            return True
        todo.extend(child for _, child in analyze.children(node))
    return False


def _with_arguments(body: ast.Node, params: list[tuple[str, ast.TypeName]]) -> ast.Node:
    """``SELECT f.* FROM (SELECT $1::t AS p1, ...) _hati_args, LATERAL (body) f``.

    DuckDB puts a macro's argument expressions into its body as they are written, so an
    argument ``id`` would bind to a column ``id`` of a table the body reads; evaluated
    once in a FROM item of their own, the arguments bind where the caller wrote them."""
    args = tuple(
        ast.ResTarget(
            name=name,
            val=ast.ColumnRef(fields=(ast.String(sval=name),))
            if tn.names[-1].sval in _UNCAST
            else ast.TypeCast(arg=ast.ColumnRef(fields=(ast.String(sval=name),)), typeName=tn),
        )
        for name, tn in params
    )
    arguments = ast.RangeSubselect(
        subquery=ast.SelectStmt(targetList=args), alias=ast.Alias(aliasname=_ARGS)
    )
    expr = _simple_expression(body)
    if expr is not None:
        return ast.SelectStmt(targetList=(ast.ResTarget(val=expr),), fromClause=(arguments,))
    inner = ast.RangeSubselect(lateral=True, subquery=body, alias=ast.Alias(aliasname="_hati_f"))
    star = ast.ColumnRef(fields=(ast.String(sval="_hati_f"), ast.A_Star()))
    return ast.SelectStmt(targetList=(ast.ResTarget(val=star),), fromClause=(arguments, inner))


def _simple_expression(body: ast.Node) -> ast.Node | None:
    """The expression of ``SELECT expr`` (no FROM, WHERE, ...), or None."""
    if not isinstance(body, ast.SelectStmt) or body.valuesLists or body.op not in (None, 0):
        return None
    if len(body.targetList or ()) != 1:
        return None
    others = ("fromClause", "whereClause", "groupClause", "havingClause", "sortClause",
              "limitCount", "limitOffset", "distinctClause", "withClause", "windowClause")  # fmt: skip
    if any(getattr(body, a) for a in others):
        return None
    val: ast.Node = body.targetList[0].val
    return val


def _create(stmt: ast.CreateFunctionStmt, ctx: Translation) -> None:
    names = [n.sval for n in stmt.funcname]
    name = str(names[-1])
    schema = str(names[-2]) if len(names) > 1 else None
    if schema in ("public", "pg_catalog"):
        schema = "main" if schema == "public" else None
    if stmt.is_procedure:
        raise FeatureNotSupported("procedures are not supported", hint=_PLPGSQL_HINT)
    ret = stmt.returnType
    if ret is not None and ret.names[-1].sval == "trigger":
        parts = _option(stmt, "as") or ()
        source = triggerdefs.check_function(stmt, str(parts[0].sval) if parts else "")
        ctx.steps = [triggerdefs.CreateFunction(name, source, bool(stmt.replace))]
        return
    params: list[tuple[str, ast.TypeName]] = []
    columns: list[tuple[str, ast.TypeName]] = []
    for i, p in enumerate(stmt.parameters or ()):
        if p.mode == FunctionParameterMode.FUNC_PARAM_TABLE:
            columns.append((str(p.name), p.argType))
        elif p.mode in (FunctionParameterMode.FUNC_PARAM_OUT, FunctionParameterMode.FUNC_PARAM_INOUT,
                        FunctionParameterMode.FUNC_PARAM_VARIADIC):  # fmt: skip
            raise FeatureNotSupported(
                "OUT, INOUT and VARIADIC parameters are not supported",
                hint="Return a value (or RETURNS TABLE) instead.",
            )
        else:
            params.append((str(p.name) if p.name else f"${i + 1}", p.argType))
    body = _body(stmt)
    table = bool(ret is not None and ret.setof)
    hygienic = bool(params) and not table and _has_subquery(body)
    _parameters(body, params, hygienic)
    if hygienic:
        body = _with_arguments(body, params)
    inner = Translation(database=ctx.database, function_body=True)
    body = translate(body, inner)
    if inner.pre or inner.steps:
        raise FeatureNotSupported(
            "this function body is not supported", hint="Write the function as one query."
        )
    arglist = "(" + ", ".join(render.quote_name(n) for n, _ in params) + ")"
    if table:
        query = emulate.text(body)
        if columns:
            cols = [render.quote_name(c) for c, _ in columns]
        elif type_text(ret) is not None and ret.names[-1].sval != "record":
            cols = [render.quote_name(name)]
        else:
            cols = []
        alias = f" AS _hati_f({', '.join(cols)})" if cols else " AS _hati_f"
        sql = f"{arglist} AS TABLE SELECT * FROM ({query}){alias}"
    else:
        expr = _simple_expression(body)
        value = (
            emulate.text(expr)
            if expr is not None
            else f"(SELECT * FROM ({emulate.text(body)}) AS _hati_f LIMIT 1)"
        )
        kind = type_text(ret) if ret is not None else None
        sql = f"{arglist} AS CAST(({value}) AS {kind})" if kind else f"{arglist} AS ({value})"
    args = ", ".join(str(tn.names[-1].sval) for _, tn in params)
    ctx.steps = [sqlfunctions.CreateMacro(schema, name, sql, table, bool(stmt.replace), args)]


def _drop(stmt: ast.DropStmt, ctx: Translation) -> None:
    steps: list[object] = []
    for obj in stmt.objects or ():
        names = [n.sval for n in obj.objname]
        schema = str(names[-2]) if len(names) > 1 else None
        if schema == "public":
            schema = "main"
        args = None
        if not obj.args_unspecified:
            args = ", ".join(_arg_name(a) for a in obj.objargs or ())
        cascade = stmt.behavior == DropBehavior.DROP_CASCADE
        steps.append(
            sqlfunctions.DropMacro(schema, str(names[-1]), args, bool(stmt.missing_ok), cascade)
        )
    ctx.steps = steps


_ARG_NAMES = {"int4": "integer", "int8": "bigint", "int2": "smallint", "float8": "double precision",
              "float4": "real", "bool": "boolean", "varchar": "character varying"}  # fmt: skip


def _arg_name(tn: ast.TypeName) -> str:
    name = str(tn.names[-1].sval)
    return _ARG_NAMES.get(name, name) + ("[]" if tn.arrayBounds else "")


def functions(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """CREATE FUNCTION / DROP FUNCTION as the steps that make or drop a macro."""
    if isinstance(stmt, ast.CreateFunctionStmt):
        _create(stmt, ctx)
    elif isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_FUNCTION:
        _drop(stmt, ctx)
    elif isinstance(stmt, ast.CreateTrigStmt):
        ctx.steps = [triggerdefs.define(stmt)]
    elif isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_TRIGGER:
        ctx.steps = triggerdefs.drop(stmt)
    return stmt


def _one_statement(stmts: list[Any]) -> ast.Node:
    """The function body's one statement (0A000 for a body of several)."""
    if len(stmts) != 1:
        raise FeatureNotSupported(
            "functions of several statements are not supported",
            hint="Write the function as one query.",
        )
    body: ast.Node = stmts[0]
    return body
