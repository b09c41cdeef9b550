"""String and bytea functions DuckDB answers differently, in PostgreSQL's meaning.

- ``'\\xdeadbeef'::bytea`` and ``'a\\000b'::bytea``: bytea's input forms (hex, escape);
  an unknown literal given to encode() is such a bytea. Text computed by the query
  (``('\\x' || s)::bytea``) is read by the same input function when the query runs.
- regexp_instr / regexp_substr / regexp_match / regexp_matches, regexp_count with a
  start, regexp_replace with a start or an occurrence: functions ``pg/regex.py``
  registers (PostgreSQL's arguments and flags); regexp_matches returns rows.
- sha224 / sha256 / sha384 / sha512 answer bytea; encode/decode know 'escape'.
- to_char of dates, timestamps and numbers (``pg/tochar.py``).
- ``SELECT CAST(x AS char(n))`` prints the value padded to n characters.
- split_part with an empty delimiter, substr / substring with a start before 1 or a
  negative length.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import SetOperation

from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.regex import bytea_input
from hati.pg.translate import NeedsLiteral, Translation, func_call, replace_child, typeof, walk
from hati.pg.translate import const as _const

S = catalog_views.HIDDEN

SETUP_SQL = f"""
-- octet_length of text (DuckDB's takes only blobs and bits; a literal is text, as in PG)
CREATE OR REPLACE MACRO {S}.pg_octet_length(x VARCHAR) AS strlen(x),
    (x BLOB) AS octet_length(x), (x BIT) AS octet_length(x);
CREATE OR REPLACE MACRO {S}.pg_bytes(x) AS
    CASE WHEN typeof(x) = 'BLOB' THEN x::BLOB ELSE encode(x::VARCHAR) END;
CREATE OR REPLACE MACRO {S}.pg_bytea_in(x) AS
    CASE WHEN typeof(x) = 'BLOB' THEN x::BLOB ELSE hati_decode_escape(x::VARCHAR) END;
CREATE OR REPLACE MACRO {S}.pg_split_part(s, d, n) AS
    CASE WHEN n = 0 THEN error('field position must not be zero')
         WHEN d = '' THEN CASE WHEN n IN (1, -1) THEN s ELSE '' END
         ELSE split_part(s, d, n) END;
-- array_slice: characters of text, bytes of bytea (DuckDB's substring takes only text)
CREATE OR REPLACE MACRO {S}.pg_substr(s, st, len) AS
    CASE WHEN len < 0 THEN error('negative substring length not allowed')
         WHEN st IS NULL OR len IS NULL THEN NULL
         ELSE array_slice(s, greatest(st, 1), greatest(st::BIGINT + len - 1, 0)) END;
CREATE OR REPLACE MACRO {S}.pg_substr_from(s, st) AS
    array_slice(s, greatest(st, 1), 2147483647);
CREATE OR REPLACE MACRO {S}.pg_to_char(x, f) AS hati_to_char(x::VARCHAR, typeof(x), f);
CREATE OR REPLACE MACRO {S}.pg_to_date(x, f) AS CAST(hati_to_timestamp(x, f) AS DATE);
CREATE OR REPLACE MACRO {S}.pg_to_timestamp(x, f) AS CAST(hati_to_timestamp(x, f) AS TIMESTAMPTZ);
"""


def _call(name: str, *args: ast.Node, hidden: bool = False) -> ast.FuncCall:
    return func_call(name, *args, hidden=hidden)


def _cast(node: ast.Node, name: str) -> ast.TypeCast:
    return ast.TypeCast(arg=node, typeName=ast.TypeName(names=(ast.String(sval=name),)))


def _first(node: ast.Node) -> ast.Node:
    """``node[1]``: the value of a function answering a list of none or one."""
    index = ast.A_Indices(uidx=ast.A_Const(val=ast.Integer(ival=1)))
    return ast.A_Indirection(arg=node, indirection=(index,))


def _literal(node: ast.Node | None, ctx: Translation) -> str | int | None:
    """The value of a constant (lifted or in place): text, integer, or None."""
    if (
        isinstance(node, ast.ParamRef)
        and ctx.params is not None
        and (node.number or 0) > ctx.params
    ):
        raise NeedsLiteral
    if isinstance(node, ast.A_Const) and not node.isnull:
        if isinstance(node.val, ast.String):
            return node.val.sval or ""
        if isinstance(node.val, ast.Integer):
            return int(node.val.ival or 0)
    return None


# ------------------------------------------------------------------ bytea input
def _bytea(data: bytes) -> ast.Node:
    return _call("unhex", _const(data.hex()))


def _bytea_cast(node: ast.TypeCast, ctx: Translation) -> ast.Node | None:
    tn = node.typeName
    if tn is None or tn.arrayBounds or tn.names[-1].sval != "bytea":
        return None
    text = _literal(node.arg, ctx)
    if isinstance(text, str):
        return _bytea(bytea_input(text))
    arg = node.arg
    if arg is None or isinstance(arg, ast.A_Const | ast.ParamRef):
        return None
    # text computed when the query runs, read by bytea's input function as a constant is
    return _call("pg_bytea_in", arg, hidden=True)


# ------------------------------------------------------------------ functions
def _regexp(name: str, args: tuple[ast.Node, ...], ctx: Translation) -> ast.Node | None:
    n = len(args)
    if name == "regexp_instr" and 2 <= n <= 7:
        defaults: tuple[str | int, ...] = (1, 1, 0, "", 0)
        return _call("hati_regexp_instr", *args, *(_const(d) for d in defaults[n - 2 :]))
    if name == "regexp_substr" and 2 <= n <= 6:
        defaults = (1, 1, "", 0)
        got = _call("hati_regexp_substr", *args, *(_const(d) for d in defaults[n - 2 :]))
        return _first(got)
    if name == "regexp_count" and 3 <= n <= 4:
        return _call("hati_regexp_count", *args, *((_const(""),) if n == 3 else ()))
    if name == "regexp_match" and n in (2, 3):
        return _first(_call("hati_regexp_match", *args, *((_const(""),) if n == 2 else ())))
    if name == "regexp_matches" and n in (2, 3):
        listed = _call("hati_regexp_matches", *args, *((_const(""),) if n == 2 else ()))
        return _call("unnest", listed)
    if name == "regexp_replace" and 4 <= n <= 6:
        fourth = _literal(args[3], ctx)
        if n == 4 and isinstance(fourth, str):
            return None  # (source, pattern, replacement, flags): DuckDB's own
        rest = list(args[3:])
        if n == 4:
            rest += [_const(1), _const("")]
        elif n == 5:
            rest.append(_const(""))
        return _call("hati_regexp_replace", *args[:3], *rest)
    return None


_MACROS = {
    ("to_char", 2): "pg_to_char",
    ("split_part", 3): "pg_split_part",
    ("to_date", 2): "pg_to_date",
    ("to_timestamp", 2): "pg_to_timestamp",
    ("octet_length", 1): "pg_octet_length",
}


_TRIMS = {"btrim": "both", "ltrim": "leading", "rtrim": "trailing"}


def _bytea_function(name: str, args: tuple[ast.Node, ...], ctx: Translation) -> ast.Node | None:
    """trim of bytea (``trim(b1 FROM b2)`` with a bytea), get_byte and set_byte."""
    if name in _TRIMS and len(args) == 2 and "bytea" in (typeof.infer(a, ctx) for a in args):
        return _call("hati_bytea_trim", *args, _const(_TRIMS[name]))
    if (name, len(args)) in (("get_byte", 2), ("set_byte", 3)):
        return _call(f"hati_{name}", *args)
    return None


def _function(node: ast.FuncCall, ctx: Translation) -> ast.Node | None:
    if len(node.funcname) > 2 or node.agg_star or node.over is not None:
        return None
    if len(node.funcname) == 2 and node.funcname[0].sval != "pg_catalog":
        return None
    name = node.funcname[-1].sval or ""
    args = node.args or ()
    if name.startswith("regexp_"):
        return _regexp(name, args, ctx)
    if name in ("sha224", "sha256", "sha384", "sha512") and len(args) == 1:
        arg = args[0]
        text = _literal(arg, ctx) if isinstance(arg, (ast.A_Const, ast.ParamRef)) else None
        data = _bytea(bytea_input(text)) if isinstance(text, str) else arg
        return _call(f"hati_{name}", _call("pg_bytes", data, hidden=True))
    if name in ("encode", "decode") and len(args) == 2:
        fmt = _literal(args[1], ctx) if isinstance(args[1], (ast.A_Const, ast.ParamRef)) else None
        first = args[0]
        if name == "encode" and isinstance(first, (ast.A_Const, ast.ParamRef)):
            text = _literal(first, ctx)
            if isinstance(text, str):
                node.args = (_bytea(bytea_input(text)), args[1])
        if isinstance(fmt, str) and fmt.lower() == "escape":
            return _call(f"hati_{name}_escape", *(node.args or ())[:1])
        return None
    bytea = _bytea_function(name, args, ctx)
    if bytea is not None:
        return bytea
    macro = _MACROS.get((name, len(args)))
    if macro is not None:
        return _call(macro, *args, hidden=True)
    if name in ("substr", "substring") and len(args) in (2, 3) and not node.func_variadic:
        return _substring(args, ctx)
    return None


def _substring(args: tuple[ast.Node, ...], ctx: Translation) -> ast.Node | None:
    """substr / substring by position (text or bytea), by regular expression or by SQL
    regular expression (``substring(s SIMILAR p ESCAPE e)``)."""
    second = args[1]
    if isinstance(second, ast.A_Const) and second.isnull:
        return None
    if isinstance(second, (ast.A_Const, ast.ParamRef)) and isinstance(_literal(second, ctx), str):
        if len(args) == 3:  # substring(s SIMILAR p ESCAPE e), substring(s FROM p FOR e)
            return _first(_call("hati_similar_substring", *args))
        return _first(_call("hati_regex_substring", *args))  # substring(s FROM regex)
    return _call("pg_substr" if len(args) == 3 else "pg_substr_from", *args, hidden=True)


def _char_width(node: ast.Node | None) -> int | None:
    """n of ``x::char(n)`` (None for any other node)."""
    if not isinstance(node, ast.TypeCast) or node.typeName is None:
        return None
    tn = node.typeName
    mods = tn.typmods or ()
    if tn.arrayBounds or [n.sval for n in tn.names][-1:] != ["bpchar"] or len(mods) != 1:
        return None
    mod = mods[0]
    if isinstance(mod, ast.A_Const) and isinstance(mod.val, ast.Integer):
        return int(mod.val.ival)
    return None


def _padded_chars(stmt: ast.Node) -> None:
    """``SELECT CAST(x AS char(n))``: a character(n) value prints padded with spaces to n
    characters. Only a cast the query's own select list shows is padded: inside an
    expression PostgreSQL's char(n) drops the spaces again (``||``, comparisons)."""
    if not isinstance(stmt, ast.SelectStmt) or stmt.op != SetOperation.SETOP_NONE:
        return
    for target in stmt.targetList or ():
        width = _char_width(target.val) if isinstance(target, ast.ResTarget) else None
        if width is None or not isinstance(target, ast.ResTarget):
            continue
        if target.name is None:
            target.name = "bpchar"
        target.val = _call("rpad", target.val, _const(width), _const(" "))


def string_functions(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Rewrite the string and bytea functions and literals above (see module doc)."""
    _padded_chars(stmt)
    for node in walk(stmt):
        for attr, child in children(node):
            new: ast.Node | None = None
            if isinstance(child, ast.FuncCall):
                new = _function(child, ctx)
            elif isinstance(child, ast.TypeCast):
                new = _bytea_cast(child, ctx)
            if new is not None and new is not child:
                replace_child(node, attr, child, new)
    return stmt
