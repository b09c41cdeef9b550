"""Expressions DuckDB would answer differently: rewritten to PostgreSQL's meaning.

Each rewrite looks at one node and returns what to put in its place (or None). Where the
meaning depends on the argument's type, which is unknown before DuckDB binds the
statement, a macro in the hidden schema chooses with ``typeof`` (``round(float8)``
rounds half to even, ``round(numeric)`` away from zero).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, SQLValueFunctionOp

from hati.errors import FeatureNotSupported, HatiError, InvalidTextRepresentation
from hati.pg import catalog as catalog_views
from hati.pg import datetime_in, valuetext
from hati.pg.analyze import children
from hati.pg.translate import (
    NeedsLiteral,
    Translation,
    func_call,
    like,
    replace_child,
    textcalls,
    typeof,
    walk,
)
from hati.pg.translate import const as _const
from hati.wire import numerics

S = catalog_views.HIDDEN

_INFINITE_EPOCH = (
    "HATI-0A000: EXTRACT(EPOCH FROM infinity) is numeric Infinity, which hati does not"
    " represent; date_part() answers it as a double precision"
)
_BARE = "{}, {}".format(*numerics.BARE)

SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_round(x) AS
    CASE WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN round_even(x, 0) ELSE round(x) END;
CREATE OR REPLACE MACRO {S}.pg_similar(p) AS
    regexp_replace(regexp_replace(regexp_replace(p, '([.^$])', '\\\\\\1', 'g'),
        '%', '.*', 'g'), '_', '.', 'g');
CREATE OR REPLACE MACRO {S}.pg_to_hex(x) AS
    lower(to_hex(CASE WHEN x < 0 AND typeof(x) IN ('INTEGER', 'SMALLINT', 'TINYINT')
                      THEN x::BIGINT + 4294967296 ELSE x::BIGINT END));
-- base64 in lines of 76 characters, as PostgreSQL writes it; decode skips white space
CREATE OR REPLACE MACRO {S}.pg_encode(b, f) AS
    CASE lower(f) WHEN 'hex' THEN lower(hex(b))
    WHEN 'base64' THEN regexp_replace(to_base64(b), '(.{{76}})', '\\1\n', 'g')
    ELSE error('unsupported encoding: ' || f) END;
CREATE OR REPLACE MACRO {S}.pg_decode(s, f) AS
    CASE lower(f) WHEN 'hex' THEN unhex(regexp_replace(s, '[ \t\n\r]', '', 'g'))
    WHEN 'base64' THEN from_base64(regexp_replace(s, '[ \t\n\r]', '', 'g'))
    ELSE error('unsupported encoding: ' || f) END;
CREATE OR REPLACE MACRO {S}.pg_quote_literal(x) AS
    '''' || replace(x::VARCHAR, '''', '''''') || '''';
CREATE OR REPLACE MACRO {S}.pg_quote_nullable(x) AS
    coalesce({S}.pg_quote_literal(x), 'NULL');
CREATE OR REPLACE MACRO {S}.pg_quote_ident(x) AS
    CASE WHEN regexp_full_match(x, '[a-z_][a-z0-9_$]*') THEN x
    ELSE '"' || replace(x, '"', '""') || '"' END;
CREATE OR REPLACE MACRO {S}.pg_initcap(s) AS
    array_to_string(list_transform(string_split(lower(s), ' '),
        lambda w: upper(w[1]) || w[2:]), ' ');
CREATE OR REPLACE MACRO {S}.pg_array_to_string(a, sep, n) AS
    array_to_string(list_transform(a, lambda x: coalesce(x::VARCHAR, n)), sep);
CREATE OR REPLACE MACRO {S}.pg_div(a, b) AS trunc(a / b);
CREATE OR REPLACE MACRO {S}.pg_datestyle_order(unused) AS
    CASE WHEN getvariable('hati_gucs')['datestyle'] LIKE '%DMY%' THEN 'DMY'
         WHEN getvariable('hati_gucs')['datestyle'] LIKE '%YMD%' THEN 'YMD' ELSE 'MDY' END;
CREATE OR REPLACE MACRO {S}.pg_scale(x) AS
    CASE WHEN typeof(x) = 'DECIMAL(38,11)'
         THEN length(rtrim(split_part(x::VARCHAR, '.', 2), '0'))
         WHEN typeof(x) = 'DECIMAL(38,20)' THEN hati_numeric_shown_scale(x::DECIMAL(38, 20))
         WHEN typeof(x) LIKE 'DECIMAL(%' THEN regexp_extract(typeof(x), ',([0-9]+)[)]', 1)::INTEGER
         WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN error('scale() takes numeric, not a float')
         ELSE 0 END;
CREATE OR REPLACE MACRO {S}.pg_trim_scale(x) AS
    CASE WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN error('trim_scale() takes numeric, not a float')
    ELSE x::DECIMAL(38, 11) END;
CREATE OR REPLACE MACRO {S}.pg_min_scale(x) AS
    CASE WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN error('min_scale() takes numeric, not a float')
    ELSE length(rtrim(split_part(x::DECIMAL(38, 18)::VARCHAR, '.', 2), '0')) END;
CREATE OR REPLACE MACRO {S}.pg_width_bucket(op, lo, hi, cnt) AS
    CASE WHEN cnt <= 0 THEN error('HATI-2201G: count must be greater than zero')
         WHEN isnan(op::DOUBLE) OR isnan(lo::DOUBLE) OR isnan(hi::DOUBLE)
         THEN error('HATI-2201G: operand, lower bound, and upper bound cannot be NaN')
         WHEN isinf(lo::DOUBLE) OR isinf(hi::DOUBLE)
         THEN error('HATI-2201G: lower and upper bounds must be finite')
         WHEN lo = hi THEN error('HATI-2201G: lower bound cannot equal upper bound')
         WHEN lo < hi THEN CASE WHEN op < lo THEN 0 WHEN op >= hi THEN cnt + 1
              ELSE least(floor(cnt * ((op - lo)::DOUBLE / (hi - lo)::DOUBLE))::BIGINT, cnt - 1) + 1
              END
         ELSE CASE WHEN op > lo THEN 0 WHEN op <= hi THEN cnt + 1
              ELSE least(floor(cnt * ((lo - op)::DOUBLE / (lo - hi)::DOUBLE))::BIGINT, cnt - 1) + 1
              END
    END;
CREATE OR REPLACE MACRO {S}.pg_sqrt(x) AS
    CASE WHEN x < 0 THEN error('HATI-2201F: cannot take square root of a negative number') ELSE sqrt(x) END;
CREATE OR REPLACE MACRO {S}.pg_log_arg(x) AS
    CASE WHEN x = 0 THEN error('HATI-2201E: cannot take logarithm of zero')
         WHEN x < 0 THEN error('HATI-2201E: cannot take logarithm of a negative number') ELSE x END;
CREATE OR REPLACE MACRO {S}.pg_ln(x) AS ln({S}.pg_log_arg(x));
CREATE OR REPLACE MACRO {S}.pg_log10(x) AS log10({S}.pg_log_arg(x));
CREATE OR REPLACE MACRO {S}.pg_log(b, x) AS
    hati_numeric_log(b::DECIMAL(38, 20), x::DECIMAL(38, 20));
CREATE OR REPLACE MACRO {S}.pg_power(x, y) AS
    CASE WHEN x = 0 AND y < 0 THEN error('HATI-2201F: zero raised to a negative power is undefined')
         WHEN x < 0 AND isfinite(y::DOUBLE) AND y::DOUBLE <> floor(y::DOUBLE)
         THEN error('HATI-2201F: a negative number raised to a non-integer power yields a complex result')
         WHEN isinf(power(x, y)) AND isfinite(x::DOUBLE) AND isfinite(y::DOUBLE)
         THEN error('value out of range: overflow')
         ELSE power(x, y) END;
CREATE OR REPLACE MACRO {S}.pg_mod(a, b) AS
    CASE WHEN a IS NULL THEN NULL WHEN b = 0 THEN error('division by zero') ELSE a % b END;
CREATE OR REPLACE MACRO {S}.pg_chr(n) AS
    CASE WHEN n = 0 THEN error('HATI-54000: null character not permitted') ELSE chr(n) END;
CREATE OR REPLACE MACRO {S}.pg_date_trunc(u, x) AS date_trunc(u, x);
-- date_part as PostgreSQL answers it: a double; seconds with their fraction; years BC
-- counted from 1 BC as -1; an infinite timestamp's year, epoch ... infinite, other fields NULL
-- float4 / float8 -> numeric: the value printed with 6 / 15 significant digits, read back
CREATE OR REPLACE MACRO {S}.pg_numeric_in(x) AS
    CASE typeof(x) WHEN 'FLOAT' THEN printf('%.6g', x)::DECIMAL({_BARE})
         WHEN 'DOUBLE' THEN printf('%.15g', x)::DECIMAL({_BARE}) ELSE x::DECIMAL({_BARE}) END;
-- EXTRACT(EPOCH ...) of infinity is numeric Infinity, which a DECIMAL does not hold
CREATE OR REPLACE MACRO {S}.pg_epoch(x) AS
    CASE WHEN x::VARCHAR IN ('infinity', '-infinity') THEN error('{_INFINITE_EPOCH}')
         ELSE epoch(x) END;
CREATE OR REPLACE MACRO {S}.pg_time_part(f, x) AS CASE WHEN lower(f) IN ('second', 'seconds',
    'sec', 'secs', 's') THEN date_part('microseconds', x) / 1e6 ELSE date_part(f, x)::DOUBLE END;
CREATE OR REPLACE MACRO {S}.pg_date_part(f, x TIME) AS {S}.pg_time_part(f, x),
    (f, x TIME WITH TIME ZONE) AS {S}.pg_time_part(f, x), (f, x) AS
    CASE WHEN x::VARCHAR IN ('infinity', '-infinity') THEN
             CASE WHEN lower(f) IN ('year', 'years', 'decade', 'decades', 'century', 'centuries',
                 'millennium', 'millennia', 'julian', 'epoch', 'isoyear')
             THEN CASE WHEN x::VARCHAR = 'infinity' THEN 'Infinity' ELSE '-Infinity' END::DOUBLE END
         WHEN lower(f) IN ('second', 'seconds', 'sec', 'secs', 's')
         THEN date_part('microseconds', x)::DOUBLE / 1000000
         WHEN typeof(x) NOT IN ('DATE', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE')
              OR date_part('year', x) > 0 THEN date_part(f, x)::DOUBLE
         WHEN lower(f) IN ('year', 'years', 'isoyear') THEN date_part(f, x)::DOUBLE - 1
         WHEN lower(f) IN ('decade', 'decades')
         THEN (-((8 - (date_part('year', x) - 1)) // 10))::DOUBLE
         WHEN lower(f) IN ('century', 'centuries')
         THEN (-((99 - (date_part('year', x) - 1)) // 100))::DOUBLE
         WHEN lower(f) IN ('millennium', 'millennia')
         THEN (-((999 - (date_part('year', x) - 1)) // 1000))::DOUBLE
         ELSE date_part(f, x)::DOUBLE END;
-- pg_sleep returns void, which a client reads as the empty text (DuckDB's: NULL)
CREATE OR REPLACE MACRO {S}.pg_sleep_void(s) AS
    coalesce(sleep_ms(CAST(s * 1000 AS BIGINT))::VARCHAR, '');
CREATE OR REPLACE MACRO {S}.pg_round_us(us, k) AS
    CASE WHEN us >= 0 THEN (us + k // 2) // k * k ELSE -((-us + k // 2) // k * k) END;
-- timestamp(p): rounded as PostgreSQL rounds, its microseconds counted from 2000-01-01
CREATE OR REPLACE MACRO {S}.pg_round_timestamp(t, p) AS
    CASE WHEN isinf(t) THEN t ELSE t - to_microseconds(epoch_us(t) - 946684800000000
        - {S}.pg_round_us(epoch_us(t) - 946684800000000, (10 ** (6 - p))::BIGINT)) END;
CREATE OR REPLACE MACRO {S}.pg_stride_us(i) AS
    date_part('day', i)::BIGINT * 86400000000 + date_part('hour', i)::BIGINT * 3600000000
    + date_part('minute', i)::BIGINT * 60000000 + date_part('microseconds', i)::BIGINT;
CREATE OR REPLACE MACRO {S}.pg_date_bin(stride, src, origin) AS
    CASE WHEN date_part('year', stride) * 12 + date_part('month', stride) <> 0
         THEN error('timestamps cannot be binned into intervals containing months or years')
         WHEN {S}.pg_stride_us(stride) <= 0 THEN error('stride must be greater than zero')
         ELSE {S}.pg_timestamp_in_range(make_timestamp(epoch_us(origin)
             + (epoch_us(src) - epoch_us(origin))
             - (((epoch_us(src) - epoch_us(origin)) % {S}.pg_stride_us(stride))
                + {S}.pg_stride_us(stride)) % {S}.pg_stride_us(stride))) END;
-- PostgreSQL's timestamps start at 4714-11-24 BC (DuckDB's go further back)
CREATE OR REPLACE MACRO {S}.pg_timestamp_in_range(t) AS
    CASE WHEN t < make_timestamp(-4713, 11, 24, 0, 0, 0) THEN error('timestamp out of range')
         ELSE t END;
CREATE OR REPLACE MACRO {S}.pg_year(y) AS
    CASE WHEN y < 0 THEN y + 1 WHEN y = 0 THEN error('HATI-22008: date field value out of range: year 0')
    ELSE y END;
CREATE OR REPLACE MACRO {S}.pg_make_date(y, m, d) AS make_date({S}.pg_year(y), m, d);
CREATE OR REPLACE MACRO {S}.pg_make_timestamp(y, mo, d, h, mi, s) AS
    make_timestamp({S}.pg_year(y), mo, d, h, mi, s);
CREATE OR REPLACE MACRO {S}.pg_regexp_count(s, p) AS length(regexp_extract_all(s, p));
CREATE OR REPLACE MACRO {S}.pg_type_name(x) AS hati_pg_type_name(typeof(x));
CREATE OR REPLACE MACRO {S}.pg_cardinality(a) AS
    CASE WHEN typeof(a) LIKE '%[][]' THEN hati_pg_cardinality(to_json(a)::VARCHAR)
    ELSE len(a) END;
CREATE OR REPLACE MACRO {S}.pg_array_dims_of(a) AS
    CASE WHEN typeof(a) LIKE '%[][]' THEN hati_pg_array_dims(to_json(a)::VARCHAR)
         WHEN len(a) > 0 THEN [len(a)] ELSE []::INTEGER[] END;
CREATE OR REPLACE MACRO {S}.pg_array_length(a, d) AS
    CASE WHEN d >= 1 THEN {S}.pg_array_dims_of(a)[d] END;
CREATE OR REPLACE MACRO {S}.pg_array_lower(a, d) AS
    CASE WHEN {S}.pg_array_length(a, d) IS NOT NULL THEN 1 END;
CREATE OR REPLACE MACRO {S}.pg_array_ndims(a) AS
    CASE WHEN len({S}.pg_array_dims_of(a)) > 0 THEN len({S}.pg_array_dims_of(a)) END;
CREATE OR REPLACE MACRO {S}.pg_array_dims(a) AS
    CASE WHEN len({S}.pg_array_dims_of(a)) > 0
    THEN '[1:' || array_to_string({S}.pg_array_dims_of(a), '][1:') || ']' END;
CREATE OR REPLACE MACRO {S}.pg_text(x) AS
    CASE WHEN typeof(x) LIKE '%]' OR typeof(x) LIKE 'STRUCT(%' OR typeof(x) LIKE 'TUPLE(%'
              OR typeof(x) IN {valuetext.TEXT_TYPES!r}
    THEN hati_pg_text(typeof(x), to_json(x)::VARCHAR) ELSE x::VARCHAR END;
"""


