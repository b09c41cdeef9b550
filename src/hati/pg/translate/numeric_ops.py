"""Numeric division and averages with PostgreSQL's exact answers (see pg/numeric.py).

``a / b`` becomes ``pg_slash(a, b)`` and ``avg(x)`` an exact quotient of its sum and
count: macros with one body per operand type, which DuckDB chooses when it binds, so
integer and float division stay DuckDB's own operators (no cost where no numeric is
involved) and only numeric quotients call the Python division.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

from pglast import ast
from pglast.enums import A_Expr_Kind

from hati.errors import NumericValueOutOfRange
from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.translate import Translation, func_call, replace_child, walk
from hati.wire import numerics

S = catalog_views.HIDDEN
_Q = "DECIMAL({}, {})".format(*numerics.QUOTIENT)
_DIV = "hati_numeric_div"

# a / b by the operands' types. PostgreSQL divides float4 by an integer in float8
# (float48div after int4 -> float8).
_DIVISIONS = (
    ("SMALLINT", "SMALLINT", "a / b"),
    ("INTEGER", "INTEGER", "a / b"),
    ("BIGINT", "BIGINT", "a / b"),
    ("HUGEINT", "HUGEINT", "a / b"),
    ("FLOAT", "FLOAT", "a / b"),
    ("FLOAT", "INTEGER", "a::DOUBLE / b"),
    ("INTEGER", "FLOAT", "a / b::DOUBLE"),
    ("FLOAT", "BIGINT", "a::DOUBLE / b"),
    ("BIGINT", "FLOAT", "a / b::DOUBLE"),
    ("DOUBLE", "DOUBLE", "a / b"),
    (_Q, _Q, f"{_DIV}(a, b)"),
    ("INTERVAL", "DOUBLE", "a * (1::DOUBLE / b)"),
)
_SLASH = (
    f"CREATE OR REPLACE MACRO {S}.pg_slash"
    + ",\n    ".join(f"(a {ta}, b {tb}) AS {body}" for ta, tb, body in _DIVISIONS)
    + ";"
)
# the same, chosen by probes of the operands' types (an aggregate's own type is unknown
# to DuckDB when it chooses: pa stands for sum(x) by x, for count(*) by a bigint)
_SLASH_BY = (
    f"CREATE OR REPLACE MACRO {S}.pg_slash_by"
    + ",\n    ".join(f"(pa {ta}, pb {tb}, a, b) AS {body}" for ta, tb, body in _DIVISIONS)
    + ";"
)

# stddev / variance of integers and numerics are numeric in PostgreSQL (pg/numeric.py:
# exact from the count, the sum and the sum of squares, integers summed in HUGEINT);
# DuckDB's own (``native``) for floats. The first argument only tells the type.
_EXACT = ("SMALLINT", "INTEGER", "BIGINT", "HUGEINT", _Q)


def _stats_macro(name: str, fn: str) -> str:
    exact = f"CASE WHEN n > sample::INTEGER THEN {fn}(n, s::VARCHAR, s2::VARCHAR, sample) END"
    bodies = [f"(x {t}, n, s, s2, sample, native) AS {exact}" for t in _EXACT]
    # a NaN or an infinity among the values (their sum is not finite) makes PostgreSQL's
    # Youngs-Cramer sum of squares NaN
    floats = "CASE WHEN n > sample::INTEGER AND NOT isfinite(s) THEN 'NaN'::DOUBLE ELSE native END"
    bodies += [f"(x {t}, n, s, s2, sample, native) AS {floats}" for t in ("FLOAT", "DOUBLE")]
    return f"CREATE OR REPLACE MACRO {S}.{name}" + ",\n    ".join(bodies) + ";"


_STATS_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_exact(x SMALLINT) AS x::HUGEINT, (x INTEGER) AS x::HUGEINT,
    (x BIGINT) AS x::HUGEINT, (x HUGEINT) AS x, (x {_Q}) AS x, (x FLOAT) AS x,
    (x DOUBLE) AS x;
CREATE OR REPLACE MACRO {S}.pg_square(x SMALLINT) AS x::HUGEINT * x::HUGEINT,
    (x INTEGER) AS x::HUGEINT * x::HUGEINT, (x BIGINT) AS x::HUGEINT * x::HUGEINT,
    (x HUGEINT) AS x * x, (x {_Q}) AS x::DECIMAL(38, 10) * x::DECIMAL(38, 10),
    (x FLOAT) AS x * x, (x DOUBLE) AS x * x;
{_stats_macro("pg_variance_of", "hati_numeric_variance")}
{_stats_macro("pg_stddev_of", "hati_numeric_stddev")}
"""
_STATS = {
    "stddev": ("pg_stddev_of", True),
    "stddev_samp": ("pg_stddev_of", True),
    "stddev_pop": ("pg_stddev_of", False),
    "variance": ("pg_variance_of", True),
    "var_samp": ("pg_variance_of", True),
    "var_pop": ("pg_variance_of", False),
}

