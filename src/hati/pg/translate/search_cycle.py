"""``SEARCH DEPTH|BREADTH FIRST BY ... SET seq`` and ``CYCLE ... SET mark USING path``
on a recursive CTE, which DuckDB's grammar lacks.

They are rewritten as PostgreSQL rewrites them (``rewriteSearchCycle.c``): the CTE gets
the extra columns, computed in each term. The non-recursive term starts them; the
recursive term extends the row it joined to (its self-reference's values):

- depth first: ``seq`` is the array of the BY columns' rows along the path
  (``ARRAY[ROW(f, t)]``, then ``seq || ARRAY[ROW(f, t)]``), so ordering by it is a
  depth-first order;
- breadth first: ``seq`` is ``ROW(depth, f, t)``, depth counting from 0;
- cycle: ``path`` is the array of the CYCLE columns' rows; ``mark`` is the mark value
  when the new row's columns are already on the path (the default otherwise), and a
  row so marked is not followed further.

Each term is wrapped as a subquery whose columns are named by the CTE's column list,
so its own select list (``*``, expressions) is left as written.
"""

from __future__ import annotations

import copy

from pglast import ast
from pglast.enums import A_Expr_Kind, SetOperation

from hati.errors import DatatypeMismatch, FeatureNotSupported, SyntaxError_
from hati.pg.translate import walk
from hati.pg.translate.refnames import _names as item_names

_Q, _R = "hati_search_q", "hati_search_r"
_PREV = "hati_prev_"


def _col(*names: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=tuple(ast.String(sval=n) for n in names))


def _fields(alias: str, cols: list[str]) -> tuple[ast.Node, ...]:
    return tuple(_col(alias, c) for c in cols)


def _row(alias: str, cols: list[str]) -> ast.RowExpr:
    return ast.RowExpr(args=_fields(alias, cols), row_format=0)


def _array(*items: ast.Node) -> ast.A_ArrayExpr:
    return ast.A_ArrayExpr(elements=items)


def _op(name: str, left: ast.Node, right: ast.Node) -> ast.A_Expr:
    return ast.A_Expr(
        kind=A_Expr_Kind.AEXPR_OP, name=(ast.String(sval=name),), lexpr=left, rexpr=right
    )


def _select(
    targets: list[ast.Node], item: ast.Node, where: ast.Node | None = None
) -> ast.SelectStmt:
    return ast.SelectStmt(
        targetList=tuple(targets),
        fromClause=(item,),
        whereClause=where,
        op=SetOperation.SETOP_NONE,
    )


def _wrapped(query: ast.Node, alias: str, names: list[str]) -> ast.RangeSubselect:
    colnames = tuple(ast.String(sval=n) for n in names)
    return ast.RangeSubselect(
        lateral=False, subquery=query, alias=ast.Alias(aliasname=alias, colnames=colnames)
    )


def _columns(cte: ast.CommonTableExpr, left: ast.SelectStmt) -> list[str]:
    if cte.aliascolnames:
        return [str(n.sval) for n in cte.aliascolnames]
    names = []
    for t in left.targetList or ():
        if not isinstance(t, ast.ResTarget) or t.name is None:
            raise FeatureNotSupported(
                "SEARCH and CYCLE need the WITH query's columns named",
                hint="List them after the query's name: WITH RECURSIVE q(a, b) AS (...).",
            )
        names.append(str(t.name))
    return names


def _listed(what: str, cols: list[str], names: list[str]) -> None:
    seen: set[str] = set()
    for c in cols:
        if c not in names:
            raise SyntaxError_(f'{what} column "{c}" not in WITH query column list')
        if c in seen:
            raise SyntaxError_(f'{what} column "{c}" specified more than once')
        seen.add(c)


def _self_reference(rarg: ast.SelectStmt, name: str) -> str | None:
    """The name the recursive term's FROM list gives the self-reference (None: it is
    not at the top level of that list)."""

    def find(item: ast.Node | None) -> str | None:
        if isinstance(item, ast.JoinExpr):
            return find(item.larg) or find(item.rarg)
        if isinstance(item, ast.RangeVar) and not item.schemaname and item.relname == name:
            return str(item.alias.aliasname if item.alias else item.relname)
        return None

    for item in rarg.fromClause or ():
        found = find(item)
        if found:
            return found
    return None


