"""PL/pgSQL function bodies compiled to one SQL expression.

PostgreSQL's own PL/pgSQL grammar (``pglast.parser.parse_plpgsql_json``) reads the
body; its straight-line part is then executed symbolically: each variable stands for
the expression it holds at that point (declared defaults, ``:=`` assignments and
``SELECT ... INTO`` cast to the variable's type), ``IF`` / ``ELSIF`` / ``ELSE`` and
``CASE`` become ``CASE WHEN`` with the rest of the body in every branch, ``RETURN``
ends a path with its value, and ``RAISE EXCEPTION`` and falling off the end become
``error()`` calls that reach the client with PostgreSQL's SQLSTATE (P0001, 2F005, or
the ``ERRCODE`` given). The result is the ``SELECT expr`` a LANGUAGE sql function of
the same meaning would have, so the rest of ``translate/sqlfuncs.py`` applies.

What has no such expression — loops, ``EXCEPTION`` handlers, statements that write,
``PERFORM``, cursors, ``RETURN NEXT`` / ``QUERY`` — is refused with 0A000 when the
function is created. ``RAISE`` below ERROR (``NOTICE``, ``WARNING`` ...) sends nothing.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pglast import ast, parser
from pglast.enums import LimitOption, SubLinkType
from pglast.stream import RawStream

from hati.errors import FeatureNotSupported, SyntaxError_
from hati.pg import analyze

HINT = (
    "hati runs PL/pgSQL functions made of DECLARE, :=, SELECT ... INTO, IF, CASE, RAISE "
    "and RETURN; write loops and writes as SQL (a set-returning query, a recursive CTE)."
)
_ERROR_LEVEL = 21  # elog.h ERROR: RAISE EXCEPTION
_CONSTANTS = frozenset({"SCONST", "ICONST", "FCONST", "BCONST", "XCONST", "NULL_P", "TRUE_P",
                        "FALSE_P", "NEXT", "QUERY", "ASCII_59"})  # fmt: skip
Json = dict[str, Any]


def as_select(stmt: ast.CreateFunctionStmt, body: str) -> ast.SelectStmt:
    """``SELECT expr`` for the PL/pgSQL ``body`` of ``stmt`` (0A000 when it has none)."""
    source = _create_text(stmt, _parenthesize_returns(body))
    try:
        tree = json.loads(parser.parse_plpgsql_json(source))
    except parser.ParseError as exc:
        raise SyntaxError_(f"syntax error in function body: {exc}") from None
    function: Json = tree[0]["PLpgSQL_function"]
    names = stmt.returnType.names if stmt.returnType is not None else None
    returns_void = bool(names and names[-1].sval == "void")
    compiler = _Compiler(function["datums"], returns_void)
    value = compiler.run([function["action"]], compiler.initial())
    return ast.SelectStmt(targetList=(ast.ResTarget(val=value),))


def _create_text(stmt: ast.CreateFunctionStmt, body: str) -> str:
    """The CREATE FUNCTION statement again, with ``body`` and only what the parser needs."""
    language = [o for o in stmt.options or () if getattr(o, "defname", None) == "language"]
    options = (*language, ast.DefElem(defname="as", arg=(ast.String(sval=body),)))
    holder = ast.CreateFunctionStmt(
        funcname=stmt.funcname,
        parameters=stmt.parameters,
        returnType=stmt.returnType,
        options=options,
    )
    return str(RawStream()(holder))


def _parenthesize_returns(body: str) -> str:
    """``RETURN x;`` as ``RETURN (x);``: the parser keeps no trace of a returned variable."""
    try:
        tokens = parser.scan(body)
    except parser.ParseError:
        return body  # the parser reports it
    out, last = [], 0
    for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if a.name == "RETURN" and b.name not in _CONSTANTS and c.name == "ASCII_59":
            out += [body[last : b.start], "(", body[b.start : b.end + 1], ")"]
            last = b.end + 1
    return "".join(out) + body[last:]


def expression(text: str) -> ast.Node:
    """PL/pgSQL's expression ``text``: what ``SELECT text`` gives (with a FROM, a
    scalar subquery)."""
    try:
        parsed = parser.parse_sql(f"SELECT {text}")
    except parser.ParseError as exc:
        raise SyntaxError_(f"syntax error in function body: {exc}") from None
    select = parsed[0].stmt
    targets = select.targetList if isinstance(select, ast.SelectStmt) else None
    if not targets or len(targets) != 1:  # PostgreSQL says so when it runs
        return raise_error("42601", _const(f"query returned {len(targets or ())} columns"))
    others = ("fromClause", "whereClause", "groupClause", "havingClause", "sortClause",
              "limitCount", "limitOffset", "distinctClause", "windowClause")  # fmt: skip
    if any(getattr(select, a) for a in others):
        return ast.SubLink(subLinkType=SubLinkType.EXPR_SUBLINK, subselect=select)
    value: ast.Node = targets[0].val
    return value


def _query(text: str) -> ast.SelectStmt:
    try:
        parsed = parser.parse_sql(text)
    except parser.ParseError as exc:
        raise SyntaxError_(f"syntax error in function body: {exc}") from None
    select = parsed[0].stmt if len(parsed) == 1 else None
    if not isinstance(select, ast.SelectStmt):
        raise FeatureNotSupported(
            "PL/pgSQL statements that change data are not supported", hint=HINT
        )
    return select


def _type(typname: str) -> ast.TypeName | None:
    """The declared type of a variable (None: a type not cast to, such as record)."""
    if "%" in typname or typname in ("record", "anyelement", "anyarray"):
        return None
    cast = expression(f"NULL::{typname}")
    return cast.typeName if isinstance(cast, ast.TypeCast) else None


def _const(value: str) -> ast.A_Const:
    return ast.A_Const(val=ast.String(sval=value))


def _call(name: str, *args: ast.Node) -> ast.FuncCall:
    return ast.FuncCall(funcname=(ast.String(sval=name),), args=args)


def _concat(parts: list[ast.Node]) -> ast.Node:
    out = parts[0]
    for p in parts[1:]:
        out = ast.A_Expr(kind=0, name=(ast.String(sval="||"),), lexpr=out, rexpr=p)
    return out


def raise_error(sqlstate: str, message: ast.Node) -> ast.Node:
    """``error('HATI-<sqlstate>: ' || message)``: errors.py sends it with that SQLSTATE."""
    return _call("error", _concat([_const(f"HATI-{sqlstate}: "), message]))


class _Compiler:
    """Symbolic execution of one function body; ``env`` maps variables to expressions."""

    def __init__(self, datums: list[Json], returns_void: bool) -> None:
        self.names: list[str] = []
        self.types: list[ast.TypeName | None] = []
        self.defaults: list[str | None] = []
        self.params = 0
        for datum in datums:
            var = datum.get("PLpgSQL_var") or datum.get("PLpgSQL_row") or datum.get("PLpgSQL_rec")
            var = var or {}
            self.names.append(str(var.get("refname", "")).lower())
            typname = var.get("datatype", {}).get("PLpgSQL_type", {}).get("typname")
            self.types.append(_type(typname) if typname and self.names[-1] != "found" else None)
            default = var.get("default_val", {}).get("PLpgSQL_expr", {}).get("query")
            self.defaults.append(default)
            if "lineno" not in var and self.names[-1] != "found":
                self.params += 1
        declared = [n for i, n in enumerate(self.names) if i >= self.params + 1]
        if len(set(declared)) != len(declared):
            raise FeatureNotSupported(
                "PL/pgSQL variables declared twice (in nested blocks) are not supported",
                hint=HINT,
            )
        self.returns_void = returns_void

    def initial(self) -> dict[str, ast.Node]:
        env: dict[str, ast.Node] = {}
        for i in range(self.params + 1, len(self.names)):
            default = self.defaults[i]
            value = self.expr(default, env) if default else ast.A_Const(isnull=True)
            env[self.names[i]] = self._typed(i, value)
        return env

    def _typed(self, varno: int, value: ast.Node) -> ast.Node:
        tn = self.types[varno]
        return value if tn is None else ast.TypeCast(arg=value, typeName=copy.deepcopy(tn))

    def expr(self, text: str, env: dict[str, ast.Node]) -> ast.Node:
        return substitute(expression(text), env)

    # ------------------------------------------------------------------ statements
    def run(self, stmts: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        """The function's value after ``stmts`` run in ``env`` (and what follows: nothing)."""
        if not stmts:
            if self.returns_void:
                return _const("")  # void's text
            message = _const("control reached end of function without RETURN")
            return raise_error("2F005", message)
        ((kind, node),) = stmts[0].items()
        rest = stmts[1:]
        step = getattr(self, "_" + kind.removeprefix("PLpgSQL_stmt_"), None)
        if step is None or not kind.startswith("PLpgSQL_stmt_"):
            what = kind.removeprefix("PLpgSQL_stmt_").upper().replace("_", " ")
            raise FeatureNotSupported(f"PL/pgSQL statement {what} is not supported", hint=HINT)
        result: ast.Node = step(node, rest, env)
        return result

    def _block(self, node: Json, rest: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        if node.get("exceptions"):
            raise FeatureNotSupported("PL/pgSQL EXCEPTION handlers are not supported", hint=HINT)
        return self.run(list(node.get("body") or ()) + rest, env)

    def _return(self, node: Json, rest: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        query = node.get("expr", {}).get("PLpgSQL_expr", {}).get("query")
        if query is None:
            if not self.returns_void:
                raise SyntaxError_('missing expression at or near ";"')
            return _const("")  # void's text
        return self.expr(query, env)

    def _assign(self, node: Json, rest: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        varno = int(node.get("varno", 0))
        text = node["expr"]["PLpgSQL_expr"]["query"]
        value = self._assigned(varno, text)
        return self.run(rest, self._set(env, varno, substitute(value, env)))

    def _assigned(self, varno: int, text: str) -> ast.Node:
        """The value of ``target := value`` (only plain variables are targets)."""
        tokens = parser.scan(text)
        for t in tokens:
            if t.name in ("COLON_EQUALS", "ASCII_61"):
                target = text[: t.start].strip().strip('"').lower()
                if target != self.names[varno]:
                    raise FeatureNotSupported(
                        "PL/pgSQL assignment to an array element or a field is not supported",
                        hint=HINT,
                    )
                return expression(text[t.end + 1 :])
        raise SyntaxError_(f"syntax error in assignment {text!r}")

    def _set(self, env: dict[str, ast.Node], varno: int, value: ast.Node) -> dict[str, ast.Node]:
        out = dict(env)
        out[self.names[varno]] = self._typed(varno, value)
        return out

    def _if(self, node: Json, rest: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        arms = [(node["cond"], node.get("then_body") or [])]
        for e in node.get("elsif_list") or ():
            arm = e["PLpgSQL_if_elsif"]
            arms.append((arm["cond"], arm.get("stmts") or []))
        whens = tuple(
            ast.CaseWhen(
                expr=self.expr(cond["PLpgSQL_expr"]["query"], env),
                result=self.run(list(body) + rest, env),
            )
            for cond, body in arms
        )
        other = self.run(list(node.get("else_body") or []) + rest, env)
        return ast.CaseExpr(args=whens, defresult=other)

    def _case(self, node: Json, rest: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        if node.get("t_expr"):
            varno = int(node.get("t_varno", 0))
            env = self._set(env, varno, self.expr(node["t_expr"]["PLpgSQL_expr"]["query"], env))
        whens = tuple(
            ast.CaseWhen(
                expr=self.expr(w["PLpgSQL_case_when"]["expr"]["PLpgSQL_expr"]["query"], env),
                result=self.run(list(w["PLpgSQL_case_when"].get("stmts") or []) + rest, env),
            )
            for w in node.get("case_when_list") or ()
        )
        if node.get("have_else"):
            other = self.run(list(node.get("else_stmts") or []) + rest, env)
        else:
            other = raise_error("20000", _const("case not found"))
        return ast.CaseExpr(args=whens, defresult=other)

    def _execsql(self, node: Json, rest: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        if not node.get("into"):
            raise FeatureNotSupported(
                "PL/pgSQL statements that change data are not supported", hint=HINT
            )
        if node.get("strict"):
            raise FeatureNotSupported("SELECT ... INTO STRICT is not supported", hint=HINT)
        query = node["sqlstmt"]["PLpgSQL_expr"]["query"]
        target = node.get("target", {})
        fields = (target.get("PLpgSQL_row") or {}).get("fields")
        varnos = [int(f.get("varno", 0)) for f in fields] if fields else []
        if not varnos or any(self.types[v] is None and v > self.params for v in varnos):
            raise FeatureNotSupported(
                "SELECT ... INTO a record or row variable is not supported", hint=HINT
            )
        for i, varno in enumerate(varnos):
            select = substitute(_query(query), env)
            if not isinstance(select, ast.SelectStmt) or select.op not in (None, 0):
                raise FeatureNotSupported(
                    "SELECT ... INTO over UNION / INTERSECT / EXCEPT is not supported", hint=HINT
                )
            targets = select.targetList or ()
            if i >= len(targets):
                break
            select.targetList = (targets[i],)
            if select.limitCount is None:
                select.limitCount = ast.A_Const(val=ast.Integer(ival=1))
                select.limitOption = LimitOption.LIMIT_OPTION_COUNT
            env = self._set(
                env, varno, ast.SubLink(subLinkType=SubLinkType.EXPR_SUBLINK, subselect=select)
            )
        return self.run(rest, env)

    def _raise(self, node: Json, rest: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        if int(node.get("elog_level", _ERROR_LEVEL)) < _ERROR_LEVEL:
            return self.run(rest, env)  # NOTICE and lower send nothing here
        sqlstate, message = "P0001", None
        if node.get("condname"):
            raise FeatureNotSupported(
                "RAISE of a condition name is not supported",
                hint="Write RAISE EXCEPTION '...' USING ERRCODE = 'xxxxx'.",
            )
        if node.get("message") is not None:
            message = self._format(str(node["message"]), node.get("params") or [], env)
        for opt in node.get("options") or ():
            option = opt["PLpgSQL_raise_option"]
            value = option["expr"]["PLpgSQL_expr"]["query"]
            kind = int(option.get("opt_type", 0))
            if kind == 0:  # ERRCODE
                code = expression(value)
                if not (isinstance(code, ast.A_Const) and isinstance(code.val, ast.String)):
                    raise FeatureNotSupported("RAISE ... USING ERRCODE needs a constant", hint=HINT)
                sqlstate = str(code.val.sval)
            elif kind == 1:  # MESSAGE
                message = self.expr(value, env)
        if message is None:
            message = _const(sqlstate if sqlstate != "P0001" else "raise_exception")
        return raise_error(sqlstate, message)

    def _format(self, fmt: str, params: list[Json], env: dict[str, ast.Node]) -> ast.Node:
        """RAISE's ``%`` placeholders filled with the parameters' text (NULL as <NULL>)."""
        parts: list[ast.Node] = []
        values = [self.expr(p["PLpgSQL_expr"]["query"], env) for p in params]
        text, i = "", 0
        while i < len(fmt):
            if fmt.startswith("%%", i):
                text, i = text + "%", i + 2
                continue
            if fmt[i] == "%" and values:
                if text:
                    parts.append(_const(text))
                shown = ast.TypeCast(
                    arg=values.pop(0), typeName=ast.TypeName(names=(ast.String(sval="text"),))
                )
                parts.append(ast.CoalesceExpr(args=(shown, _const("<NULL>"))))
                text, i = "", i + 1
                continue
            text, i = text + fmt[i], i + 1
        if text or not parts:
            parts.append(_const(text))
        return _concat(parts)


def substitute(node: Any, env: dict[str, ast.Node]) -> Any:
    """``node`` with each variable of ``env`` replaced by (a copy of) its expression."""

    def swap(value: ast.Node) -> ast.Node | None:
        key = None
        if isinstance(value, ast.ParamRef):
            key = f"${value.number}"
        elif isinstance(value, ast.ColumnRef) and value.fields and len(value.fields) == 1:
            key = str(getattr(value.fields[0], "sval", "")).lower()
        return copy.deepcopy(env[key]) if key in env else None

    return analyze.replace_nodes(node, swap)