SETUP_SQL = f"""
{_SLASH}
{_SLASH_BY}
CREATE OR REPLACE MACRO {S}.pg_avg(x SMALLINT) AS {_DIV}(sum(x), count(x)),
    (x INTEGER) AS {_DIV}(sum(x), count(x)),
    (x BIGINT) AS {_DIV}(sum(x), count(x)),
    (x HUGEINT) AS {_DIV}(sum(x), count(x)),
    (x {_Q}) AS {_DIV}(sum(x), count(x)),
    (x FLOAT) AS avg(x),
    (x DOUBLE) AS avg(x),
    (x INTERVAL) AS avg(x);
-- the type avg(x) has, without the aggregate (a probe for pg_slash_by)
CREATE OR REPLACE MACRO {S}.pg_avg_type(x SMALLINT) AS NULL::{_Q},
    (x INTEGER) AS NULL::{_Q},
    (x BIGINT) AS NULL::{_Q},
    (x HUGEINT) AS NULL::{_Q},
    (x {_Q}) AS NULL::{_Q},
    (x FLOAT) AS NULL::DOUBLE,
    (x DOUBLE) AS NULL::DOUBLE;
-- int ^ int is float8 in PostgreSQL, numeric ^ anything but a float is numeric
CREATE OR REPLACE MACRO {S}.pg_npower(x BIGINT, y BIGINT) AS {S}.pg_power(x, y),
    (x DOUBLE, y DOUBLE) AS {S}.pg_power(x, y),
    (x {_Q}, y {_Q}) AS hati_numeric_power(x, y);
-- sum(int2) and sum(int4) are bigint in PostgreSQL, sum(float4) real (DuckDB: HUGEINT,
-- DOUBLE); the first argument only tells the type
CREATE OR REPLACE MACRO {S}.pg_sum_of(x SMALLINT, s) AS s::BIGINT,
    (x INTEGER, s) AS s::BIGINT,
    (x BIGINT, s) AS s,
    (x HUGEINT, s) AS s,
    (x {_Q}, s) AS s,
    (x FLOAT, s) AS s::FLOAT,
    (x DOUBLE, s) AS s,
    (x BOOLEAN, s) AS s,
    (x INTERVAL, s) AS s;
-- the first argument only tells the type: DuckDB cannot choose a body by the type of
-- an aggregate's or a window's result
CREATE OR REPLACE MACRO {S}.pg_avg_of(x SMALLINT, s, n) AS {_DIV}(s, n),
    (x INTEGER, s, n) AS {_DIV}(s, n),
    (x BIGINT, s, n) AS {_DIV}(s, n),
    (x HUGEINT, s, n) AS {_DIV}(s, n),
    (x {_Q}, s, n) AS {_DIV}(s, n),
    (x FLOAT, s, n) AS s / n,
    (x DOUBLE, s, n) AS s / n;
{_STATS_SQL}
"""


def _string_const(node: ast.Node | None) -> bool:
    return isinstance(node, ast.A_Const) and isinstance(node.val, ast.String)


# DuckDB cannot choose a macro's body by the type of an aggregate or window result
AGGREGATES = frozenset(
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
        "pg_sum_of",
    ]
)


