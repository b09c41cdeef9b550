"""Numeric constants that meet integers or other scales keep their own digits.

A PostgreSQL numeric carries its scale in each value: ``SELECT 1 UNION SELECT 1.5`` is
``1`` and ``1.5``, ``ARRAY[1.5, 2]`` is ``{1.5,2}``. DuckDB gives the column one
DECIMAL scale and pads every value to it (``1.0``, ``{1.5,2.0}``). Where constants alone
meet in one column (the arms of a set operation, the rows of VALUES, the elements of an
ARRAY, the results of a CASE), a numeric constant written without trailing zeros becomes
a bare numeric, which prints each value with its own digits (hati/wire/numerics.py), so
the integers and the other constants print as PostgreSQL prints them.

Nothing changes where a column or any other expression takes part (its type decides),
where a constant has trailing zeros (``1.50`` would lose them), or where the values go
straight into a table or a cast (INSERT's VALUES, ``ARRAY[...]::float8[]``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum

from pglast import ast
from pglast.enums import A_Expr_Kind, SetOperation

from hati.pg import lex
from hati.pg.translate import Translation, walk


class _Kind(Enum):
    INTEGER = "integer"
    NUMERIC = "numeric"  # a numeric constant PostgreSQL prints as written
    PADDED = "padded"  # trailing zeros a bare numeric would drop
    NULL = "null"
    OTHER = "other"


def _of_kind(kind: str) -> tuple[_Kind, int]:
    if kind == "i":
        return _Kind.INTEGER, 0
    if kind == "z":
        return _Kind.PADDED, 0
    if kind.startswith("n"):
        return _Kind.NUMERIC, int(kind[1:])
    return _Kind.OTHER, 0


def _operator(node: ast.A_Expr) -> str | None:
    if node.kind != A_Expr_Kind.AEXPR_OP or len(node.name or ()) != 1:
        return None
    name = node.name[0]
    return name.sval if isinstance(name, ast.String) else None


def _kind(node: ast.Node | None, ctx: Translation) -> tuple[_Kind, int]:
    if isinstance(node, ast.A_Expr):
        op = _operator(node)
        if op == "-" and node.lexpr is None:
            return _kind(node.rexpr, ctx)  # a negative constant
        if op in ("+", "-", "*") and node.lexpr is not None:
            left, right = _kind(node.lexpr, ctx), _kind(node.rexpr, ctx)
            if left[0] is right[0] is _Kind.INTEGER:
                return left  # integer arithmetic of constants is an integer
        return _Kind.OTHER, 0
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return _Kind.NULL, 0
        if isinstance(node.val, ast.Integer):
            return _Kind.INTEGER, 0
        if isinstance(node.val, ast.Float) and node.val.fval:
            return _of_kind(lex.literal_kind(node.val.fval, string=False))
        return _Kind.OTHER, 0
    if isinstance(node, ast.ParamRef) and ctx.params is not None:
        slot = node.number - ctx.params - 1  # a lifted constant's marker: its kind tells
        if 0 <= slot < len(ctx.literal_kinds):
            return _of_kind(ctx.literal_kinds[slot])
    return _Kind.OTHER, 0


def _bare(node: ast.Node) -> ast.TypeCast:
    """``node`` (a numeric constant or its marker) as a bare numeric."""
    return ast.TypeCast(
        arg=node,
        typeName=ast.TypeName(names=(ast.String(sval="pg_catalog"), ast.String(sval="numeric"))),
    )


def _column(values: Sequence[ast.Node | None], ctx: Translation) -> set[int]:
    """Which of one column's values become bare numerics (their indexes)."""
    if len(values) < 2:
        return set()
    kinds = [_kind(v, ctx) for v in values]
    seen = {k for k, _ in kinds}
    if _Kind.OTHER in seen or _Kind.PADDED in seen or _Kind.NUMERIC not in seen:
        return set()
    scales = {s for k, s in kinds if k is _Kind.NUMERIC}
    if _Kind.INTEGER not in seen and len(scales) == 1:
        return set()  # one scale throughout: DuckDB prints them as written
    return {i for i, (k, _) in enumerate(kinds) if k is _Kind.NUMERIC}


def _leaves(stmt: ast.SelectStmt) -> Iterator[ast.SelectStmt]:
    if stmt.op == SetOperation.SETOP_NONE:
        yield stmt
        return
    for arm in (stmt.larg, stmt.rarg):
        if isinstance(arm, ast.SelectStmt):
            yield from _leaves(arm)


def _set_operation(stmt: ast.SelectStmt, ctx: Translation) -> None:
    leaves = list(_leaves(stmt))
    rows: list[list[ast.ResTarget]] = []
    for leaf in leaves:
        if leaf.valuesLists or not leaf.targetList:
            return  # VALUES arms and empty lists: leave the operation as it is
        rows.append([t for t in leaf.targetList if isinstance(t, ast.ResTarget)])
    if len({len(r) for r in rows}) != 1:
        return
    for col in range(len(rows[0])):
        targets = [r[col] for r in rows]
        for i in _column([t.val for t in targets], ctx):
            targets[i].val = _bare(targets[i].val)


def _values(stmt: ast.SelectStmt, ctx: Translation) -> None:
    rows = [list(r) for r in stmt.valuesLists or ()]
    if len({len(r) for r in rows}) != 1:
        return
    for col in range(len(rows[0])):
        for i in _column([r[col] for r in rows], ctx):
            rows[i][col] = _bare(rows[i][col])
    stmt.valuesLists = tuple(tuple(r) for r in rows)


def _array(node: ast.A_ArrayExpr, ctx: Translation) -> None:
    elements = list(node.elements or ())
    for i in _column(elements, ctx):
        elements[i] = _bare(elements[i])
    node.elements = tuple(elements)


def _case(node: ast.CaseExpr, ctx: Translation) -> None:
    whens = [w for w in node.args or () if isinstance(w, ast.CaseWhen)]
    values: list[ast.Node | None] = [w.result for w in whens]
    values.append(node.defresult if node.defresult is not None else ast.A_Const(isnull=True))
    for i in _column(values, ctx):
        if i < len(whens):
            whens[i].result = _bare(whens[i].result)
        else:
            node.defresult = _bare(node.defresult)


def _skipped(stmt: ast.Node) -> set[int]:
    """Nodes whose values go straight into a table or a cast (ids)."""
    out: set[int] = set()
    for node in walk(stmt):
        if isinstance(node, ast.InsertStmt) and node.selectStmt is not None:
            out.add(id(node.selectStmt))
        elif isinstance(node, ast.TypeCast) and node.arg is not None:
            out.add(id(node.arg))
    return out


def literal_scales(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Numeric constants meeting integers or other scales print as PostgreSQL prints them."""
    skipped = _skipped(stmt)
    for node in walk(stmt):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.SelectStmt):
            if node.op != SetOperation.SETOP_NONE:
                _set_operation(node, ctx)
            elif node.valuesLists:
                _values(node, ctx)
        elif isinstance(node, ast.A_ArrayExpr):
            _array(node, ctx)
        elif isinstance(node, ast.CaseExpr):
            _case(node, ctx)
    return stmt
