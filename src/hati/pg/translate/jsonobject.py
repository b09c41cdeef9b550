"""``json_object('{a,1,b,2}')``, ``json_object(keys, values)`` and ``jsonb_object``:
PostgreSQL's objects from text arrays, given as array literals (a two-dimensional one
too, which DuckDB's lists cannot hold), built by ``hati_json_object``
(``pg/jsonpopulate.py``)."""

from __future__ import annotations

from collections.abc import Callable

from pglast import ast
from pglast.enums import A_Expr_Kind

from hati.pg.translate import Translation
from hati.pg.translate.jsonnodes import as_text, boolean, call, cast, string_literal, text


def _literal(node: ast.Node, ctx: Translation) -> str | None:
    """An array literal's text: ``'{a,b}'`` or ``'{a,b}'::text[]``."""
    if (
        isinstance(node, ast.TypeCast)
        and node.typeName is not None
        and node.typeName.arrayBounds
        and str(node.typeName.names[-1].sval) in ("text", "varchar")
        and node.arg is not None
    ):
        node = node.arg
    return string_literal(node, ctx)


def rewrite(
    node: ast.FuncCall, ctx: Translation, text_array: Callable[[ast.Node, Translation], ast.Node]
) -> ast.Node | None:
    """json_object / jsonb_object of literals; jsonb's operator functions; jsonb_set_lax
    (``text_array``: its path as a text[])."""
    form = operator_form(node)
    if form is not None:
        return form
    name = str(node.funcname[-1].sval)
    if name == "jsonb_set_lax" and len(node.args or ()) > 1:
        return set_lax(node, text_array((node.args or ())[1], ctx))
    args = tuple(node.args or ())
    if name not in ("json_object", "jsonb_object") or len(args) not in (1, 2):
        return None
    texts = [_literal(a, ctx) for a in args]
    if any(t is None for t in texts):
        return None  # not literals: DuckDB's own json_object, or its error
    keys = text(str(texts[0]))
    values: ast.Node = text(str(texts[1])) if len(texts) == 2 else ast.A_Const(isnull=True)
    got = call("hati_json_object", False, keys, values, boolean(name == "jsonb_object"))
    return cast(got, "json")


# jsonb's functions spelled as its operators (the left side, and @>'s right, as jsonb)
_OPERATOR_FORMS = {
    "jsonb_contained": ("<@", True),
    "jsonb_contains": ("@>", True),
    "jsonb_delete": ("-", False),
    "jsonb_delete_path": ("#-", False),
    "jsonb_concat": ("||", True),
    "jsonb_exists": ("?", False),
}
_TREATMENTS = ("raise_exception", "use_json_null", "delete_key", "return_target")


def operator_form(node: ast.FuncCall) -> ast.Node | None:
    """``jsonb_contained(a, b)`` as ``a::jsonb <@ b::jsonb`` (and the others above)."""
    name = str(node.funcname[-1].sval)
    args = tuple(node.args or ())
    if name not in _OPERATOR_FORMS or len(args) != 2 or node.func_variadic:
        return None
    op, both = _OPERATOR_FORMS[name]
    right = cast(args[1], "jsonb") if both else args[1]
    return ast.A_Expr(
        kind=A_Expr_Kind.AEXPR_OP,
        name=(ast.String(sval=op),),
        lexpr=cast(args[0], "jsonb"),
        rexpr=right,
    )


def set_lax(node: ast.FuncCall, path: ast.Node) -> ast.Node | None:
    """jsonb_set_lax(target, path, value [, create [, null_value_treatment]])."""
    args = list(node.args or ())
    named = {a.name: a.arg for a in args if isinstance(a, ast.NamedArgExpr)}
    plain = [a for a in args if not isinstance(a, ast.NamedArgExpr)]
    if not 3 <= len(plain) <= 5:
        return None
    create = plain[3] if len(plain) > 3 else named.get("create_if_missing", boolean(True))
    treatment = (
        plain[4] if len(plain) > 4 else named.get("null_value_treatment", text("use_json_null"))
    )
    got = call(
        "hati_jsonb_set_lax",
        False,
        as_text(plain[0]),
        path,
        as_text(plain[2]),
        cast(create, "bool"),
        as_text(treatment),
    )
    index = ast.A_Indices(uidx=ast.A_Const(val=ast.Integer(ival=1)))
    return cast(ast.A_Indirection(arg=got, indirection=(index,)), "json")
