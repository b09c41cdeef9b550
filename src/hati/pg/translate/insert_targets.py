"""``INSERT INTO t (arr[1], arr[2], comp.field, comps[1].field[1]) ...``: target columns
with subscripts or fields, which DuckDB's INSERT lacks. PostgreSQL assigns each part
into the column's value for the new row, which starts as NULL; so the column is written
whole, built from its parts: ``ARRAY[v1, v2]`` for subscripts 1..n, ``struct_pack(field
=> v)`` for fields (DuckDB fills the struct's other fields with NULL). A subscript that
is not a constant, a slice, or subscripts that do not fill 1..n (PostgreSQL would give
the array another lower bound, which DuckDB's lists lack) are refused (0A000)."""

from __future__ import annotations

from typing import Any

from pglast import ast

from hati.errors import DuplicateColumn, FeatureNotSupported
from hati.pg.translate import NeedsLiteral, Translation


def _refuse(what: str) -> FeatureNotSupported:
    return FeatureNotSupported(
        f"INSERT into {what} is not supported",
        hint="Write the whole column: ARRAY[...] for an array, ROW(...) for a composite.",
    )


def _subscript(node: Any, ctx: Translation) -> int:
    if node.is_slice or node.lidx is not None:
        raise _refuse("an array slice")
    u = node.uidx
    if isinstance(u, ast.ParamRef) and ctx.params is not None and (u.number or 0) > ctx.params:
        raise NeedsLiteral  # a constant lifted out as a marker
    if isinstance(u, ast.A_Const) and isinstance(u.val, ast.Integer):
        return int(u.val.ival)
    raise _refuse("an array element chosen by an expression")


def _place(tree: dict[Any, Any], path: tuple[Any, ...], value: ast.Node) -> None:
    """Put ``value`` at ``path`` (subscripts as ints, fields as strings) in ``tree``."""
    step, rest = path[0], path[1:]
    if not rest:
        tree[step] = value
        return
    below = tree.get(step)
    if not isinstance(below, dict):
        below = tree[step] = {}
    _place(below, rest, value)


def _built(tree: dict[Any, Any]) -> ast.Node:
    """The value a column's assigned parts make, from NULL."""
    keys = list(tree)
    parts = {k: _built(v) if isinstance(v, dict) else v for k, v in tree.items()}
    if all(isinstance(k, int) for k in keys):
        if sorted(keys) != list(range(1, len(keys) + 1)):
            raise _refuse("array elements that do not fill subscripts 1 to n")
        return ast.A_ArrayExpr(elements=tuple(parts[i] for i in range(1, len(keys) + 1)))
    if any(isinstance(k, int) for k in keys):
        raise _refuse("both an element and a field of one value")
    args = tuple(ast.NamedArgExpr(name=k, arg=parts[k], argnumber=-1) for k in keys)
    return ast.FuncCall(funcname=(ast.String(sval="struct_pack"),), args=args)


def _paths(cols: tuple[Any, ...], ctx: Translation) -> list[tuple[str, tuple[Any, ...]]]:
    out = []
    for col in cols:
        path: list[Any] = []
        for part in col.indirection or ():
            path.append(_subscript(part, ctx) if isinstance(part, ast.A_Indices) else part.sval)
        out.append((str(col.name), tuple(path)))
    return out


def _row(paths: list[tuple[str, tuple[Any, ...]]], values: tuple[Any, ...]) -> list[ast.Node]:
    """One row's values for the columns written whole, in their first target's order."""
    whole: dict[str, ast.Node | dict[Any, Any]] = {}
    for (name, path), value in zip(paths, values, strict=False):
        if path and isinstance(value, ast.SetToDefault):
            what = "an array element" if isinstance(path[0], int) else "a subfield"
            raise FeatureNotSupported(f"cannot set {what} to DEFAULT")
        if not path:
            whole[name] = value
            continue
        tree = whole.setdefault(name, {})
        assert isinstance(tree, dict)
        _place(tree, path, value)
    return [_built(v) if isinstance(v, dict) else v for v in whole.values()]


def _check(paths: list[tuple[str, tuple[Any, ...]]]) -> None:
    plain = {n for n, p in paths if not p}
    seen: set[str] = set()
    for name, path in paths:
        if name in plain and (path or name in seen):
            raise DuplicateColumn(f'column "{name}" specified more than once')
        seen.add(name)


def _column(name: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=(ast.String(sval="hati_src"), ast.String(sval=name)))


def insert_targets(stmt: ast.Node, ctx: Translation) -> ast.Node:
    if not isinstance(stmt, ast.InsertStmt) or not stmt.cols:
        return stmt
    if not any(c.indirection for c in stmt.cols):
        return stmt
    paths = _paths(stmt.cols, ctx)
    _check(paths)
    names = list(dict.fromkeys(n for n, _ in paths))
    stmt.cols = tuple(ast.ResTarget(name=n) for n in names)
    select = stmt.selectStmt
    if isinstance(select, ast.SelectStmt) and select.valuesLists:
        select.valuesLists = tuple(tuple(_row(paths, row)) for row in select.valuesLists)
        return stmt
    if select is None:
        return stmt
    inner = [f"c{i}" for i in range(1, len(paths) + 1)]
    source = ast.RangeSubselect(
        lateral=False,
        subquery=select,
        alias=ast.Alias(aliasname="hati_src", colnames=tuple(ast.String(sval=c) for c in inner)),
    )
    exprs = _row(paths, tuple(_column(c) for c in inner))
    stmt.selectStmt = ast.SelectStmt(
        targetList=tuple(ast.ResTarget(val=e) for e in exprs),
        fromClause=(source,),
        limitOption=0,
        op=0,
    )
    return stmt