def _call(name: str, *args: ast.Node, hidden: bool = True) -> ast.FuncCall:
    return func_call(name, *args, hidden=hidden)


def _type(name: str, *mods: int) -> ast.TypeName:
    return ast.TypeName(
        names=(ast.String(sval=name),), typmods=tuple(_const(m) for m in mods) or None
    )


def _cast(arg: ast.Node, name: str, *mods: int) -> ast.TypeCast:
    return ast.TypeCast(arg=arg, typeName=_type(name, *mods))


# --------------------------------------------------------------------------- nodes
def _row_null_test(node: ast.NullTest, _ctx: Translation) -> ast.Node | None:
    """``ROW(a, b) IS NULL``: every field is NULL; ``IS NOT NULL``: none is."""
    if not isinstance(node.arg, ast.RowExpr) or not node.arg.args:
        return None
    tests = tuple(ast.NullTest(arg=a, nulltesttype=node.nulltesttype) for a in node.arg.args)
    return ast.BoolExpr(boolop=BoolExprType.AND_EXPR, args=tests)


def _interval_cast(node: ast.Node | None) -> bool:
    return (
        isinstance(node, ast.TypeCast)
        and node.typeName is not None
        and node.typeName.names[-1].sval == "interval"
    )


# x ^ y and x % y with PostgreSQL's errors (DuckDB answers NaN, Infinity or NULL)
_CHECKED_OPERATORS = {"^": "pg_power", "%": "pg_mod"}