def _star_listable(rarg: ast.SelectStmt) -> None:
    """``*`` is each FROM item's columns in turn: every item must have a name, and no
    join merge columns (USING, NATURAL)."""
    for item in rarg.fromClause or ():
        merged = any(
            isinstance(n, ast.JoinExpr) and (n.usingClause or n.isNatural) for n in walk(item)
        )
        if merged or not item_names(item):
            raise FeatureNotSupported(
                "SEARCH and CYCLE cannot expand * over this recursive term",
                hint="List the recursive term's columns instead of *.",
            )


def _expand_stars(rarg: ast.SelectStmt, ref: str, names: list[str]) -> None:
    """``*`` and ``ref.*`` in the recursive term: the self-reference's columns are the
    CTE's own (not the ones added here)."""
    out: list[ast.Node] = []
    own = [ast.ResTarget(val=_col(ref, c)) for c in names]
    for t in rarg.targetList or ():
        val = t.val if isinstance(t, ast.ResTarget) else None
        if isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.A_Star):
            if len(val.fields) == 1:
                _star_listable(rarg)
                for item in rarg.fromClause or ():
                    for n in item_names(item):
                        star = ast.ColumnRef(fields=(ast.String(sval=n), ast.A_Star()))
                        out += own if n == ref else [ast.ResTarget(val=star)]
                continue
            if str(val.fields[0].sval) == ref:
                out += own
                continue
        out.append(t)
    rarg.targetList = tuple(out)


_KINDS = {ast.Boolean: "boolean", ast.Integer: "integer", ast.Float: "numeric"}


def _matched(value: ast.Node, default: ast.Node) -> None:
    """42804 for a mark value and default of types that have no common one."""
    kinds = [
        _KINDS.get(type(n.val)) if isinstance(n, ast.A_Const) and not n.isnull else None
        for n in (value, default)
    ]
    if None in kinds or kinds[0] == kinds[1]:
        return
    if set(kinds) == {"integer", "numeric"}:
        return
    raise DatatypeMismatch(f"CYCLE types {kinds[0]} and {kinds[1]} cannot be matched")


