"""Partitioned tables (``PARTITION BY`` / ``PARTITION OF``), which DuckDB lacks.

A partition tree is **one** DuckDB table, its root: every row of every partition lives
there. A partition is no DuckDB object at all but a name hati keeps in the hidden
schema's ``partitions`` (one row per partitioned table and per partition: its parent,
its bound as PostgreSQL wrote it, and that bound as a condition over the root's
columns). The front end rewrites each statement that names a partition
(``partition_rewrite.py``): reading it reads the root's rows that satisfy its path of
bounds; a write into the tree writes the root, with the row checked against the bounds
as PostgreSQL checks it (23514). So SELECT from the root sees every partition's rows,
an UPDATE moves a row between partitions by changing its key, and ON CONFLICT, keys
and indexes are the root's own.

Branches see nothing special: the tree is one ordinary table, so row deltas, merges
and snapshots treat it like any other. Partition DDL changes hati's own catalog, which
is main's: it runs on main only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
from pglast import ast, parser
from pglast.stream import RawStream

from hati.errors import (
    CheckViolation,
    DatatypeMismatch,
    DuplicateTable,
    FeatureNotSupported,
    InvalidObjectDefinition,
    InvalidTableDefinition,
    UndefinedColumn,
    UndefinedTable,
    WrongObjectType,
)
from hati.pg import catalog, paramtypes, render
from hati.pg.emulate import Emulated, Printer, locate, qualified

TABLE = f"{catalog.HIDDEN}.partitions"
SETUP_SQL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (schema_name VARCHAR, name VARCHAR, "
    "parent VARCHAR, root VARCHAR, strategy VARCHAR, key VARCHAR[], bound VARCHAR, "
    "cond VARCHAR, is_default BOOLEAN, position INTEGER, cols VARCHAR[]);"
    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS cols VARCHAR[];"
)
STRATEGIES = {"l": "list", "r": "range", "h": "hash"}


@dataclass(frozen=True)
class Node:
    """A partitioned table or a partition. ``strategy``/``key``: how it is partitioned
    (None: a leaf); ``cond``: its own bound as a condition (PostgreSQL's text, over
    the root's columns; None for the root and a DEFAULT partition)."""

    schema: str
    name: str
    parent: str | None
    root: str
    strategy: str | None
    key: tuple[str, ...]
    bound: str | None
    cond: str | None
    is_default: bool
    position: int = 0
    cols: tuple[str, ...] | None = None  # its columns' order, when not the root's


@dataclass
class Tree:
    """Every partition tree of the database, as the front end rewrites statements."""

    nodes: dict[tuple[str, str], Node] = field(default_factory=dict)
    columns: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # roots'
    types: dict[tuple[str, str, str], str] = field(default_factory=dict)  # roots' columns'
    # Inheritance (inherits.py): parent -> children, parent -> its columns, child -> parents.
    children_of: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    inh_columns: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    parents_of: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.children_of)

    def find(self, schema: str | None, name: Any) -> Node | None:
        return self.nodes.get(("main" if schema in (None, "public") else schema, name))

    def children(self, node: Node) -> list[Node]:
        return sorted(
            (n for n in self.nodes.values() if n.schema == node.schema and n.parent == node.name),
            key=lambda n: n.position,
        )

    def own(self, node: Node) -> str:
        """The node's own bound as a condition (a DEFAULT partition: none of its siblings')."""
        if node.parent is None:
            return "true"
        if not node.is_default:
            return node.cond or "true"
        parent = self.nodes[(node.schema, node.parent)]
        others = [n.cond for n in self.children(parent) if not n.is_default and n.cond]
        if not others:
            return "true"
        return "NOT coalesce(" + " OR ".join(f"({c})" for c in others) + ", false)"

    def path(self, node: Node) -> str:
        """The condition a root row satisfies to be a row of ``node``."""
        conds = []
        n: Node | None = node
        while n is not None and n.parent is not None:
            conds.append(self.own(n))
            n = self.nodes.get((n.schema, n.parent))
        return " AND ".join(f"({c})" for c in reversed(conds)) or "true"

    def routable(self, node: Node) -> str:
        """The condition a row satisfies when some leaf under ``node`` takes it."""
        if node.strategy is None:
            return "true"
        parts = [
            f"({self.own(c)}) AND ({self.routable(c)})" if c.strategy else f"({self.own(c)})"
            for c in self.children(node)
        ]
        return "(" + " OR ".join(parts) + ")" if parts else "false"

    def key_columns(self, root: str, schema: str) -> set[str]:
        """The root's columns some partition key of the tree reads."""
        return {
            c
            for n in self.nodes.values()
            if n.schema == schema and n.root == root
            for k in n.key
            for c in key_reads(k)
        }

    def order(self, node: Node) -> tuple[str, ...]:
        """The node's columns in its own order (a table attached keeps its order)."""
        return node.cols or self.columns.get((node.schema, node.root), ())

    def subtree(self, node: Node) -> list[Node]:
        out = [node]
        for c in self.children(node):
            out += self.subtree(c)
        return out


