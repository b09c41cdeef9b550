"""PostgreSQL parse tree -> a tree DuckDB runs with PostgreSQL's meaning.

Each rule is a small function that rewrites the tree in place where DuckDB differs from
PostgreSQL; :data:`RULES` lists them in the order they run. A rule that needs a literal's
value (``'\\xdeadbeef'::bytea``) while the statement's literals are lifted out raises
:class:`NeedsLiteral`, and the statement is translated again with its literals in place.

Where DuckDB lacks a feature and no rule emulates it, the statement is refused with
0A000 and a hint rather than run with a different meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import ConstrType, SetOperation

from hati.pg import catalog as catalog_views
from hati.pg.analyze import DEFAULT_SCHEMAS, children, returning_list
from hati.pg.colnames import UNNAMED, column_name, is_star


class NeedsLiteral(Exception):
    """A rule needs the value of a literal that is lifted out as a marker."""


@dataclass
class Translation:
    """What translating one statement produced besides its tree."""

    database: str = "hati"  # current_database()
    pre: list[str] = field(default_factory=list)  # statements DuckDB must run first


def walk(node: ast.Node) -> Iterator[ast.Node]:
    """Every node below and including ``node``, parents before children."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(child for _, child in children(n))


def replace_child(node: ast.Node, attr: str, old: ast.Node, new: ast.Node) -> None:
    """Put ``new`` where ``old`` hangs below ``node`` (directly or in a list)."""
    value = getattr(node, attr)
    if value is old:
        setattr(node, attr, new)
    elif isinstance(value, tuple):
        setattr(node, attr, tuple(new if v is old else v for v in value))


def _values_alias(n: int, given: tuple[ast.Node, ...] | None = None) -> tuple[ast.String, ...]:
    names = [g.sval for g in given or () if isinstance(g, ast.String)]
    return tuple(
        ast.String(sval=names[i] if i < len(names) else f"column{i + 1}") for i in range(n)
    )


def _is_values(node: ast.Node | None) -> bool:
    return isinstance(node, ast.SelectStmt) and bool(node.valuesLists)


def _values_as_select(values: ast.SelectStmt) -> ast.SelectStmt:
    """``VALUES ...`` as ``SELECT * FROM (VALUES ...) AS "*VALUES*"(column1, ...)``:
    PostgreSQL names VALUES columns column1..n, DuckDB col0..n-1."""
    width = len(values.valuesLists[0])
    inner = ast.SelectStmt(valuesLists=values.valuesLists, op=SetOperation.SETOP_NONE)
    sub = ast.RangeSubselect(
        subquery=inner, alias=ast.Alias(aliasname="*VALUES*", colnames=_values_alias(width))
    )
    star = ast.ResTarget(val=ast.ColumnRef(fields=(ast.A_Star(),)))
    return ast.SelectStmt(
        targetList=(star,),
        fromClause=(sub,),
        sortClause=values.sortClause,
        limitCount=values.limitCount,
        limitOffset=values.limitOffset,
        limitOption=values.limitOption,
        withClause=values.withClause,
        op=SetOperation.SETOP_NONE,
    )


def _name_targets(targets: tuple[ast.Node, ...]) -> None:
    for target in targets:
        unnamed = isinstance(target, ast.ResTarget) and target.name is None
        if unnamed and not is_star(target.val):
            target.name = column_name(target.val)


def name_columns(stmt: ast.Node) -> ast.Node:
    """Give every unnamed select-list item PostgreSQL's name for it, and VALUES lists
    PostgreSQL's column1..n (in FROM, in CTEs and as a statement of their own)."""
    if _is_values(stmt):
        stmt = _values_as_select(stmt)
    for node in walk(stmt):
        returning = returning_list(node)
        if returning and not isinstance(node, ast.SelectStmt):
            _name_targets(returning)
        if isinstance(node, ast.SelectStmt):
            if node.targetList:
                _name_targets(node.targetList)
            if node.op != SetOperation.SETOP_NONE and _is_values(node.larg):
                node.larg = _values_as_select(node.larg)
        elif isinstance(node, ast.RangeSubselect) and _is_values(node.subquery):
            width = len(node.subquery.valuesLists[0])
            if node.alias is None:
                node.alias = ast.Alias(aliasname="*VALUES*")
            node.alias.colnames = _values_alias(width, node.alias.colnames)
        elif isinstance(node, ast.CommonTableExpr) and _is_values(node.ctequery):
            node.ctequery = _values_as_select(node.ctequery)
    return stmt