def _a_expr(node: ast.A_Expr, _ctx: Translation) -> ast.Node | None:
    """``x SIMILAR TO p`` as a regular expression; ``interval / n``."""
    if node.kind == A_Expr_Kind.AEXPR_SIMILAR:
        return like.similar_to(node)
    op = node.name[-1].sval if node.kind == A_Expr_Kind.AEXPR_OP and node.name else None
    if op in _CHECKED_OPERATORS and node.lexpr is not None and node.rexpr is not None:
        return _call(_CHECKED_OPERATORS[op], node.lexpr, node.rexpr)
    if (
        node.kind == A_Expr_Kind.AEXPR_OP
        and node.name[-1].sval == "/"
        and _interval_cast(node.lexpr)
    ):
        # integer_division makes DuckDB's / an integer operator: none takes intervals.
        share = ast.A_Expr(
            kind=A_Expr_Kind.AEXPR_OP,
            name=(ast.String(sval="/"),),
            lexpr=_cast(_const("1"), "float8"),
            rexpr=node.rexpr,
        )
        return ast.A_Expr(
            kind=A_Expr_Kind.AEXPR_OP, name=(ast.String(sval="*"),), lexpr=node.lexpr, rexpr=share
        )
    return None


_DECIMAL = re.compile(r"\s*[-+]?(\d*)(?:\.(\d*))?\s*")


