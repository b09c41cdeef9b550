"""Statements that name a partition, rewritten onto the tree's root (``partitions.py``).

- read: ``FROM x`` is ``FROM (SELECT * FROM root WHERE <x's bounds>) AS x``;
- INSERT into any table of a tree writes the root, its rows checked first: a row
  outside the target's bounds fails with 23514 ("new row for relation ... violates
  partition constraint"), one no leaf takes with 23514 ("no partition of relation ...
  found for row"), as PostgreSQL routes them;
- UPDATE / DELETE of a partition update / delete the root's rows within its bounds;
  an UPDATE that changes a key column is checked the same way, so a row moves between
  partitions only where PostgreSQL moves it;
- DROP / TRUNCATE of a partition, ATTACH / DETACH PARTITION: steps of ``partitions``.

The front end applies this before analysis, so the router, row deltas and merges see
only the root, an ordinary table.
"""

from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, DropBehavior, ObjectType

from hati.errors import DependentObjectsStillExist
from hati.pg import inherits, partition_ddl, partitions
from hati.pg.partitions import Node, Tree, expression


def load(cur: Any) -> Tree:
    """The partition and inheritance trees the front end rewrites statements by."""
    tree = partitions.load(cur)
    inherits.load_into(cur, tree)
    return tree


def rewrite(stmt: ast.Node, tree: Tree) -> tuple[ast.Node, tuple[object, ...] | None]:
    """(the statement to analyze and translate, the steps that replace it, if any)."""
    if not tree:
        return stmt, None
    if isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_TABLE:
        return stmt, _drop(stmt, tree)
    if isinstance(stmt, ast.TruncateStmt):
        return stmt, _truncate(stmt, tree)
    if isinstance(stmt, ast.AlterTableStmt):
        return stmt, _alter(stmt, tree)
    _reads(stmt, tree)
    if isinstance(stmt, ast.InsertStmt):
        _insert(stmt, tree)
    elif isinstance(stmt, ast.UpdateStmt):
        _update(stmt, tree)
    elif isinstance(stmt, ast.DeleteStmt):
        _delete(stmt, tree)
    return stmt, None


def _node(rv: Any, tree: Tree) -> Node | None:
    if not isinstance(rv, ast.RangeVar) or rv.catalogname:
        return None
    return tree.find(rv.schemaname, rv.relname)


def _root_rv(rv: Any, node: Node, alias: str | None) -> ast.RangeVar:
    schema = rv.schemaname if node.schema == "main" else node.schema
    return ast.RangeVar(
        relname=node.root,
        schemaname=schema,
        inh=True,
        relpersistence="p",
        alias=ast.Alias(aliasname=alias) if alias else None,
    )


# ---------------------------------------------------------------- reads
_FROM_FIELDS = ("fromClause", "usingClause")


def _reads(node: Any, tree: Tree) -> None:
    """Every partition a FROM clause reads becomes the root's rows within its bounds."""
    if isinstance(node, tuple):
        for x in node:
            _reads(x, tree)
        return
    if not isinstance(node, ast.Node):
        return
    for name in node:
        value = getattr(node, name)
        if name in _FROM_FIELDS and isinstance(value, tuple):
            setattr(node, name, tuple(_read(x, tree) for x in value))
        elif isinstance(node, ast.JoinExpr) and name in ("larg", "rarg"):
            setattr(node, name, _read(value, tree))
        if isinstance(value, (ast.Node, tuple)):
            _reads(getattr(node, name), tree)


def _read(item: Any, tree: Tree) -> Any:
    n = _node(item, tree)
    if n is None and isinstance(item, ast.RangeVar) and not item.catalogname:
        return inherits.read(item, tree) or item
    if n is None or n.parent is None:
        return item
    cols = ", ".join(partitions.quote(c) for c in n.cols) if n.cols else "*"
    sub: Any = partitions.parser.parse_sql(
        f"SELECT {cols} FROM {partitions.quote(n.root)} WHERE {tree.path(n)}"
    )[0].stmt
    root = sub.fromClause[0]
    root.schemaname = item.schemaname if n.schema == "main" else n.schema
    alias = item.alias or ast.Alias(aliasname=n.name)
    return ast.RangeSubselect(lateral=False, subquery=sub, alias=alias)


# ---------------------------------------------------------------- writes
def _qualified(cond: str, alias: str) -> ast.Node:
    """The condition over ``alias``'s columns."""
    expr = expression(cond)
    _substitute(
        expr, lambda col: ast.ColumnRef(fields=(ast.String(sval=alias), ast.String(sval=col)))
    )
    return expr


