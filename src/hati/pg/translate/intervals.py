"""PostgreSQL's interval and period functions DuckDB lacks, as macros in hati's hidden
schema: ``make_interval``, ``justify_days`` / ``justify_hours`` / ``justify_interval``
(PostgreSQL 15's arithmetic: 30-day months, 24-hour days, signs made to agree) and
``(s1, e1) OVERLAPS (s2, e2)`` (an end may be an interval, the period's length; NULLs
answer as PostgreSQL's overlaps_timestamp does)."""

from __future__ import annotations

import copy

from pglast import ast

from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.translate import replace_child, walk

S = catalog_views.HIDDEN
_DAY = 86_400_000_000

# An interval's months, days and microseconds, as PostgreSQL keeps them.
_MONTHS = "(datepart('year', i) * 12 + datepart('month', i))"
_DAYS = "datepart('day', i)"
_MICROS = (
    "(datepart('hour', i)::BIGINT * 3600000000 + datepart('minute', i)::BIGINT * 60000000"
    " + datepart('microseconds', i))"
)


def _interval(months: str, days: str, micros: str) -> str:
    return f"to_months(({months})::INTEGER) + to_days(({days})::INTEGER) + to_microseconds(({micros})::BIGINT)"


SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_make_interval(years := 0, months := 0, weeks := 0, days := 0,
                                             hours := 0, mins := 0, secs := 0.0) AS
    to_years(years::INTEGER) + to_months(months::INTEGER)
    + to_days((weeks * 7 + days)::INTEGER) + to_hours(hours::BIGINT)
    + to_minutes(mins::BIGINT) + to_microseconds(round(secs * 1000000)::BIGINT);
CREATE OR REPLACE MACRO {S}.pg_interval_parts(i) AS
    {{'m': {_MONTHS}, 'd': {_DAYS}, 'u': {_MICROS}}};
CREATE OR REPLACE MACRO {S}.pg_justify_days(i) AS (
    SELECT CASE WHEN m > 0 AND d < 0 THEN {_interval("m - 1", "d + 30", "u")}
                WHEN m < 0 AND d > 0 THEN {_interval("m + 1", "d - 30", "u")}
                ELSE {_interval("m", "d", "u")} END
    FROM (SELECT p.m + trunc(p.d / 30) AS m, p.d - trunc(p.d / 30) * 30 AS d, p.u
          FROM (SELECT unnest({S}.pg_interval_parts(i))) p));
CREATE OR REPLACE MACRO {S}.pg_justify_hours(i) AS (
    SELECT CASE WHEN d > 0 AND u < 0 THEN {_interval("m", "d - 1", f"u + {_DAY}")}
                WHEN d < 0 AND u > 0 THEN {_interval("m", "d + 1", f"u - {_DAY}")}
                ELSE {_interval("m", "d", "u")} END
    FROM (SELECT p.m, p.d + trunc(p.u / {_DAY}) AS d, p.u - trunc(p.u / {_DAY}) * {_DAY} AS u
          FROM (SELECT unnest({S}.pg_interval_parts(i))) p));
CREATE OR REPLACE MACRO {S}.pg_justify_interval(i) AS (
    SELECT CASE WHEN d2 > 0 AND u < 0 THEN {_interval("m2", "d2 - 1", f"u + {_DAY}")}
                WHEN d2 < 0 AND u > 0 THEN {_interval("m2", "d2 + 1", f"u - {_DAY}")}
                ELSE {_interval("m2", "d2", "u")} END
    FROM (SELECT CASE WHEN m > 0 AND (d < 0 OR (d = 0 AND u < 0)) THEN m - 1
                      WHEN m < 0 AND (d > 0 OR (d = 0 AND u > 0)) THEN m + 1 ELSE m END AS m2,
                 CASE WHEN m > 0 AND (d < 0 OR (d = 0 AND u < 0)) THEN d + 30
                      WHEN m < 0 AND (d > 0 OR (d = 0 AND u > 0)) THEN d - 30 ELSE d END AS d2,
                 u
          FROM (SELECT q.m + trunc(q.d / 30) AS m, q.d - trunc(q.d / 30) * 30 AS d, q.u
                FROM (SELECT p.m, p.d + trunc(p.u / {_DAY}) AS d,
                             p.u - trunc(p.u / {_DAY}) * {_DAY} AS u
                      FROM (SELECT unnest({S}.pg_interval_parts(i))) p) q)));
-- a period's end: a time, or the start plus an interval
CREATE OR REPLACE MACRO {S}.pg_period_end(s, e INTERVAL) AS s + e, (s, e) AS e;
CREATE OR REPLACE MACRO {S}.pg_overlaps_ordered(s1, e1, s2, e2) AS
    CASE WHEN s1 > s2 THEN CASE WHEN e2 IS NULL THEN NULL WHEN s1 < e2 THEN true
                                WHEN e1 IS NULL THEN NULL ELSE false END
         WHEN s1 < s2 THEN CASE WHEN e1 IS NULL THEN NULL WHEN s2 < e1 THEN true
                                WHEN e2 IS NULL THEN NULL ELSE false END
         WHEN e1 IS NULL OR e2 IS NULL THEN NULL
         ELSE true END;
-- each period's ends in order; a NULL start takes the end's place
CREATE OR REPLACE MACRO {S}.pg_overlaps(s1, e1, s2, e2) AS {S}.pg_overlaps_ordered(
    CASE WHEN s1 IS NULL THEN e1 WHEN e1 IS NULL THEN s1 ELSE least(s1, e1) END,
    CASE WHEN s1 IS NULL OR e1 IS NULL THEN NULL ELSE greatest(s1, e1) END,
    CASE WHEN s2 IS NULL THEN e2 WHEN e2 IS NULL THEN s2 ELSE least(s2, e2) END,
    CASE WHEN s2 IS NULL OR e2 IS NULL THEN NULL ELSE greatest(s2, e2) END);
"""

_MACROS = {
    "make_interval": "pg_make_interval",
    "justify_days": "pg_justify_days",
    "justify_hours": "pg_justify_hours",
    "justify_interval": "pg_justify_interval",
}


def _hidden(name: str, args: tuple[ast.Node, ...]) -> ast.FuncCall:
    return ast.FuncCall(funcname=(ast.String(sval=S), ast.String(sval=name)), args=args)


def _rewrite(node: ast.FuncCall) -> ast.Node | None:
    names = [n.sval for n in node.funcname]
    if names[:-1] not in ([], ["pg_catalog"]) or node.over is not None:
        return None
    args = tuple(node.args or ())
    if names[-1] in _MACROS:
        node.funcname = _hidden(_MACROS[names[-1]], ()).funcname
        return None
    if names[-1] == "overlaps" and len(args) == 4:
        s1, e1, s2, e2 = args
        ends = (
            _hidden("pg_period_end", (copy.deepcopy(s1), e1)),
            _hidden("pg_period_end", (copy.deepcopy(s2), e2)),
        )
        return _hidden("pg_overlaps", (s1, ends[0], s2, ends[1]))
    return None


def intervals(stmt: ast.Node) -> ast.Node:
    """Point each call this module knows at its macro."""
    for parent in list(walk(stmt)):
        for attr, child in list(children(parent)):
            if isinstance(child, ast.FuncCall):
                new = _rewrite(child)
                if new is not None:
                    replace_child(parent, attr, child, new)
    return stmt
