"""PostgreSQL built-in functions DuckDB has under the same name with another meaning at
the edges, given PostgreSQL's (or refused where it cannot be).

- ``substr(s, start [, n])`` / ``substring(s, start, n)``: PostgreSQL counts a start
  below 1 as positions before the string (``substr('abc', -1, 3)`` is ``'a'``); DuckDB
  counts a negative start from the end. A negative length is 22011.
- ``split_part(s, '', n)``: PostgreSQL's empty delimiter leaves the string whole (field
  1 or -1); DuckDB splits it into characters. Field 0 is 22023.
- ``date_trunc('century' | 'millennium', x)``: PostgreSQL's centuries start in year 1
  of the century (1901, 2001); DuckDB's in year 0 (1900).
- ``array_agg(DISTINCT x)`` / ``string_agg(DISTINCT x, d)`` without ORDER BY: PostgreSQL
  sorts to remove duplicates, so the values come out in order; DuckDB hashes them.
- ``regexp_matches(s, p)``: PostgreSQL's returns the groups of each match as rows of
  text[]; DuckDB's is a true/false match test. Refused (0A000), never answered as a
  boolean.
"""

from __future__ import annotations

from pglast import ast

from hati.errors import FeatureNotSupported
from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.translate import NeedsLiteral, Translation, walk

S = catalog_views.HIDDEN

SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_substr(s, f) AS substr(s, greatest(f, 1)),
    (s, f, n) AS CASE WHEN n < 0 THEN error('negative substring length not allowed')
    ELSE substr(s, greatest(f, 1), greatest(greatest(f + n, 1) - greatest(f, 1), 0)) END;
CREATE OR REPLACE MACRO {S}.pg_split_part(s, d, n) AS
    CASE WHEN n = 0 THEN error('field position must not be zero')
         WHEN d = '' THEN CASE WHEN n = 1 OR n = -1 THEN s ELSE '' END
         ELSE split_part(s, d, n) END;
CREATE OR REPLACE MACRO {S}.pg_trunc_centuries(x, years) AS
    date_trunc('year', x) - to_years(((year(x) - 1) % years)::INTEGER);
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
    if name == "substr" and len(args) in (2, 3):
        return _hidden("pg_substr", args)
    if name == "substring" and len(args) == 3:
        if _string_const(args[1], ctx) is not None or _string_const(args[2], ctx) is not None:
            return None  # SUBSTRING(s SIMILAR p ESCAPE e)
        return _hidden("pg_substr", args)
    if name == "split_part" and len(args) == 3:
        return _hidden("pg_split_part", args)
    if name == "date_trunc" and len(args) == 2:
        field = (_string_const(args[0], ctx) or "").lower()
        years = {"century": 100, "centuries": 100, "millennium": 1000, "millennia": 1000}
        if field in years:
            n = ast.A_Const(val=ast.Integer(ival=years[field]))
            return _hidden("pg_trunc_centuries", (args[1], n))
        return None
    if name in ("array_agg", "string_agg") and node.agg_distinct and not node.agg_order and args:
        node.agg_order = (ast.SortBy(node=args[0], sortby_dir=0, sortby_nulls=0),)
        return None
    if name == "regexp_matches":
        raise FeatureNotSupported(
            "regexp_matches() is not supported",
            hint="Use regexp_like(s, p) to test for a match, substring(s from p) for the "
            "first match, or regexp_replace.",
        )
    return None


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