def _numeric_of(arg: ast.Node, ctx: Translation) -> ast.Node | None:
    """``<constant>::numeric`` keeps the constant's digits, as PostgreSQL's numeric does
    (DuckDB's bare DECIMAL is DECIMAL(18,3): ``0.000123::numeric`` would be 0.000)."""
    if isinstance(arg, ast.ParamRef) and ctx.params is not None and (arg.number or 0) > ctx.params:
        raise NeedsLiteral
    if isinstance(arg, ast.ParamRef):
        return None
    if not isinstance(arg, ast.A_Const):
        # a float's digits as PostgreSQL's float4/float8 -> numeric casts print them
        return _call("pg_numeric_in", arg)
    if arg.isnull:
        return None
    val = arg.val
    if isinstance(val, ast.Float):
        return arg if len((val.fval or "").replace(".", "").lstrip("-0")) <= 38 else None
    if isinstance(val, ast.Integer):
        return _cast(arg, "numeric", 38, 0)
    if isinstance(val, ast.String):
        m = _DECIMAL.fullmatch(val.sval or "")
        if m and (m.group(1) or m.group(2)):
            whole, frac = m.group(1).lstrip("0"), m.group(2) or ""
            if len(whole) + len(frac) <= 38:
                return _cast(arg, "numeric", 38, len(frac))
    return None