def _substitute(node: Any, by: Any) -> Any:
    """Every bare column reference of ``node`` replaced by ``by(column)`` (in place)."""
    if isinstance(node, tuple):
        return tuple(_substitute(x, by) for x in node)
    if not isinstance(node, ast.Node):
        return node
    fields: Any = node.fields if isinstance(node, ast.ColumnRef) else None
    if fields and len(fields) == 1:
        f = fields[0]
        if isinstance(f, ast.String):
            return by(f.sval)
    for name in node:
        value = getattr(node, name)
        if isinstance(value, (ast.Node, tuple)):
            setattr(node, name, _substitute(value, by))
    return node


def _and(a: Any, b: ast.Node) -> ast.Node:
    if a is None:
        return b
    return ast.BoolExpr(boolop=0, args=(a, b))


def _checked(ok: ast.Node, value: ast.Node, message: str) -> ast.Node:
    """``value`` when ``ok``, else the statement fails with ``message`` (23514)."""
    fail = ast.FuncCall(
        funcname=(ast.String(sval="error"),),
        args=(ast.A_Const(isnull=False, val=ast.String(sval=message)),),
    )
    return ast.CaseExpr(args=(ast.CaseWhen(expr=ok, result=value),), defresult=fail)


def _check(tree: Tree, node: Node) -> tuple[str, str]:
    """(the condition a new row of ``node`` must meet, the message when it does not)."""
    if node.strategy is None:
        return tree.path(node), f'new row for relation "{node.name}" violates partition constraint'
    cond = f"({tree.path(node)}) AND {tree.routable(node)}"
    return cond, f'no partition of relation "{node.name}" found for row'


def _insert(stmt: Any, tree: Tree) -> None:
    node = _node(stmt.relation, tree)
    if node is None:
        return
    rv = stmt.relation
    alias = rv.alias.aliasname if rv.alias else (node.name if node.parent else None)
    names = list(tree.order(node))
    cols = [str(c.name) for c in stmt.cols] if stmt.cols else None
    source = stmt.selectStmt
    width = _width(source)
    if cols is None:
        cols = names[:width] if width is not None else names
    stmt.relation = _root_rv(rv, node, alias)
    if source is None or _has_default(source) or (width is not None and width != len(cols)):
        return  # DEFAULT VALUES / DEFAULT items: written unchecked
    cond, message = _check(tree, node)
    expr = expression(cond)
    keep = set(cols)
    src = "$src"

    def by(col: str) -> ast.Node:
        if col in keep:
            ref = ast.ColumnRef(fields=(ast.String(sval=src), ast.String(sval=col)))
            return _cast(ref, tree.types.get((node.schema, node.root, col)))
        return ast.A_Const(isnull=True)

    ok = _substitute(expr, by)
    wrapped = ast.SelectStmt(
        targetList=(ast.ResTarget(val=ast.ColumnRef(fields=(ast.A_Star(),))),),
        fromClause=(
            ast.RangeSubselect(
                lateral=False,
                subquery=source,
                alias=ast.Alias(aliasname=src, colnames=tuple(ast.String(sval=c) for c in cols)),
            ),
        ),
        whereClause=_checked(ok, ast.A_Const(isnull=False, val=ast.Boolean(boolval=True)), message),
        limitOption=0,
        op=0,
    )
    stmt.cols = tuple(ast.ResTarget(name=c) for c in cols)
    stmt.selectStmt = wrapped


def _cast(value: ast.Node, typ: str | None) -> ast.Node:
    """``value`` as the root column's type (DuckDB's name of it) would hold it."""
    if typ is None:
        return value
    try:
        cast: Any = expression(f"CAST(NULL AS {typ})")
    except partitions.parser.ParseError:
        return value
    return ast.TypeCast(arg=value, typeName=cast.typeName)


def _width(source: Any) -> int | None:
    if source is None:
        return None
    if source.valuesLists:
        return len(source.valuesLists[0])
    targets = source.targetList or ()
    if (
        source.op == 0
        and targets
        and not any(
            isinstance(t.val, ast.ColumnRef)
            and isinstance((t.val.fields or ())[-1:], tuple)
            and any(isinstance(f, ast.A_Star) for f in t.val.fields or ())
            for t in targets
        )
    ):
        return len(targets)
    return None


def _has_default(source: Any) -> bool:
    return any(isinstance(v, ast.SetToDefault) for row in source.valuesLists or () for v in row)


