"""``pg_typeof(x)``: PostgreSQL's type of an expression, as PostgreSQL resolves it.

The type is read off the PostgreSQL parse tree where the tree decides it: a literal
(``'a'`` is ``unknown``, ``1`` integer, ``3000000000`` bigint, ``1.5`` numeric), a cast
(``::varchar`` is ``character varying``, ``::jsonb`` jsonb, ``::numeric[]``), and the
operators and functions over such operands, by PostgreSQL's own resolution rules
(``float4 + int4`` runs as ``float48pl`` and is double precision; CASE, COALESCE and
ARRAY[...] take ``select_common_type``'s type). Where the tree does not decide it (a
column, a function hati does not know), the type is DuckDB's type of the translated
expression in PostgreSQL's name (``hati_pg_type_name``, ``pg/valuetext.py``).

Types here are PostgreSQL's internal names (``int4``, ``float8``, ``int4[]``) until
:func:`display` prints them as ``format_type`` does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pglast import ast
from pglast.enums import A_Expr_Kind, MinMaxOp, SQLValueFunctionOp, SubLinkType

from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.translate import NeedsLiteral, Translation, func_call, replace_child, walk
from hati.pg.translate import const as _const

# PostgreSQL's internal type name -> format_type's
_DISPLAY = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "varchar": "character varying",
    "bpchar": "character",
    "char": '"char"',
    "time": "time without time zone",
    "timetz": "time with time zone",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "varbit": "bit varying",
    "decimal": "numeric",
}
_INTEGERS = ("int2", "int4", "int8")
# the numeric category, each implicitly cast to those after it; float8 is preferred
_NUMERIC = ("int2", "int4", "int8", "numeric", "float4", "float8")
_STRINGS = ("text", "varchar", "bpchar", "name")
_DATETIMES = ("date", "timestamp", "timestamptz")
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def display(t: str) -> str:
    """``int4[]`` as ``integer[]``: PostgreSQL's name of a type, as pg_typeof prints it."""
    base, dims = (t[:-2], "[]") if t.endswith("[]") else (t, "")
    name = _DISPLAY.get(base)
    if name is None:
        name = base if _PLAIN_NAME.fullmatch(base) else '"' + base.replace('"', '""') + '"'
    return name + dims


def cast_type(tn: ast.TypeName) -> str | None:
    """The internal name of the type a cast names (``pg_catalog.int4``, ``int[]``)."""
    if not tn.names or tn.pct_type or tn.setof:
        return None
    names = [n.sval for n in tn.names]
    base = names[-1]
    if base == "decimal":
        base = "numeric"
    return base + ("[]" if tn.arrayBounds else "")


def _element(t: str | None) -> str | None:
    return t[:-2] if t is not None and t.endswith("[]") else None


def _is_array(t: str | None) -> bool:
    return t is not None and t.endswith("[]")


def common(types: Sequence[str | None]) -> str | None:
    """select_common_type: the type CASE, COALESCE, ARRAY[...] and UNION give their
    branches (None: not known here, or PostgreSQL refuses the mix)."""
    if any(t is None for t in types):
        return None
    known = [t for t in types if t != "unknown"]
    if not known:
        return "text"
    result = known[0]
    for t in known[1:]:
        if t is None or t == result:
            continue
        if result in _NUMERIC and t in _NUMERIC:
            result = max(result, t, key=_NUMERIC.index)
        elif result in _STRINGS and t in _STRINGS:
            result = "text" if "text" in (result, t) else result
        elif result in _DATETIMES and t in _DATETIMES:
            result = max(result, t, key=_DATETIMES.index)
        else:
            return None
    return result


def _arith(op: str, left: str, right: str) -> str | None:
    """The result of a numeric operator between two numeric types."""
    if op == "^":
        if "float4" in (left, right) or "float8" in (left, right):
            return "float8"
        return "numeric" if "numeric" in (left, right) else "float8"
    if left == right:
        return None if op == "%" and left in ("float4", "float8") else left
    if left in _INTEGERS and right in _INTEGERS:
        return max(left, right, key=_INTEGERS.index)  # int24pl, int48pl, ...
    if left in ("float4", "float8") or right in ("float4", "float8"):
        return None if op == "%" else "float8"  # float48pl: float8 is preferred
    return "numeric"