# Set-returning functions PostgreSQL allows in a select list; DuckDB returns them as
# one list value unless they are unnested.
_LIST_SRFS = frozenset({"generate_series", "regexp_split_to_table", "string_to_table"})


def srfs_in_select_list(stmt: ast.Node) -> ast.Node:
    """``SELECT generate_series(1, 3)``: three rows, as in PostgreSQL."""
    for node in walk(stmt):
        if not isinstance(node, ast.SelectStmt) or not node.targetList:
            continue
        for target in node.targetList:
            val = target.val if isinstance(target, ast.ResTarget) else None
            if isinstance(val, ast.FuncCall) and val.funcname[-1].sval in _LIST_SRFS:
                if target.name is None:
                    target.name = column_name(val)
                target.val = ast.FuncCall(funcname=(ast.String(sval="unnest"),), args=(val,))
    return stmt


# PostgreSQL function -> DuckDB function of the same meaning and arguments.
FUNCTION_NAMES = {
    "btrim": "trim",
    "char_length": "length",
    "character_length": "length",
    "json_build_object": "json_object",
    "jsonb_build_object": "json_object",
    "json_build_array": "json_array",
    "jsonb_build_array": "json_array",
    "jsonb_typeof": "json_type",
    "json_typeof": "json_type",
    "jsonb_array_length": "json_array_length",
    "jsonb_extract_path_text": "json_extract_path_text",
    "jsonb_extract_path": "json_extract_path",
    "to_jsonb": "to_json",
    "array_agg": "array_agg",
}


# PostgreSQL functions hati answers with macros of its own (catalog.py).
EMULATED_FUNCTIONS = frozenset({"current_setting"})


def function_names(stmt: ast.Node) -> ast.Node:
    for node in walk(stmt):
        if isinstance(node, ast.FuncCall):
            name = node.funcname[-1].sval
            if name in EMULATED_FUNCTIONS and len(node.funcname) <= 2:
                node.funcname = (ast.String(sval=CATALOG_SCHEMA), ast.String(sval=name))
                continue
            mapped = FUNCTION_NAMES.get(name)
            if mapped is not None and mapped != name:
                node.funcname = (ast.String(sval=mapped),)
    return stmt


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
                if tname == "regclass" and isinstance(child.arg, ast.A_Const | ast.ParamRef):
                    replace_child(node, attr, child, _regclass_call(child.arg))
                elif tname in _REG_TYPES or tname == "oid":
                    child.typeName = ast.TypeName(
                        names=(ast.String(sval="pg_catalog"), ast.String(sval="int8"))
                    )
    return stmt


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


def _regclass_call(arg: ast.Node) -> ast.FuncCall:
    return ast.FuncCall(
        funcname=(ast.String(sval=CATALOG_SCHEMA), ast.String(sval="hati_regclass")),
        args=(arg,),
    )


def default_schema(stmt: ast.Node) -> ast.Node:
    """``public`` (and DuckDB's ``main``) is the schema unqualified names resolve to. A
    relation keeps its qualifier here (where it lives is the session's: see
    pipeline.py); a column, function or type loses it."""
    if isinstance(stmt, ast.DropStmt) and stmt.objects:
        # DROP TABLE public.t: the name resolves where the session's tables live.
        stmt.objects = tuple(
            obj[1:]
            if isinstance(obj, tuple) and len(obj) == 2 and obj[0].sval in DEFAULT_SCHEMAS
            else obj
            for obj in stmt.objects
        )
    for node in walk(stmt):
        if isinstance(node, ast.ColumnRef) and len(node.fields) >= 3:
            first = node.fields[0]
            if isinstance(first, ast.String) and first.sval in DEFAULT_SCHEMAS:
                node.fields = node.fields[1:]
        elif isinstance(node, ast.FuncCall | ast.TypeName):
            names = node.funcname if isinstance(node, ast.FuncCall) else node.names
            if names and len(names) == 2 and names[0].sval in DEFAULT_SCHEMAS:
                if isinstance(node, ast.FuncCall):
                    node.funcname = names[1:]
                else:
                    node.names = names[1:]
    return stmt


def _const(value: str) -> ast.A_Const:
    return ast.A_Const(val=ast.String(sval=value))


_SERVER_VERSION = "PostgreSQL 15.0 (hati) on DuckDB"


