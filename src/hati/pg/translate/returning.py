"""RETURNING lists DuckDB cannot run in place.

DuckDB's RETURNING sees the target's columns only: no subquery (``RETURNING *, f1 IN
(SELECT ...)``), nothing of an UPDATE's FROM or a DELETE's USING (``RETURNING foo.*,
i.f1``, ``RETURNING *`` with their columns). PostgreSQL allows both. Such a statement
runs as a data-modifying CTE that returns the written rows, read by a SELECT with the
client's list:

    WITH r AS (UPDATE t ... RETURNING *) SELECT <list> FROM r AS t

With FROM / USING items each written row is joined again with them on the statement's
WHERE, one joined row per written row (PostgreSQL also uses one), in the order written.
That is exact only when the WHERE reads no column the UPDATE assigns (nor subqueries,
nor the target as a whole) and the joined items do not read the target; other
statements are left as they are.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import SetOperation, SortByDir, SortByNulls

from hati.pg.analyze import returning_list
from hati.pg.translate import Translation, walk
from hati.pg.translate.refnames import _names as item_names

_ROWS, _KEYED = "hati_returned", "hati_returned_keyed"
_ROW, _KEY = "hati_row", "hati_n"


def _star(node: ast.Node) -> bool:
    return isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.A_Star)


def _col(*names: str) -> ast.ColumnRef:
    return ast.ColumnRef(fields=tuple(ast.String(sval=n) for n in names))


def _qualified_star(name: str) -> ast.ResTarget:
    return ast.ResTarget(val=ast.ColumnRef(fields=(ast.String(sval=name), ast.A_Star())))


def _needs_join(targets: tuple[ast.Node, ...], alias: str, others: list[str]) -> bool:
    """The list reads more than the target's own columns."""
    for t in targets:
        for n in walk(t):
            if not isinstance(n, ast.ColumnRef):
                continue
            first = n.fields[0]
            if isinstance(first, ast.A_Star):
                return True
            name = str(first.sval)
            if (len(n.fields) > 1 and name != alias) or (len(n.fields) == 1 and name in others):
                return True
    return False


def _rejoin_exact(stmt: ast.Node, alias: str) -> bool:
    """Joining the written rows again on the WHERE finds the rows the write joined."""
    where = stmt.whereClause
    if where is None:
        return True
    assigned = (
        {str(t.name) for t in stmt.targetList or () if isinstance(t, ast.ResTarget)}
        if isinstance(stmt, ast.UpdateStmt)
        else set()
    )
    for n in walk(where):
        if isinstance(n, ast.SubLink | ast.FuncCall) and not _pure(n):
            return False
        if isinstance(n, ast.ColumnRef):
            names = [getattr(f, "sval", None) for f in n.fields]
            if len(names) == 1 and (names[0] in assigned or names[0] == alias):
                return False
            if len(names) == 2 and names[0] == alias and (names[1] is None or names[1] in assigned):
                return False
    return True


_IMPURE = frozenset({"random", "nextval", "setval", "gen_random_uuid", "uuid", "clock_timestamp"})


def _pure(n: ast.Node) -> bool:
    return isinstance(n, ast.FuncCall) and str(n.funcname[-1].sval) not in _IMPURE


