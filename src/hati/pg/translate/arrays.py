"""Arrays as PostgreSQL writes them, on DuckDB's lists.

- ``'{1,2}'`` compared with an array (``a = '{1,2}'``, ``t @> '{x}'``): DuckDB reads a
  list's text as ``[1,2]``; where the other side is a list (``typeof`` tells when the
  statement binds) the literal is given in DuckDB's spelling, else it stays text.
  Literals written to array columns by INSERT ... VALUES are converted when the
  statement runs (``hati/arrays_in.py``: the target's column types are known then).
- ``UPDATE t SET a[2] = v`` and ``INSERT INTO t (a[1], a[2]) VALUES (x, y)``: the
  element assigned by a macro, the subscripted targets of one column as one array.
- ``ARRAY[1, 2] || 3`` / ``0 || ARRAY[1, 2]``: list_append / list_prepend (DuckDB's
  ``||`` joins two lists only); array_remove, array_replace as macros.
- ``unnest(ARRAY[[1, 2], [3, 4]])`` flattens a multidimensional array, as PostgreSQL
  does; ``f(VARIADIC ARRAY[a, b])`` is ``f(a, b)``; ``json_build_array(VARIADIC NULL)``.
- ``_int4`` and the other array types' own names: ``int4[]``.
- ``a JOIN b USING (i) AS x``: ``x.i`` is the merged column, unqualified ``i``.
"""

from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import A_Expr_Kind

from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.arraytext import duck_list
from hati.pg.translate import NeedsLiteral, Translation, func_call, replace_child, walk
from hati.pg.translate import const as _const
from hati.pg.translate.exprs import array_items

S = catalog_views.HIDDEN

SETUP_SQL = f"""
CREATE OR REPLACE MACRO {S}.pg_array_remove(a, x) AS
    list_filter(a, lambda e: e IS DISTINCT FROM x);
CREATE OR REPLACE MACRO {S}.pg_array_replace(a, x, y) AS
    list_transform(a, lambda e: CASE WHEN e IS NOT DISTINCT FROM x THEN y ELSE e END);
CREATE OR REPLACE MACRO {S}.pg_list_text(a) AS list_transform(a, lambda e: e::VARCHAR);
CREATE OR REPLACE MACRO {S}.pg_array_set(a, i, v) AS
    list_transform(range(1, greatest(coalesce(system.main.array_length(a), 0), i) + 1),
        lambda k: CASE WHEN k = i THEN v ELSE a[k] END);
CREATE OR REPLACE MACRO {S}.pg_array_set_path(a, p, v) AS
    error('HATI-0A000: assigning to an element of a multidimensional array is not supported');
CREATE OR REPLACE MACRO {S}.pg_jsonb_key(k) AS
    CASE WHEN k IS NULL THEN error('HATI-22004: jsonb subscript in assignment must not be null')
         WHEN typeof(k) IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT')
         THEN 'i' || k::VARCHAR ELSE 's' || k::VARCHAR END;
CREATE OR REPLACE MACRO {S}.pg_jsonb_set1(j, k, v) AS
    hati_jsonb_assign(j::VARCHAR, [{S}.pg_jsonb_key(k)], v::VARCHAR)::JSON;
CREATE OR REPLACE MACRO {S}.pg_jsonb_set_path(j, p, v) AS
    hati_jsonb_assign(j::VARCHAR, p, v::VARCHAR)::JSON;
"""

# PostgreSQL's names of array types (pg_type.typname) -> the element type.
ARRAY_TYPES = {
    f"_{t}": t
    for t in (
        "int2", "int4", "int8", "text", "varchar", "bpchar", "float4", "float8", "numeric",
        "bool", "date", "timestamp", "timestamptz", "time", "interval", "json", "jsonb",
        "uuid", "bytea", "name", "oid", "char",
    )
}  # fmt: skip

_COMPARISONS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})
_CONTAINMENT = frozenset({"@>", "<@", "&&"})  # of arrays only (json's: jsonops.py)
_VARIADIC_JSON = frozenset(
    {"json_build_array", "jsonb_build_array", "json_build_object", "jsonb_build_object"}
)


_TEXT_ARRAY = ast.TypeName(names=(ast.String(sval="varchar"),), arrayBounds=(ast.Integer(ival=-1),))


