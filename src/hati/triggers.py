"""Triggers fired around a write (``pg/triggerdefs.py`` keeps their definitions).

A table without triggers pays one dictionary lookup. A write to a table with
statement-level triggers only runs as it is, between its BEFORE and AFTER STATEMENT
triggers. With row-level triggers the write runs in three steps, all in one
transaction (a write outside a transaction block gets one of its own, so an error
anywhere rolls back the write, its triggers and what they wrote):

1. capture: one query gives every row the write touches as PostgreSQL's triggers see
   it: an INSERT's rows with their defaults and each value cast to its column's type,
   an UPDATE's old rows and new values, a DELETE's old rows;
2. BEFORE ROW triggers run for each row, in name order: they may change ``NEW`` or
   return NULL to skip the row;
3. apply: the rows are written by statements hati makes (an INSERT of the final rows,
   an UPDATE or DELETE of each row by its primary key, or by its whole value), through
   the session's pipeline, so main and a branch's copy-on-write take them like any
   write, and the AFTER ROW triggers run for each row written, as it was stored.

The trigger functions' statements run through the session too: they fire their own
tables' triggers, and in a branch they write the branch. Shapes the capture cannot
take (``ON CONFLICT DO UPDATE``, ``MERGE``, ``WHERE CURRENT OF``, ``SET (a, b) = ...``)
are refused with 0A000 when the table has row triggers.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast, parser
from pglast.enums import LimitOption, OnConflictAction
from pglast.stream import RawStream

from hati import transactions, triggerbody
from hati.errors import FeatureNotSupported, HatiError, StatementTooComplex, lookup
from hati.pg import plpgsql
from hati.pg.translate import walk
from hati.pg.triggerdefs import Defs, Trigger
from hati.results import Result, command
from hati.triggerbody import Event, Row

MAX_DEPTH = 32  # triggers firing triggers (PostgreSQL stops at its stack depth)
CHUNK = 200  # rows per INSERT hati makes
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("trigger_depth", default=0)
_HINT = "Write the statement as a plain INSERT, UPDATE or DELETE."


def around(session: Any, stmt: Any, work: Callable[[], Result]) -> Result:
    """Run the write ``stmt`` (``work`` runs it as it is) with its table's triggers."""
    a = stmt.analysis
    if not stmt.fire or not a.writes or a.kind not in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        return work()
    state = session.state
    defs: Defs = state.keys.triggers(session.cur, id(session), state.db.cursor)
    if not defs.tables:
        return work()
    t = a.writes[0]
    schema = "main" if t.schema in (None, "public", "main") else t.schema
    found = defs.tables.get((schema, t.name.lower()))
    if not found or not any(x.enabled for x in found):
        return work()
    if a.kind == "MERGE":
        raise FeatureNotSupported(
            f'MERGE into table "{t.name}", which has triggers, is not supported',
            hint="Write INSERT, UPDATE and DELETE statements.",
        )
    if not any(x.enabled and a.kind in x.events for x in found):
        return work()
    depth = _depth.get() + 1
    if depth > MAX_DEPTH:
        raise StatementTooComplex(
            "stack depth limit exceeded",
            hint="A trigger's writes fire triggers that write again, without end?",
        )
    token = _depth.set(depth)
    try:
        firing = _Firing(session, stmt, defs, found, schema, t.name)
        return _atomic(session, lambda: firing.run(work))
    finally:
        _depth.reset(token)


def _atomic(session: Any, run: Callable[[], Result]) -> Result:
    """``run`` in the session's transaction, or in one of its own."""
    if session.txn != "I":
        return run()
    transactions.begin(session, session.block)
    done = False
    try:
        res = run().buffer()
        session.end_transaction(commit=True)
        done = True
        return res
    finally:
        if not done:
            with contextlib.suppress(HatiError, duckdb.Error):
                session.end_transaction(commit=False)
        session.txn = "I"


@dataclass
class _Column:
    name: str
    type: str | None
    default: str | None
    generated: bool


def _type(udt: str, precision: Any, scale: Any, length: Any) -> str:
    array = udt.startswith("_")
    base = udt[1:] if array else udt
    if base == "numeric" and precision is not None:
        base = f"numeric({precision},{scale or 0})"
    elif base in ("varchar", "bpchar") and length:
        base = f"{base}({length})"
    return base + ("[]" if array else "")


