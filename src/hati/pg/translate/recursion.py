"""WITH RECURSIVE as PostgreSQL's parser analyzes it (``parse_cte.c``).

DuckDB runs a recursive CTE PostgreSQL refuses: a self-reference in a subquery, under
an outer join or EXCEPT, twice in the recursive term, an aggregate over it, ORDER BY or
LIMIT atop the UNION. Most of these never end there (DuckDB iterates until a step adds
nothing), so the statement hangs where PostgreSQL answers at once. This rule makes the
same checks PostgreSQL makes, with its SQLSTATEs (42P19, 0A000), and orders the items
of a WITH RECURSIVE so that none refers to a later one (PostgreSQL allows forward
references there; DuckDB does not). DuckDB refuses WITH RECURSIVE beside
data-modifying items: there, each recursive item reads a WITH RECURSIVE of its own.
"""

from __future__ import annotations

from enum import Enum

from pglast import ast
from pglast.enums import JoinType, SetOperation

from hati.errors import FeatureNotSupported, InvalidRecursion
from hati.pg.analyze import children
from hati.pg.translate import walk
from hati.pg.translate.numeric_ops import AGGREGATES


class _Context(Enum):
    OK = None
    NONRECURSIVE = 'recursive reference to query "{}" must not appear within its non-recursive term'
    SUBLINK = 'recursive reference to query "{}" must not appear within a subquery'
    OUTERJOIN = 'recursive reference to query "{}" must not appear within an outer join'
    INTERSECT = 'recursive reference to query "{}" must not appear within INTERSECT'
    EXCEPT = 'recursive reference to query "{}" must not appear within EXCEPT'


def _cte_name(rv: ast.Node, inner: list[list[str]]) -> str | None:
    """The CTE name a FROM item may refer to (None: qualified, or captured by an inner
    WITH)."""
    if not isinstance(rv, ast.RangeVar) or rv.schemaname:
        return None
    name = str(rv.relname)
    if any(name in names for names in inner):
        return None
    return name


def _references(node: ast.Node | None, names: set[str], inner: list[list[str]]) -> set[str]:
    """Which of ``names`` ``node`` refers to, inner WITHs' names shadowing them."""
    found: set[str] = set()
    if node is None:
        return found
    name = _cte_name(node, inner)
    if name is not None:
        if name in names:
            found.add(name)
        return found
    if getattr(node, "withClause", None) is not None:  # SELECT, or a DML's own WITH
        ctes = [c for c in node.withClause.ctes or () if isinstance(c, ast.CommonTableExpr)]
        if node.withClause.recursive:
            inner.insert(0, [str(c.ctename) for c in ctes])
            for c in ctes:
                found |= _references(c.ctequery, names, inner)
        else:
            inner.insert(0, [])
            for c in ctes:
                found |= _references(c.ctequery, names, inner)
                inner[0].append(str(c.ctename))
        for attr, child in children(node):
            if attr != "withClause":
                found |= _references(child, names, inner)
        inner.pop(0)
        return found
    if isinstance(node, ast.WithClause):
        return found
    for _, child in children(node):
        found |= _references(child, names, inner)
    return found


def _order(clause: ast.WithClause) -> list[ast.CommonTableExpr]:
    """The items, each after the ones it refers to; the recursive ones marked."""
    ctes = [c for c in clause.ctes or () if isinstance(c, ast.CommonTableExpr)]
    names = {str(c.ctename) for c in ctes}
    deps = {}
    for c in ctes:
        refs = _references(c.ctequery, names, [])
        c.cterecursive = str(c.ctename) in refs
        deps[id(c)] = refs - {str(c.ctename)}
    out: list[ast.CommonTableExpr] = []
    left = list(ctes)
    while left:
        done = {str(c.ctename) for c in out}
        ready = next((c for c in left if deps[id(c)] <= done), None)
        if ready is None:
            raise FeatureNotSupported("mutual recursion between WITH items is not implemented")
        out.append(ready)
        left.remove(ready)
    return out