# (left, op, right) -> result for the date and time operators
_DATETIME_OPS = {
    ("date", "+", "int4"): "date",
    ("int4", "+", "date"): "date",
    ("date", "-", "int4"): "date",
    ("date", "-", "date"): "int4",
    ("date", "+", "interval"): "timestamp",
    ("interval", "+", "date"): "timestamp",
    ("date", "-", "interval"): "timestamp",
    ("date", "+", "time"): "timestamp",
    ("timestamp", "+", "interval"): "timestamp",
    ("interval", "+", "timestamp"): "timestamp",
    ("timestamp", "-", "interval"): "timestamp",
    ("timestamp", "-", "timestamp"): "interval",
    ("timestamptz", "+", "interval"): "timestamptz",
    ("interval", "+", "timestamptz"): "timestamptz",
    ("timestamptz", "-", "interval"): "timestamptz",
    ("timestamptz", "-", "timestamptz"): "interval",
    ("interval", "+", "interval"): "interval",
    ("interval", "-", "interval"): "interval",
    ("time", "+", "interval"): "time",
    ("time", "-", "interval"): "time",
    ("time", "-", "time"): "interval",
    ("interval", "*", "float8"): "interval",
    ("float8", "*", "interval"): "interval",
    ("interval", "/", "float8"): "interval",
}
_COMPARISONS = frozenset(
    {"=", "<>", "!=", "<", ">", "<=", ">=", "~", "~*", "!~", "!~*", "~~", "~~*", "!~~",
     "!~~*", "@>", "<@", "?", "?|", "?&", "&&", "@@", "@?"}
)  # fmt: skip


def _datetime_operand(t: str, op: str) -> str:
    """The type a date/time operator takes ``t`` as: smallint as integer beside a date,
    any number as float8 times an interval."""
    if op in "+-" and t in ("int2", "int4"):
        return "int4"
    if op in "*/" and t in _NUMERIC:
        return "float8"
    return t


def _json_or_concat(op: str, left: str, right: str) -> str | None:
    """json's ``->``, ``->>``, ``#>``, ``#>>``, jsonb's ``-`` and ``||``, and ``||``."""
    if "jsonb" in (left, right) and op in ("->", "#>", "-", "#-", "||"):
        return "jsonb" if op != "||" or left == right or "unknown" in (left, right) else None
    if left == "json" and op in ("->", "#>"):
        return "json"
    if left in ("json", "jsonb") and op in ("->>", "#>>"):
        return "text"
    if op == "||":
        if _is_array(left) or _is_array(right):
            return left if _is_array(left) else right
        return "text"
    return None


def operator(op: str, left: str | None, right: str | None, prefix: bool = False) -> str | None:
    """The result type of ``left op right`` (``prefix``: ``op right``)."""
    if op in _COMPARISONS:
        return "bool"
    if prefix:
        return right if right in _NUMERIC or right == "interval" else None
    if left is None or right is None:
        return None
    if op in ("->", "->>", "#>", "#>>", "#-", "||") or "jsonb" in (left, right):
        return _json_or_concat(op, left, right)
    if left == "unknown" and right == "unknown":
        return None
    # an unknown literal is taken as the other operand's type
    left = right if left == "unknown" else left
    right = left if right == "unknown" else right
    if left in _NUMERIC and right in _NUMERIC:
        if op in ("+", "-", "*", "/", "%", "^"):
            return _arith(op, left, right)
        bitwise = op in ("&", "|", "#", "<<", ">>")
        return left if bitwise and left in _INTEGERS and right in _INTEGERS else None
    key = (_datetime_operand(left, op), op, _datetime_operand(right, op))
    return _DATETIME_OPS.get(key)