def _name(name: str) -> ast.String:
    return ast.String(sval=name)


def _col(*names: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=tuple(_name(n) for n in names))


def _cast(value: Any, typename: str | None) -> ast.Node:
    if typename is None:
        return value
    cast = plpgsql.expression(f"NULL::{typename}")
    return ast.TypeCast(arg=value, typeName=getattr(cast, "typeName", None))


def _returned(node: Any) -> tuple[Any, ...]:
    """The expressions of a write's RETURNING (empty: none)."""
    clause = node.returningClause
    return tuple(clause.exprs or ()) if clause is not None else ()


def _text(node: ast.Node) -> str:
    return str(RawStream()(node))


class _Firing:
    """One write and the triggers it fires."""

    def __init__(
        self, session: Any, stmt: Any, defs: Defs, found: list[Trigger], schema: str, table: str
    ) -> None:
        self.session, self.stmt, self.defs, self.found = session, stmt, defs, found
        self.schema, self.table = schema, table
        self.event = stmt.analysis.kind
        self.notices: list[tuple[str, str]] = []
        self.params: list[Any] = list(stmt.params)
        tree = parser.parse_sql(stmt.text)[0].stmt
        self.node: Any = tree
        self.assigned: set[str] | None = None
        if isinstance(tree, ast.UpdateStmt):
            self.assigned = {str(t.name) for t in tree.targetList or () if t.name}

    # ------------------------------------------------------------------ firing
    def _triggers(self, timing: str, row: bool) -> list[Trigger]:
        return [t for t in self.found if t.fires(self.event, timing, row, self.assigned)]

    def _event(self, t: Trigger) -> Event:
        schema = "public" if t.schema == "main" else t.schema
        level = "ROW" if t.row else "STATEMENT"
        return Event(t.name, t.timing, level, self.event, self.table, schema, t.args)

    def _fire(self, t: Trigger, new: Row | None, old: Row | None) -> Row | None:
        source = self.defs.functions.get(t.function)
        if source is None:
            raise FeatureNotSupported(f"function {t.function}() does not exist")
        return triggerbody.call(
            self.session, source, self._event(t), new, old, self.types, self.notices
        )

    def _when(self, t: Trigger, new: Row | None, old: Row | None) -> bool:
        if t.when is None:
            return True
        return triggerbody.condition(self.session, t.when, new, old, self.types)

    def _statement_triggers(self, timing: str) -> None:
        for t in self._triggers(timing, False):
            if self._when(t, None, None):
                self._fire(t, None, None)

    def run(self, work: Callable[[], Result]) -> Result:
        self.types: dict[str, str | None] = {}
        rows_fire = self._triggers("BEFORE", True) or self._triggers("AFTER", True)
        self._statement_triggers("BEFORE")
        if not rows_fire:
            res = work().buffer()
        else:
            self._columns()
            res = self._rows()
        self._statement_triggers("AFTER")
        res.notices = [*self.notices, *res.notices]
        return res

    # ------------------------------------------------------------------ the table
    def _internal(self, sql: str, params: list[Any] | None = None, fire: bool = True) -> Result:
        return self.session.run_internal(sql, params, fire).buffer()

    def _columns(self) -> None:
        schema = "public" if self.schema == "main" else self.schema
        rows = self._internal(
            "SELECT column_name, udt_name, numeric_precision, numeric_scale, "
            "character_maximum_length, column_default, is_generated "
            "FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
            "ORDER BY ordinal_position",
            [schema, self.table],
        ).tuples()
        self.columns = [
            _Column(str(r[0]), _type(str(r[1]), r[2], r[3], r[4]), r[5], r[6] == "ALWAYS")
            for r in rows
        ]
        self.types = {c.name: c.type for c in self.columns}
        self.stored = [c for c in self.columns if not c.generated]
        keys = self._internal(
            "SELECT k.column_name FROM information_schema.table_constraints c "
            "JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name "
            "AND k.table_schema = c.table_schema AND k.table_name = c.table_name "
            "WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = $1 "
            "AND c.table_name = $2 ORDER BY k.ordinal_position",
            [schema, self.table],
        ).tuples()
        self.key = [str(k[0]) for k in keys]

    def _default(self, c: _Column) -> ast.Node:
        value = plpgsql.expression(c.default) if c.default else ast.A_Const(isnull=True)
        return _cast(value, c.type)

    def _carried(self, node: Any) -> list[Any]:
        """The client's parameters a write hati makes carries: those its RETURNING and
        ON CONFLICT clauses use (none when they use none: DuckDB refuses extra ones)."""
        parts = (node.returningClause, getattr(node, "onConflictClause", None))
        used = any(isinstance(n, ast.ParamRef) for p in parts if p is not None for n in walk(p))
        return list(self.stmt.params) if used else []

    def _param(self, value: Any) -> ast.ParamRef:
        self.params.append(value)
        return ast.ParamRef(number=len(self.params))

    # ------------------------------------------------------------------ rows
    def _rows(self) -> Result:
        node = self.node
        if isinstance(node, ast.InsertStmt):
            return self._insert(node)
        if isinstance(node, ast.UpdateStmt):
            return self._update(node)
        return self._delete(node)

    def _before(self, new: Row | None, old: Row | None) -> Row | None:
        """The row after the BEFORE ROW triggers (None: skipped)."""
        row = new if new is not None else old
        for t in self._triggers("BEFORE", True):
            if not self._when(t, new, old):
                continue
            got = self._fire(t, new, old)
            if got is None:
                return None
            row = got
            if new is not None:
                new = {c.name: got.get(c.name) for c in self.columns}
                row = new
        return row

    def _after(self, new: Row | None, old: Row | None) -> None:
        for t in self._triggers("AFTER", True):
            if self._when(t, new, old):
                self._fire(t, new, old)

    def _stored(self, res: Result, width: int) -> tuple[list[tuple[Any, ...]], list[Row]]:
        """A write's RETURNING rows: the client's part, and the stored rows."""
        names = [c.name for c in self.columns]
        client, stored = [], []
        for r in res.tuples():
            client.append(tuple(r[: len(r) - width]))
            stored.append(dict(zip(names, r[len(r) - width :], strict=True)))
        return client, stored

    def _returning(self, node: Any, ref: str) -> ast.ReturningClause:
        """The client's RETURNING, then the row as stored."""
        star = ast.ResTarget(val=ast.ColumnRef(fields=(_name(ref), ast.A_Star())))
        clause = node.returningClause
        return ast.ReturningClause(
            options=clause.options if clause else None, exprs=(*_returned(node), star)
        )

    def _result(self, tag: str, node: Any, results: list[Result], client: list[Any]) -> Result:
        n = len(client)  # every write hati makes returns the rows it wrote
        out = command(f"{tag} {n}")
        if _returned(node) and results:
            cols = results[0].columns or []
            out.columns = cols[: len(cols) - len(self.columns)]
            out.rows = client
        out.rowcount = n
        return out

    def _ref(self, rel: Any) -> str:
        return str(rel.alias.aliasname if rel.alias else rel.relname)

    # INSERT ----------------------------------------------------------
    def _insert(self, node: Any) -> Result:
        conflict = node.onConflictClause
        if conflict is not None and conflict.action == OnConflictAction.ONCONFLICT_UPDATE:
            raise FeatureNotSupported(
                f'INSERT ... ON CONFLICT DO UPDATE into table "{self.table}", which has row '
                "triggers, is not supported",
                hint="Write INSERT ... ON CONFLICT DO NOTHING, then UPDATE.",
            )
        captured = self._capture_insert(node)
        final = [row for new in captured if (row := self._before(new, None)) is not None]
        rel = node.relation
        ref = self._ref(rel)
        returning = self._returning(node, ref)
        results: list[Result] = []
        cols = tuple(ast.ResTarget(name=c.name) for c in self.stored)
        for start in range(0, max(len(final), 1), CHUNK):
            chunk = final[start : start + CHUNK]
            if not chunk and not _returned(node):
                break
            self.params = self._carried(node)
            if chunk:
                values = tuple(
                    tuple(self._param(r.get(c.name)) for c in self.stored) for r in chunk
                )
                source = ast.SelectStmt(valuesLists=values)
            else:
                nulls = tuple(ast.ResTarget(val=ast.A_Const(isnull=True)) for _ in self.stored)
                false = ast.A_Const(val=ast.Boolean(boolval=False))
                source = ast.SelectStmt(targetList=nulls, whereClause=false)
            apply = ast.InsertStmt(
                relation=rel,
                cols=cols,
                selectStmt=source,
                onConflictClause=conflict,
                returningClause=returning,
                override=node.override,
            )
            results.append(self._internal(_text(apply), self.params, fire=False))
        client: list[Any] = []
        for res in results:
            mine, stored = self._stored(res, len(self.columns))
            client += mine
            for row in stored:
                self._after(row, None)
        return self._result("INSERT 0", node, results, client)

    def _capture_insert(self, node: Any) -> list[Row]:
        """The rows an INSERT proposes, defaults filled in and cast to the columns' types."""
        by_name = {c.name: c for c in self.columns}
        source = node.selectStmt
        if node.cols:
            targets = [str(c.name) for c in node.cols]
        else:
            width = 0
            if isinstance(source, ast.SelectStmt) and source.valuesLists:
                width = len(source.valuesLists[0])
            elif source is not None:
                probe = ast.SelectStmt(
                    targetList=(ast.ResTarget(val=ast.ColumnRef(fields=(ast.A_Star(),))),),
                    fromClause=(
                        ast.RangeSubselect(subquery=source, alias=ast.Alias(aliasname="s")),
                    ),
                    limitCount=ast.A_Const(val=ast.Integer(ival=0)),
                    limitOption=LimitOption.LIMIT_OPTION_COUNT,
                    withClause=node.withClause,
                )
                width = len(self._internal(_text(probe), list(self.stmt.params)).columns or ())
            targets = [c.name for c in self.stored[:width]]
        for name in targets:
            if name not in by_name:
                raise lookup("42703")(f'column "{name}" of relation "{self.table}" does not exist')
        if isinstance(source, ast.SelectStmt) and source.valuesLists:
            source.valuesLists = tuple(
                tuple(
                    self._default(by_name[targets[i]])
                    if isinstance(v, ast.SetToDefault) and i < len(targets)
                    else v
                    for i, v in enumerate(row)
                )
                for row in source.valuesLists
            )
        out: list[ast.Node] = []
        for c in self.columns:
            if c.generated:
                out.append(ast.A_Const(isnull=True))
            elif c.name in targets:
                out.append(_cast(_col("s", f"c{targets.index(c.name)}"), c.type))
            else:
                out.append(self._default(c))
        items = tuple(
            ast.ResTarget(name=c.name, val=v) for c, v in zip(self.columns, out, strict=True)
        )
        if source is None:
            capture = ast.SelectStmt(targetList=items)
        else:
            alias = ast.Alias(
                aliasname="s", colnames=tuple(_name(f"c{i}") for i in range(len(targets)))
            )
            capture = ast.SelectStmt(
                targetList=items,
                fromClause=(ast.RangeSubselect(subquery=source, alias=alias),),
                withClause=node.withClause,
            )
        res = self._internal(_text(capture), list(self.stmt.params))
        names = [c.name for c in self.columns]
        return [dict(zip(names, r, strict=True)) for r in res.tuples()]

    # UPDATE / DELETE ----------------------------------------------------
    def _capture(self, node: Any, extra: tuple[ast.ResTarget, ...]) -> list[tuple[Any, ...]]:
        if isinstance(node.whereClause, ast.CurrentOfExpr):
            raise FeatureNotSupported(
                f'WHERE CURRENT OF on table "{self.table}", which has row triggers, is not '
                "supported",
                hint=_HINT,
            )
        others = node.fromClause if isinstance(node, ast.UpdateStmt) else node.usingClause
        if others and _returned(node):
            raise FeatureNotSupported(
                "RETURNING of a write that joins other tables is not supported on a table "
                "with row triggers",
                hint=_HINT,
            )
        ref = self._ref(node.relation)
        olds = tuple(ast.ResTarget(val=_col(ref, c.name)) for c in self.columns)
        capture = ast.SelectStmt(
            targetList=olds + extra,
            fromClause=(node.relation, *(others or ())),
            whereClause=node.whereClause,
            withClause=node.withClause,
        )
        return self._internal(_text(capture), list(self.stmt.params)).tuples()

    def _identity(self, ref: str, old: Row) -> ast.Node:
        """The condition that finds ``old`` (its key, or its whole value)."""
        cols = self.key or [c.name for c in self.stored]
        conds: list[ast.Node] = []
        for name in cols:
            value = old.get(name)
            op, kind = "=", 0 if self.key else 4  # =, IS NOT DISTINCT FROM
            conds.append(
                ast.A_Expr(
                    kind=kind, name=(_name(op),), lexpr=_col(ref, name), rexpr=self._param(value)
                )
            )
        if len(conds) == 1:
            return conds[0]
        return ast.BoolExpr(boolop=0, args=tuple(conds))

    def _rowwise(
        self, node: Any, pairs: list[tuple[Row, Row | None]], make: Callable[[Row, Row | None], Any]
    ) -> tuple[list[Result], list[Any], list[tuple[Row, Row | None]]]:
        """Apply each row; (results, client rows, (old, stored new) pairs for AFTER)."""
        results: list[Result] = []
        client: list[Any] = []
        written: list[tuple[Row, Row | None]] = []
        seen: dict[tuple[Any, ...], Row | None] = {}
        names = [c.name for c in self.columns]
        for old, new in pairs:
            ident = tuple(repr(old.get(k)) for k in (self.key or names))
            if ident in seen:
                if not self.key and seen[ident] != new:
                    raise FeatureNotSupported(
                        f'table "{self.table}" has no primary key and identical rows its '
                        "triggers treat differently",
                        hint="Give the table a primary key.",
                    )
                continue
            seen[ident] = new
            self.params = self._carried(node)
            res = self._internal(_text(make(old, new)), self.params, fire=False)
            results.append(res)
            mine, stored = self._stored(res, len(self.columns))
            client += mine
            for row in stored:
                written.append((old, row))
        return results, client, written

    def _update(self, node: Any) -> Result:
        by_name = {c.name: c for c in self.columns}
        extra = []
        for t in node.targetList or ():
            if (
                not isinstance(t, ast.ResTarget)
                or not t.name
                or t.indirection
                or isinstance(t.val, ast.MultiAssignRef)
            ):
                raise FeatureNotSupported(
                    f'this SET of table "{self.table}", which has row triggers, is not supported',
                    hint="Assign each column on its own: SET a = ..., b = ...",
                )
            c = by_name.get(str(t.name))
            if c is None:
                raise lookup("42703")(
                    f'column "{t.name}" of relation "{self.table}" does not exist'
                )
            value = (
                self._default(c) if isinstance(t.val, ast.SetToDefault) else _cast(t.val, c.type)
            )
            extra.append(ast.ResTarget(val=value))
        names = [c.name for c in self.columns]
        assigned = [str(t.name) for t in node.targetList or ()]
        pairs: list[tuple[Row, Row | None]] = []
        for r in self._capture(node, tuple(extra)):
            old = dict(zip(names, r[: len(names)], strict=True))
            new = dict(old)
            new.update(zip(assigned, r[len(names) :], strict=True))
            pairs.append((old, self._before(new, old)))
        pairs = [(o, n) for o, n in pairs if n is not None]
        rel = node.relation
        ref = self._ref(rel)
        returning = self._returning(node, ref)

        def make(old: Row, new: Row | None) -> ast.UpdateStmt:
            assert new is not None
            cols = [
                c.name
                for c in self.stored
                if c.name in assigned or new.get(c.name) != old.get(c.name)
            ]
            sets = tuple(ast.ResTarget(name=n, val=self._param(new.get(n))) for n in cols)
            return ast.UpdateStmt(
                relation=rel,
                targetList=sets,
                whereClause=self._identity(ref, old),
                returningClause=returning,
            )

        results, client, written = self._rowwise(node, pairs, make)
        for old, row in written:
            self._after(row, old)
        return self._result("UPDATE", node, results, client)

    def _delete(self, node: Any) -> Result:
        names = [c.name for c in self.columns]
        pairs: list[tuple[Row, Row | None]] = []
        for r in self._capture(node, ()):
            old = dict(zip(names, r, strict=True))
            if self._before(None, old) is not None:
                pairs.append((old, old))
        rel = node.relation
        ref = self._ref(rel)
        returning = self._returning(node, ref)

        def make(old: Row, new: Row | None) -> ast.DeleteStmt:
            return ast.DeleteStmt(
                relation=rel, whereClause=self._identity(ref, old), returningClause=returning
            )

        results, client, written = self._rowwise(node, pairs, make)
        for old, _row in written:
            self._after(None, old)
        return self._result("DELETE", node, results, client)
