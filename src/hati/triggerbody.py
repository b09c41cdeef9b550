"""A trigger function's body, run for one row (or one statement) of a write.

The body is PL/pgSQL, run statement by statement as a DO block is (``doblocks.py``):
each SQL statement through the session's pipeline, in the write's transaction. What a
trigger adds: the records ``NEW`` and ``OLD`` (their fields bound as constants of the
columns' types; ``NEW.col := expr`` assigns one, cast to the column's type), ``TG_OP``,
``TG_NAME``, ``TG_WHEN``, ``TG_LEVEL``, ``TG_TABLE_NAME``, ``TG_TABLE_SCHEMA``,
``TG_RELNAME``, ``TG_NARGS`` and ``TG_ARGV[i]``, and ``RETURN NEW / OLD / NULL``: the
row the write goes on with (None: a BEFORE trigger skips the row).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import duckdb
from pglast import ast, parser

from hati.doblocks import Json, _Block, _q, _Return
from hati.errors import FeatureNotSupported, SyntaxError_, lookup
from hati.pg import analyze, plpgsql
from hati.results import Result

Row = dict[str, Any]


class _Unrecorded:
    """A trigger's statements are not recorded for a savepoint's replay: the client's
    statement is, and replaying it fires its triggers again."""

    def record(self, *args: Any) -> None:
        pass


class Host:
    """What a trigger function's statements run in: the session of the write."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.block = _Unrecorded()

    @property
    def txn(self) -> str:
        return str(self._session.txn)

    @txn.setter
    def txn(self, value: str) -> None:
        self._session.txn = value

    @property
    def branch(self) -> str | None:
        return self._session.branch

    @property
    def frontend(self) -> Any:
        return self._session.frontend

    @property
    def cur(self) -> duckdb.DuckDBPyConnection:
        return self._session.cur

    def run_internal(self, sql: str, params: list[Any] | None = None) -> Result:
        return self._session.run_internal(sql, params)

    def end_transaction(self, commit: bool) -> None:
        raise AssertionError("a trigger runs inside its write's transaction")


class _Returned(_Return):
    def __init__(self, row: Row | None) -> None:
        super().__init__()
        self.row = row


@dataclass(frozen=True)
class Event:
    """What one firing of a trigger sees (besides NEW and OLD)."""

    name: str
    when: str  # BEFORE / AFTER
    level: str  # ROW / STATEMENT
    op: str  # INSERT / UPDATE / DELETE
    table: str
    schema: str  # as PostgreSQL names it (public)
    args: tuple[str, ...] = ()


