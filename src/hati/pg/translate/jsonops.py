"""PostgreSQL's json and jsonb operators, in DuckDB's JSON functions.

DuckDB's parser knows ``->`` and ``->>`` but reads their right side as a path (``''`` is
the whole document, ``'$.a'`` and ``'/a'`` are paths); PostgreSQL's is always a key or an
element number. ``#>``, ``#>>``, ``@>``, ``<@``, ``?``, ``?|``, ``?&`` are no DuckDB
operators at all. Each becomes a macro in the hidden schema, or one of the functions
``pg/jsonb.py`` registers (containment and key existence, by PostgreSQL's rules).
``json_typeof`` answers PostgreSQL's names (object, array, string, number, boolean, null).

jsonb prints normalized (``pg/jsonb.py``): a cast to jsonb normalizes its value, and the
results of ``->``, ``#>``, ``||``, ``-`` and ``#-`` on what is spelled as jsonb (a cast to
it, a jsonb function) are normalized too. A jsonb column read as it is prints the text it
was given.
"""

from __future__ import annotations

import copy
import json

from pglast import ast
from pglast.enums import (
    A_Expr_Kind,
    BoolExprType,
    LimitOption,
    NullTestType,
    SetOperation,
)

from hati.errors import FeatureNotSupported, InvalidTextRepresentation
from hati.pg import catalog as catalog_views
from hati.pg import domains, jsonb
from hati.pg.analyze import children
from hati.pg.translate import (
    Translation,
    exprs,
    jsonaggs,
    jsonobject,
    jsonpaths,
    jsonrecord,
    jsonsubscript,
    replace_child,
    walk,
)
from hati.pg.translate.jsonnodes import as_text as _as_text
from hati.pg.translate.jsonnodes import boolean as _true
from hati.pg.translate.jsonnodes import call as _call
from hati.pg.translate.jsonnodes import cast as _cast
from hati.pg.translate.jsonnodes import concat as _plus
from hati.pg.translate.jsonnodes import first as _first
from hati.pg.translate.jsonnodes import name as _name
from hati.pg.translate.jsonnodes import string_literal as _string_literal
from hati.pg.translate.jsonnodes import text as _text

S = catalog_views.HIDDEN

SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_json_key(k) AS
    CASE WHEN k = '' THEN '/'
    ELSE '$."' || replace(replace(k, '\\', '\\\\'), '"', '\\"') || '"' END;
CREATE OR REPLACE MACRO {S}.pg_json_get(j, k) AS
    CASE WHEN typeof(k) = 'VARCHAR' THEN json_extract(j, {S}.pg_json_key(k::VARCHAR))
    ELSE json_extract(j, TRY_CAST(k AS BIGINT)) END;
CREATE OR REPLACE MACRO {S}.pg_json_get_text(j, k) AS
    CASE WHEN typeof(k) = 'VARCHAR' THEN json_extract_string(j, {S}.pg_json_key(k::VARCHAR))
    ELSE json_extract_string(j, TRY_CAST(k AS BIGINT)) END;
CREATE OR REPLACE MACRO {S}.pg_json_path(j, p) AS
    list_reduce(p::VARCHAR[], lambda acc, k: CASE WHEN json_type(acc) = 'ARRAY'
        THEN json_extract(acc, TRY_CAST(k AS BIGINT))
        ELSE json_extract(acc, {S}.pg_json_key(k)) END, j::JSON);
CREATE OR REPLACE MACRO {S}.pg_json_path_text(j, p) AS
    json_extract_string({S}.pg_json_path(j, p), '$');
CREATE OR REPLACE MACRO {S}.pg_json_value(v) AS
    coalesce(CASE WHEN typeof(v) = 'JSON' THEN v::VARCHAR ELSE to_json(v)::VARCHAR END, 'null');
CREATE OR REPLACE MACRO {S}.pg_jsonb_minus(j, k) AS
    CASE WHEN typeof(k) IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT')
    THEN hati_jsonb_delete_index(j, TRY_CAST(k AS BIGINT))
    ELSE hati_jsonb_delete_key(j, k::VARCHAR) END;
