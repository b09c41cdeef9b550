"""WITH items as PostgreSQL's parser checks them, where DuckDB answers otherwise.

- a column list longer than the query's columns: 42P10 (DuckDB names the ones it has);
- a data-modifying item without RETURNING read as a table: 0A000 (DuckDB reads its
  row count);
- a data-modifying item in a WITH below the top level: 0A000;
- WITH RECURSIVE on MERGE: 42601.

And one difference of meaning, refused (0A000): in PostgreSQL every part of a
statement sees the tables as they were when it began, so ``WITH t AS (INSERT INTO y
...) SELECT ... FROM y`` reads y without the new rows; DuckDB's main query sees them.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import SetOperation

from hati.errors import FeatureNotSupported, InvalidColumnReference, SyntaxError_
from hati.pg.analyze import DEFAULT_SCHEMAS, returning_list
from hati.pg.translate import walk

_DML = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


def _width(query: ast.Node) -> int | None:
    """How many columns a query has (None: it cannot say, a ``*`` among them)."""
    if not isinstance(query, ast.SelectStmt):
        return None
    if query.op != SetOperation.SETOP_NONE:
        return _width(query.larg)
    if query.valuesLists:
        return len(query.valuesLists[0])
    targets = query.targetList or ()
    if any(
        isinstance(t, ast.ResTarget)
        and isinstance(t.val, ast.ColumnRef)
        and isinstance(t.val.fields[-1], ast.A_Star)
        for t in targets
    ):
        return None
    return len(targets) or None


def _check_item(cte: ast.CommonTableExpr) -> None:
    names = cte.aliascolnames or ()
    width = _width(cte.ctequery)
    if names and width is not None and len(names) > width:
        raise InvalidColumnReference(
            f'WITH query "{cte.ctename}" has {width} columns available but {len(names)} '
            "columns specified"
        )


def _read(stmt: ast.Node, name: str, cte: ast.CommonTableExpr) -> bool:
    """Whether a relation named ``name`` is read outside the item itself."""
    inside = {id(n) for n in walk(cte)}
    return any(
        isinstance(n, ast.RangeVar)
        and not n.schemaname
        and n.relname == name
        and id(n) not in inside
        for n in walk(stmt)
    )


def checked(stmt: ast.Node) -> ast.Node:
    """The checks of the module doc."""
    top = getattr(_statement(stmt), "withClause", None)
    if isinstance(stmt, ast.MergeStmt) and top is not None and top.recursive:
        raise SyntaxError_("WITH RECURSIVE is not supported for MERGE statement")
    for node in walk(stmt):
        if not isinstance(node, ast.WithClause):
            continue
        for cte in node.ctes or ():
            if not isinstance(cte, ast.CommonTableExpr):
                continue
            _check_item(cte)
            if not isinstance(cte.ctequery, _DML):
                continue
            if node is not top:
                raise FeatureNotSupported(
                    "WITH clause containing a data-modifying statement must be at the top level"
                )
            if returning_list(cte.ctequery) is None and _read(stmt, str(cte.ctename), cte):
                raise FeatureNotSupported(
                    f'WITH query "{cte.ctename}" does not have a RETURNING clause'
                )
    return stmt


def _statement(stmt: ast.Node) -> ast.Node:
    """The statement an EXPLAIN explains, else the statement."""
    return stmt.query if isinstance(stmt, ast.ExplainStmt) and stmt.query is not None else stmt


def _key(rv: ast.RangeVar) -> tuple[str | None, str]:
    schema = None if rv.schemaname in DEFAULT_SCHEMAS else rv.schemaname
    return schema, str(rv.relname)


def reads_written(stmt: ast.Node) -> ast.Node:
    """0A000 for a read of a table a data-modifying WITH item writes, outside that item
    (module doc)."""
    top = getattr(_statement(stmt), "withClause", None)
    if top is None:
        return stmt
    items = [c for c in top.ctes or () if isinstance(c.ctequery, _DML)]
    if not items:
        return stmt
    names = {
        str(c.ctename)
        for n in walk(stmt)
        if isinstance(n, ast.WithClause)
        for c in n.ctes or ()
        if isinstance(c, ast.CommonTableExpr)
    }
    targets = {id(n.relation) for n in walk(stmt) if isinstance(n, _DML)}
    for item in items:
        rel = item.ctequery.relation
        if rel is None or str(rel.relname) in names:
            continue
        inside = {id(n) for n in walk(item)}
        for n in walk(stmt):
            if (
                isinstance(n, ast.RangeVar)
                and id(n) not in inside
                and id(n) not in targets
                and _key(n) == _key(rel)
            ):
                raise FeatureNotSupported(
                    f'reading "{rel.relname}" beside a WITH item that writes it is not supported',
                    hint="PostgreSQL reads the table as the statement began; read it in a "
                    "statement of its own, before or after.",
                )
    return stmt