def constants(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Functions whose answer hati knows: ``version()``, ``current_schema()``,
    ``current_database()`` / ``current_catalog``."""
    for node in walk(stmt):
        for attr, child in children(node):
            new: ast.Node | None = None
            if isinstance(child, ast.FuncCall) and not child.args and len(child.funcname) <= 2:
                name = child.funcname[-1].sval
                if name == "version":
                    new = _const(_SERVER_VERSION)
                elif name in ("current_schema", "current_database"):
                    new = _const("public" if name == "current_schema" else ctx.database)
            elif isinstance(child, ast.SQLValueFunction):
                op = column_name(child)
                if op in ("current_schema", "current_catalog"):
                    new = _const("public" if op == "current_schema" else ctx.database)
            if new is not None:
                replace_child(node, attr, child, new)
    return stmt


_SERIAL = {
    "serial": "int4",
    "serial4": "int4",
    "bigserial": "int8",
    "serial8": "int8",
    "smallserial": "int2",
    "serial2": "int2",
}
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names


def serial_columns(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """``SERIAL`` and ``GENERATED ... AS IDENTITY`` columns, which DuckDB lacks, made as
    PostgreSQL makes them: an integer NOT NULL DEFAULT nextval('<table>_<col>_seq'), the
    sequence created just before the table. The sequence lives in ``main`` (also for a
    table created in a branch: its rows draw from the same sequence, so a merge brings
    no duplicate ids)."""
    if not isinstance(stmt, ast.CreateStmt):
        return stmt
    table = stmt.relation.relname
    for elt in stmt.tableElts or ():
        if not isinstance(elt, ast.ColumnDef) or elt.typeName is None:
            continue
        names = [n.sval for n in elt.typeName.names]
        serial = _SERIAL.get(names[-1]) if len(names) == 1 or names[0] == "pg_catalog" else None
        constraints = list(elt.constraints or ())
        identity = [c for c in constraints if c.contype == ConstrType.CONSTR_IDENTITY]
        if serial is None and not identity:
            continue
        seq = f"{table}_{elt.colname}_seq"[:MAX_IDENTIFIER]
        ctx.pre.append(f'CREATE SEQUENCE IF NOT EXISTS main."{seq.replace(chr(34), chr(34) * 2)}"')
        if serial is not None:
            elt.typeName = ast.TypeName(
                names=(ast.String(sval="pg_catalog"), ast.String(sval=serial))
            )
        qualified = 'main."' + seq.replace('"', '""') + '"'
        nextval = ast.FuncCall(funcname=(ast.String(sval="nextval"),), args=(_const(qualified),))
        kept = [
            c
            for c in constraints
            if c.contype not in (ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_DEFAULT)
        ]
        elt.constraints = (
            ast.Constraint(contype=ConstrType.CONSTR_DEFAULT, raw_expr=nextval),
            ast.Constraint(contype=ConstrType.CONSTR_NOTNULL),
            *kept,
        )
    return stmt


# PostgreSQL types DuckDB knows under another name (or not in pg_catalog).
TYPE_NAMES = {
    "text": "text",
    "name": "varchar",
    "json": "json",
    "jsonb": "json",
    "xml": "varchar",
    "bpchar": "varchar",
    "citext": "varchar",
    "inet": "varchar",
    "cidr": "varchar",
    "macaddr": "varchar",
    "tsvector": "varchar",
    "money": "numeric",
}


def type_names(stmt: ast.Node) -> ast.Node:
    """Types spelled as PostgreSQL spells them, in DuckDB's names."""
    for node in walk(stmt):
        if isinstance(node, ast.TypeName) and node.names:
            names = [n.sval for n in node.names]
            plain = len(names) == 1 or (len(names) == 2 and names[0] == "pg_catalog")
            if plain and names[-1] in TYPE_NAMES:
                mapped = TYPE_NAMES[names[-1]]
                # pg_catalog-qualified builtins print as their SQL names (varchar, ...)
                node.names = tuple(ast.String(sval=n) for n in ("pg_catalog", mapped))
                if mapped in ("text", "json"):
                    node.names = (ast.String(sval=mapped),)
    return stmt


Rule = Callable[[ast.Node, Translation], ast.Node]


def _plain(rule: Callable[[ast.Node], ast.Node]) -> Rule:
    return lambda stmt, _ctx: rule(stmt)


RULES: tuple[Rule, ...] = (
    _plain(srfs_in_select_list),
    _plain(name_columns),
    _plain(default_schema),
    constants,
    serial_columns,
    _plain(catalog),
    _plain(type_names),
    _plain(function_names),
)


def translate(stmt: ast.Node, ctx: Translation | None = None) -> ast.Node:
    """Apply every rule; return the (possibly new) statement node."""
    ctx = ctx or Translation()
    for rule in RULES:
        stmt = rule(stmt, ctx)
    return stmt


__all__ = ["RULES", "UNNAMED", "NeedsLiteral", "Translation", "translate", "walk"]