def _string_literal(arg: ast.Node | None, ctx: Translation) -> str | None:
    """The text of a string constant (lifted out or in place), or None."""
    if isinstance(arg, ast.ParamRef) and ctx.params is not None and (arg.number or 0) > ctx.params:
        raise NeedsLiteral
    if isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String):
        return arg.val.sval or ""
    return None


_BOOLS = {"t": True, "true": True, "y": True, "yes": True, "on": True, "1": True}
_BOOLS |= {"f": False, "false": False, "n": False, "no": False, "off": False, "0": False}
_BOOLS |= {
    "tr": True,
    "tru": True,
    "ye": True,
    "fa": False,
    "fal": False,
    "fals": False,
    "of": False,
}


def _boolean(text: str, _node: ast.TypeCast) -> ast.Node:
    value = _BOOLS.get(text.strip().lower())
    if value is None:
        raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')
    return ast.A_Const(val=ast.Boolean(boolval=value))


_INTEGER = re.compile(r"\s*[-+]?\d+\s*")


def _integer(text: str, node: ast.TypeCast) -> ast.Node | None:
    """DuckDB rounds '3.7'::int to 4; PostgreSQL refuses it."""
    if _INTEGER.fullmatch(text):
        return None
    kind = {"int2": "smallint", "int4": "integer", "int8": "bigint"}[node.typeName.names[-1].sval]
    raise InvalidTextRepresentation(f'invalid input syntax for type {kind}: "{text}"')


