"""Numeric division and averages with PostgreSQL's exact answers (see pg/numeric.py).

``a / b`` becomes ``pg_slash(a, b)`` and ``avg(x)`` an exact quotient of its sum and
count: macros with one body per operand type, which DuckDB chooses when it binds, so
integer and float division stay DuckDB's own operators (no cost where no numeric is
involved) and only numeric quotients call the Python division.
"""

from __future__ import annotations

import copy

from pglast import ast
from pglast.enums import A_Expr_Kind

from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.translate import Translation, func_call, replace_child, walk
from hati.wire import numerics

S = catalog_views.HIDDEN
_Q = "DECIMAL({}, {})".format(*numerics.QUOTIENT)
_DIV = "hati_numeric_div"

# PostgreSQL divides float4 by an integer in float8 (float48div after int4 -> float8).
SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_slash(a SMALLINT, b SMALLINT) AS a / b,
    (a INTEGER, b INTEGER) AS a / b,
    (a BIGINT, b BIGINT) AS a / b,
    (a HUGEINT, b HUGEINT) AS a / b,
    (a FLOAT, b FLOAT) AS a / b,
    (a FLOAT, b INTEGER) AS a::DOUBLE / b,
    (a INTEGER, b FLOAT) AS a / b::DOUBLE,
    (a FLOAT, b BIGINT) AS a::DOUBLE / b,
    (a BIGINT, b FLOAT) AS a / b::DOUBLE,
    (a DOUBLE, b DOUBLE) AS a / b,
    (a {_Q}, b {_Q}) AS {_DIV}(a, b),
    (a INTERVAL, b DOUBLE) AS a * (1::DOUBLE / b);
CREATE OR REPLACE MACRO {S}.pg_avg(x SMALLINT) AS {_DIV}(sum(x), count(x)),
    (x INTEGER) AS {_DIV}(sum(x), count(x)),
    (x BIGINT) AS {_DIV}(sum(x), count(x)),
    (x HUGEINT) AS {_DIV}(sum(x), count(x)),
    (x {_Q}) AS {_DIV}(sum(x), count(x)),
    (x FLOAT) AS avg(x),
    (x DOUBLE) AS avg(x),
    (x INTERVAL) AS avg(x);
-- int ^ int is float8 in PostgreSQL, numeric ^ anything but a float is numeric
CREATE OR REPLACE MACRO {S}.pg_npower(x BIGINT, y BIGINT) AS {S}.pg_power(x, y),
    (x DOUBLE, y DOUBLE) AS {S}.pg_power(x, y),
    (x {_Q}, y {_Q}) AS hati_numeric_power(x, y);
-- the first argument only tells the type: DuckDB cannot choose a body by the type of
-- an aggregate's or a window's result
CREATE OR REPLACE MACRO {S}.pg_avg_of(x SMALLINT, s, n) AS {_DIV}(s, n),
    (x INTEGER, s, n) AS {_DIV}(s, n),
    (x BIGINT, s, n) AS {_DIV}(s, n),
    (x HUGEINT, s, n) AS {_DIV}(s, n),
    (x {_Q}, s, n) AS {_DIV}(s, n),
    (x FLOAT, s, n) AS s / n,
    (x DOUBLE, s, n) AS s / n;
