"""String literals of unknown type beside typed values, resolved as PostgreSQL does.

In ``coalesce(1, 'a')``, ``CASE ... THEN 1 ELSE 'a' END``, ``1 IN (1, 'a')`` and
``SELECT 1 UNION SELECT 'a'`` PostgreSQL gives the literal the type of the others
(select_common_type) while it parses, so ``'a'`` fails with 22P02 even where it is never
evaluated, and the UNION's column is an integer. DuckDB reads such a literal only when
it reaches it, and a UNION of 1 and '2' is text. Where the other values' types are
known from the tree (typeof.py) and are numbers or booleans, each literal is checked
here and cast to that type.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from pglast import ast
from pglast.enums import A_Expr_Kind, SetOperation

from hati.errors import InvalidTextRepresentation, NumericValueOutOfRange
from hati.pg.translate import NeedsLiteral, Translation, walk
from hati.pg.translate.typeof import common, display, infer

_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_FLOAT = re.compile(
    r"\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|nan|inf|infinity)\s*", re.I
)


def _bad(t: str, text: str) -> InvalidTextRepresentation:
    return InvalidTextRepresentation(f'invalid input syntax for type {display(t)}: "{text}"')


def _check(text: str, t: str) -> None:
    """22P02 / 22003 where PostgreSQL's input function for ``t`` refuses ``text``."""
    if t in _RANGES:
        if not _INTEGER.fullmatch(text):
            raise _bad(t, text)
        if not -_RANGES[t] <= int(text) < _RANGES[t]:
            raise NumericValueOutOfRange(f'value "{text}" is out of range for type {display(t)}')
    elif t == "numeric":
        v = text.strip()
        if v.lower() not in ("nan", "infinity", "+infinity", "-infinity", "inf", "-inf"):
            try:
                Decimal(v)
            except InvalidOperation:
                raise _bad(t, text) from None
            if "_" in v or not v:
                raise _bad(t, text)
    elif t in ("float4", "float8"):
        if not _FLOAT.fullmatch(text):
            raise _bad(t, text)
    elif t == "bool":
        v = text.strip().lower()
        words = [w for w in (*_TRUE, *_FALSE) if v and w.startswith(v)]
        if not v or (len(words) != 1 and v not in words):
            raise _bad(t, text)


_RESOLVED = frozenset({*_RANGES, "numeric", "float4", "float8", "bool"})


def _literal(node: ast.Node, ctx: Translation) -> str | None:
    """The text of an untyped string literal (None: not one)."""
    if isinstance(node, ast.ParamRef) and ctx.params is not None and node.number > ctx.params:
        if infer(node, ctx) == "unknown":
            raise NeedsLiteral
        return None
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String) and not node.isnull:
        return str(node.val.sval)
    return None


def _cast(node: ast.Node, t: str) -> ast.TypeCast:
    name = ast.TypeName(names=(ast.String(sval="pg_catalog"), ast.String(sval=t)))
    return ast.TypeCast(arg=node, typeName=name)


def _resolve(values: list[ast.Node], ctx: Translation) -> list[ast.Node] | None:
    """``values`` with their unknown literals cast to the others' type (None: unchanged)."""
    if not any(isinstance(v, ast.A_Const | ast.ParamRef) for v in values):
        return None
    types = [infer(v, ctx) for v in values]
    if "unknown" not in types or all(t == "unknown" for t in types):
        return None
    t = common(types)
    if t not in _RESOLVED:
        return None
    out: list[ast.Node] = []
    for v in values:
        text = _literal(v, ctx)
        if text is None:
            out.append(v)
        else:
            _check(text, t)
            out.append(_cast(v, t))
    return out


def _leaves(node: ast.SelectStmt | None) -> list[ast.SelectStmt] | None:
    if node is None:
        return None
    if node.op == SetOperation.SETOP_NONE:
        return [node]
    left, right = _leaves(node.larg), _leaves(node.rarg)
    return None if left is None or right is None else [*left, *right]


def _set_operation(node: ast.SelectStmt, ctx: Translation) -> None:
    leaves = _leaves(node)
    if not leaves:
        return
    lists = [list(leaf.targetList or ()) for leaf in leaves]
    if any(leaf.valuesLists for leaf in leaves) or len({len(t) for t in lists}) != 1:
        return
    if not all(isinstance(t, ast.ResTarget) for targets in lists for t in targets):
        return
    for i in range(len(lists[0])):
        resolved = _resolve([targets[i].val for targets in lists], ctx)
        for targets, value in zip(lists, resolved or (), strict=False):
            targets[i].val = value


def unknown_literals(stmt: ast.Node, ctx: Translation) -> ast.Node:
    for node in list(walk(stmt)):
        if isinstance(node, ast.CoalesceExpr | ast.MinMaxExpr):
            resolved = _resolve(list(node.args or ()), ctx)
            if resolved is not None:
                node.args = tuple(resolved)
        elif isinstance(node, ast.CaseExpr):
            whens = [w for w in node.args or () if isinstance(w, ast.CaseWhen)]
            results = [w.result for w in whens]
            if node.defresult is not None:
                results.append(node.defresult)
            resolved = _resolve(results, ctx)
            if resolved is not None:
                for w, r in zip(whens, resolved, strict=False):
                    w.result = r
                if node.defresult is not None:
                    node.defresult = resolved[-1]
        elif isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_IN:
            items = list(node.rexpr) if isinstance(node.rexpr, tuple) else None
            resolved = _resolve([node.lexpr, *items], ctx) if items and node.lexpr else None
            if resolved is not None:
                node.lexpr, node.rexpr = resolved[0], tuple(resolved[1:])
        elif isinstance(node, ast.SelectStmt) and node.op != SetOperation.SETOP_NONE:
            _set_operation(node, ctx)
    return stmt