# functions whose result type does not depend on their arguments
_FIXED = {
    "int4": (
        "length char_length character_length octet_length bit_length position strpos ascii "
        "array_length array_upper array_lower array_ndims cardinality array_position "
        "json_array_length jsonb_array_length width_bucket regexp_count num_nonnulls "
        "num_nulls"
    ),
    "int8": "count row_number rank dense_rank ntile pg_relation_size pg_total_relation_size",
    "text": (
        "upper lower initcap substr substring trim btrim ltrim rtrim replace lpad rpad left "
        "right repeat reverse concat concat_ws format md5 to_char chr quote_ident "
        "quote_literal quote_nullable translate split_part regexp_replace to_hex encode "
        "array_to_string overlay version current_setting json_typeof jsonb_typeof "
        "jsonb_pretty string_agg sha256 host text pg_get_userbyid format_type "
        "pg_get_indexdef pg_get_constraintdef pg_get_expr obj_description set_config "
        "col_description"
    ),
    "float8": "random pi date_part cume_dist percent_rank",
    "numeric": "extract div to_number",
    "timestamptz": "now transaction_timestamp statement_timestamp clock_timestamp to_timestamp",
    "date": "to_date make_date",
    "timestamp": "make_timestamp",
    "interval": "age make_interval justify_days justify_hours justify_interval",
    "uuid": "gen_random_uuid",
    "bool": "bool_and bool_or every isfinite starts_with pg_has_role has_table_privilege",
    "json": "to_json json_build_object json_build_array json_object array_to_json row_to_json json_agg json_object_agg",
    "jsonb": (
        "to_jsonb jsonb_build_object jsonb_build_array jsonb_object jsonb_set jsonb_insert "
        "jsonb_strip_nulls jsonb_agg jsonb_object_agg jsonb_path_query_first jsonb_path_query"
    ),
    "text[]": "string_to_array regexp_match regexp_matches regexp_split_to_array",
    "regtype": "pg_typeof to_regtype",
    "name": "current_database current_schema current_user session_user",
    "oid": "pg_my_temp_schema",
}
_FIXED_TYPES = {f: t for t, names in _FIXED.items() for f in names.split()}
_SAME_AS_ARG = frozenset(
    [
        "min",
        "max",
        "abs",
        "sign",
        "mod",
        "gcd",
        "lcm",
        "any_value",
        "first_value",
        "last_value",
        "lag",
        "lead",
        "nth_value",
        "trim_scale",
    ]
)
_FLOAT_OR_NUMERIC = frozenset(["sqrt", "cbrt", "exp", "ln", "log", "log10", "power", "pow"])
_ROUNDING = frozenset(["round", "trunc", "ceil", "ceiling", "floor"])
_STATS = frozenset(
    ["stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop"]
)  # numeric over integers and numeric, float8 over floats
_ARRAY_OPS = frozenset(
    ["array_append", "array_prepend", "array_cat", "array_remove", "array_replace"]
)


def _numeric_function(name: str, args: Sequence[str | None], first: str) -> str | None:
    """Aggregates and math functions whose result type follows a numeric argument."""
    if name == "sum":
        return {"int2": "int8", "int4": "int8", "int8": "numeric"}.get(first, first)
    if name == "avg":
        if first in _INTEGERS or first == "numeric":
            return "numeric"
        return "float8" if first in ("float4", "float8") else first
    if name in _STATS:
        return "numeric" if first in (*_INTEGERS, "numeric") else "float8"
    if name in _FLOAT_OR_NUMERIC:
        if name == "log" and len(args) == 2:
            return "numeric"  # log(b, x) is numeric only
        return "numeric" if "numeric" in args else "float8"
    if name in _ROUNDING:
        return "numeric" if first == "numeric" else "float8" if first in _NUMERIC else None
    return None