"""


def _string_const(node: ast.Node | None) -> bool:
    return isinstance(node, ast.A_Const) and isinstance(node.val, ast.String)


# DuckDB cannot choose a macro's body by the type of an aggregate or window result
_AGGREGATES = frozenset(
    [
        "sum",
        "count",
        "avg",
        "min",
        "max",
        "stddev",
        "stddev_samp",
        "stddev_pop",
        "variance",
        "var_samp",
        "var_pop",
        "bool_and",
        "bool_or",
        "every",
        "string_agg",
        "array_agg",
        "corr",
        "covar_pop",
        "covar_samp",
        "regr_slope",
        "regr_intercept",
        "regr_count",
        "regr_r2",
        "regr_avgx",
        "regr_avgy",
        "regr_sxx",
        "regr_syy",
        "regr_sxy",
        "percentile_cont",
        "percentile_disc",
        "mode",
        "any_value",
        "first",
        "last",
        "bit_and",
        "bit_or",
        "bit_xor",
        "json_agg",
        "jsonb_agg",
        "json_object_agg",
        "jsonb_object_agg",
        "list",
        "median",
        "quantile",
        "pg_avg",
        "pg_avg_of",
    ]
)


def _aggregated(node: ast.Node) -> bool:
    """Whether ``node`` holds an aggregate or window call (or a subquery)."""
    for n in walk(node):
        if isinstance(n, ast.SubLink):
            return True
        if isinstance(n, ast.FuncCall) and (
            n.over is not None or n.agg_star or n.funcname[-1].sval in _AGGREGATES
        ):
            return True
    return False


def _slash(node: ast.A_Expr) -> ast.Node | None:
    if (
        node.kind != A_Expr_Kind.AEXPR_OP
        or not node.name
        or node.name[-1].sval != "/"
        or len(node.name) > 2
        or node.lexpr is None
        or node.rexpr is None
        or _string_const(node.lexpr)
        or _string_const(node.rexpr)
        or _aggregated(node.lexpr)
        or _aggregated(node.rexpr)
    ):
        return None
    return func_call("pg_slash", node.lexpr, node.rexpr, hidden=True)


# operators DuckDB spells otherwise: 5 # 3 (xor), |/ 16 (square root), ||/ 27 (cube root)
_OPERATORS = {"#": ("xor", False), "|/": ("pg_sqrt", True), "||/": ("cbrt", False)}


def _operator(node: ast.A_Expr) -> ast.Node | None:
    if node.kind != A_Expr_Kind.AEXPR_OP or not node.name or len(node.name) != 1:
        return None
    op = node.name[0].sval
    if op == "#" and node.lexpr is not None and node.rexpr is not None:
        return func_call("xor", node.lexpr, node.rexpr, hidden=False)
    if op in ("|/", "||/") and node.lexpr is None and node.rexpr is not None:
        name, hidden = _OPERATORS[op]
        as_float = ast.TypeCast(
            arg=node.rexpr, typeName=ast.TypeName(names=(ast.String(sval="float8"),))
        )
        return func_call(name, as_float, hidden=hidden)
    return None


def _exponent_literal(node: ast.A_Const) -> ast.Node | None:
    """``1.0e-2`` is numeric 0.010 (DuckDB reads a double)."""
    if not isinstance(node.val, ast.Float) or not node.val.fval:
        return None
    text = node.val.fval
    if "e" not in text and "E" not in text:
        return None
    got = numerics.literal(text)
    if got is None:
        return None
    digits, precision, scale = got
    return ast.TypeCast(
        arg=ast.A_Const(val=ast.String(sval=digits)),
        typeName=ast.TypeName(
            names=(ast.String(sval="pg_catalog"), ast.String(sval="numeric")),
            typmods=(
                ast.A_Const(val=ast.Integer(ival=precision)),
                ast.A_Const(val=ast.Integer(ival=scale)),
            ),
        ),
    )


def _avg(node: ast.FuncCall) -> ast.Node | None:
    name = [n.sval for n in node.funcname]
    if name not in (["avg"], ["pg_catalog", "avg"]) or node.agg_star or len(node.args or ()) != 1:
        return None
    if node.agg_within_group or node.agg_order:
        return None
    (arg,) = node.args or ()
    if node.over is None and node.agg_filter is None and not node.agg_distinct:
        return func_call("pg_avg", arg, hidden=True)

    def part(fn: str) -> ast.FuncCall:
        call = func_call(fn, copy.deepcopy(arg), hidden=False)
        call.agg_distinct = node.agg_distinct
        call.agg_filter = copy.deepcopy(node.agg_filter)
        call.over = copy.deepcopy(node.over)
        return call

    return func_call("pg_avg_of", copy.deepcopy(arg), part("sum"), part("count"), hidden=True)


def _power(node: ast.FuncCall) -> ast.Node | None:
    """``x ^ y`` / ``power(x, y)`` (pg_power by now): numeric's exact power where an
    operand is numeric; DuckDB cannot choose by an aggregate's type (old pg_power)."""
    if [n.sval for n in node.funcname] != [S, "pg_power"] or len(node.args or ()) != 2:
        return None
    if any(_aggregated(a) for a in node.args or ()):
        return None
    return func_call("pg_npower", *(node.args or ()), hidden=True)


def numeric_operators(stmt: ast.Node, _ctx: Translation) -> ast.Node:
    """``/`` and ``avg`` as PostgreSQL answers them (module doc)."""
    for node in walk(stmt):
        for attr, child in children(node):
            new: ast.Node | None = None
            if isinstance(child, ast.A_Expr):
                new = _slash(child) or _operator(child)
            elif isinstance(child, ast.FuncCall):
                new = _avg(child) or _power(child)
            elif isinstance(child, ast.A_Const):
                new = _exponent_literal(child)
            if new is not None:
                replace_child(node, attr, child, new)
    return stmt