def _below(node: ast.Node) -> Iterator[ast.Node]:
    """Every node below and including ``node``, not inside subqueries (their types are
    known when DuckDB chooses a macro's body)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, ast.SubLink):
            stack.extend(child for _, child in children(n))


def _aggregated(node: ast.Node) -> bool:
    """Whether ``node`` holds an aggregate or window call (not in a subquery)."""
    return any(
        isinstance(n, ast.FuncCall)
        and (n.over is not None or n.agg_star or n.funcname[-1].sval in AGGREGATES)
        for n in _below(node)
    )


def _probe_call(node: ast.FuncCall) -> ast.Node | None:
    """A plain expression of the type ``node`` (an aggregate or window call) has."""
    name = node.funcname[-1].sval
    if len(node.funcname) > 2 or node.agg_within_group:
        return None
    if name == "count":
        return ast.TypeCast(
            arg=ast.A_Const(val=ast.Integer(ival=0)),
            typeName=ast.TypeName(names=(ast.String(sval="int8"),)),
        )
    args = node.args or ()
    if len(args) != 1 or node.agg_star or _aggregated(args[0]):
        return None
    if name in ("sum", "min", "max"):
        return copy.deepcopy(args[0])
    if name == "avg":
        return func_call("pg_avg_type", copy.deepcopy(args[0]), hidden=True)
    return None


def _probe(node: ast.Node) -> ast.Node | None:
    """``node`` with each aggregate or window call put as a plain expression of its type,
    or None where one has no such stand-in."""
    if isinstance(node, ast.FuncCall) and (
        node.over is not None or node.agg_star or node.funcname[-1].sval in AGGREGATES
    ):
        return _probe_call(node)
    node = copy.deepcopy(node)
    for parent in list(_below(node)):
        if isinstance(parent, ast.SubLink):
            continue
        for attr, child in list(children(parent)):
            if isinstance(child, ast.FuncCall) and (
                child.over is not None or child.agg_star or child.funcname[-1].sval in AGGREGATES
            ):
                stand_in = _probe_call(child)
                if stand_in is None:
                    return None
                replace_child(parent, attr, child, stand_in)
    return None if _aggregated(node) else node


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
    ):
        return None
    if not _aggregated(node.lexpr) and not _aggregated(node.rexpr):
        return func_call("pg_slash", node.lexpr, node.rexpr, hidden=True)
    pa, pb = _probe(node.lexpr), _probe(node.rexpr)
    if pa is None or pb is None:
        return None  # DuckDB's own division (a double where a numeric is divided)
    return func_call("pg_slash_by", pa, pb, node.lexpr, node.rexpr, hidden=True)


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


_FLOATS = frozenset(["float4", "float8"])


def _as_double(text: str) -> bool:
    """A double holds the constant without losing it entirely (not infinite, not a
    nonzero value read as 0)."""
    value = float(text)
    return math.isfinite(value) and (
        value != 0 or not any(c in "123456789" for c in text.split("e")[0].split("E")[0])
    )


def _too_wide(node: ast.A_Const, parent: ast.Node) -> None:
    """22003 for a numeric constant of more than DuckDB's 38 digits (``1e40``, ``0.1e-40``):
    DuckDB would read it as a double, with other digits. A cast to a float keeps it."""
    if not isinstance(node.val, ast.Float) or not node.val.fval:
        return
    text = node.val.fval
    if not any(c in text for c in ".eE") or numerics.literal(text) is not None:
        return
    tn = parent.typeName if isinstance(parent, ast.TypeCast) else None
    if tn is not None and tn.names[-1].sval in _FLOATS and not tn.arrayBounds:
        return
    if ("e" in text or "E" in text) and _as_double(text):
        return  # 1e100 written to a float column: a double keeps it (as it did)
    raise NumericValueOutOfRange(
        "value overflows numeric format",
        hint="hati keeps numeric in DuckDB's DECIMAL, of 38 digits at most; double "
        "precision holds wider values approximately.",
    )


_OF = ("pg_sum_of", "pg_avg_of", "pg_variance_of", "pg_stddev_of")


def _is_sum_of(node: ast.Node) -> bool:
    return isinstance(node, ast.FuncCall) and node.funcname[-1].sval in _OF


def _sum(node: ast.FuncCall, parent: ast.Node) -> ast.Node | None:
    """``sum(x)`` with PostgreSQL's result type (pg_sum_of)."""
    name = [n.sval for n in node.funcname]
    if name not in (["sum"], ["pg_catalog", "sum"]) or node.agg_star or len(node.args or ()) != 1:
        return None
    if node.agg_within_group or node.agg_order or _is_sum_of(parent) or _aggregated(node.args[0]):
        return None
    node.funcname = (ast.String(sval="sum"),)  # not rewritten again (walk reaches it below)
    return func_call("pg_sum_of", copy.deepcopy(node.args[0]), node, hidden=True)


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


def _stats(node: ast.FuncCall, parent: ast.Node) -> ast.Node | None:
    """stddev / variance and their _samp / _pop: numeric over integers and numerics."""
    names = [n.sval for n in node.funcname]
    if len(names) > 2 or (len(names) == 2 and names[0] != "pg_catalog"):
        return None
    got = _STATS.get(names[-1])
    if got is None or node.agg_star or len(node.args or ()) != 1 or _is_sum_of(parent):
        return None
    if node.agg_within_group or node.agg_order or _aggregated(node.args[0]):
        return None
    macro, sample = got
    (arg,) = node.args or ()

    def part(fn: str, of: ast.Node) -> ast.FuncCall:
        call = func_call(fn, of, hidden=False)
        call.agg_distinct = node.agg_distinct
        call.agg_filter = copy.deepcopy(node.agg_filter)
        call.over = copy.deepcopy(node.over)
        return call

    def exact(fn: str) -> ast.Node:
        return func_call(fn, copy.deepcopy(arg), hidden=True)

    return func_call(
        macro,
        copy.deepcopy(arg),
        part("count", copy.deepcopy(arg)),
        part("sum", exact("pg_exact")),
        part("sum", exact("pg_square")),
        ast.A_Const(val=ast.Boolean(boolval=sample)),
        node,
        hidden=True,
    )


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
                new = _avg(child) or _power(child) or _sum(child, node) or _stats(child, node)
            elif isinstance(child, ast.A_Const):
                _too_wide(child, node)
                new = _exponent_literal(child)
            if new is not None:
                replace_child(node, attr, child, new)
    return stmt
