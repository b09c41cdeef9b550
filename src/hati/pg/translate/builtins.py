"""PostgreSQL built-in functions DuckDB has under the same name with another meaning at
the edges, given PostgreSQL's (string functions: ``strings.py``).

- ``date_trunc(unit, d)`` of a date d is a timestamp with time zone (DuckDB: a timestamp).
- ``date_trunc('century' | 'millennium' | 'decade', x)``: PostgreSQL's centuries start in
  year 1 of the century (1901, 2001), DuckDB's in year 0 (1900); before year 1 (BC) the
  decades and centuries count down from 1 BC, as PostgreSQL's timestamp_trunc does.
- ``concat`` / ``concat_ws``: arguments as their text output (a boolean is ``t`` / ``f``,
  DuckDB writes ``true``).
- ``percentile_cont(f) WITHIN GROUP (ORDER BY x)`` reads x as a double (or an interval),
  as PostgreSQL's does: a real's answer is a double.
- ``string_agg(x, NULL)`` joins the values with nothing between them (DuckDB: NULL).
- ``array_agg(DISTINCT x)`` / ``string_agg(DISTINCT x, d)`` without ORDER BY: PostgreSQL
  sorts to remove duplicates, so the values come out in order; DuckDB hashes them.
"""

from __future__ import annotations

import copy

from pglast import ast

from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.translate import NeedsLiteral, Translation, walk
from hati.pg.translate.exprs import _is_date
from hati.wire import numerics

S = catalog_views.HIDDEN


def _widened(to: str) -> str:
    ints = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
    return ", ".join([*(f"(x {t}) AS x::{to}" for t in ints), "(x) AS x"])


SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_out_text(x) AS
    CASE WHEN typeof(x) = 'BOOLEAN' THEN CASE WHEN x::BOOLEAN THEN 't' ELSE 'f' END
         ELSE x::VARCHAR END;
-- date_trunc of a date is a timestamp with time zone (DuckDB's: a timestamp)
CREATE OR REPLACE MACRO {S}.pg_trunc_result(x DATE, r) AS r::TIMESTAMPTZ, (x, r) AS r;
CREATE OR REPLACE MACRO {S}.pg_float8_or_interval(x DOUBLE) AS x, (x INTERVAL) AS x;
-- an integer met by a numeric / a double (lag's default): the common type, else as it is
CREATE OR REPLACE MACRO {S}.pg_int_as_numeric{_widened("DECIMAL({}, {})".format(*numerics.BARE))};
CREATE OR REPLACE MACRO {S}.pg_int_as_float8{_widened("DOUBLE")};
CREATE OR REPLACE MACRO {S}.pg_int_as_float4{_widened("FLOAT")};
CREATE OR REPLACE MACRO {S}.pg_trunc_centuries(x, years) AS
    CASE WHEN NOT isfinite(x) THEN date_trunc('year', x)
         WHEN year(x) > 0 THEN date_trunc('year', x) - to_years(((year(x) - 1) % years)::INTEGER)
         ELSE date_trunc('year', x)
              + to_years((-((years - year(x)) // years) * years + 1 - year(x))::INTEGER) END;
-- timestamp_trunc's decade: year 0 (1 BC) and the years before count down from it
CREATE OR REPLACE MACRO {S}.pg_trunc_decade(x) AS
    CASE WHEN NOT isfinite(x) THEN date_trunc('year', x)
         WHEN year(x) > 0 THEN date_trunc('decade', x)
         ELSE date_trunc('year', x)
              + to_years((-((9 - year(x)) // 10) * 10 - year(x))::INTEGER) END;
"""


def _hidden(name: str, args: tuple[ast.Node, ...]) -> ast.FuncCall:
    return ast.FuncCall(funcname=(ast.String(sval=S), ast.String(sval=name)), args=args)


def _string_const(node: ast.Node, ctx: Translation) -> str | None:
    """A string constant's value (NeedsLiteral for a lifted literal's marker)."""
    if isinstance(node, ast.ParamRef) and ctx.params is not None and node.number > ctx.params:
        raise NeedsLiteral
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return str(node.val.sval)
    return None


def _rewrite(node: ast.FuncCall, ctx: Translation) -> ast.Node | None:
    name = node.funcname[-1].sval
    if len(node.funcname) == 2 and node.funcname[0].sval != "pg_catalog":
        return None
    args = tuple(node.args or ())
    if node.over is not None or node.agg_star:
        return None
    if name == "date_trunc" and len(args) == 2:
        field = (_string_const(args[0], ctx) or "").lower()
        years = {"century": 100, "centuries": 100, "millennium": 1000, "millennia": 1000}
        if field in years or field in ("decade", "decades"):
            if field in years:
                n = ast.A_Const(val=ast.Integer(ival=years[field]))
                call = _hidden("pg_trunc_centuries", (args[1], n))
            else:
                call = _hidden("pg_trunc_decade", (args[1],))
            if not _is_date(args[1]):
                return _hidden("pg_trunc_result", (copy.deepcopy(args[1]), call))
            # a date's truncation is a timestamp with time zone
            tz = ast.TypeName(names=(ast.String(sval="pg_catalog"), ast.String(sval="timestamptz")))
            return ast.TypeCast(arg=call, typeName=tz)
        if _is_date(args[1]) or isinstance(args[1], ast.A_Const | ast.ParamRef):
            return None  # a date literal's: translate/exprs.py
        truncated = _hidden("pg_date_trunc", args)
        return _hidden("pg_trunc_result", (copy.deepcopy(args[1]), truncated))
    if name in ("concat", "concat_ws") and args:
        first = 1 if name == "concat_ws" else 0
        node.args = (*args[:first], *(_hidden("pg_out_text", (a,)) for a in args[first:]))
        return None
    _aggregate(name, node, args)
    return None


def _aggregate(name: str, node: ast.FuncCall, args: tuple[ast.Node, ...]) -> None:
    """Aggregates changed in place (module doc)."""
    if name == "percentile_cont" and node.agg_within_group and node.agg_order:
        # PostgreSQL's percentile_cont reads float8 (or interval): a real's is a double
        for sort in node.agg_order:
            if isinstance(sort, ast.SortBy) and sort.node is not None:
                sort.node = _hidden("pg_float8_or_interval", (sort.node,))
    null_delimiter = len(args) == 2 and isinstance(args[1], ast.A_Const) and args[1].isnull
    if name == "string_agg" and null_delimiter:
        # a NULL delimiter joins the values with nothing between
        node.args = (args[0], ast.A_Const(val=ast.String(sval="")))
    if name in ("array_agg", "string_agg") and node.agg_distinct and not node.agg_order and args:
        node.agg_order = (ast.SortBy(node=args[0], sortby_dir=0, sortby_nulls=0),)


def builtins(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Replace each call this module knows (in place, below ``stmt``)."""
    for parent in list(walk(stmt)):
        for attr, child in list(children(parent)):
            if isinstance(child, ast.FuncCall):
                new = _rewrite(child, ctx)
                if new is not None:
                    _put(parent, attr, child, new)
    return stmt


def _put(parent: ast.Node, attr: str, old: ast.Node, new: ast.Node) -> None:
    def swap(value: object) -> object:
        if value is old:
            return new
        if isinstance(value, tuple):
            return tuple(swap(v) for v in value)
        return value

    setattr(parent, attr, swap(getattr(parent, attr)))