def _rewrite(cte: ast.CommonTableExpr) -> None:  # noqa: C901 - PostgreSQL's checks in order
    search, cycle = cte.search_clause, cte.cycle_clause
    query = cte.ctequery
    name = str(cte.ctename)
    if not cte.cterecursive:
        raise SyntaxError_(f'WITH query "{name}" is not recursive')
    if not isinstance(query, ast.SelectStmt) or query.op != SetOperation.SETOP_UNION:
        raise FeatureNotSupported(
            "with a SEARCH or CYCLE clause, the recursive query must be of the form "
            "non-recursive-term UNION [ALL] recursive-term"
        )
    left, right = query.larg, query.rarg
    if left.op != SetOperation.SETOP_NONE:
        raise FeatureNotSupported(
            "with a SEARCH or CYCLE clause, the left side of the UNION must be a SELECT"
        )
    if right.op != SetOperation.SETOP_NONE:
        raise SyntaxError_(
            "with a SEARCH or CYCLE clause, the right side of the UNION must be a SELECT"
        )
    ref = _self_reference(right, name)
    inner = right.withClause.ctes if right.withClause is not None else ()
    if ref is None or any(str(c.ctename) == name for c in inner):
        raise FeatureNotSupported(
            f'with a SEARCH or CYCLE clause, the recursive reference to WITH query "{name}" '
            "must be at the top level of its right-hand SELECT"
        )
    names = _columns(cte, left)
    added: list[str] = []
    if search is not None:
        by = [str(s.sval) for s in search.search_col_list]
        _listed("search", by, names)
        seq = str(search.search_seq_column)
        if seq in names:
            raise SyntaxError_(
                f'search sequence column name "{seq}" already used in WITH query column list'
            )
        added.append(seq)
    if cycle is not None:
        on = [str(s.sval) for s in cycle.cycle_col_list]
        _listed("cycle", on, names)
        mark, path = str(cycle.cycle_mark_column), str(cycle.cycle_path_column)
        for new in (mark, path):
            if new in names:
                raise SyntaxError_(
                    f'cycle mark column name "{new}" already used in WITH query column list'
                    if new == mark
                    else f'cycle path column name "{new}" already used in WITH query column list'
                )
        if mark == path:
            raise SyntaxError_("cycle mark column name and cycle path column name are the same")
        if search is not None and str(search.search_seq_column) in (mark, path):
            raise SyntaxError_(
                "search sequence column name and cycle mark column name are the same"
                if str(search.search_seq_column) == mark
                else "search sequence column name and cycle path column name are the same"
            )
        added += [mark, path]

    start: list[ast.Node] = [ast.ResTarget(val=_col(_Q, c)) for c in names]
    step: list[ast.Node] = [ast.ResTarget(val=_col(_R, c)) for c in names]
    where: ast.Node | None = None
    _expand_stars(right, ref, names)
    prev = [ast.ResTarget(name=_PREV + a, val=_col(ref, a)) for a in added]
    right.targetList = (*(right.targetList or ()), *prev)
    if search is not None:
        seq = str(search.search_seq_column)
        if search.search_breadth_first:
            start.append(
                ast.ResTarget(
                    name=seq,
                    val=ast.RowExpr(
                        args=(ast.A_Const(val=ast.Integer(ival=0)), *_fields(_Q, by)),
                        row_format=0,
                    ),
                )
            )
            depth = ast.FuncCall(
                funcname=(ast.String(sval="struct_extract_at"),),
                args=(_col(_R, _PREV + seq), ast.A_Const(val=ast.Integer(ival=1))),
            )
            step.append(
                ast.ResTarget(
                    name=seq,
                    val=ast.RowExpr(
                        args=(
                            _op("+", depth, ast.A_Const(val=ast.Integer(ival=1))),
                            *_fields(_R, by),
                        ),
                        row_format=0,
                    ),
                )
            )
        else:
            start.append(ast.ResTarget(name=seq, val=_array(_row(_Q, by))))
            step.append(
                ast.ResTarget(name=seq, val=_op("||", _col(_R, _PREV + seq), _array(_row(_R, by))))
            )
    if cycle is not None:
        value, default = cycle.cycle_mark_value, cycle.cycle_mark_default
        _matched(value, default)
        start.append(ast.ResTarget(name=mark, val=copy.deepcopy(default)))
        start.append(ast.ResTarget(name=path, val=_array(_row(_Q, on))))
        seen = ast.FuncCall(
            funcname=(ast.String(sval="list_contains"),),
            args=(_col(_R, _PREV + path), _row(_R, on)),
        )
        step.append(
            ast.ResTarget(
                name=mark,
                val=ast.CaseExpr(
                    args=(ast.CaseWhen(expr=seen, result=copy.deepcopy(value)),),
                    defresult=copy.deepcopy(default),
                ),
            )
        )
        step.append(
            ast.ResTarget(name=path, val=_op("||", _col(_R, _PREV + path), _array(_row(_R, on))))
        )
        where = _op("<>", _col(_R, _PREV + mark), copy.deepcopy(value))
    query.larg = _select(start, _wrapped(left, _Q, names))
    query.rarg = _select(step, _wrapped(right, _R, names + [_PREV + a for a in added]), where)
    cte.aliascolnames = tuple(ast.String(sval=n) for n in names + added)
    cte.search_clause = None
    cte.cycle_clause = None


def search_cycle(stmt: ast.Node) -> ast.Node:
    """Rewrite every CTE's SEARCH / CYCLE clause (module doc)."""
    for node in walk(stmt):
        if isinstance(node, ast.CommonTableExpr) and (node.search_clause or node.cycle_clause):
            _rewrite(node)
    return stmt
