"""Window functions and frames as PostgreSQL checks and reads them.

- The frame checks PostgreSQL makes before it runs a query, where DuckDB answers anyway:
  a ROWS/RANGE/GROUPS offset must not name a column (42P10), GROUPS needs ORDER BY
  (42P20), ``nth_value``'s constant position must be positive (22016) and ``count()``
  needs its star (42809).
- A RANGE offset written as a string (``RANGE BETWEEN '1 day' PRECEDING``) is an interval
  unless it reads as a number: PostgreSQL types it by the ORDER BY column, DuckDB does
  not type it at all. A NaN offset is PostgreSQL's 22013; an infinite one, whose frames
  DuckDB reads otherwise, is refused (0A000).
- ``lag(x, n, default)`` / ``lead``: an integer x with a numeric (or double) default
  answers numeric (double), the common type PostgreSQL gives them.
- ``ORDER BY rank() OVER w`` names a window of the WINDOW clause, which DuckDB finds in
  the select list only: the ORDER BY gets the window's definition written out.
"""

from __future__ import annotations

import copy
import re

from pglast import ast
from pglast.enums import parsenodes as pn

from hati.errors import (
    FeatureNotSupported,
    InvalidArgumentForNthValue,
    InvalidColumnReference,
    InvalidPrecedingOrFollowingSize,
    WindowingError,
    WrongObjectType,
)
from hati.pg.analyze import children
from hati.pg.translate import NeedsLiteral, Translation, func_call, typeof, walk

_NUMBER = re.compile(
    r"\s*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)\s*", re.IGNORECASE
)


def _mode(options: int) -> str:
    if options & pn.FRAMEOPTION_GROUPS:
        return "GROUPS"
    return "RANGE" if options & pn.FRAMEOPTION_RANGE else "ROWS"


def _names_column(node: ast.Node) -> bool:
    """Does ``node`` name a column (outside its subqueries, which may)?"""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.ColumnRef):
            return True
        if not isinstance(n, ast.SubLink):
            stack.extend(child for _, child in children(n))
    return False


def _string_offset(node: ast.Node | None, ctx: Translation) -> str | None:
    """The text of a string constant offset (NeedsLiteral for a lifted one's marker)."""
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    if isinstance(node, ast.ParamRef) and ctx.params is not None:
        slot = node.number - ctx.params - 1
        if 0 <= slot < len(ctx.literal_kinds) and ctx.literal_kinds[slot] == "s":
            raise NeedsLiteral
    return None


def _interval(text: str) -> ast.TypeCast:
    return ast.TypeCast(
        arg=ast.A_Const(val=ast.String(sval=text)),
        typeName=ast.TypeName(names=(ast.String(sval="pg_catalog"), ast.String(sval="interval"))),
    )


def _frame(node: ast.WindowDef, ctx: Translation) -> None:
    options = node.frameOptions or 0
    if not options & pn.FRAMEOPTION_NONDEFAULT:
        return
    mode = _mode(options)
    for offset in (node.startOffset, node.endOffset):
        if offset is not None and not ctx.function_body and _names_column(offset):
            raise InvalidColumnReference(f"argument of {mode} must not contain variables")
    if mode == "GROUPS" and not node.orderClause and not node.refname:
        raise WindowingError("GROUPS mode requires an ORDER BY clause")
    if mode != "RANGE":
        return
    for attr in ("startOffset", "endOffset"):
        text = _string_offset(getattr(node, attr), ctx)
        if text is not None and not _NUMBER.fullmatch(text):
            setattr(node, attr, _interval(text))
        elif text is not None and text.strip().lower() == "nan":
            raise InvalidPrecedingOrFollowingSize(
                "invalid preceding or following size in window function"
            )
        elif text is not None and text.strip().lower().lstrip("+-") in ("inf", "infinity"):
            raise FeatureNotSupported(
                "RANGE with an infinite offset PRECEDING/FOLLOWING is not supported",
                hint="Use UNBOUNDED PRECEDING or UNBOUNDED FOLLOWING.",
            )


def _position(node: ast.Node, ctx: Translation) -> int | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
        return node.val.ival
    if isinstance(node, ast.A_Expr) and node.lexpr is None and node.rexpr is not None:
        names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
        inner = _position(node.rexpr, ctx) if names == ["-"] else None
        return None if inner is None else -inner
    if isinstance(node, ast.ParamRef) and ctx.params is not None and node.number > ctx.params:
        raise NeedsLiteral  # a lifted constant: its value decides
    return None


def _common_default(node: ast.FuncCall, ctx: Translation) -> None:
    """``lag(x, n, 0.7)``: PostgreSQL answers the common type of x and the default (an
    integer x with a numeric default is numeric); DuckDB casts the default to x's type."""
    value, offset, default = node.args or ()
    try:
        kind = typeof.infer(default, ctx)
    except NeedsLiteral:
        kind = None  # an integer constant: x's type stands
    macro = {
        "numeric": "pg_int_as_numeric",
        "float8": "pg_int_as_float8",
        "float4": "pg_int_as_float4",
    }.get(kind or "")
    if macro is not None and typeof.infer(value, ctx) not in ("numeric", "float8", "float4"):
        node.args = (func_call(macro, value, hidden=True), offset, default)


def _call(node: ast.FuncCall, ctx: Translation) -> None:
    name = node.funcname[-1].sval if node.funcname else ""
    if name == "count" and not node.args and not node.agg_star and len(node.funcname) <= 2:
        raise WrongObjectType(
            "count(*) must be used to call a parameterless aggregate function",
            hint="Write count(*) to count rows.",
        )
    if name in ("lag", "lead") and node.over is not None and len(node.args or ()) == 3:
        _common_default(node, ctx)
    if name == "nth_value" and node.over is not None and len(node.args or ()) == 2:
        pos = _position(node.args[1], ctx)
        if pos is not None and pos <= 0:
            raise InvalidArgumentForNthValue("argument of nth_value must be greater than zero")


def _named_windows_in_order_by(stmt: ast.SelectStmt) -> None:
    defs = {w.name: w for w in stmt.windowClause or () if isinstance(w, ast.WindowDef) and w.name}
    if not defs or not stmt.sortClause:
        return
    for sort in stmt.sortClause:
        for node in walk(sort):
            if not isinstance(node, ast.FuncCall) or node.over is None:
                continue
            over = node.over
            if over.name in defs and not over.partitionClause and not over.orderClause:
                written = copy.deepcopy(defs[over.name])
                written.name = None
                node.over = written


def windows(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Window checks and rewrites (module doc)."""
    for node in walk(stmt):
        if isinstance(node, ast.WindowDef):
            _frame(node, ctx)
        elif isinstance(node, ast.FuncCall):
            _call(node, ctx)
        elif isinstance(node, ast.SelectStmt) and node.windowClause:
            _named_windows_in_order_by(node)
    return stmt