def array_items(text: str) -> list[str | None] | None:
    """The items of a one-dimensional array literal ``{a,"b c",NULL}``, or None."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")) or "{" in body[1:-1]:
        return None
    body = body[1:-1]
    if not body.strip():
        return []
    items: list[str | None] = []
    for m in re.finditer(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*?))\s*(?:,|$)', body):
        if m.end() == m.start():
            break
        if m.group(1) is not None:
            items.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        else:
            raw = m.group(2)
            items.append(None if raw.upper() == "NULL" else raw)
    return items


def _array(text: str, node: ast.TypeCast) -> ast.Node | None:
    """``'{a,b}'::text[]`` as ``ARRAY['a', 'b']::text[]``."""
    items = array_items(text)
    if items is None:
        return None
    elems = tuple(ast.A_Const(isnull=True) if i is None else _const(i) for i in items)
    return ast.TypeCast(arg=ast.A_ArrayExpr(elements=elems or None), typeName=node.typeName)


def _datetime_value(f: datetime_in.Fields, kind: str) -> ast.Node:
    """A DuckDB expression for parsed date or timestamp fields."""
    if f.special is not None:
        if f.special in ("infinity", "-infinity"):
            return _cast(_const(f.special), kind)
        if f.special == "epoch":
            return _cast(_const("1970-01-01"), kind)
        if f.special == "now" and kind == "timestamp":
            return _cast(ast.SQLValueFunction(op=SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP), kind)
        today: ast.Node = _cast(
            ast.SQLValueFunction(op=SQLValueFunctionOp.SVFOP_CURRENT_DATE), "date"
        )
        shift = {"tomorrow": 1, "yesterday": -1}.get(f.special, 0)
        if shift:
            today = ast.A_Expr(
                kind=A_Expr_Kind.AEXPR_OP, name=(ast.String(sval="+"),), lexpr=today,
                rexpr=_const(shift),
            )  # fmt: skip
        return _cast(today, kind)
    if kind == "date":
        if f.year > 0:
            return _cast(_const(f"{f.year:04d}-{f.month:02d}-{f.day:02d}"), "date")
        # PostgreSQL's make_date, where year -1 is 1 BC
        return _call("pg_make_date", _const(f.year - 1), _const(f.month), _const(f.day))
    clock = f"{f.hour:02d}:{f.minute:02d}:{f.second:02d}.{f.micro:06d}"
    if f.year > 0:
        return _cast(_const(f"{f.year:04d}-{f.month:02d}-{f.day:02d} {clock}"), "timestamp")
    seconds = ast.A_Const(val=ast.Float(fval=f"{f.second}.{f.micro:06d}"))
    parts = (f.year - 1, f.month, f.day, f.hour, f.minute)
    return _call("pg_make_timestamp", *(_const(p) for p in parts), seconds)


def _datetime(text: str, node: ast.TypeCast, ctx: Translation) -> ast.Node | None:
    """``date '...'`` / ``timestamp '...'`` read by PostgreSQL's rules; where the reading
    depends on DateStyle's field order, the session's order chooses when it runs."""
    kind = "date" if node.typeName.names[-1].sval == "date" else "timestamp"
    readings: dict[str, datetime_in.Fields | HatiError] = {}
    for order in datetime_in.ORDERS:
        try:
            readings[order] = datetime_in.parse(text, order, kind)
        except datetime_in.Unknown:
            return None
        except HatiError as exc:
            readings[order] = exc
    first = readings["MDY"]
    if all(repr(r) == repr(first) for r in readings.values()):
        if isinstance(first, HatiError):
            raise first
        return _datetime_value(first, kind)

    def branch(r: datetime_in.Fields | HatiError) -> ast.Node:
        if isinstance(r, HatiError):
            return _cast(_call("error", _const(str(r)), hidden=False), kind)
        return _datetime_value(r, kind)

    ctx.reads_settings = True
    chosen = _call("pg_datestyle_order", _const(0))
    return ast.CaseExpr(
        arg=chosen,
        args=tuple(
            ast.CaseWhen(expr=_const(o), result=branch(readings[o])) for o in ("DMY", "YMD")
        ),
        defresult=branch(first),
    )


# Types whose DuckDB text is PostgreSQL's: a cast of them to text stays DuckDB's cast.
_SAME_TEXT = frozenset(
    {"unknown", "int2", "int4", "int8", "text", "varchar", "bpchar", "name", "bool", "date",
     "uuid", "timestamp", "time", "json", "jsonb"}
)  # fmt: skip


def _as_text(arg: ast.Node | None, ctx: Translation) -> ast.Node | None:
    """``x::text`` as PostgreSQL prints x (an array ``{1,2}``, a row ``(1,a)``, bytea
    ``\\xdead``, a float ``3``, an interval ``1 mon``: the macro pg_text), or None where
    DuckDB's cast prints the same."""
    if arg is None or isinstance(arg, ast.A_Const | ast.ParamRef) or ctx.stored:
        return None
    for n in walk(arg):
        if isinstance(n, ast.ParamRef) and (ctx.params is None or (n.number or 0) <= ctx.params):
            return None  # a client's parameter: DuckDB must infer its type from the cast
    try:
        known = typeof.infer(arg, ctx)
    except NeedsLiteral:
        known = None  # an integer, bigint or numeric literal: the macro decides
    if known in _SAME_TEXT:
        return None
    return _call("pg_text", arg)


_LITERAL_TYPES: dict[str, Callable[[str, ast.TypeCast], ast.Node | None]] = {
    "bool": _boolean,
    "int2": _integer,
    "int4": _integer,
    "int8": _integer,
}


def _precise_timestamp(node: ast.TypeCast, ctx: Translation) -> ast.Node | None:
    """``x::timestamp(p)``: rounded to p digits of seconds, as PostgreSQL rounds."""
    mod = node.typeName.typmods[0]
    p = getattr(getattr(mod, "val", None), "ival", None)
    if not isinstance(mod, ast.A_Const) or not isinstance(p, int):
        return None
    plain = ast.TypeName(names=node.typeName.names)
    cast = ast.TypeCast(arg=node.arg, typeName=plain)
    if p >= 6:
        return cast
    return _call("pg_round_timestamp", _type_cast(cast, ctx) or cast, _const(p))


