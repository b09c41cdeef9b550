"""DO blocks: anonymous PL/pgSQL code, run statement by statement.

PostgreSQL's own PL/pgSQL grammar (``pglast.parser.parse_plpgsql_json``) reads the
block; this module walks its statements and runs each SQL statement through the
session's pipeline (so the guard, branches and the audit's view of the session apply
as to any statement), inside one transaction: the block commits or rolls back as a
whole, as in PostgreSQL. Variables are replaced by their current values, as typed
constants, before a statement runs; expressions are evaluated by the database
(``SELECT expr``).

Runs: DECLARE (with defaults, CONSTANT), ``:=``, SQL statements with or without
``INTO [STRICT]``, ``PERFORM``, ``EXECUTE`` of a text (``INTO``), ``IF``, ``CASE``,
``LOOP`` / ``WHILE`` / ``FOR i IN [REVERSE] a..b [BY s]`` / ``FOR r IN query``,
``EXIT`` / ``CONTINUE`` (labels too), ``RETURN``, ``RAISE`` (``EXCEPTION`` as an error
with its SQLSTATE; ``NOTICE``, ``INFO`` and ``WARNING`` sent as notices when the block
ends), ``ASSERT``, ``FOUND``, nested blocks
and ``EXCEPTION WHEN`` handlers (a savepoint around the protected part, ``SQLSTATE``
and ``SQLERRM`` in the handler). Statements beyond that are refused with 0A000.
A block that loops more than :data:`MAX_STEPS` times without end is stopped (54000).
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
from pglast import ast, parser
from pglast.enums import LimitOption
from pglast.stream import RawStream

from hati import pipeline, transactions
from hati.errors import (
    FeatureNotSupported,
    HatiError,
    ProgramLimitExceeded,
    SyntaxError_,
    as_hati_error,
    lookup,
)
from hati.pg import analyze, plpgsql, violations
from hati.results import Result, command

MAX_STEPS = 1_000_000
Json = dict[str, Any]
_ERROR_LEVEL = 21
_SEVERITIES = {17: "INFO", 18: "NOTICE", 19: "WARNING"}  # elog.h levels a client is sent
# condition names of EXCEPTION WHEN (PostgreSQL's plerrcodes.h, the ones clients use)
CONDITIONS = {
    "unique_violation": "23505", "foreign_key_violation": "23503",
    "not_null_violation": "23502", "check_violation": "23514",
    "integrity_constraint_violation": "23000", "division_by_zero": "22012",
    "numeric_value_out_of_range": "22003", "invalid_text_representation": "22P02",
    "data_exception": "22000", "undefined_table": "42P01", "undefined_column": "42703",
    "undefined_object": "42704", "undefined_function": "42883", "duplicate_table": "42P07",
    "duplicate_column": "42701", "duplicate_object": "42710", "duplicate_schema": "42P06",
    "duplicate_function": "42723", "invalid_parameter_value": "22023",
    "feature_not_supported": "0A000", "insufficient_privilege": "42501",
    "raise_exception": "P0001", "no_data_found": "P0002", "too_many_rows": "P0003",
    "assert_failure": "P0004", "syntax_error": "42601", "serialization_failure": "40001",
    "string_data_right_truncation": "22001", "invalid_datetime_format": "22007",
    "datetime_field_overflow": "22008", "wrong_object_type": "42809",
}  # fmt: skip


class Host(Protocol):
    """What the session offers a DO block."""

    txn: str
    branch: str | None
    frontend: Any
    cur: duckdb.DuckDBPyConnection

    @property
    def block(self) -> Any: ...  # transactions.Block: what a ROLLBACK TO replays

    def run_internal(self, sql: str, params: list[Any] | None = None) -> Result: ...

    def end_transaction(self, commit: bool) -> None: ...


def _nested(host: Host, sql: str) -> Result:
    """One statement of the block, in its transaction; recorded like a client's, so that
    a ROLLBACK TO SAVEPOINT (an EXCEPTION handler's) replays it."""
    stmt = pipeline.compile_one(host.frontend, sql)
    try:
        res = host.run_internal(sql).buffer()
    except duckdb.Error as exc:  # in PostgreSQL's words, naming the statement's table
        raise violations.named(host.cur, exc, stmt.relation) from exc
    if stmt.kind != "TRANSACTION":
        host.block.record(sql, [], stmt, host.branch)
    return res


class _Exit(Exception):
    def __init__(self, label: str | None, again: bool = False) -> None:
        self.label, self.again = label, again


class _Return(Exception):
    pass


@dataclass
class _Var:
    name: str
    typename: str | None  # None: a record, or untyped
    value: Any = None
    fields: dict[str, Any] | None = None  # a record's
    constant: bool = False


@dataclass
class _Block:
    """One DO block being run."""

    host: Host
    datums: list[Json]
    vars: dict[str, _Var] = field(default_factory=dict)
    steps: int = 0
    savepoints: int = 0
    notices: list[tuple[str, str]] = field(default_factory=list)  # RAISE below ERROR

    # ------------------------------------------------------------------ values
    def literal(self, value: Any, typename: str | None = None) -> ast.Node:
        """A value as a typed constant (NULL of the type for None)."""
        if value is None:
            const: ast.Node = ast.A_Const(isnull=True)
        elif isinstance(value, bool):
            const = ast.A_Const(val=ast.String(sval="true" if value else "false"))
            typename = typename or "boolean"
        else:
            const = ast.A_Const(val=ast.String(sval=_text(value)))
            typename = typename or _type_of(value)
        if typename is None:
            return const
        return ast.TypeCast(arg=const, typeName=_type_name(typename))

    def bind(self, node: Any) -> Any:
        """``node`` with every variable (and ``record.field``) replaced by its value."""

        def swap(value: ast.Node) -> ast.Node | None:
            if not isinstance(value, ast.ColumnRef) or not value.fields:
                return None
            names = [getattr(f, "sval", None) for f in value.fields]
            var = self.vars.get(str(names[0]).lower()) if names[0] else None
            if var is None:
                return None
            if len(names) == 1 and var.fields is None:
                return self.literal(var.value, var.typename)
            if len(names) == 2 and var.fields is not None and names[1] in var.fields:
                return self.literal(var.fields[str(names[1])])
            return None

        return analyze.replace_nodes(node, swap)

    def query(self, text: str, limit: int | None = None, discarded: bool = False) -> Result:
        """Run the statement ``text`` with the variables bound (a query without a LIMIT
        of its own read to ``limit`` rows; ``discarded``: its rows would go nowhere,
        which PostgreSQL refuses for a SELECT)."""
        try:
            stmts = parser.parse_sql(text)
        except parser.ParseError as exc:
            raise SyntaxError_(f"syntax error in DO block: {exc}") from None
        if discarded and len(stmts) == 1 and isinstance(stmts[0].stmt, ast.SelectStmt):
            raise SyntaxError_(
                "query has no destination for result data",
                hint="If you want to discard the results of a SELECT, use PERFORM instead.",
            )
        out = command("DO")
        for raw in stmts:
            node: Any = raw.stmt
            if isinstance(node, ast.SelectStmt | ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
                node = self.bind(node)
            if isinstance(node, ast.SelectStmt) and limit is not None and node.limitCount is None:
                node.limitCount = ast.A_Const(val=ast.Integer(ival=limit))
                node.limitOption = LimitOption.LIMIT_OPTION_COUNT
            out = _nested(self.host, str(RawStream()(node)))
        return out

    def value(self, text: str, typename: str | None = None) -> Any:
        """The value of the PL/pgSQL expression ``text`` (cast to ``typename``)."""
        expr = self.bind(plpgsql.expression(text))
        if typename is not None:
            expr = ast.TypeCast(arg=expr, typeName=_type_name(typename))
        res = _nested(
            self.host, str(RawStream()(ast.SelectStmt(targetList=(ast.ResTarget(val=expr),))))
        )
        rows = res.tuples()
        return rows[0][0] if rows else None

    def truth(self, cond: Json | None) -> bool:
        return cond is None or self.value(_q(cond)) is True

    def set_found(self, found: bool) -> None:
        self.vars["found"].value = found

    # ------------------------------------------------------------------ statements
    def run(self, stmts: list[Json]) -> None:
        for stmt in stmts:
            ((kind, node),) = stmt.items()
            self.tick()
            step = getattr(self, "_" + kind.removeprefix("PLpgSQL_stmt_"), None)
            if step is None:
                what = kind.removeprefix("PLpgSQL_stmt_").upper().replace("_", " ")
                raise FeatureNotSupported(f"PL/pgSQL statement {what} is not supported in DO")
            step(node)

    def tick(self) -> None:
        """One more statement or loop pass; a block may take :data:`MAX_STEPS`."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ProgramLimitExceeded(
                f"DO block ran more than {MAX_STEPS} statements",
                hint="A loop without end? Write the work as one SQL statement.",
            )

    def declare(self) -> None:
        for datum in self.datums:
            ((kind, d),) = datum.items()
            name = str(d.get("refname", "")).lower()
            if kind == "PLpgSQL_var":
                typename = d.get("datatype", {}).get("PLpgSQL_type", {}).get("typname")
                var = _Var(name, None if "%" in str(typename) else typename)
                self.vars[name] = var
                if d.get("default_val"):
                    var.value = self.value(_q(d["default_val"]), var.typename)
                var.constant = bool(d.get("isconst"))
            elif kind == "PLpgSQL_rec":
                self.vars[name] = _Var(name, None, fields={})

    def _var_at(self, varno: int) -> _Var:
        d = self.datums[varno]
        ((kind, body),) = d.items()
        if kind == "PLpgSQL_recfield":
            raise FeatureNotSupported("assignment to a record field is not supported in DO")
        return self.vars[str(body.get("refname", "")).lower()]

    def _assign_value(self, var: _Var, value: Any) -> None:
        if var.constant:
            raise lookup("22005")(f'variable "{var.name}" is declared CONSTANT')
        var.value = value

    def _block(self, node: Json) -> None:
        try:
            self._protected(node)
        except _Exit as exc:  # EXIT of a labelled block leaves it
            if exc.label is None or exc.label != node.get("label") or exc.again:
                raise

    def _protected(self, node: Json) -> None:
        handlers = (node.get("exceptions") or {}).get("PLpgSQL_exception_block")
        if not handlers:
            self.run(list(node.get("body") or ()))
            return
        self.savepoints += 1
        name = f"hati_do_{self.savepoints}"
        _nested(self.host, f"SAVEPOINT {name}")
        try:
            self.run(list(node.get("body") or ()))
            _nested(self.host, f"RELEASE SAVEPOINT {name}")
        except (_Exit, _Return):
            raise
        except Exception as exc:
            err = as_hati_error(exc)
            for h in handlers.get("exc_list") or ():
                handler = h["PLpgSQL_exception"]
                if _matches(err.sqlstate, handler.get("conditions") or ()):
                    _nested(self.host, f"ROLLBACK TO SAVEPOINT {name}")
                    self.vars["sqlstate"] = _Var("sqlstate", "text", err.sqlstate)
                    self.vars["sqlerrm"] = _Var("sqlerrm", "text", err.message)
                    self.run(list(handler.get("action") or ()))
                    return
            raise

    def _assign(self, node: Json) -> None:
        var = self._var_at(int(node.get("varno", 0)))
        text = _q(node["expr"])
        for t in parser.scan(text):
            if t.name in ("COLON_EQUALS", "ASCII_61"):
                self._assign_value(var, self.value(text[t.end + 1 :], var.typename))
                return
        raise SyntaxError_(f"syntax error in assignment {text!r}")

    def _execsql(self, node: Json) -> None:
        res = self.query(_q(node["sqlstmt"]), discarded=not node.get("into"))
        self._into(node, res)

    def _into(self, node: Json, res: Result) -> None:
        rows = res.tuples() if res.columns is not None else []
        if node.get("into"):
            if node.get("strict") and len(rows) != 1:
                code, what = ("P0002", "no rows") if not rows else ("P0003", "more than one row")
                raise lookup(code)(f"query returned {what}")
            target = node.get("target") or {}
            row = rows[0] if rows else None
            if "PLpgSQL_rec" in target:
                rec = self.vars[str(target["PLpgSQL_rec"]["refname"]).lower()]
                cols = [c[0] for c in res.columns or ()]
                rec.fields = dict(zip(cols, row, strict=True)) if row else {}
            else:
                fields = (target.get("PLpgSQL_row") or {}).get("fields") or ()
                for i, f in enumerate(fields):
                    var = self._var_at(int(f.get("varno", 0)))
                    self._assign_value(var, row[i] if row is not None and i < len(row) else None)
            self.set_found(bool(rows))
        else:
            self.set_found(bool(rows) or res.rowcount > 0)

    def _perform(self, node: Json) -> None:
        res = self.query(_q(node["expr"]))
        self.set_found(bool(res.tuples()))

    def _dynexecute(self, node: Json) -> None:
        if node.get("params"):
            raise FeatureNotSupported(
                "EXECUTE ... USING is not supported in DO", hint="Use format()."
            )
        text = self.value(_q(node["query"]))
        if text is None:
            raise lookup("22004")("query string argument of EXECUTE is null")
        self._into(node, _nested(self.host, str(text)))

    def _if(self, node: Json) -> None:
        if self.truth(node["cond"]):
            self.run(list(node.get("then_body") or ()))
            return
        for e in node.get("elsif_list") or ():
            arm = e["PLpgSQL_if_elsif"]
            if self.truth(arm["cond"]):
                self.run(list(arm.get("stmts") or ()))
                return
        self.run(list(node.get("else_body") or ()))

    def _case(self, node: Json) -> None:
        if node.get("t_expr"):
            var = self._var_at(int(node.get("t_varno", 0)))
            var.value = self.value(_q(node["t_expr"]))
            var.typename = var.typename or _type_of(var.value)
        for w in node.get("case_when_list") or ():
            arm = w["PLpgSQL_case_when"]
            if self.truth(arm["expr"]):
                self.run(list(arm.get("stmts") or ()))
                return
        if not node.get("have_else"):
            raise lookup("20000")("case not found")
        self.run(list(node.get("else_stmts") or ()))

    def _loop_body(self, node: Json) -> bool:
        """One pass of a loop's body; False when it EXITs."""
        self.tick()
        try:
            self.run(list(node.get("body") or ()))
        except _Exit as exc:
            if exc.label is not None and exc.label != node.get("label"):
                raise
            return exc.again
        return True

    def _loop(self, node: Json) -> None:
        while self._loop_body(node):
            pass

    def _while(self, node: Json) -> None:
        while self.truth(node["cond"]) and self._loop_body(node):
            pass

    def _fori(self, node: Json) -> None:
        var = self.vars[str(node["var"]["PLpgSQL_var"]["refname"]).lower()]
        lo, hi = self.value(_q(node["lower"]), "integer"), self.value(_q(node["upper"]), "integer")
        by = self.value(_q(node["step"]), "integer") if node.get("step") else 1
        if lo is None or hi is None or by is None or by <= 0:
            raise lookup("22004" if by is not None and by > 0 else "22023")(
                "lower bound of FOR loop cannot be null" if lo is None
                else "upper bound of FOR loop cannot be null" if hi is None
                else "BY value of FOR loop must be greater than zero"
            )  # fmt: skip
        reverse = bool(node.get("reverse"))
        i, ran = lo, False
        while (i >= hi) if reverse else (i <= hi):
            var.value, ran = i, True
            if not self._loop_body(node):
                break
            i = i - by if reverse else i + by
        self.set_found(ran)

    def _fors(self, node: Json) -> None:
        target = node["var"]
        # at most as many rows as the block may take steps: never all of a huge table
        res = self.query(_q(node["query"]), limit=MAX_STEPS + 1)
        cols = [c[0] for c in res.columns or ()]
        rows = res.tuples()
        for row in rows:
            if "PLpgSQL_rec" in target:
                self.vars[str(target["PLpgSQL_rec"]["refname"]).lower()].fields = dict(
                    zip(cols, row, strict=True)
                )
            else:
                fields = (target.get("PLpgSQL_row") or {}).get("fields") or ()
                for i, f in enumerate(fields):
                    self._var_at(int(f.get("varno", 0))).value = row[i] if i < len(row) else None
            if not self._loop_body(node):
                break
        self.set_found(bool(rows))

    def _exit(self, node: Json) -> None:
        if self.truth(node.get("cond")):
            raise _Exit(node.get("label"), again=not node.get("is_exit"))

    def _return(self, node: Json) -> None:
        raise _Return()

    def _raise(self, node: Json) -> None:
        level = int(node.get("elog_level", _ERROR_LEVEL))
        if level < _ERROR_LEVEL:
            severity = _SEVERITIES.get(level)
            if severity is not None:  # DEBUG and LOG go to the server log only
                params = [self.value(_q(p)) for p in node.get("params") or ()]
                text = _format(str(node.get("message") or ""), params)
                self.notices.append((severity, text))
            return
        sqlstate, message, hint, detail = "P0001", None, None, None
        if node.get("condname"):
            cond = str(node["condname"])
            sqlstate = CONDITIONS.get(cond, "P0001")
            message = cond
        if node.get("message") is not None:
            params = [self.value(_q(p)) for p in node.get("params") or ()]
            message = _format(str(node["message"]), params)
        for opt in node.get("options") or ():
            o = opt["PLpgSQL_raise_option"]
            value = self.value(_q(o["expr"]))
            kind = int(o.get("opt_type", 0))
            if kind == 0:
                sqlstate = CONDITIONS.get(str(value), str(value))
            elif kind == 1:
                message = str(value)
            elif kind == 2:
                detail = str(value)
            elif kind == 3:
                hint = str(value)
        if message is None:
            message = "raise_exception" if sqlstate == "P0001" else sqlstate
        raise lookup(sqlstate)(message, detail=detail, hint=hint)

    def _assert(self, node: Json) -> None:
        if self.value(_q(node["cond"])) is not True:
            message = self.value(_q(node["message"])) if node.get("message") else None
            raise lookup("P0004")(str(message) if message is not None else "assertion failed")


def _q(expr: Json) -> str:
    return str(expr["PLpgSQL_expr"]["query"])


def _matches(sqlstate: str, conditions: Any) -> bool:
    for c in conditions:
        cond = c["PLpgSQL_condition"]
        name = str(cond.get("condname", ""))
        code = CONDITIONS.get(name, cond.get("sqlerrstate"))
        if name == "others" and sqlstate not in ("57014",):  # OTHERS does not catch a cancel
            return True
        if isinstance(code, str) and (
            code == sqlstate or (code.endswith("000") and code[:2] == sqlstate[:2])
        ):
            return True
    return False


def _format(fmt: str, params: list[Any]) -> str:
    out, i = [], 0
    while i < len(fmt):
        if fmt.startswith("%%", i):
            out.append("%")
            i += 2
        elif fmt[i] == "%" and params:
            value = params.pop(0)
            out.append("<NULL>" if value is None else _text(value))
            i += 1
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _type_of(value: Any) -> str | None:
    """The type a value read back from DuckDB is written as."""
    for kind, name in (
        (bool, "boolean"), (int, "bigint"), (float, "double precision"),
        (decimal.Decimal, "numeric"), (datetime.datetime, "timestamp"),
        (datetime.date, "date"), (datetime.time, "time"), (str, "text"),
    ):  # fmt: skip
        if isinstance(value, kind):
            return name
    return None


def _type_name(typename: str) -> ast.TypeName:
    cast = plpgsql.expression(f"NULL::{typename}")
    if not isinstance(cast, ast.TypeCast) or cast.typeName is None:
        raise FeatureNotSupported(f'type "{typename}" is not supported in DO')
    return cast.typeName


def run(host: Host, node: ast.DoStmt) -> Result:
    """Run the DO block ``node`` (its transaction is the caller's)."""
    language = "plpgsql"
    for opt in node.args or ():
        if opt.defname == "language":
            language = str(opt.arg.sval).lower()
    if language != "plpgsql":
        raise FeatureNotSupported(f'language "{language}" is not supported', hint="Use plpgsql.")
    try:
        tree = json.loads(parser.parse_plpgsql_json(str(RawStream()(node))))
    except parser.ParseError as exc:
        raise SyntaxError_(str(exc)) from None
    function = tree[0]["PLpgSQL_function"]
    implicit = host.txn == "I"  # outside a transaction block: the DO is one
    if implicit:
        transactions.begin(host, host.block)  # type: ignore[arg-type]
    done = False
    try:
        block = _Block(host, function["datums"])
        block.declare()
        try:
            block.run([function["action"]])
        except _Return:
            pass
        except _Exit:
            raise SyntaxError_("EXIT cannot be used outside a loop") from None
        notices = block.notices
        if implicit:
            host.end_transaction(commit=True)
        done = True
    finally:
        if implicit:
            if not done:
                with contextlib.suppress(HatiError, duckdb.Error):
                    host.end_transaction(commit=False)
            host.txn = "I"
    done_result = command("DO")
    done_result.notices = notices
    return done_result
