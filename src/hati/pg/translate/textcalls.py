"""Calls whose PostgreSQL meaning depends on their constant arguments: ``format()`` with
``%I`` / ``%L`` / ``%n$s`` spelled out piece by piece, ``age()`` of untyped strings."""

from __future__ import annotations

import copy
import re

from pglast import ast

from hati.pg.translate import NeedsLiteral, Translation, func_call
from hati.pg.translate import const as _const


def _call(name: str, *args: ast.Node, hidden: bool = True) -> ast.FuncCall:
    return func_call(name, *args, hidden=hidden)


def _cast(arg: ast.Node, name: str) -> ast.TypeCast:
    return ast.TypeCast(arg=arg, typeName=ast.TypeName(names=(ast.String(sval=name),)))


def age(node: ast.FuncCall, ctx: Translation) -> None:
    """``age('2024-01-01', '2023-01-01')``: PostgreSQL reads untyped strings as timestamps
    here; DuckDB cannot choose between its age() signatures."""
    args = list(node.args or ())
    for i, a in enumerate(args):
        string = isinstance(a, ast.A_Const) and isinstance(a.val, ast.String)
        if isinstance(a, ast.ParamRef) and ctx.params is not None:
            slot = (a.number or 0) - ctx.params - 1
            string = 0 <= slot < len(ctx.literal_kinds) and ctx.literal_kinds[slot] == "s"
        if string:
            args[i] = _cast(a, "timestamp")
    node.args = tuple(args)


def format_call(node: ast.FuncCall, ctx: Translation) -> ast.Node | None:
    """``format('%s-%s', a, b)``: printf over the arguments as text (NULL is empty);
    a constant format with ``%I`` / ``%L`` / ``%n$s`` is spelled out piece by piece."""
    args = node.args or ()
    if not args:
        return None
    fmt = args[0]
    if isinstance(fmt, ast.ParamRef) and ctx.params is not None and (fmt.number or 0) > ctx.params:
        raise NeedsLiteral  # a constant format, lifted out: spelled out below
    if isinstance(fmt, ast.A_Const) and isinstance(fmt.val, ast.String):
        pieces = _format_pieces(str(fmt.val.sval), args[1:])
        if pieces is not None:
            return _call("concat", *pieces, hidden=False) if pieces else _const("")
    rest = tuple(ast.CoalesceExpr(args=(_cast(a, "varchar"), _const(""))) for a in args[1:])
    return _call("printf", args[0], *rest, hidden=False)


_FORMAT_SPEC = re.compile(r"%(?:(\d+)\$)?([sIL%])")


def _format_pieces(fmt: str, args: tuple[ast.Node, ...]) -> list[ast.Node] | None:
    """The parts of PostgreSQL's format(): text, and each argument as %s (its text,
    NULL as nothing), %I (quoted as an identifier) or %L (as a literal, NULL as NULL).
    None: a specification this does not spell out (widths, flags)."""
    out: list[ast.Node] = []
    pos, nxt = 0, 0
    for m in _FORMAT_SPEC.finditer(fmt):
        if "%" in fmt[pos : m.start()]:
            return None
        if m.start() > pos:
            out.append(_const(fmt[pos : m.start()]))
        pos = m.end()
        if m.group(2) == "%":
            out.append(_const("%"))
            continue
        n = int(m.group(1)) - 1 if m.group(1) else nxt
        nxt = n + 1
        if n >= len(args):
            return None  # PostgreSQL: too few arguments for format() (22023)
        text = _cast(copy.deepcopy(args[n]), "varchar")
        kind = m.group(2)
        out.append(
            ast.CoalesceExpr(args=(text, _const("")))
            if kind == "s"
            else _call("pg_quote_ident" if kind == "I" else "pg_quote_nullable", text)
        )
    if "%" in fmt[pos:]:
        return None
    if pos < len(fmt):
        out.append(_const(fmt[pos:]))
    return out