def _type_cast(node: ast.TypeCast, ctx: Translation) -> ast.Node | None:
    """``x::varchar(n)`` / ``x::char(n)`` cut to n characters; ``'...'::numeric``."""
    tn = node.typeName
    if tn is None or not tn.names:
        return None
    if tn.arrayBounds:
        text = _string_literal(node.arg, ctx)
        return _array(text, node) if text is not None else None
    name = tn.names[-1].sval
    if name in ("timestamp", "timestamptz") and tn.typmods and len(tn.typmods) == 1:
        return _precise_timestamp(node, ctx)
    if name in ("varchar", "bpchar") and tn.typmods and len(tn.typmods) == 1:
        mod = tn.typmods[0]
        if isinstance(mod, ast.A_Const) and isinstance(mod.val, ast.Integer):
            as_text = _as_text(node.arg, ctx) or _cast(node.arg, "varchar")
            return _call("left", as_text, _const(mod.val.ival), hidden=False)
    if name in ("text", "varchar") and not tn.typmods:
        return _as_text(node.arg, ctx)
    if name in ("numeric", "decimal") and not tn.typmods and node.arg is not None:
        return _numeric_of(node.arg, ctx)
    if name in _LITERAL_TYPES:
        text = _string_literal(node.arg, ctx)
        if text is not None:
            return _LITERAL_TYPES[name](text, node)
    if name in ("date", "timestamp", "timetz"):
        text = _string_literal(node.arg, ctx)
        if text is not None:
            return _timetz(text, tn) if name == "timetz" else _datetime(text, node, ctx)
    return None


def _timetz(text: str, tn: ast.TypeName) -> ast.Node | None:
    """``'11:00 BST'::timetz`` in the ISO form DuckDB reads (PostgreSQL's zone names)."""
    iso = datetime_in.timetz(text)
    return ast.TypeCast(arg=_const(iso), typeName=tn) if iso is not None else None


# extract(field FROM x): PostgreSQL answers numeric, with the seconds' fraction.
_EXTRACT_SCALED = {
    "second": ("microseconds", "0.000001", 6),
    "seconds": ("microseconds", "0.000001", 6),
    "milliseconds": ("microseconds", "0.001", 3),
}


# fields whose values are whole years (or Infinity), which a double prints as numeric does
_YEAR_FIELDS = frozenset(
    {"year", "isoyear", "decade", "century", "millennium"}
)  # fmt: skip

_TIME_FIELDS = frozenset(
    {"microseconds", "milliseconds", "second", "minute", "hour", "timezone", "timezone_hour",
     "timezone_minute"}
)  # fmt: skip


def _is_date(node: ast.Node) -> bool:
    """Whether ``node`` is spelled as a date (``DATE '...'``, ``x::date``)."""
    return (
        isinstance(node, ast.TypeCast)
        and node.typeName is not None
        and node.typeName.names[-1].sval == "date"
        and not node.typeName.arrayBounds
    )


def _extract(node: ast.FuncCall) -> ast.Node | None:
    args = node.args or ()
    if len(args) != 2 or not isinstance(args[0], ast.A_Const):
        return None
    field = getattr(args[0].val, "sval", None)
    if field in _YEAR_FIELDS or (field == "julian" and _is_date(args[1])):
        # years BC counted as PostgreSQL counts them, an infinite value's Infinity
        return _call("pg_date_part", _const(field), args[1])
    if _is_date(args[1]):
        if field in _TIME_FIELDS:
            raise FeatureNotSupported(f'unit "{field}" not supported for type date')
        if field == "epoch":
            return _cast(_call("pg_epoch", args[1]), "numeric", 18, 0)
    if field == "epoch":
        return _cast(_call("pg_epoch", args[1]), "numeric", 18, 6)
    if field in _EXTRACT_SCALED:
        part, factor, scale = _EXTRACT_SCALED[field]
        micros = _call("date_part", _const(part), args[1], hidden=False)
        scaled = ast.A_Expr(
            kind=A_Expr_Kind.AEXPR_OP,
            name=(ast.String(sval="*"),),
            lexpr=ast.A_Const(val=ast.Float(fval=factor)),
            rexpr=micros,
        )
        return _cast(scaled, "numeric", 18, scale)
    return None


def _date_trunc(node: ast.FuncCall) -> ast.Node | None:
    """A date's truncation is a timestamp with time zone (centuries: builtins.py)."""
    args = node.args or ()
    if len(args) != 2 or not _is_date(args[1]):
        return None
    return _cast(_call("pg_date_trunc", *args), "timestamptz")