@dataclass
class TriggerBlock(_Block):
    """One run of a trigger function."""

    types: dict[str, str | None] = field(default_factory=dict)  # column -> type
    args: tuple[str, ...] = ()

    def record_of(self, name: str) -> Row | None:
        var = self.vars.get(name)
        return var.fields if var is not None else None

    def bind(self, node: Any) -> Any:
        """Variables, ``NEW.col`` / ``OLD.col`` (typed as the column), ``TG_ARGV[i]``."""

        def swap(value: Any) -> ast.Node | None:
            if isinstance(value, ast.A_Indirection) and _names(value.arg) == ["tg_argv"]:
                indirection: Any = value.indirection
                index = indirection[0] if len(indirection or ()) == 1 else None
                i = getattr(getattr(getattr(index, "uidx", None), "val", None), "ival", None)
                if isinstance(index, ast.A_Indices) and not index.is_slice and i is not None:
                    arg = self.args[i] if 0 <= i < len(self.args) else None
                    return self.literal(arg, "text")
                return None
            names = _names(value) if isinstance(value, ast.ColumnRef) else None
            if not names or names[0] not in ("new", "old") or names[0] not in self.vars:
                return None
            rec = self.vars[names[0]].fields
            if len(names) == 1 or names[1] == "*":
                if rec is None:
                    return ast.A_Const(isnull=True)
                if names[-1] == "*":
                    return ast.RowExpr(
                        args=tuple(self.literal(v, self.types.get(k)) for k, v in rec.items())
                    )
                raise FeatureNotSupported(
                    f"the record {names[0].upper()} as a value is not supported",
                    hint=f"Name its fields: {names[0].upper()}.column.",
                )
            col = names[1]
            if rec is None:  # NEW of a DELETE, OLD of an INSERT: NULL
                return self.literal(None, self.types.get(col))
            if col not in rec:
                raise lookup("42703")(f'record "{names[0]}" has no field "{col}"')
            return self.literal(rec[col], self.types.get(col))

        return super().bind(analyze.replace_nodes(node, swap))

    def _assign(self, node: Json) -> None:
        datum = self.datums[int(node.get("varno", 0))]
        if "PLpgSQL_recfield" not in datum:
            super()._assign(node)
            return
        f = datum["PLpgSQL_recfield"]
        parent = self.datums[int(f.get("recparentno", 0))]
        name = str(parent.get("PLpgSQL_rec", {}).get("refname", "")).lower()
        rec = self.record_of(name)
        col = str(f["fieldname"])
        if rec is None:
            raise lookup("55000")(f'record "{name}" is not assigned yet')
        if col not in rec:
            raise lookup("42703")(f'record "{name}" has no field "{col}"')
        text = _q(node["expr"])
        for t in parser.scan(text):
            if t.name in ("COLON_EQUALS", "ASCII_61"):
                rec[col] = self.value(text[t.end + 1 :], self.types.get(col))
                return
        raise SyntaxError_(f"syntax error in assignment {text!r}")

    def _return(self, node: Json) -> None:
        if not node.get("expr"):
            raise _Returned(None)
        expr = plpgsql.expression(_q(node["expr"]))
        names = _names(expr) if isinstance(expr, ast.ColumnRef) else None
        if names and len(names) == 1 and names[0] in self.vars:
            rec = self.vars[names[0]].fields
            if rec is not None or self.vars[names[0]].typename is None:
                raise _Returned(dict(rec) if rec is not None else None)
        if isinstance(expr, ast.A_Const) and expr.isnull:
            raise _Returned(None)
        if self.value(_q(node["expr"])) is None:
            raise _Returned(None)
        raise lookup("42804")(
            "returned row structure does not match the structure of the triggering table"
        )


def _names(node: Any) -> list[str]:
    if not isinstance(node, ast.ColumnRef):
        return []
    return [str(f.sval).lower() if isinstance(f, ast.String) else "*" for f in node.fields or ()]


@lru_cache(maxsize=256)
def _parsed(source: str) -> str:
    return parser.parse_plpgsql_json(source)


def call(
    session: Any,
    source: str,
    event: Event,
    new: Row | None,
    old: Row | None,
    types: dict[str, str | None],
    notices: list[tuple[str, str]],
) -> Row | None:
    """Run the trigger function ``source`` once; the row it returns (None: NULL)."""
    function = json.loads(_parsed(source))[0]["PLpgSQL_function"]
    host: Any = Host(session)
    block = TriggerBlock(host, function["datums"], types=types, args=event.args)
    block.declare()
    values: dict[str, tuple[Any, str | None]] = {
        "tg_name": (event.name, "text"), "tg_when": (event.when, "text"),
        "tg_level": (event.level, "text"), "tg_op": (event.op, "text"),
        "tg_relname": (event.table, "text"), "tg_table_name": (event.table, "text"),
        "tg_table_schema": (event.schema, "text"), "tg_nargs": (len(event.args), "integer"),
    }  # fmt: skip
    for name, (value, typename) in values.items():
        if name in block.vars:
            block.vars[name].value, block.vars[name].typename = value, typename
    if "new" in block.vars:
        block.vars["new"].fields = dict(new) if new is not None else None
    if "old" in block.vars:
        block.vars["old"].fields = dict(old) if old is not None else None
    try:
        block.run([function["action"]])
    except _Returned as done:
        return done.row
    finally:
        notices.extend(block.notices)
    raise lookup("2F005")("control reached end of trigger procedure without RETURN")


def condition(
    session: Any,
    when: str,
    new: Row | None,
    old: Row | None,
    types: dict[str, str | None],
) -> bool:
    """The trigger's WHEN condition for this row."""
    host: Any = Host(session)
    block = TriggerBlock(host, [], types=types)
    block.vars["new"] = _record(new)
    block.vars["old"] = _record(old)
    return block.value(when) is True


def _record(row: Row | None) -> Any:
    from hati.doblocks import _Var

    return _Var("rec", None, fields=dict(row) if row is not None else None)