def function(name: str, args: Sequence[str | None]) -> str | None:
    """The result type of the built-in function ``name`` over arguments of ``args``."""
    fixed = _FIXED_TYPES.get(name)
    if fixed is not None:
        return "bytea" if name == "string_agg" and args and args[0] == "bytea" else fixed
    first = args[0] if args else None
    if name == "date_trunc" and len(args) >= 2:
        kind = args[1]
        return {"date": "timestamptz", "unknown": None}.get(kind or "", kind)
    if name in _ROUNDING and len(args) == 2:
        return "numeric"  # round(x, n) is numeric only
    if first is None:
        return None
    if name in _SAME_AS_ARG:
        return common(args) if name in ("mod", "gcd", "lcm") else first
    if name == "generate_series":
        return "timestamptz" if first == "date" else common(args[:2])
    if name == "array_agg":
        return first if _is_array(first) else first + "[]"
    if name == "unnest":
        return _element(first)
    if name in _ARRAY_OPS:
        return next((a for a in args if _is_array(a)), None)
    return _numeric_function(name, args, first)


_SVF = {
    SQLValueFunctionOp.SVFOP_CURRENT_DATE: "date",
    SQLValueFunctionOp.SVFOP_CURRENT_TIME: "timetz",
    SQLValueFunctionOp.SVFOP_CURRENT_TIME_N: "timetz",
    SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP: "timestamptz",
    SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N: "timestamptz",
    SQLValueFunctionOp.SVFOP_LOCALTIME: "time",
    SQLValueFunctionOp.SVFOP_LOCALTIME_N: "time",
    SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP: "timestamp",
    SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N: "timestamp",
}
_BOOLEAN_KINDS = frozenset(
    {A_Expr_Kind.AEXPR_OP_ANY, A_Expr_Kind.AEXPR_OP_ALL, A_Expr_Kind.AEXPR_DISTINCT,
     A_Expr_Kind.AEXPR_NOT_DISTINCT, A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_LIKE,
     A_Expr_Kind.AEXPR_ILIKE, A_Expr_Kind.AEXPR_SIMILAR, A_Expr_Kind.AEXPR_BETWEEN,
     A_Expr_Kind.AEXPR_NOT_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM,
     A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM}
)  # fmt: skip
_INT4_MAX = 2**31 - 1
_INT8_MAX = 2**63 - 1


def _constant(node: ast.A_Const) -> str:
    if node.isnull:
        return "unknown"
    val = node.val
    if isinstance(val, ast.Integer):
        return "int4"
    if isinstance(val, ast.Float):
        digits = (val.fval or "").lstrip("-")
        if digits.isdigit():
            return "int8" if int(digits) <= _INT8_MAX else "numeric"
        return "numeric"
    if isinstance(val, ast.Boolean):
        return "bool"
    if isinstance(val, ast.BitString):
        return "bit"
    return "unknown"


def _lifted(node: ast.ParamRef, ctx: Translation) -> str | None:
    """A lifted literal's type (its kind says string or number); a client parameter's
    type is not known here."""
    number = node.number or 0
    if ctx.params is None or number <= ctx.params:
        return None
    kinds = ctx.literal_kinds
    kind = kinds[number - ctx.params - 1] if number - ctx.params - 1 < len(kinds) else ""
    if kind == "s":
        return "unknown"
    if kind == "i":
        raise NeedsLiteral  # integer or bigint: its digits decide
    return "numeric" if kind else None


def _func(node: ast.FuncCall, ctx: Translation) -> str | None:
    names = [n.sval for n in node.funcname]
    if len(names) > 2 or (len(names) == 2 and names[0] != "pg_catalog"):
        return None
    name = names[-1]
    if node.agg_star:
        return "int8" if name == "count" else None
    args = [infer(a, ctx) for a in node.args or ()]
    return function(name, args)


def _a_expr(node: ast.A_Expr, ctx: Translation) -> str | None:
    if node.kind in _BOOLEAN_KINDS:
        return "bool"
    if node.kind == A_Expr_Kind.AEXPR_NULLIF:
        return infer(node.lexpr, ctx) if node.lexpr is not None else None
    if node.kind != A_Expr_Kind.AEXPR_OP or not node.name:
        return None
    op = node.name[-1].sval
    right = infer(node.rexpr, ctx) if node.rexpr is not None else None
    if node.lexpr is None:
        return operator(op, None, right, prefix=True)
    return operator(op, infer(node.lexpr, ctx), right)