class _Checker:
    """One recursive item's self-references (``checkWellFormedRecursionWalker``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inner: list[list[str]] = []
        self.refs = 0
        self.context = _Context.OK

    def walk(self, node: ast.Node | None) -> None:
        if node is None:
            return
        saved = self.context
        if isinstance(node, ast.RangeVar):
            if _cte_name(node, self.inner) == self.name:
                if self.context is not _Context.OK:
                    raise InvalidRecursion(str(self.context.value).format(self.name))
                self.refs += 1
                if self.refs > 1:
                    raise InvalidRecursion(
                        f'recursive reference to query "{self.name}" must not appear more than once'
                    )
            return
        if isinstance(node, ast.SelectStmt):
            self._select_with(node)
            return
        if isinstance(node, ast.WithClause):
            return
        if isinstance(node, ast.JoinExpr):
            outer = _Context.OUTERJOIN if saved is _Context.OK else saved
            jt = node.jointype
            self.context = outer if jt in (JoinType.JOIN_FULL, JoinType.JOIN_RIGHT) else saved
            self.walk(node.larg)
            self.context = outer if jt in (JoinType.JOIN_FULL, JoinType.JOIN_LEFT) else saved
            self.walk(node.rarg)
            self.context = saved
            self.walk(node.quals)
            return
        if isinstance(node, ast.SubLink):
            self.context = _Context.SUBLINK
            self.walk(node.subselect)
            self.context = saved
            self.walk(node.testexpr)
            return
        for _, child in children(node):
            self.walk(child)

    def _select_with(self, stmt: ast.SelectStmt) -> None:
        clause = stmt.withClause
        if clause is None:
            self._select(stmt)
            return
        ctes = [c for c in clause.ctes or () if isinstance(c, ast.CommonTableExpr)]
        if clause.recursive:
            self.inner.insert(0, [str(c.ctename) for c in ctes])
            for c in ctes:
                self.walk(c.ctequery)
        else:
            self.inner.insert(0, [])
            for c in ctes:
                self.walk(c.ctequery)
                self.inner[0].append(str(c.ctename))
        self._select(stmt)
        self.inner.pop(0)

    def _select(self, stmt: ast.SelectStmt) -> None:
        saved = self.context
        op = stmt.op
        if saved is not _Context.OK or op in (SetOperation.SETOP_NONE, SetOperation.SETOP_UNION):
            for attr, child in children(stmt):
                if attr != "withClause":
                    self.walk(child)
            if op == SetOperation.SETOP_NONE and saved is _Context.OK:
                self._aggregates(stmt)
            return
        if op == SetOperation.SETOP_INTERSECT:
            if stmt.all:
                self.context = _Context.INTERSECT
            self.walk(stmt.larg)
            self.walk(stmt.rarg)
        else:
            if stmt.all:
                self.context = _Context.EXCEPT
            self.walk(stmt.larg)
            self.context = _Context.EXCEPT
            self.walk(stmt.rarg)
        self.context = saved
        for part in (stmt.sortClause, stmt.limitOffset, stmt.limitCount, stmt.lockingClause):
            for child in part if isinstance(part, tuple) else (part,):
                if isinstance(child, ast.Node):
                    self.walk(child)

    def _aggregates(self, stmt: ast.SelectStmt) -> None:
        """An aggregate in the query level that reads the self-reference (42P19)."""
        if not any(self._level_reads(item) for item in stmt.fromClause or ()):
            return
        for part in (*(stmt.targetList or ()), stmt.havingClause):
            if part is not None and _aggregate_in(part):
                raise InvalidRecursion(
                    "aggregate functions are not allowed in a recursive query's recursive term"
                )

    def _level_reads(self, item: ast.Node | None) -> bool:
        if isinstance(item, ast.JoinExpr):
            return self._level_reads(item.larg) or self._level_reads(item.rarg)
        return item is not None and _cte_name(item, self.inner) == self.name


def _aggregate_in(node: ast.Node) -> bool:
    """An aggregate call at this query level (not inside a subquery)."""
    if isinstance(node, ast.SubLink):
        return False
    if (
        isinstance(node, ast.FuncCall)
        and node.over is None
        and (node.agg_star or str(node.funcname[-1].sval) in AGGREGATES)
    ):
        return True
    return any(_aggregate_in(child) for _, child in children(node))


def _check(cte: ast.CommonTableExpr) -> None:
    """``checkWellFormedRecursion`` for one recursive item."""
    name = str(cte.ctename)
    stmt = cte.ctequery
    if not isinstance(stmt, ast.SelectStmt):
        raise InvalidRecursion(
            f'recursive query "{name}" must not contain data-modifying statements'
        )
    if stmt.op != SetOperation.SETOP_UNION:
        raise InvalidRecursion(
            f'recursive query "{name}" does not have the form non-recursive-term UNION [ALL] '
            "recursive-term"
        )
    left = _Checker(name)
    left.context = _Context.NONRECURSIVE
    left.walk(stmt.larg)
    _Checker(name).walk(stmt.rarg)
    if stmt.withClause is not None:
        inner = _Checker(name)
        inner.context = _Context.SUBLINK
        for c in stmt.withClause.ctes or ():
            inner.walk(c)
    for part, what in (
        (stmt.sortClause, "ORDER BY"),
        (stmt.limitOffset, "OFFSET"),
        (stmt.limitCount, "LIMIT"),
        (stmt.lockingClause, "FOR UPDATE/SHARE"),
    ):
        if part:
            raise FeatureNotSupported(f"{what} in a recursive query is not implemented")


def recursive_ctes(stmt: ast.Node) -> ast.Node:
    """Check and order every WITH RECURSIVE in the statement (module doc)."""
    for node in walk(stmt):
        if isinstance(node, ast.WithClause) and node.recursive:
            ordered = _order(node)
            for cte in ordered:
                if cte.cterecursive:
                    _check(cte)
            node.ctes = tuple(ordered)
            if any(isinstance(c.ctequery, _DML) for c in ordered):
                for cte in ordered:  # DuckDB refuses RECURSIVE beside a DML item
                    if cte.cterecursive:
                        _nest(cte)
                node.recursive = False
    return stmt


def _nest(cte: ast.CommonTableExpr) -> None:
    """The recursive item as a plain one that reads its own WITH RECURSIVE:
    ``x AS (SELECT * FROM (WITH RECURSIVE x AS (...) SELECT * FROM x) AS x)``."""
    name = str(cte.ctename)
    inner = ast.CommonTableExpr(
        ctename=name, aliascolnames=cte.aliascolnames, ctequery=cte.ctequery, cterecursive=True
    )
    star = (ast.ResTarget(val=ast.ColumnRef(fields=(ast.A_Star(),))),)
    reading = ast.SelectStmt(
        targetList=star,
        fromClause=(ast.RangeVar(relname=name, inh=True),),
        withClause=ast.WithClause(ctes=(inner,), recursive=True),
        op=SetOperation.SETOP_NONE,
    )
    cte.ctequery = ast.SelectStmt(
        targetList=star,
        fromClause=(
            ast.RangeSubselect(lateral=False, subquery=reading, alias=ast.Alias(aliasname=name)),
        ),
        op=SetOperation.SETOP_NONE,
    )
    cte.cterecursive = False


_DML = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)