# name -> (argument counts it applies to, macro in the hidden schema)
_MACROS: dict[str, tuple[tuple[int, ...], str]] = {
    "round": ((1,), "pg_round"),
    "to_hex": ((1,), "pg_to_hex"),
    "encode": ((2,), "pg_encode"),
    "decode": ((2,), "pg_decode"),
    "quote_literal": ((1,), "pg_quote_literal"),
    "quote_nullable": ((1,), "pg_quote_nullable"),
    "quote_ident": ((1,), "pg_quote_ident"),
    "initcap": ((1,), "pg_initcap"),
    "array_to_string": ((3,), "pg_array_to_string"),
    "div": ((2,), "pg_div"),
    "cardinality": ((1,), "pg_cardinality"),
    "array_length": ((2,), "pg_array_length"),
    "array_upper": ((2,), "pg_array_length"),
    "array_lower": ((2,), "pg_array_lower"),
    "array_ndims": ((1,), "pg_array_ndims"),
    "array_dims": ((1,), "pg_array_dims"),
    "make_date": ((3,), "pg_make_date"),
    "scale": ((1,), "pg_scale"),
    "sqrt": ((1,), "pg_sqrt"),
    "chr": ((1,), "pg_chr"),
    "ln": ((1,), "pg_ln"),
    "log": ((1,), "pg_log10"),
    "log10": ((1,), "pg_log10"),
    "power": ((2,), "pg_power"),
    "pow": ((2,), "pg_power"),
    "mod": ((2,), "pg_mod"),
    "min_scale": ((1,), "pg_min_scale"),
    "trim_scale": ((1,), "pg_trim_scale"),
    "width_bucket": ((4,), "pg_width_bucket"),
    "make_timestamp": ((6,), "pg_make_timestamp"),
    "regexp_count": ((2,), "pg_regexp_count"),
    "date_bin": ((3,), "pg_date_bin"),
    "date_part": ((2,), "pg_date_part"),
    "pg_sleep": ((1,), "pg_sleep_void"),
}
# read a multidimensional array's JSON (to_json), which DuckDB does not store
_DIMENSIONS = frozenset(
    {"cardinality", "array_length", "array_upper", "array_lower", "array_ndims", "array_dims"}
)
_RENAMED = {"every": "bool_and", "regexp_like": "regexp_matches"}

_SPECIAL: dict[str, Callable[[ast.FuncCall], ast.Node | None]] = {
    "extract": _extract,
    "date_trunc": _date_trunc,
}


def _func_call(node: ast.FuncCall, _ctx: Translation) -> ast.Node | None:
    if len(node.funcname) > 2 or node.agg_star or node.over is not None:
        return None
    if len(node.funcname) == 2 and node.funcname[0].sval != "pg_catalog":
        return None
    name = node.funcname[-1].sval
    nargs = len(node.args or ())
    if name == "log" and nargs == 2:
        return _call("pg_log", *(node.args or ()))
    if name == "text" and nargs == 1:  # text(x) is x::text
        (arg,) = node.args or ()
        return _as_text(arg, _ctx) or _cast(arg, "varchar")
    macro = _MACROS.get(name)
    if macro is not None and nargs in macro[0] and not (_ctx.stored and name in _DIMENSIONS):
        return _call(macro[1], *(node.args or ()))
    if name in ("lpad", "rpad") and nargs == 2:
        return _call(name, *(node.args or ()), _const(" "), hidden=False)
    if name in _RENAMED:
        node.funcname = (ast.String(sval=_RENAMED[name]),)
        return None
    if name == "format":
        return textcalls.format_call(node, _ctx)
    if name == "age":
        textcalls.age(node, _ctx)
        return None
    special = _SPECIAL.get(name)
    return special(node) if special is not None else None


_REWRITES: dict[type, Callable[..., ast.Node | None]] = {
    ast.NullTest: _row_null_test,
    ast.A_Expr: _a_expr,
    ast.TypeCast: _type_cast,
    ast.FuncCall: _func_call,
}


def _explain_options(stmt: ast.ExplainStmt) -> None:
    """DuckDB's EXPLAIN knows ANALYZE only: COSTS, VERBOSE, BUFFERS, TIMING, SUMMARY,
    SETTINGS, WAL and FORMAT change what PostgreSQL prints, never what runs."""
    kept = tuple(
        opt
        for opt in stmt.options or ()
        if isinstance(opt, ast.DefElem)
        and opt.defname == "analyze"
        and not (isinstance(opt.arg, ast.String) and opt.arg.sval in ("false", "off", "0"))
        and not (isinstance(opt.arg, ast.Boolean) and not opt.arg.boolval)
    )
    stmt.options = kept or None


def expressions(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Rewrite every expression DuckDB would answer differently (see module doc)."""
    if isinstance(stmt, ast.ExplainStmt):
        _explain_options(stmt)
    ctx.stored = isinstance(stmt, ast.IndexStmt | ast.CreateStmt | ast.AlterTableStmt)
    for node in walk(stmt):
        if isinstance(node, ast.RangeVar):
            node.inh = True  # FROM ONLY t: DuckDB has no inheritance, every table is its only
        for attr, child in children(node):
            rewrite = _REWRITES.get(type(child))
            new = rewrite(child, ctx) if rewrite is not None else None
            if new is not None and new is not child:
                replace_child(node, attr, child, new)
    return stmt