CREATE OR REPLACE MACRO {S}.pg_json_object_key(k) AS
    CASE WHEN typeof(k) LIKE '%[]' OR typeof(k) LIKE 'STRUCT%' OR typeof(k) LIKE 'MAP%'
              OR typeof(k) = 'JSON'
         THEN error('key value must be scalar, not array, composite, or json')
         WHEN k IS NULL THEN error('null value not allowed for object key')
         ELSE to_json(k::VARCHAR)::VARCHAR END;
CREATE OR REPLACE MACRO {S}.pg_json_array_length(j) AS
    CASE WHEN j IS NULL THEN NULL WHEN json_type(j) = 'ARRAY' THEN json_array_length(j)
         WHEN json_type(j) = 'OBJECT' THEN error('cannot get array length of a non-array')
         ELSE error('cannot get array length of a scalar') END;
CREATE OR REPLACE MACRO {S}.pg_json_concat(a, b) AS
    CASE WHEN typeof(a) = 'JSON' OR typeof(b) = 'JSON'
    THEN hati_jsonb_concat(a::VARCHAR, b::VARCHAR)::JSON ELSE a::VARCHAR || b::VARCHAR END;
CREATE OR REPLACE MACRO {S}.pg_json_typeof(j) AS
    CASE WHEN j IS NULL THEN NULL ELSE
    CASE json_type(j) WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array'
        WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null'
        ELSE 'number' END END;
