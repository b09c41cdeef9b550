"""Catalog queries as drivers, ORMs and psql send them, pointed at hati's filtered views."""

from __future__ import annotations

from pglast import ast

from hati.pg import catalog as catalog_views
from hati.pg.analyze import children
from hati.pg.translate import replace_child, walk

CATALOG_SCHEMA = catalog_views.HIDDEN
_REG_TYPES = frozenset(
    {"regclass", "regtype", "regproc", "regprocedure", "regnamespace", "regrole"}
)
_PLAIN_COLLATIONS = frozenset({"default", "C", "POSIX"})


def _catalog_relation(rv: ast.RangeVar) -> str | None:
    if rv.schemaname in (None, "pg_catalog"):
        return catalog_views.RELATIONS.get(rv.relname)
    if rv.schemaname == "information_schema":
        return catalog_views.INFORMATION_SCHEMA.get(rv.relname)
    return None


def catalog(stmt: ast.Node) -> ast.Node:
    """Catalog queries as drivers, ORMs and psql send them: catalog relations read
    hati's filtered views, ``OPERATOR(pg_catalog.~)`` is ``~``, the default collations
    go, ``'t'::regclass`` finds the relation's oid and other reg* casts are oids."""
    shown = _shown_values(stmt)
    for node in walk(stmt):
        if isinstance(node, ast.RangeVar | ast.ColumnRef):
            _catalog_name(node)
        elif _qualified_operator(node):
            node.name = (node.name[1],)
        for attr, child in children(node):
            plain = isinstance(child, ast.CollateClause) and child.collname
            if plain and child.collname[-1].sval in _PLAIN_COLLATIONS:
                replace_child(node, attr, child, child.arg)
            elif isinstance(child, ast.TypeCast) and child.typeName is not None:
                tname = child.typeName.names[-1].sval
                if (
                    tname == "regclass"
                    and isinstance(child.arg, ast.A_Const | ast.ParamRef)
                    and _sequence_function(node, child)
                ):  # nextval('s'::regclass): DuckDB's functions take the sequence's name
                    replace_child(node, attr, child, child.arg)
                elif tname == "regclass" and isinstance(child.arg, ast.A_Const | ast.ParamRef):
                    name = id(child) in shown or _as_text(node)
                    replace_child(node, attr, child, _regclass_call(child.arg, name))
                elif tname == "regclass" and (id(child) in shown or _as_text(node)):
                    # indexrelid::regclass in a select list: the relation's name
                    replace_child(node, attr, child, _regclass_call(child.arg, True))
                elif tname in _REG_TYPES or tname == "oid":
                    child.typeName = ast.TypeName(
                        names=(ast.String(sval="pg_catalog"), ast.String(sval="int8")),
                        arrayBounds=child.typeName.arrayBounds,  # oid[] stays an array
                    )
    return stmt


def _sequence_function(node: ast.Node, arg: ast.Node) -> bool:
    """Whether ``arg`` is the sequence nextval / currval / setval works on."""
    return (
        isinstance(node, ast.FuncCall)
        and node.funcname[-1].sval in ("nextval", "currval", "setval")
        and bool(node.args)
        and node.args[0] is arg
    )


def _catalog_name(node: ast.RangeVar | ast.ColumnRef) -> None:
    if isinstance(node, ast.RangeVar):
        emulated = _catalog_relation(node)
        if emulated is not None:
            if node.alias is None:
                node.alias = ast.Alias(aliasname=node.relname)
            node.schemaname, node.relname = CATALOG_SCHEMA, emulated
    elif len(node.fields) >= 3:
        # pg_catalog.pg_class.oid: the relation is now known by its alias alone.
        first = node.fields[0]
        if isinstance(first, ast.String) and first.sval in ("pg_catalog", "information_schema"):
            node.fields = node.fields[1:]


def _qualified_operator(node: ast.Node) -> bool:
    """``OPERATOR(pg_catalog.~)``: a comparison written with its schema."""
    return (
        isinstance(node, ast.A_Expr)
        and bool(node.name)
        and len(node.name) == 2
        and node.name[0].sval == "pg_catalog"
    )


def _shown_values(stmt: ast.Node) -> set[int]:
    """The select lists' own values (ids): a regclass there shows its relation's name."""
    return {
        id(t.val)
        for node in walk(stmt)
        if isinstance(node, ast.SelectStmt)
        for t in node.targetList or ()
        if isinstance(t, ast.ResTarget)
    }


def _as_text(node: ast.Node) -> bool:
    """Is ``node`` a cast to text (``'t'::regclass::text`` is the relation's name)?"""
    if not isinstance(node, ast.TypeCast) or node.typeName is None:
        return False
    return node.typeName.names[-1].sval in ("text", "varchar", "name", "bpchar")


def _regclass_call(arg: ast.Node, name: bool) -> ast.FuncCall:
    """The relation's oid (``name``: its name, as PostgreSQL prints a regclass)."""
    fn = "hati_regclass_name" if name else "hati_regclass"
    return ast.FuncCall(
        funcname=(ast.String(sval=CATALOG_SCHEMA), ast.String(sval=fn)), args=(arg,)
    )