def _update(stmt: Any, tree: Tree) -> None:
    inherits.refuse_write(stmt.relation, tree)
    node = _node(stmt.relation, tree)
    if node is None:
        return
    rv = stmt.relation
    alias = rv.alias.aliasname if rv.alias else node.name
    stmt.relation = _root_rv(rv, node, alias if (rv.alias or node.parent) else None)
    if node.parent is not None:
        stmt.whereClause = _and(stmt.whereClause, _qualified(tree.path(node), alias))
    keys = tree.key_columns(node.root, node.schema)
    targets = list(stmt.targetList or ())
    assigned = {
        t.name: t.val
        for t in targets
        if not isinstance(t.val, ast.MultiAssignRef) and not t.indirection
    }
    moving = [i for i, t in enumerate(targets) if t.name in keys and t.name in assigned]
    if not moving or any(isinstance(t.val, ast.MultiAssignRef) for t in targets):
        return
    cond, message = _check(tree, node)
    ref = alias if (rv.alias or node.parent) else node.root

    def by(col: str) -> ast.Node:
        if col in assigned and not isinstance(assigned[col], ast.SetToDefault):
            return expression(partitions.pg_text(assigned[col]))
        return ast.ColumnRef(fields=(ast.String(sval=ref), ast.String(sval=col)))

    ok = _substitute(expression(cond), by)
    first = targets[moving[0]]
    if isinstance(first.val, ast.SetToDefault):
        return
    targets[moving[0]] = ast.ResTarget(name=first.name, val=_checked(ok, first.val, message))
    stmt.targetList = tuple(targets)


def _delete(stmt: Any, tree: Tree) -> None:
    inherits.refuse_write(stmt.relation, tree)
    node = _node(stmt.relation, tree)
    if node is None or node.parent is None:
        return
    rv = stmt.relation
    alias = rv.alias.aliasname if rv.alias else node.name
    stmt.relation = _root_rv(rv, node, alias)
    stmt.whereClause = _and(stmt.whereClause, _qualified(tree.path(node), alias))


# ---------------------------------------------------------------- DDL
def _drop(stmt: ast.DropStmt, tree: Tree) -> tuple[object, ...] | None:
    steps: list[object] = []
    found = False
    for obj in stmt.objects or ():
        names = [getattr(x, "sval", "") for x in obj]
        schema, name = (names[-2] if len(names) > 1 else None), str(names[-1])
        one = ast.DropStmt(
            objects=(obj,),
            removeType=stmt.removeType,
            behavior=stmt.behavior,
            missing_ok=stmt.missing_ok,
            concurrent=stmt.concurrent,
        )
        node = tree.find(schema, name)
        key = ("main" if schema in (None, "public") else schema, name)
        if node is None and (key in tree.children_of or key in tree.parents_of):
            found = True
            kids = inherits.descendants(tree, *key)
            if kids and stmt.behavior != DropBehavior.DROP_CASCADE:
                raise DependentObjectsStillExist(
                    f"cannot drop table {name} because other objects depend on it",
                    detail="\n".join(f"table {k} depends on table {name}" for k in kids[:1]),
                    hint="Use DROP ... CASCADE to drop the dependent objects too.",
                )
            for k in reversed(kids):
                steps.append(partition_ddl.Plain(_drop_one(stmt, key[0], k)))
            steps.append(partition_ddl.Plain(one))
            steps.append(inherits.Forget())
        elif node is None:
            steps.append(partition_ddl.Plain(one))
        elif node.parent is None:
            found = True
            steps.append(partition_ddl.DropRoot(one, node.schema, node.name))
        else:
            found = True
            steps.append(partition_ddl.DropPartition(node.schema, node.name))
    return tuple(steps) if found else None


def _drop_one(stmt: Any, schema: str, name: str) -> ast.DropStmt:
    names = (*((ast.String(sval=schema),) if schema != "main" else ()), ast.String(sval=name))
    return ast.DropStmt(
        objects=(names,), removeType=stmt.removeType, behavior=0, missing_ok=True, concurrent=False
    )


def _truncate(stmt: ast.TruncateStmt, tree: Tree) -> tuple[object, ...] | None:
    steps: list[object] = []
    found = False
    for rv in stmt.relations or ():
        node = _node(rv, tree)
        if node is not None and node.parent is not None:
            found = True
            steps.append(partition_ddl.TruncatePartition(node.schema, node.name))
        else:
            steps.append(partition_ddl.Plain(ast.TruncateStmt(relations=(rv,), restart_seqs=False)))
    return tuple(steps) if found else None


def _alter(stmt: ast.AlterTableStmt, tree: Tree) -> tuple[object, ...] | None:
    cmds = stmt.cmds or ()
    if len(cmds) != 1:
        return None
    cmd = cmds[0]
    if cmd.subtype == AlterTableType.AT_AttachPartition:
        return (partition_ddl.Attach(stmt.relation, cmd.def_.name, cmd.def_.bound),)
    if cmd.subtype == AlterTableType.AT_DetachPartition:
        return (partition_ddl.Detach(stmt.relation, cmd.def_.name),)
    return None