def load(cur: duckdb.DuckDBPyConnection) -> Tree:
    """The partition trees hati keeps (an empty Tree before its table exists)."""
    try:
        rows = cur.execute(
            f"SELECT schema_name, name, parent, root, strategy, key, bound, cond, is_default, "
            f"position, cols FROM {TABLE}"
        ).fetchall()
    except duckdb.CatalogException:
        rows = []
    tree = Tree()
    for r in rows:
        tree.nodes[(r[0], r[1])] = Node(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            tuple(r[5] or ()),
            r[6],
            r[7],
            bool(r[8]),
            r[9] or 0,
            tuple(r[10]) if r[10] else None,
        )
    for n in tree.nodes.values():
        if n.parent is None:
            cols = columns(cur, n.schema, n.name)
            tree.columns[(n.schema, n.name)] = tuple(c for c, _ in cols)
            for c, t in cols:
                tree.types[(n.schema, n.name, c)] = t
    return tree


def touched(tree: Tree, template: Any, analysis: Any) -> bool:
    """Whether a statement that ran may have changed the trees: partition DDL, or
    DDL that changes a table's columns while trees exist."""
    if tree and paramtypes.may_change_columns(analysis):
        return True
    return any(isinstance(s, Changes) for s in template.steps)


def columns(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    return [
        (str(r[0]), str(r[1]))
        for r in cur.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ("
            "SELECT database_name FROM duckdb_tables() WHERE schema_name = $1 AND "
            "table_name = $2 AND database_name IN (current_database(), 'temp') "
            "ORDER BY database_name = 'temp' DESC LIMIT 1) "  # a temporary table first
            "AND schema_name = $1 AND table_name = $2 ORDER BY column_index",
            [schema, table],
        ).fetchall()
    ]


def expression(text: str) -> ast.Node:
    """A condition's text as a parse tree (PostgreSQL's grammar)."""
    stmt: Any = parser.parse_sql(f"SELECT {text}")[0].stmt
    return stmt.targetList[0].val


def pg_text(node: ast.Node) -> str:
    return str(RawStream()(node))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------- bounds
def _value(datum: ast.Node, typ: str) -> str:
    return f"CAST({pg_text(datum)} AS {typ})"


def _bound_word(datum: Any) -> str | None:
    fields: Any = getattr(datum, "fields", None)
    if isinstance(datum, ast.ColumnRef) and fields and len(fields) == 1:
        word = getattr(fields[0], "sval", "")
        if word in ("minvalue", "maxvalue"):
            return word
    return None


def condition(spec: Any, key: tuple[str, ...], types: dict[str, str], name: str) -> str | None:
    """PostgreSQL's partition constraint of a bound, as a condition that is never NULL."""
    if spec.is_default:
        return None
    cols = [key_sql(k) for k in key]
    typs = [types[k] for k in key]
    if spec.strategy == "l":
        datums = list(spec.listdatums or ())
        nulls = any(isinstance(d, ast.A_Const) and d.isnull for d in datums)
        vals = [_value(d, typs[0]) for d in datums if not (isinstance(d, ast.A_Const) and d.isnull)]
        parts = [f"{cols[0]} IN ({', '.join(vals)})"] if vals else []
        if nulls:
            parts.append(f"{cols[0]} IS NULL")
        return "coalesce(" + " OR ".join(parts) + ", false)" if parts else "false"
    if spec.strategy == "r":
        return _range_condition(spec, cols, typs, len(key))
    if spec.strategy == "h":
        if spec.modulus <= 0:
            raise InvalidObjectDefinition(
                "modulus for hash partition must be an integer value greater than zero"
            )
        if not 0 <= spec.remainder < spec.modulus:
            raise InvalidObjectDefinition("remainder for hash partition must be less than modulus")
        return f"coalesce(hash({', '.join(cols)}) % {spec.modulus} = {spec.remainder}, false)"
    raise FeatureNotSupported(f'partition bound of "{name}" is not supported')


def _range_condition(spec: Any, cols: list[str], typs: list[str], n: int) -> str:
    lower = list(spec.lowerdatums or ())
    upper = list(spec.upperdatums or ())
    if len(lower) != n or len(upper) != n:
        raise InvalidObjectDefinition("FROM must specify exactly one value per partitioning column")
    for datums in (lower, upper):
        words = [_bound_word(d) for d in datums]
        for i, w in enumerate(words):
            if w is not None and any(x != w for x in words[i + 1 :]):
                raise DatatypeMismatch(
                    f"every bound following {w.upper()} must also be {w.upper()}"
                )

    def side(datums: list[ast.Node], i: int, op: str, last: str) -> str:
        if i == len(datums):
            return last
        word = _bound_word(datums[i])
        if word == "minvalue":
            return "true" if op == ">" else "false"
        if word == "maxvalue":
            return "false" if op == ">" else "true"
        v = _value(datums[i], typs[i])
        rest = side(datums, i + 1, op, last)
        return f"({cols[i]} {op} {v} OR ({cols[i]} = {v} AND {rest}))"

    nonnull = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    return (
        f"coalesce({nonnull} AND {side(lower, 0, '>', 'true')} "
        f"AND {side(upper, 0, '<', 'false')}, false)"
    )


def _list_values(spec: Any) -> list[str]:
    return [pg_text(d) for d in spec.listdatums or ()]


def key_sql(k: str) -> str:
    """A key as a condition reads it: a column's quoted name, an expression as written."""
    return k if k.startswith("(") else quote(k)


def key_reads(k: str) -> list[str]:
    """The columns a key reads."""
    if not k.startswith("("):
        return [k]
    from pglast.visitors import Visitor

    found: list[str] = []

    class Refs(Visitor):
        def visit_ColumnRef(self, _ancestors: Any, node: Any) -> None:
            found.append(str(node.fields[-1].sval))

    Refs()(expression(k))
    return found


def key_types(
    cur: duckdb.DuckDBPyConnection, schema: str, root: str, key: tuple[str, ...]
) -> dict[str, str]:
    """The root's column types, and the type of each key expression."""
    types = dict(columns(cur, schema, root))
    for k in key:
        if k.startswith("(") and k not in types:
            described = cur.execute(
                duck_sql(f"SELECT {k} AS v FROM {quote(schema)}.{quote(root)} LIMIT 0")
            ).description
            types[k] = str(described[0][1]) if described else "VARCHAR"
    return types


def _key_of(spec: Any, have: dict[str, str]) -> tuple[str, ...]:
    key = []
    for elem in spec.partParams or ():
        if elem.name is None:
            text = f"({pg_text(elem.expr)})"
            for col in key_reads(text):
                if col not in have:
                    raise UndefinedColumn(f'column "{col}" does not exist')
            key.append(text)
            continue
        if elem.name not in have:
            raise UndefinedColumn(f'column "{elem.name}" named in partition key does not exist')
        key.append(str(elem.name))
    if _strategy(spec) == "l" and len(key) != 1:
        raise InvalidObjectDefinition(
            'cannot use "list" partition strategy with more than one column'
        )
    return tuple(key)


def _strategy(spec: Any) -> str:
    s = spec.strategy
    return str(s.value if hasattr(s, "value") else s)


def refuse_in_branch(branch: bool) -> None:
    if branch:
        raise FeatureNotSupported(
            "partitioned tables cannot be created or changed in a branch",
            detail="hati keeps partitions in main's catalog.",
            hint="Run the partition DDL on main; branches then read and write the partitions.",
        )


def _position(cur: duckdb.DuckDBPyConnection) -> int:
    row = cur.execute(f"SELECT coalesce(max(position), 0) + 1 FROM {TABLE}").fetchone()
    return int(row[0]) if row else 1


def _record(cur: duckdb.DuckDBPyConnection, n: Node) -> None:
    cur.execute(
        f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [
            n.schema,
            n.name,
            n.parent,
            n.root,
            n.strategy,
            list(n.key),
            n.bound,
            n.cond,
            n.is_default,
            _position(cur),
            list(n.cols) if n.cols else None,
        ],
    )


class Changes(Emulated):
    """A step that changes the partition catalog (the front end reloads it after)."""


@dataclass
class DefineRoot(Changes):
    """CREATE TABLE ... PARTITION BY: the table exists, now it is partitioned."""

    relation: Any
    spec: Any

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        refuse_in_branch(branch)
        schema, table = locate(cur, printed, self.relation)
        have = dict(columns(cur, schema, table))
        key = _key_of(self.spec, have)
        cur.execute(f"DELETE FROM {TABLE} WHERE schema_name = $1 AND name = $2", [schema, table])
        _record(cur, Node(schema, table, None, table, _strategy(self.spec), key, None, None, False))


def schema_of(cur: duckdb.DuckDBPyConnection, rv: Any) -> str:
    if rv.schemaname in (None, "public", "main"):
        return "main"
    return str(rv.schemaname)


@dataclass
class DefinePartition(Changes):
    """CREATE TABLE x PARTITION OF p FOR VALUES ... [PARTITION BY ...]: x is a name
    hati keeps; its rows are the root's rows within its bounds."""

    relation: Any
    parent: Any
    bound: Any
    spec: Any | None
    if_not_exists: bool = False

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        refuse_in_branch(branch)
        tree = load(cur)
        schema = schema_of(cur, self.relation)
        name = str(self.relation.relname)
        if tree.find(schema, name) is not None or table_exists(cur, schema, name):
            if self.if_not_exists:
                return
            raise DuplicateTable(f'relation "{name}" already exists')
        pschema = schema_of(cur, self.parent)
        parent = tree.find(pschema, self.parent.relname)
        if parent is None:
            if table_exists(cur, pschema, self.parent.relname):
                raise WrongObjectType(f'table "{self.parent.relname}" is not partitioned')
            raise UndefinedTable(f'relation "{self.parent.relname}" does not exist')
        if parent.strategy is None:
            raise WrongObjectType(f'table "{parent.name}" is not partitioned')
        define(cur, tree, parent, schema, name, self.bound, self.spec)


def define(
    cur: duckdb.DuckDBPyConnection,
    tree: Tree,
    parent: Node,
    schema: str,
    name: str,
    bound: Any,
    spec: Any | None,
    cols: tuple[str, ...] | None = None,
) -> Node:
    """Record partition ``name`` of ``parent`` (checked as PostgreSQL checks a bound)."""
    types = key_types(cur, schema, parent.root, parent.key)
    strategy = parent.strategy or ""
    if not bound.is_default and bound.strategy != strategy:
        raise InvalidObjectDefinition(
            f"invalid bound specification for a {STRATEGIES.get(strategy, strategy)} partition"
        )
    siblings = tree.children(parent)
    _bound_checks(bound, strategy, siblings)
    if bound.is_default:
        for s in siblings:
            if s.is_default:
                raise InvalidObjectDefinition(
                    f'partition "{name}" conflicts with existing default partition "{s.name}"'
                )
    cond = condition(bound, parent.key, types, name)
    if cond is not None:
        _check_overlap(cur, tree, parent, name, bound, cond, siblings)
    key: tuple[str, ...] = ()
    strategy_own = None
    if spec is not None:
        key = _key_of(spec, types)
        strategy_own = _strategy(spec)
    text = "DEFAULT" if bound.is_default else _bound_text(bound)
    node = Node(
        schema,
        name,
        parent.name,
        parent.root,
        strategy_own,
        key,
        text,
        cond,
        bound.is_default,
        cols=cols or parent.cols,
    )
    default = next((s for s in siblings if s.is_default), None)
    if default is not None and cond is not None:
        root = qualified(schema, parent.root)
        where = tree.path(default)
        moved = cur.execute(
            duck_sql(f"SELECT 1 FROM {root} WHERE ({where}) AND ({cond}) LIMIT 1")
        ).fetchone()
        if moved is not None:
            raise CheckViolation(
                f'updated partition constraint for default partition "{default.name}" '
                "would be violated by some row"
            )
    _record(cur, node)
    return node


def _bound_checks(bound: Any, strategy: str, siblings: list[Node]) -> None:
    """No DEFAULT partition of a hash-partitioned table (42P16), no NULL in a range
    bound (42P17), hash moduli that divide each other."""
    if bound.is_default and strategy == "h":
        raise InvalidTableDefinition("a hash-partitioned table may not have a default partition")
    for d in (*(bound.lowerdatums or ()), *(bound.upperdatums or ())):
        if isinstance(d, ast.A_Const) and d.isnull:
            raise InvalidObjectDefinition("cannot specify NULL in range bound")
    if bound.strategy == "h":
        _hash_moduli(bound, siblings)


def _hash_moduli(bound: Any, siblings: list[Node]) -> None:
    """Every hash partition's modulus divides the next larger one (42P17), checked
    against the neighbours in (modulus, remainder) order as PostgreSQL does."""
    have = []
    for s in siblings:
        if s.bound and not s.is_default:
            spec: Any = parser.parse_sql(f"CREATE TABLE x PARTITION OF y {s.bound}")[0].stmt
            have.append((int(spec.partbound.modulus), int(spec.partbound.remainder), s.name))
    have.sort()
    m = int(bound.modulus)
    before = [h for h in have if (h[0], h[1]) <= (m, int(bound.remainder))]
    after = have[len(before) :]
    problem = None
    if before and m % before[-1][0]:
        problem = f"is not divisible by {before[-1][0]}, the modulus of existing partition "
        problem += f'"{before[-1][2]}"'
    elif after and after[0][0] % m:
        problem = (
            f'is not a factor of {after[0][0]}, the modulus of existing partition "{after[0][2]}"'
        )
    if problem is not None:
        raise InvalidObjectDefinition(
            "every hash partition modulus must be a factor of the next larger modulus",
            detail=f"The new modulus {m} {problem}.",
        )


def duck_sql(sql: str) -> str:
    """DuckDB's text of a condition-bearing query hati wrote in PostgreSQL's words."""
    stmt: Any = parser.parse_sql(sql)[0].stmt
    render.prepare(stmt)
    return render.render(stmt)


def _check_overlap(
    cur: duckdb.DuckDBPyConnection,
    tree: Tree,
    parent: Node,
    name: str,
    bound: Any,
    cond: str,
    siblings: list[Node],
) -> None:
    """A bound that shares a value with a sibling's fails (42P17), as in PostgreSQL."""
    if bound.strategy == "l":
        typ = key_types(cur, parent.schema, parent.root, parent.key)[parent.key[0]]
        probe = " UNION ALL ".join(
            f"SELECT CAST({pg_text(d)} AS {typ}) AS v" for d in bound.listdatums or ()
        )
        col = parent.key[0]
        for s in siblings:
            if s.is_default or not s.cond:
                continue
            test = s.cond.replace(key_sql(col), "v")
            row = cur.execute(
                duck_sql(f"SELECT 1 FROM ({probe}) t WHERE {test} LIMIT 1")
            ).fetchone()
            if row is not None:
                raise InvalidObjectDefinition(
                    f'partition "{name}" would overlap partition "{s.name}"'
                )
    elif bound.strategy == "r":
        lower = [_bound_word(d) or pg_text(d) for d in bound.lowerdatums]
        upper = [_bound_word(d) or pg_text(d) for d in bound.upperdatums]
        if lower == upper or _range_empty(cur, bound, parent, tree):
            raise InvalidObjectDefinition(
                f'empty range bound specified for partition "{name}"',
                detail=f"Specified lower bound ({', '.join(lower)}) is greater than or "
                f"equal to upper bound ({', '.join(upper)}).",
            )
        for s in siblings:
            if s.is_default or not s.bound or not s.bound.startswith("FOR VALUES FROM"):
                continue
            if _ranges_meet(cur, tree, bound, s, parent):
                raise InvalidObjectDefinition(
                    f'partition "{name}" would overlap partition "{s.name}"'
                )


def _range_empty(cur: duckdb.DuckDBPyConnection, bound: Any, parent: Node, tree: Tree) -> bool:
    types = key_types(cur, parent.schema, parent.root, parent.key)
    lo = _range_key(cur, bound.lowerdatums, parent.key, types)
    hi = _range_key(cur, bound.upperdatums, parent.key, types)
    return not lo < hi


def _range_key(
    cur: duckdb.DuckDBPyConnection, datums: Any, key: tuple[str, ...], types: dict[str, str]
) -> tuple[tuple[int, Any], ...]:
    """A range bound as a tuple Python compares as PostgreSQL orders bounds."""
    out: list[tuple[int, Any]] = []
    for d, k in zip(datums, key, strict=False):
        word = _bound_word(d)
        if word == "minvalue":
            out.append((-1, 0))
        elif word == "maxvalue":
            out.append((1, 0))
        else:
            v = cur.execute(duck_sql(f"SELECT CAST({pg_text(d)} AS {types[k]})")).fetchone()
            out.append((0, v[0] if v else None))
    return tuple(out)


def _ranges_meet(
    cur: duckdb.DuckDBPyConnection, tree: Tree, bound: Any, sibling: Node, parent: Node
) -> bool:
    types = key_types(cur, parent.schema, parent.root, parent.key)
    made: Any = parser.parse_sql(f"CREATE TABLE x PARTITION OF y {sibling.bound}")[0].stmt
    spec = made.partbound
    lo = _range_key(cur, bound.lowerdatums, parent.key, types)
    hi = _range_key(cur, bound.upperdatums, parent.key, types)
    slo = _range_key(cur, spec.lowerdatums, parent.key, types)
    shi = _range_key(cur, spec.upperdatums, parent.key, types)
    try:
        return bool(lo < shi and slo < hi)
    except TypeError:
        return False


def _bound_text(bound: Any) -> str:
    if bound.strategy == "l":
        return f"FOR VALUES IN ({', '.join(_list_values(bound))})"
    if bound.strategy == "r":
        lo = ", ".join(_bound_word(d) or pg_text(d) for d in bound.lowerdatums or ())
        hi = ", ".join(_bound_word(d) or pg_text(d) for d in bound.upperdatums or ())
        return f"FOR VALUES FROM ({lo}) TO ({hi})"
    return f"FOR VALUES WITH (modulus {bound.modulus}, remainder {bound.remainder})"


def table_exists(cur: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = cur.execute(
        "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = $1 AND table_name = $2 UNION ALL SELECT 1 FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = $1 AND view_name = $2",
        [schema, name],
    ).fetchone()
    return row is not None