def _call(name: str, *args: ast.Node, hidden: bool = True) -> ast.FuncCall:
    return func_call(name, *args, hidden=hidden)


def _text(node: ast.Node | None) -> str | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return str(node.val.sval)
    return None


def _constant(node: ast.Node | None) -> bool:
    return isinstance(node, ast.A_Const | ast.ParamRef)


def _is_array(node: ast.Node | None) -> bool:
    if isinstance(node, ast.A_ArrayExpr):
        return True
    return isinstance(node, ast.TypeCast) and bool(node.typeName and node.typeName.arrayBounds)


def _scalar(node: ast.Node | None) -> bool:
    """Spelled as a value that is not an array (a number, a cast to a scalar type)."""
    if isinstance(node, ast.A_Const):
        return not node.isnull and not isinstance(node.val, ast.String)
    if isinstance(node, ast.TypeCast):
        return bool(node.typeName and not node.typeName.arrayBounds) and not _is_array(node.arg)
    return False


def _typed_literal(other: ast.Node, text: str, duck: str) -> ast.Node:
    """``'{...}'`` as DuckDB's list text where ``other`` is a list, else as given."""
    is_list = ast.A_Expr(
        kind=A_Expr_Kind.AEXPR_LIKE,
        name=(ast.String(sval="~~"),),
        lexpr=_call("typeof", other, hidden=False),
        rexpr=_const("%[]"),
    )
    return ast.CaseExpr(
        args=(ast.CaseWhen(expr=is_list, result=_const(duck)),), defresult=_const(text)
    )


def _lifted(node: ast.Node | None, ctx: Translation) -> None:
    """A literal lifted out as a marker: its value is needed (``||`` of a list)."""
    if (
        isinstance(node, ast.ParamRef)
        and ctx.params is not None
        and (node.number or 0) > ctx.params
    ):
        raise NeedsLiteral


def _containment(node: ast.A_Expr, left: ast.Node, right: ast.Node) -> ast.Node | None:
    """``t @> '{x}'``: DuckDB's operators want one element type, so both sides are
    compared as text."""
    for mine, other, attr, oattr in (
        (right, left, "rexpr", "lexpr"),
        (left, right, "lexpr", "rexpr"),
    ):
        text = _text(mine)
        duck = duck_list(text) if text is not None else None
        if duck is not None and not _constant(other):
            setattr(node, attr, ast.TypeCast(arg=_const(duck), typeName=_TEXT_ARRAY))
            setattr(node, oattr, _call("pg_list_text", other))
            return node
    return None


def _a_expr(node: ast.A_Expr, ctx: Translation) -> ast.Node | None:
    if node.kind != A_Expr_Kind.AEXPR_OP or not node.name:
        return None
    op = node.name[-1].sval
    left, right = node.lexpr, node.rexpr
    if op == "||" and left is not None and right is not None:
        if _is_array(left):
            _lifted(right, ctx)
        if _is_array(right):
            _lifted(left, ctx)
        if (_is_array(left) and _scalar(right)) or isinstance(right, ast.RowExpr):
            return _call("list_append", left, right, hidden=False)  # a row is an element
        if (_scalar(left) and _is_array(right)) or isinstance(left, ast.RowExpr):
            return _call("list_prepend", left, right, hidden=False)
        return None
    if op in _CONTAINMENT and left is not None and right is not None:
        return _containment(node, left, right)
    if op not in _COMPARISONS or left is None or right is None:
        return None
    for mine, other, attr in ((right, left, "rexpr"), (left, right, "lexpr")):
        text = _text(mine)
        duck = duck_list(text) if text is not None else None
        if duck is not None and text is not None and not _constant(other):
            setattr(node, attr, _typed_literal(other, text, duck))
            return node
    return None


def _func_call(node: ast.FuncCall) -> ast.Node | None:
    name = node.funcname[-1].sval
    if len(node.funcname) > 2 or (
        len(node.funcname) == 2 and node.funcname[0].sval != "pg_catalog"
    ):
        return None
    args = tuple(node.args or ())
    if name == "array_remove" and len(args) == 2:
        return _call("pg_array_remove", *args)
    if name == "array_replace" and len(args) == 3:
        return _call("pg_array_replace", *args)
    if name == "unnest" and len(args) == 1:
        arg = args[0]
        inner = arg.arg if isinstance(arg, ast.TypeCast) else arg
        if isinstance(inner, ast.A_ArrayExpr) and any(
            isinstance(e, ast.A_ArrayExpr) for e in inner.elements or ()
        ):
            node.args = (_call("flatten", arg, hidden=False),)
            return node
    return None