"""

# operator -> (macro or registered function, in the hidden schema, right side is a text[])
_OPERATORS: dict[str, tuple[str, bool, bool]] = {
    "->": ("pg_json_get", True, False),
    "->>": ("pg_json_get_text", True, False),
    "#>": ("pg_json_path", True, True),
    "#>>": ("pg_json_path_text", True, True),
    "?": ("hati_jsonb_exists", False, False),
    "?|": ("hati_jsonb_exists_any", False, True),
    "?&": ("hati_jsonb_exists_all", False, True),
}
_FUNCTIONS = {
    "json_array_length": ("pg_json_array_length", True),
    "jsonb_array_length": ("pg_json_array_length", True),
    "jsonb_strip_nulls": ("hati_jsonb_strip_nulls", False),
    "jsonb_pretty": ("hati_jsonb_pretty", False),
    "json_typeof": ("pg_json_typeof", True),
    "jsonb_typeof": ("pg_json_typeof", True),
    "jsonb_contains": ("hati_jsonb_contains", False),
    "jsonb_exists": ("hati_jsonb_exists", False),
    "jsonb_exists_any": ("hati_jsonb_exists_any", False),
    "jsonb_exists_all": ("hati_jsonb_exists_all", False),
}
_JSONB_FUNCTIONS = frozenset(
    {
        "to_jsonb",
        "jsonb_build_object",
        "jsonb_build_array",
        "jsonb_object",
        "jsonb_agg",
        "jsonb_object_agg",
        "jsonb_set",
        "jsonb_set_lax",
        "jsonb_insert",
        "jsonb_strip_nulls",
        "jsonb_extract_path",
        "jsonb_path_query_first",
        "jsonb_path_query_array",
    }
)
# DuckDB's own lambda arrow (``list_transform(l, x -> x + 1)``) is not json's ``->``.
_LAMBDA_TAKERS = ("list_", "array_", "apply", "filter", "reduce")


_TEXT_ARRAY = ast.TypeName(names=(ast.String(sval="text"),), arrayBounds=(ast.Integer(ival=-1),))


def _text_array(node: ast.Node, ctx: Translation) -> ast.Node:
    """A ``'{a,b}'`` literal as a text[] (PostgreSQL casts the unknown literal itself)."""
    text = _string_literal(node, ctx)
    if text is None:
        return node
    items = exprs.array_items(text)
    if items is None:
        raise InvalidTextRepresentation(f'malformed array literal: "{text}"')
    elems = tuple(
        ast.A_Const(isnull=True) if i is None else ast.A_Const(val=ast.String(sval=i))
        for i in items
    )
    return ast.TypeCast(arg=ast.A_ArrayExpr(elements=elems or None), typeName=_TEXT_ARRAY)


def _jsonb_spelled(node: ast.Node | None) -> bool:
    """Whether ``node`` is jsonb by its spelling: a cast to jsonb, a jsonb function, a
    jsonb operator on one of those."""
    if isinstance(node, ast.TypeCast) and node.typeName is not None:
        return node.typeName.names[-1].sval == "jsonb" and not node.typeName.arrayBounds
    if isinstance(node, ast.FuncCall):
        return node.funcname[-1].sval in _JSONB_FUNCTIONS
    if isinstance(node, ast.A_Expr) and node.name:
        return node.name[-1].sval in ("->", "#>", "||", "-", "#-") and _jsonb_spelled(node.lexpr)
    return False


def _normalized(node: ast.Node) -> ast.Node:
    return _cast(_call("hati_jsonb_out", False, _as_text(node)), "json")


def _jsonish(node: ast.Node, ctx: Translation) -> bool:
    """Whether ``node`` is a json value by its spelling: a cast to json or jsonb, a json
    function or operator, or a string constant holding a JSON object, array or scalar
    (``'{a,b}'`` and ``'{}'`` are arrays' spellings: not json)."""
    if isinstance(node, ast.TypeCast) and node.typeName is not None:
        return node.typeName.names[-1].sval in ("json", "jsonb") and not node.typeName.arrayBounds
    if isinstance(node, ast.FuncCall):
        name = node.funcname[-1].sval or ""
        return name.startswith(("json", "to_json", "row_to_json")) or name in _FUNCTIONS
    if isinstance(node, ast.A_Expr) and node.name:
        return node.name[-1].sval in ("->", "#>")
    if isinstance(node, ast.ParamRef):
        return False  # a lifted literal: lex.shape keeps JSON objects and arrays in place
    text = _string_literal(node, ctx)
    if text is None or text.strip() == "{}":
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _contains(node: ast.A_Expr, ctx: Translation) -> ast.Node | None:
    """``a @> b`` / ``a <@ b`` on json (arrays keep DuckDB's own operator)."""
    left, right = node.lexpr, node.rexpr
    if not isinstance(left, ast.Node) or not isinstance(right, ast.Node):
        return None
    if not (_jsonish(left, ctx) or _jsonish(right, ctx)):
        return None
    if node.name[-1].sval == "<@":
        left, right = right, left
    return _call("hati_jsonb_contains", False, _as_text(left), _as_text(right))


def _operator(node: ast.A_Expr, ctx: Translation) -> ast.Node | None:
    if node.kind != A_Expr_Kind.AEXPR_OP or node.lexpr is None or node.rexpr is None:
        return None
    op = node.name[-1].sval if node.name else None
    if op in ("@>", "<@"):
        return _contains(node, ctx)
    if op in ("@?", "@@") and jsonpaths.path_operand(node.rexpr, ctx):
        name = "hati_jsonpath_exists" if op == "@?" else "hati_jsonpath_match"
        return _first(jsonpaths.path_call(name, (node.lexpr, node.rexpr), silent=True))
    if op in ("||", "-", "#-"):
        return _jsonb_change(node, ctx)
    if op in ("=", "<>", "!="):
        return _jsonb_equal(node, op)
    spec = _OPERATORS.get(op or "")
    if spec is None:
        return None
    name, hidden, array = spec
    right = node.rexpr
    jsonb = _jsonb_spelled(node.lexpr)
    if op in ("->", "->>", "#>", "#>>"):
        if array:
            right = _text_array(right, ctx)
        elif isinstance(right, ast.A_Const) and isinstance(right.val, ast.Integer) and not jsonb:
            return None  # an element number: DuckDB's own operator answers the same
        if jsonb and op in ("->>", "#>>"):
            element = "pg_json_get" if op == "->>" else "pg_json_path"
            got = _call(element, True, node.lexpr, right)
            return _first(_call("hati_jsonb_text", False, _as_text(got)))
        got = _call(name, hidden, node.lexpr, right)
        return _normalized(got) if jsonb else got
    if array:
        return _call(name, hidden, _as_text(node.lexpr), _text_array(right, ctx))
    return _call(name, hidden, _as_text(node.lexpr), _as_text(right))


def _jsonb_equal(node: ast.A_Expr, op: str) -> ast.Node | None:
    """jsonb's ``=`` compares numbers as numerics (``'{"a": 1}' = '{"a": 1.0}'``)."""
    if not (_jsonb_spelled(node.lexpr) or _jsonb_spelled(node.rexpr)):
        return None
    same = _call("hati_jsonb_equal", False, _as_text(node.lexpr), _as_text(node.rexpr))
    return same if op == "=" else ast.BoolExpr(boolop=BoolExprType.NOT_EXPR, args=(same,))


def _text_array_spelled(node: ast.Node) -> bool:
    """``'{a,b}'::text[]`` or ``ARRAY['a', 'b']``: jsonb's ``-`` of several keys."""
    if isinstance(node, ast.A_ArrayExpr):
        return True
    return (
        isinstance(node, ast.TypeCast)
        and node.typeName is not None
        and bool(node.typeName.arrayBounds)
        and str(node.typeName.names[-1].sval) in ("text", "varchar")
    )


def _jsonb_change(node: ast.A_Expr, ctx: Translation) -> ast.Node | None:
    """``||``, ``-`` and ``#-`` with jsonb on the left (or, for ``||``, either side)."""
    op = node.name[-1].sval if node.name else None
    left, right = node.lexpr, node.rexpr
    if left is None or right is None:
        return None
    if op == "||" and (_jsonb_spelled(left) or _jsonb_spelled(right)):
        got = _call("hati_jsonb_concat", False, _as_text(left), _as_text(right))
    elif op == "||" and (
        (isinstance(left, ast.ColumnRef) and _jsonish(right, ctx))
        or (isinstance(right, ast.ColumnRef) and _jsonish(left, ctx))
    ):
        # a column and a JSON literal: jsonb's || if the column is json, else text's
        return _call("pg_json_concat", True, left, right)
    elif op == "-" and _jsonb_spelled(left) and _text_array_spelled(right):
        keys = right
        if isinstance(right, ast.TypeCast) and right.arg is not None:
            lit = _text_array(right.arg, ctx)
            keys = lit if lit is not right.arg else right
        got = _call("hati_jsonb_delete_keys", False, _as_text(left), keys)
    elif op == "-" and _jsonb_spelled(left):
        got = _call("pg_jsonb_minus", True, _as_text(left), right)
    elif op == "#-":
        got = _call("hati_jsonb_delete_path", False, _as_text(left), _text_array(right, ctx))
    else:
        return None
    return _cast(got, "json")


def _function(node: ast.FuncCall, ctx: Translation) -> ast.Node | None:
    if len(node.funcname) > 2 or node.agg_star:
        return None
    if len(node.funcname) == 2 and node.funcname[0].sval != "pg_catalog":
        return None
    if node.over is not None and node.funcname[-1].sval not in ("json_agg", "jsonb_agg"):
        return None
    fname = node.funcname[-1].sval or ""
    args = node.args or ()
    built = _build(node) or jsonpaths.path_function(fname, args) or jsonaggs.object_agg(node)
    if built is not None:
        return built
    srf = jsonpaths.path_query(node)
    if srf is not None:  # the set-returning function in a select list
        return _call("unnest", False, srf)
    if fname in ("jsonb_set", "jsonb_insert") and len(args) in (3, 4):
        flag = args[3] if len(args) == 4 else _true(fname == "jsonb_set")
        got = _call(
            f"hati_{fname}",
            False,
            _as_text(args[0]),
            _text_array(args[1], ctx),
            _as_text(args[2]),
            _cast(flag, "bool"),
        )
        return _cast(got, "json")
    spec = _FUNCTIONS.get(fname)
    if spec is None:
        return None
    name, hidden = spec
    if name in ("hati_jsonb_strip_nulls", "hati_jsonb_pretty"):
        if len(args) != 1:
            return None
        got = _call(name, False, _as_text(args[0]))
        return _cast(got, "json") if name.endswith("nulls") else got
    if not hidden:
        if len(args) != 2:
            return None
        listed = name.endswith(("_any", "_all"))
        second = _text_array(args[1], ctx) if listed else _as_text(args[1])
        args = (_as_text(args[0]), second)
    return _call(name, hidden, *args)


def _value(node: ast.Node) -> ast.Node:
    return _call("pg_json_value", True, node)


def _build(node: ast.FuncCall) -> ast.Node | None:
    """json_build_object / json_build_array / json_agg with PostgreSQL's spacing
    (``{"a" : 1, "b" : 2}``, ``[1, 2]``); the jsonb ones normalized; jsonb_agg."""
    fname = node.funcname[-1].sval
    args = node.args or ()
    if node.func_variadic:
        return None
    if fname == "json_build_object":
        if len(args) % 2:
            return None  # DuckDB's json_object refuses an odd count itself
        pairs: list[ast.Node] = []
        for i in range(0, len(args), 2):
            if pairs:
                pairs.append(_text(", "))
            key = _call("pg_json_object_key", True, args[i])
            pairs += [key, _text(" : "), _value(args[i + 1])]
        return _cast(_plus(_text("{"), *pairs, _text("}")), "json")
    if fname == "json_build_array":
        items: list[ast.Node] = []
        for a in args:
            if items:
                items.append(_text(", "))
            items.append(_value(a))
        return _cast(_plus(_text("["), *items, _text("]")), "json")
    return _jsonb_built(node, fname or "", args)


def _jsonb_built(node: ast.FuncCall, fname: str, args: tuple[ast.Node, ...]) -> ast.Node | None:
    """jsonb_build_object / jsonb_build_array / to_jsonb normalized; the aggregates."""
    renamed = {"jsonb_build_object": "json_object", "jsonb_build_array": "json_array"}
    if fname in renamed:
        return _normalized(_call(renamed[fname], False, *args))
    if fname == "to_jsonb" and len(args) == 1:
        return _normalized(_call("to_json", False, *args))
    if fname in ("json_agg", "jsonb_agg") and len(args) == 1 and node.over is None:
        if fname == "jsonb_agg":
            listed = ast.FuncCall(
                funcname=(ast.String(sval="list"),),
                args=args,
                agg_order=node.agg_order,
                agg_filter=node.agg_filter,
                agg_distinct=node.agg_distinct,
            )
            return _normalized(_call("to_json", False, listed))
        joined = ast.FuncCall(
            funcname=(ast.String(sval="string_agg"),),
            args=(_value(args[0]), _text(", ")),
            agg_order=node.agg_order,
            agg_filter=node.agg_filter,
            agg_distinct=node.agg_distinct,
        )
        return _cast(_plus(_text("["), joined, _text("]")), "json")
    return _extract_path(fname, args)


_EXTRACT_PATH = frozenset(
    {"json_extract_path", "jsonb_extract_path", "json_extract_path_text", "jsonb_extract_path_text"}
)


def _extract_path(fname: str, args: tuple[ast.Node, ...]) -> ast.Node | None:
    """json_extract_path(j, VARIADIC keys) and its _text and jsonb siblings."""
    if fname not in _EXTRACT_PATH or not args:
        return None
    path = ast.A_ArrayExpr(elements=tuple(_as_text(a) for a in args[1:]) or None)
    typed = ast.TypeCast(arg=path, typeName=_TEXT_ARRAY)
    if fname.endswith("_text"):
        if fname.startswith("jsonb"):
            got = _call("pg_json_path", True, args[0], typed)
            return _first(_call("hati_jsonb_text", False, _as_text(got)))
        return _call("pg_json_path_text", True, args[0], typed)
    got = _call("pg_json_path", True, args[0], typed)
    return _normalized(got) if fname.startswith("jsonb") else got


def _jsonb_cast(node: ast.TypeCast, ctx: Translation) -> ast.Node | None:
    """``x::jsonb``: the value normalized; ``'...'::json``: the literal checked."""
    tn = node.typeName
    if tn is None or tn.arrayBounds or node.arg is None:
        return None
    if tn.names[-1].sval == "json":
        if isinstance(node.arg, (ast.A_Const, ast.ParamRef)):
            text = _string_literal(node.arg, ctx)
            if text is not None:
                jsonb.validate(text)
        return None
    if tn.names[-1].sval == "jsonpath":
        jsonpaths.path_cast(node, ctx)
        return None
    if tn.names[-1].sval != "jsonb":
        return None
    if isinstance(node.arg, ast.A_Const) and node.arg.isnull:
        return None
    return _normalized(node.arg)


def _takes_lambdas(node: ast.Node) -> bool:
    if not isinstance(node, ast.FuncCall):
        return False
    name = node.funcname[-1].sval or ""
    return name.startswith(_LAMBDA_TAKERS)


def _column(*names: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=tuple(_name(n) for n in names))


def _target(val: ast.Node, name: str) -> ast.ResTarget:
    return ast.ResTarget(val=val, name=name)


def _subquery(
    targets: list[ast.ResTarget], source: ast.Node | None, alias: ast.Alias
) -> ast.RangeSubselect:
    select = ast.SelectStmt(
        targetList=tuple(targets),
        fromClause=(source,) if source is not None else None,
        limitOption=LimitOption.LIMIT_OPTION_DEFAULT,
        op=SetOperation.SETOP_NONE,
    )
    return ast.RangeSubselect(lateral=True, subquery=select, alias=alias)


def _record_columns(
    row: ast.Node, coldefs: tuple[ast.Node, ...], jsonb: bool, base: ast.Node | None = None
) -> list[ast.ResTarget]:
    """``AS x(a int, b text)``: each key of the object, converted to its column's type."""
    out = []
    for col in coldefs:
        if not isinstance(col, ast.ColumnDef):
            raise InvalidTextRepresentation("a column definition list needs names and types")
        out.append(_target(jsonrecord.field_value(row, col, base), col.colname or ""))
    return out


def _table_function(node: ast.RangeFunction) -> ast.Node | None:
    """json_each / json_array_elements / json_object_keys / json_to_record(set) in FROM."""
    if node.ordinality or node.is_rowsfrom or len(node.functions or ()) != 1:
        return None
    if node.alias is not None and (node.alias.aliasname or "").startswith("hati_"):
        return None  # made here: DuckDB's own json_each / unnest
    call = node.functions[0][0]
    if isinstance(call, ast.FuncCall) and len(call.funcname) == 1 and len(call.args or ()) == 2:
        if _anonymous(call.args[0]) and node.coldeflist:
            return _to_record(node, call, call.args[1])
        return _populate(node, call)
    if not isinstance(call, ast.FuncCall) or len(call.funcname) > 1 or len(call.args or ()) != 1:
        return None
    fname = call.funcname[0].sval or ""
    arg = call.args[0]
    jsonb = fname.startswith("jsonb")
    base = fname.removeprefix("jsonb_" if jsonb else "json_")
    alias = node.alias or ast.Alias(aliasname=fname)
    names = tuple(c.sval for c in alias.colnames or ())
    doc = _normalized(arg) if jsonb else _cast(_as_text(arg), "json")
    if base in ("to_record", "to_recordset"):
        return _to_record(node, call, arg) if node.coldeflist else None
    if base in ("each", "each_text"):
        each = ast.RangeFunction(
            functions=((_call("json_each", False, doc), None),),
            alias=ast.Alias(aliasname="hati_each"),
        )
        value: ast.Node = _column("hati_each", "value")
        if base == "each_text" and jsonb:
            value = _first(_call("hati_jsonb_text", False, _as_text(value)))
        elif base == "each_text":
            value = _call("json_extract_string", False, value, _text("$"))
        elif jsonb:
            value = _normalized(value)
        key, val = (names + ("key", "value")[len(names) :])[:2]
        targets = [_target(_column("hati_each", "key"), key), _target(value, val)]
        return _subquery(targets, each, ast.Alias(aliasname=alias.aliasname))
    if base in ("array_elements", "array_elements_text", "object_keys"):
        return _unnested(base, jsonb, arg, doc, fname, alias)
    return None


_VALUE: tuple[ast.Node, ...] = (
    ast.A_Const(isnull=True),
)  # marks json_populate_record called as a value


def _anonymous(record: ast.Node) -> bool:
    """``NULL::record``: a record whose type the call does not say."""
    return (
        isinstance(record, ast.TypeCast)
        and isinstance(record.arg, ast.A_Const)
        and bool(record.arg.isnull)
        and str(record.typeName.names[-1].sval) == "record"
        and not record.typeName.arrayBounds
    )


def _to_record(node: ast.RangeFunction, call: ast.FuncCall, arg: ast.Node) -> ast.Node:
    """json_to_record(set)(j) AS x(a int, ...) (and json_populate_record(set) of
    ``NULL::record`` with a column definition list)."""
    fname = call.funcname[0].sval or ""
    jsonb = fname.startswith("jsonb")
    doc = _normalized(arg) if jsonb else _cast(_as_text(arg), "json")
    plain = ast.Alias(aliasname=node.alias.aliasname if node.alias else fname)
    if not fname.endswith("set"):
        return _subquery(_record_columns(doc, node.coldeflist, jsonb), None, plain)
    targets = _record_columns(_column("hati_elements", "e"), node.coldeflist, jsonb)
    return _subquery(targets, _elements(doc, fname), plain)


def _populate_value(call: ast.FuncCall) -> ast.Node | None:
    """json_populate_record(r::t, j) as a value: ``ROW(...)::t`` of the fields."""
    if len(call.funcname) != 1 or len(call.args or ()) != 2:
        return None
    fname = call.funcname[0].sval or ""
    base = fname.removeprefix("jsonb_").removeprefix("json_")
    if base not in ("populate_record", "populate_recordset"):
        return None
    if _anonymous(call.args[0]):
        raise FeatureNotSupported(
            f"could not determine row type for result of {fname}",
            hint="Provide a non-null record argument, or call the function in the FROM "
            "clause using a column definition list.",
        )
    sub = _populate(ast.RangeFunction(functions=((call, _VALUE),)), call)
    if not isinstance(sub, ast.RangeSubselect) or not isinstance(call.args[0], ast.TypeCast):
        return None
    return jsonrecord.as_value(sub.subquery, call.args[0].typeName, base == "populate_record")


def _populate(node: ast.RangeFunction, call: ast.FuncCall) -> ast.Node | None:
    """json_populate_record(set)(null::t, j) in FROM: the fields of the composite type t
    from the object's keys (a key missing: the given record's field)."""
    fname = call.funcname[0].sval or ""
    jsonb = fname.startswith("jsonb")
    base = fname.removeprefix("jsonb_" if jsonb else "json_")
    record, arg = tuple(call.args or ())
    if base not in ("populate_record", "populate_recordset") or not isinstance(
        record, ast.TypeCast
    ):
        return None
    type_name = str(record.typeName.names[-1].sval)
    fields = jsonrecord.composite_fields(type_name)
    if fields is None:
        return None
    domain = domains.DOMAINS.get(type_name)
    if domain is not None and domain.constrained and node.functions[0][1] is not _VALUE:
        raise FeatureNotSupported(
            f"{fname} into a domain with constraints is not supported in FROM",
            hint=f"Call it as a value: SELECT {fname}(...).",
        )
    fields = tuple(copy.deepcopy(f) for f in fields)
    doc = _normalized(arg) if jsonb else _cast(_as_text(arg), "json")
    plain = ast.Alias(aliasname=(node.alias.aliasname if node.alias else fname))
    given = not (isinstance(record.arg, ast.A_Const) and record.arg.isnull)

    def targets(row: ast.Node) -> list[ast.ResTarget]:
        out = _record_columns(row, fields, jsonb, record if given else None)
        if given:
            for col, t in zip(fields, out, strict=True):
                key = col.colname or ""
                path = _text('$."' + key.replace('"', '\\"') + '"')
                missing = ast.NullTest(
                    arg=_call("json_extract", False, row, path), nulltesttype=NullTestType.IS_NULL
                )
                field = ast.A_Indirection(arg=copy.deepcopy(record), indirection=(_name(key),))
                t.val = ast.CaseExpr(
                    args=(ast.CaseWhen(expr=missing, result=field),), defresult=t.val
                )
        return out

    if base == "populate_record":
        return _subquery(targets(doc), None, plain)
    unnested = _elements(doc, fname)
    return _subquery(targets(_column("hati_elements", "e")), unnested, plain)


def _unnested(
    base: str, jsonb: bool, arg: ast.Node, doc: ast.Node, fname: str, alias: ast.Alias
) -> ast.Node:
    """json_array_elements(_text) / json_object_keys in FROM: an unnested list."""
    names = tuple(c.sval for c in alias.colnames or ())
    if base == "object_keys":
        items: ast.Node = _call("json_keys", False, doc)
        default = fname
    elif base == "array_elements" and jsonb:
        items = _call("hati_jsonb_elements", False, _as_text(arg))
        items = ast.TypeCast(
            arg=items,
            typeName=ast.TypeName(names=(_name("json"),), arrayBounds=(ast.Integer(ival=-1),)),
        )
        default = "value"
    elif base == "array_elements":
        items = _call("json_extract", False, doc, _text("$[*]"))
        default = "value"
    elif jsonb:
        items = _call("hati_jsonb_elements_text", False, _as_text(arg))
        default = "value"
    else:
        items = _call("json_extract_string", False, doc, _text("$[*]"))
        default = "value"
    return ast.RangeFunction(
        functions=((_call("unnest", False, items), None),),
        alias=ast.Alias(
            aliasname=alias.aliasname, colnames=(_name(names[0] if names else default),)
        ),
    )


def json_operators(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Rewrite json's operators and json_typeof (see module doc)."""
    done: set[int] = set()  # jsonb subscripts read normalized already
    for node in walk(stmt):
        lambdas = _takes_lambdas(node)
        for attr, child in children(node):
            new: ast.Node | None = None
            if isinstance(child, ast.A_Expr) and not (lambdas and attr == "args"):
                new = _operator(child, ctx)
            elif isinstance(child, ast.FuncCall):
                new = _populate_value(child) or jsonobject.rewrite(child, ctx, _text_array)
                if isinstance(new, ast.A_Expr):  # a jsonb function written as its operator
                    new = _operator(new, ctx) or new
                new = new or _function(child, ctx)
            elif isinstance(child, ast.TypeCast):
                new = _jsonb_cast(child, ctx)
            elif isinstance(child, ast.RangeFunction):
                new = jsonpaths.path_rows(child) or _table_function(child)
            elif isinstance(child, ast.A_Indirection):
                new = jsonsubscript.read(child, done, _jsonb_spelled(child.arg), ctx)
            if new is not None:
                replace_child(node, attr, child, new)
    return stmt


def _elements(doc: ast.Node, fname: str) -> ast.RangeFunction:
    """A JSON array's elements, each as its own text, as relation ``hati_elements(e)``
    (the rows of json_to_recordset / json_populate_recordset)."""
    elements = _call("hati_json_raw_elements", False, _as_text(doc), _text(fname))
    return ast.RangeFunction(
        functions=((_call("unnest", False, elements), None),),
        alias=ast.Alias(aliasname="hati_elements", colnames=(_name("e"),)),
    )
