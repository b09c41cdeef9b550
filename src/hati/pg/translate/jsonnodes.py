"""Small builders of the syntax-tree nodes the json translations (``jsonops.py``,
``jsonpaths.py``) make."""

from __future__ import annotations

from pglast import ast
from pglast.enums import A_Expr_Kind

from hati.pg.translate import NeedsLiteral, Translation, func_call


def call(name: str, hidden: bool, *args: ast.Node) -> ast.FuncCall:
    return func_call(name, *args, hidden=hidden)


def as_text(node: ast.Node) -> ast.Node:
    return ast.TypeCast(arg=node, typeName=ast.TypeName(names=(ast.String(sval="varchar"),)))


def cast(node: ast.Node, name: str) -> ast.Node:
    return ast.TypeCast(arg=node, typeName=ast.TypeName(names=(ast.String(sval=name),)))


def json_array(node: ast.Node) -> ast.Node:
    """``node::json[]``."""
    return ast.TypeCast(
        arg=node,
        typeName=ast.TypeName(names=(name("json"),), arrayBounds=(ast.Integer(ival=-1),)),
    )


def first(node: ast.Node) -> ast.Node:
    """``node[1]``: the value of a function answering a list of none or one."""
    index = ast.A_Indices(uidx=ast.A_Const(val=ast.Integer(ival=1)))
    return ast.A_Indirection(arg=node, indirection=(index,))


def string_literal(node: ast.Node, ctx: Translation) -> str | None:
    """A string constant's value (a lifted one: :class:`NeedsLiteral`); None for others."""
    if (
        isinstance(node, ast.ParamRef)
        and ctx.params is not None
        and (node.number or 0) > ctx.params
    ):
        raise NeedsLiteral
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval or ""
    return None


def boolean(value: bool) -> ast.A_Const:
    return ast.A_Const(val=ast.Boolean(boolval=value))


def text(value: str) -> ast.A_Const:
    return ast.A_Const(val=ast.String(sval=value))


def name(text: str) -> ast.String:
    return ast.String(sval=text)


def concat(*parts: ast.Node) -> ast.Node:
    """``parts[0] || parts[1] || ...``."""
    out = parts[0]
    for p in parts[1:]:
        out = ast.A_Expr(
            kind=A_Expr_Kind.AEXPR_OP, name=(ast.String(sval="||"),), lexpr=out, rexpr=p
        )
    return out
