"""Constants of numeric's NaN, Infinity and -Infinity (see pg/numspecials.py).

``'NaN'::numeric::float8`` and ``'Infinity'::numeric::float4`` are the float's own
special values, the casts folded away (DuckDB's DECIMAL reads no 'NaN'). A query's
result column that is such a constant (``SELECT 'NaN'::numeric``,
``'-Infinity'::float8::numeric``) is numeric's stand-in, which the wire shows as
PostgreSQL does. Anywhere else DuckDB reads the text, and refuses it (0A000).

The lexer keeps these string constants in place (pg/lex.py), so their text is part of
the translated statement's shape.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import SetOperation

from hati.pg.analyze import children
from hati.pg.translate import Translation, replace_child, walk
from hati.wire import numerics

_FLOATS = frozenset(["float4", "float8"])


def _type(node: ast.TypeCast) -> str | None:
    """The cast's type (numeric, float4, float8) when it has no modifiers."""
    tn = node.typeName
    if tn is None or tn.typmods or tn.arrayBounds or tn.setof:
        return None
    name = tn.names[-1].sval
    return name if name in _FLOATS or name == "numeric" else None


def _special(node: ast.Node | None) -> tuple[str, str] | None:
    """(special value, type) of ``'NaN'::numeric`` and the like."""
    if not isinstance(node, ast.TypeCast) or not isinstance(node.arg, ast.A_Const):
        return None
    val = node.arg.val
    if not isinstance(val, ast.String):
        return None
    kind = numerics.special_kind(str(val.sval or ""))
    typ = _type(node)
    return (kind, typ) if kind is not None and typ is not None else None


def _cast(text: str, type_name: tuple[ast.String, ...]) -> ast.TypeCast:
    return ast.TypeCast(
        arg=ast.A_Const(val=ast.String(sval=text)), typeName=ast.TypeName(names=type_name)
    )


def _folded(node: ast.TypeCast) -> ast.Node | None:
    """``'NaN'::numeric::float8`` as ``'NaN'::float8``."""
    inner = _special(node.arg)
    if inner is None or inner[1] != "numeric" or _type(node) not in _FLOATS:
        return None
    assert node.typeName is not None
    return _cast(inner[0], node.typeName.names)


def _shown(node: ast.Node | None) -> ast.Node | None:
    """A result column's ``'NaN'::numeric`` / ``'NaN'::float8::numeric`` as the stand-in."""
    got = _special(node)
    if got is None and isinstance(node, ast.TypeCast) and _type(node) == "numeric":
        got = _special(node.arg)
    if got is None or not isinstance(node, ast.TypeCast) or _type(node) != "numeric":
        return None
    assert node.typeName is not None
    scale = numerics.BARE[1]
    numerics.STORED_SCALES.add(scale)
    return _cast(numerics.special_digits(got[0], scale), node.typeName.names)


def special_constants(stmt: ast.Node, _ctx: Translation) -> ast.Node:
    for node in walk(stmt):
        for attr, child in children(node):
            if isinstance(child, ast.TypeCast):
                new = _folded(child)
                if new is not None:
                    replace_child(node, attr, child, new)
    if isinstance(stmt, ast.SelectStmt) and stmt.op == SetOperation.SETOP_NONE:
        for target in stmt.targetList or ():
            if isinstance(target, ast.ResTarget):
                shown = _shown(target.val)
                if shown is not None:
                    target.val = shown
    return stmt