def _array(node: ast.A_ArrayExpr, ctx: Translation) -> str | None:
    elems = node.elements or ()
    if not elems:
        return None  # ARRAY[] needs a cast, which decides
    types = []
    for e in elems:
        t = infer(e, ctx)
        if isinstance(e, ast.A_ArrayExpr):
            t = _element(t)  # a sub-array: the same array type
        types.append(t)
    got = common(types)
    return None if got is None else got + "[]"


def infer(node: ast.Node | None, ctx: Translation) -> str | None:  # noqa: C901 - one case per node
    """PostgreSQL's type of ``node`` (internal name), or None when the tree alone does
    not say."""
    if isinstance(node, ast.A_Const):
        return _constant(node)
    if isinstance(node, ast.ParamRef):
        return _lifted(node, ctx)
    if isinstance(node, ast.TypeCast):
        return cast_type(node.typeName) if node.typeName is not None else None
    if isinstance(node, ast.A_Expr):
        return _a_expr(node, ctx)
    if isinstance(node, ast.FuncCall):
        return _func(node, ctx)
    if isinstance(node, ast.BoolExpr | ast.NullTest | ast.BooleanTest):
        return "bool"
    if isinstance(node, ast.SubLink):
        return None if node.subLinkType in (SubLinkType.EXPR_SUBLINK,
                                            SubLinkType.ARRAY_SUBLINK) else "bool"  # fmt: skip
    if isinstance(node, ast.RowExpr):
        return "record"
    if isinstance(node, ast.A_ArrayExpr):
        return _array(node, ctx)
    if isinstance(node, ast.CaseExpr):
        results = [w.result for w in node.args or () if isinstance(w, ast.CaseWhen)]
        results.append(node.defresult or ast.A_Const(isnull=True))
        return common([infer(r, ctx) for r in results])
    if isinstance(node, ast.CoalesceExpr):
        return common([infer(a, ctx) for a in node.args or ()])
    if isinstance(node, ast.MinMaxExpr) and node.op in (MinMaxOp.IS_GREATEST, MinMaxOp.IS_LEAST):
        return common([infer(a, ctx) for a in node.args or ()])
    if isinstance(node, ast.SQLValueFunction):
        return _SVF.get(node.op, "name")
    if isinstance(node, ast.CollateClause):
        return infer(node.arg, ctx)
    if isinstance(node, ast.A_Indirection):
        base = infer(node.arg, ctx)
        subscripts = [i for i in node.indirection or () if isinstance(i, ast.A_Indices)]
        if len(subscripts) != len(node.indirection or ()) or not _is_array(base):
            return None
        return base if any(i.is_slice for i in subscripts) else _element(base)
    return None


SETUP_SQL = f"""
CREATE OR REPLACE MACRO {catalog_views.HIDDEN}.pg_typeof_is(x, t) AS CASE WHEN (x) IS NULL THEN t ELSE t END;
"""


def _pg_typeof(arg: ast.Node, ctx: Translation) -> ast.Node:
    got = infer(arg, ctx)
    if got is None:
        return func_call("pg_type_name", arg, hidden=True)
    return func_call("pg_typeof_is", arg, _const(display(got)), hidden=True)


def pg_typeof(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Every ``pg_typeof(x)``: PostgreSQL's type name where the tree says it, else
    DuckDB's type of the translated ``x`` in PostgreSQL's name (see module doc)."""
    for node in walk(stmt):
        for attr, child in children(node):
            if (
                isinstance(child, ast.FuncCall)
                and len(child.args or ()) == 1
                and [n.sval for n in child.funcname][-1:] == ["pg_typeof"]
                and len(child.funcname) <= 2
                and child.over is None
            ):
                replace_child(node, attr, child, _pg_typeof(child.args[0], ctx))
    return stmt