def returning(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """INSERT / UPDATE / DELETE whose RETURNING DuckDB cannot run (module doc)."""
    if not isinstance(stmt, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
        return stmt
    targets = returning_list(stmt)
    if not targets or stmt.relation is None:
        return stmt
    rel = stmt.relation
    alias = str(rel.alias.aliasname if rel.alias else rel.relname)
    others: tuple[ast.Node, ...] = ()
    if isinstance(stmt, ast.UpdateStmt):
        others = stmt.fromClause or ()
    elif isinstance(stmt, ast.DeleteStmt):
        others = stmt.usingClause or ()
    names = [name for item in others for name in item_names(item)]
    sublinks = any(isinstance(n, ast.SubLink) for t in targets for n in walk(t))
    join = bool(others) and _needs_join(targets, alias, names)
    if not (sublinks or join):
        return stmt
    if join and not _rejoin_exact(stmt, alias):
        return stmt
    if join and any(
        isinstance(n, ast.RangeVar) and n.relname == rel.relname
        for item in others
        for n in walk(item)
    ):
        return stmt  # joined again after the write, the target would show its new rows
    if join and any(
        isinstance(n, ast.JoinExpr) and (n.usingClause or n.isNatural)
        for item in others
        for n in walk(item)
    ):
        return stmt  # `*` would list the USING columns once
    if join and any(not item_names(item) for item in others):
        return stmt  # an item without a name: `*` could not list its columns
    select = _select(stmt, targets, alias, names, others if join else ())
    ctes = list(stmt.withClause.ctes) if stmt.withClause is not None else []
    recursive = bool(stmt.withClause and stmt.withClause.recursive)
    ctes.append(ast.CommonTableExpr(ctename=_ROWS, ctequery=_returning_all(stmt)))
    if join:
        keyed = ast.SelectStmt(
            targetList=(
                ast.ResTarget(name=_ROW, val=_col("r")),
                ast.ResTarget(
                    name=_KEY,
                    val=ast.FuncCall(
                        funcname=(ast.String(sval="row_number"),),
                        over=ast.WindowDef(frameOptions=1058),
                    ),
                ),
            ),
            fromClause=(ast.RangeVar(relname=_ROWS, inh=True, alias=ast.Alias(aliasname="r")),),
            op=SetOperation.SETOP_NONE,
        )
        ctes.append(ast.CommonTableExpr(ctename=_KEYED, ctequery=keyed))
    select.withClause = ast.WithClause(ctes=tuple(ctes), recursive=recursive)
    ctx.printed_as = select
    return stmt


def _returning_all(stmt: ast.Node) -> ast.Node:
    """The write itself, without its WITH (the SELECT's now), returning its rows whole.
    A shallow copy: its parts are the statement's own nodes, so what is substituted
    for them when the statement runs (pipeline.py) is printed here."""
    attrs = {a: getattr(stmt, a) for a in stmt.__slots__}
    attrs["withClause"] = None
    star = (ast.ResTarget(val=ast.ColumnRef(fields=(ast.A_Star(),))),)
    if attrs.get("returningClause") is not None:
        attrs["returningClause"] = ast.ReturningClause(
            options=stmt.returningClause.options, exprs=star
        )
    else:
        attrs["returningList"] = star
    return type(stmt)(**attrs)


def _select(
    stmt: ast.Node,
    targets: tuple[ast.Node, ...],
    alias: str,
    names: list[str],
    others: tuple[ast.Node, ...],
) -> ast.SelectStmt:
    if not others:
        return ast.SelectStmt(
            targetList=targets,
            fromClause=(ast.RangeVar(relname=_ROWS, inh=True, alias=ast.Alias(aliasname=alias)),),
            op=SetOperation.SETOP_NONE,
        )
    listed: list[ast.Node] = []
    for t in targets:
        if isinstance(t, ast.ResTarget) and _star(t.val) and len(t.val.fields) == 1:
            listed += [_qualified_star(n) for n in (alias, *names)]  # PostgreSQL's `*`
        else:
            listed.append(t)
    unpacked = ast.RangeSubselect(
        lateral=True,
        subquery=ast.SelectStmt(
            targetList=(
                ast.ResTarget(
                    val=ast.FuncCall(
                        funcname=(ast.String(sval="unnest"),), args=(_col(_KEYED, _ROW),)
                    )
                ),
            ),
            op=SetOperation.SETOP_NONE,
        ),
        alias=ast.Alias(aliasname=alias),
    )
    key = _col(_KEYED, _KEY)
    inner = ast.SelectStmt(
        targetList=(*listed,),
        fromClause=(ast.RangeVar(relname=_KEYED, inh=True), unpacked, *others),
        whereClause=stmt.whereClause,
        distinctClause=(key,),  # one joined row per written row
        op=SetOperation.SETOP_NONE,
        sortClause=(
            ast.SortBy(
                node=key,
                sortby_dir=SortByDir.SORTBY_DEFAULT,
                sortby_nulls=SortByNulls.SORTBY_NULLS_DEFAULT,
            ),
        ),
    )
    return inner