def _literal_elements(node: ast.Node) -> tuple[ast.Node, ...] | None:
    """The elements of ``'{a,b}'::text[]`` (a one-dimensional array's text), each cast
    to the element type; None for anything else."""
    if not isinstance(node, ast.TypeCast) or node.typeName is None:
        return None
    tn = node.typeName
    text = _text(node.arg)
    if not tn.arrayBounds or text is None:
        return None
    items = array_items(text)
    if items is None:
        return None
    element = ast.TypeName(names=tn.names, typmods=tn.typmods)
    return tuple(
        ast.TypeCast(arg=ast.A_Const(isnull=True) if i is None else _const(i), typeName=element)
        for i in items
    )


def _variadic(node: ast.FuncCall) -> ast.Node | None:
    """``f(a, VARIADIC ARRAY[b, c])`` is ``f(a, b, c)``; ``json_build_array(VARIADIC
    NULL)`` is NULL."""
    args = tuple(node.args or ())
    if not node.func_variadic or not args or len(node.funcname) > 2:
        return None
    if len(node.funcname) == 2 and node.funcname[0].sval != "pg_catalog":
        return None
    last = args[-1]
    elements = _literal_elements(last)
    if isinstance(last, ast.TypeCast) and isinstance(last.arg, ast.A_ArrayExpr):
        last = last.arg
    if isinstance(last, ast.A_ArrayExpr):
        elements = tuple(last.elements or ())
    if elements is not None:
        node.func_variadic = False
        node.args = (*args[:-1], *elements) or None
        return node
    if node.funcname[-1].sval in _VARIADIC_JSON and len(args) == 1:
        arg = last.arg if isinstance(last, ast.TypeCast) else last
        if isinstance(arg, ast.A_Const) and arg.isnull:
            return ast.TypeCast(
                arg=ast.A_Const(isnull=True),
                typeName=ast.TypeName(names=(ast.String(sval="json"),)),
            )
    return None


def variadic(stmt: ast.Node) -> ast.Node:
    """VARIADIC arguments spread out, before the rules that rewrite functions by their
    arguments (json_build_array's, concat's, format's) see the call."""
    for node in walk(stmt):
        for attr, child in children(node):
            if isinstance(child, ast.FuncCall):
                new = _variadic(child)
                if new is not None and new is not child:
                    replace_child(node, attr, child, new)
    return stmt


def _type_name(node: ast.TypeName) -> None:
    names = [n.sval for n in node.names or ()]
    plain = len(names) == 1 or (len(names) == 2 and names[0] == "pg_catalog")
    if plain and names[-1] in ARRAY_TYPES and not node.arrayBounds:
        node.names = (ast.String(sval=ARRAY_TYPES[names[-1]]),)
        node.arrayBounds = (ast.Integer(ival=-1),)


def _subscript(target: ast.ResTarget, ctx: Translation) -> int | None:
    """The constant subscript of ``a[n]`` as an assignment target, or None."""
    ind = target.indirection or ()
    if len(ind) != 1 or not isinstance(ind[0], ast.A_Indices) or ind[0].is_slice:
        return None
    idx = ind[0].uidx
    _lifted(idx, ctx)
    if isinstance(idx, ast.A_Const) and isinstance(idx.val, ast.Integer):
        return int(idx.val.ival)
    return None


def _update_targets(stmt: ast.UpdateStmt) -> None:
    """``SET a[i] = v``: ``SET a = pg_array_set(a, i, v)`` (several: nested); ``SET
    a[i][j] = v``: ``pg_array_set_path(a, [i, j], v)`` (a json column's: the calls are
    printed as ``pg_jsonb_set1`` / ``pg_jsonb_set_path`` when the statement runs)."""
    out: list[ast.Node] = []
    merged: dict[str, ast.ResTarget] = {}
    for t in stmt.targetList or ():
        ind: tuple[Any, ...] = tuple(t.indirection or ())
        text = _text(t.val) if isinstance(t, ast.ResTarget) and t.name and not ind else None
        duck = duck_list(text) if text is not None else None
        if duck is not None and text is not None:
            column = ast.ColumnRef(fields=(ast.String(sval=t.name),))
            t.val = _typed_literal(column, text, duck)
        if not (
            isinstance(t, ast.ResTarget)
            and t.name
            and ind
            and all(isinstance(i, ast.A_Indices) and not i.is_slice for i in ind)
        ):
            out.append(t)
            continue
        prior = merged.get(t.name)
        base: Any = (
            prior.val if prior is not None else ast.ColumnRef(fields=(ast.String(sval=t.name),))
        )
        if len(ind) == 1:
            value = _call("pg_array_set", base, ind[0].uidx, t.val)
        else:  # a jsonb column's path (pg/jsonb_assign.py); an array's: 0A000
            steps = tuple(_call("pg_jsonb_key", i.uidx) for i in ind)
            value = _call("pg_array_set_path", base, ast.A_ArrayExpr(elements=steps), t.val)
        if prior is not None:
            prior.val = value
            continue
        new = ast.ResTarget(name=t.name, val=value)
        merged[t.name] = new
        out.append(new)
    stmt.targetList = tuple(out)


def _insert_targets(stmt: ast.InsertStmt, ctx: Translation) -> None:
    """``INSERT INTO t (a[1], a[2]) VALUES (x, y)``: ``(a) VALUES (ARRAY[x, y])``."""
    cols = list(stmt.cols or ())
    select = stmt.selectStmt
    rows = getattr(select, "valuesLists", None)
    if not any(c.indirection for c in cols) or not rows:
        return
    groups: dict[str, list[int]] = {}
    for pos, c in enumerate(cols):
        groups.setdefault(str(c.name), []).append(pos)
    keep: list[ast.ResTarget] = []
    plan: list[list[int]] = []
    for name, positions in groups.items():
        subs = [_subscript(cols[p], ctx) for p in positions]
        if len(positions) == 1 and not cols[positions[0]].indirection:
            keep.append(cols[positions[0]])
            plan.append(positions)
            continue
        if subs != list(range(1, len(positions) + 1)):
            return  # not a[1], a[2], ... in order: DuckDB's error stands
        keep.append(ast.ResTarget(name=name))
        plan.append(positions)
    new_rows = []
    for row in rows:
        if any(isinstance(v, ast.SetToDefault) for v in row):
            return
        vals: list[ast.Node] = []
        for positions in plan:
            if len(positions) == 1 and not cols[positions[0]].indirection:
                vals.append(row[positions[0]])
            else:
                vals.append(ast.A_ArrayExpr(elements=tuple(row[p] for p in positions)))
        new_rows.append(tuple(vals))
    stmt.cols = tuple(keep)
    select.valuesLists = tuple(new_rows)


def _using_alias(join: ast.JoinExpr, stmt: ast.Node) -> None:
    """``a JOIN b USING (i) AS x``: ``x.i`` as ``i`` (the merged column)."""
    alias = join.join_using_alias.aliasname
    using = {u.sval for u in join.usingClause or ()}
    join.join_using_alias = None
    for node in walk(stmt):
        if isinstance(node, ast.ColumnRef) and len(node.fields or ()) == 2:
            first, second = tuple(node.fields or ())
            if getattr(first, "sval", None) == alias and getattr(second, "sval", None) in using:
                node.fields = (second,)


def array_type_names(stmt: ast.Node) -> ast.Node:
    """``_int4`` as ``int4[]`` (before casts of literals to it are read)."""
    for node in walk(stmt):
        if isinstance(node, ast.TypeName):
            _type_name(node)
    return stmt


def arrays(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Rewrite arrays DuckDB spells otherwise (see module doc)."""
    if isinstance(stmt, ast.UpdateStmt):
        _update_targets(stmt)
    elif isinstance(stmt, ast.InsertStmt):
        _insert_targets(stmt, ctx)
    for node in walk(stmt):
        if isinstance(node, ast.JoinExpr) and node.join_using_alias is not None:
            _using_alias(node, stmt)
        for attr, child in children(node):
            new: ast.Node | None = None
            if isinstance(child, ast.A_Expr):
                new = _a_expr(child, ctx)
            elif isinstance(child, ast.FuncCall):
                new = _func_call(child)
            if new is not None and new is not child:
                replace_child(node, attr, child, new)
    return stmt
