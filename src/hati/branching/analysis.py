"""What a statement reads and writes, found with sqlglot (never used to rewrite SQL).

Only the ``main`` schema is branchable; names qualified with another schema are
reported with that schema so the router can refuse or ignore them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from hati.errors import SyntaxError_


@dataclass(frozen=True)
class TableRef:
    schema: str | None
    name: str


@dataclass
class Analysis:
    """Tables a statement writes (and how), and every table it mentions."""

    kind: str
    writes: list[TableRef] = field(default_factory=list)
    reads: list[TableRef] = field(default_factory=list)
    creates: list[TableRef] = field(default_factory=list)
    drops: list[TableRef] = field(default_factory=list)
    if_not_exists: bool = False
    if_exists: bool = False
    is_view: bool = False
    tree: exp.Expr | None = field(default=None, repr=False, compare=False)


def _ref(t: exp.Table) -> TableRef:
    schema = t.args.get("db")
    return TableRef(schema.name if schema is not None else None, t.name)


def _table_of(node: exp.Expression | None) -> exp.Table | None:
    if node is None:
        return None
    if isinstance(node, exp.Table):
        return node
    if isinstance(node, exp.Schema):
        inner = node.this
        return inner if isinstance(inner, exp.Table) else None
    return node.find(exp.Table)


def analyze(sql: str) -> Analysis:
    """Parse one statement and report its targets. Raises 42601 on a parse failure."""
    try:
        stmt = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        try:
            stmt = sqlglot.parse_one(sql, read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise SyntaxError_(f"syntax error: {str(exc).splitlines()[0]}") from exc
    return analyze_tree(stmt)


def _cte_names(stmt: exp.Expr) -> set[str]:
    return {c.alias_or_name for c in stmt.find_all(exp.CTE)}


def analyze_tree(stmt: exp.Expr) -> Analysis:
    ctes = _cte_names(stmt)
    reads = [
        _ref(t)
        for t in stmt.find_all(exp.Table)
        if t.name and not (t.args.get("db") is None and t.name in ctes)
    ]
    a = Analysis(kind=type(stmt).__name__.upper(), reads=reads, tree=stmt)
    for kinds, targets in _TARGETS:
        if isinstance(stmt, kinds):
            targets(stmt, a)
            break
    # A created or written table is not "read" from the base unless mentioned elsewhere.
    created = {(r.schema, r.name) for r in a.creates}
    a.reads = [r for r in a.reads if (r.schema, r.name) not in created or r in a.writes]
    return a


def _add(refs: list[TableRef], node: exp.Expression | None) -> None:
    t = _table_of(node)
    if t is not None:
        refs.append(_ref(t))


_DML = {exp.Insert: "INSERT", exp.Update: "UPDATE", exp.Delete: "DELETE", exp.Merge: "MERGE"}


def _dml(stmt: exp.Expression, a: Analysis) -> None:
    _add(a.writes, stmt.this)
    a.kind = _DML[type(stmt)]


def _create(stmt: exp.Expression, a: Analysis) -> None:
    kind = (stmt.args.get("kind") or "").upper()
    a.if_not_exists = bool(stmt.args.get("exists"))
    if kind == "INDEX":
        index = stmt.this
        t = index.args.get("table") if isinstance(index, exp.Index) else None
        if isinstance(t, exp.Table):
            a.writes.append(_ref(t))
        a.kind = "CREATE_INDEX"
    elif kind in ("TABLE", "VIEW"):
        _add(a.creates, stmt.this)
        a.kind = "CREATE"
        a.is_view = kind == "VIEW"
    else:
        a.kind = "CREATE_OTHER"


def _drop(stmt: exp.Expression, a: Analysis) -> None:
    kind = (stmt.args.get("kind") or "").upper()
    a.if_exists = bool(stmt.args.get("exists"))
    if kind in ("TABLE", "VIEW"):
        for t in stmt.args.get("tables") or [stmt.this]:
            _add(a.drops, t)
        a.kind = "DROP"
        a.is_view = kind == "VIEW"
    else:
        a.kind = "DROP_OTHER"


def _alter(stmt: exp.Expression, a: Analysis) -> None:
    _add(a.writes, stmt.this)
    a.kind = "ALTER"
    for action in stmt.args.get("actions") or []:
        if isinstance(action, exp.AlterRename):
            _add(a.creates, action.this)


def _truncate(stmt: exp.Expression, a: Analysis) -> None:
    for t in stmt.expressions:
        _add(a.writes, t)
    a.kind = "TRUNCATE"


def _copy(stmt: exp.Expression, a: Analysis) -> None:
    if stmt.args.get("kind"):  # COPY t FROM ...
        _add(a.writes, stmt.this)
    a.kind = "COPY"


def _select(stmt: exp.Expression, a: Analysis) -> None:
    into = stmt.args.get("into")
    if into is not None:
        _add(a.creates, into)
        a.kind = "CREATE"
    else:
        a.kind = "SELECT"


# Statement classes and how each names its targets.
_TARGETS: list[
    tuple[
        type[exp.Expression] | tuple[type[exp.Expression], ...],
        Callable[[exp.Expression, Analysis], None],
    ]
] = [
    ((exp.Insert, exp.Update, exp.Delete, exp.Merge), _dml),
    (exp.Create, _create),
    (exp.Drop, _drop),
    (exp.Alter, _alter),
    (exp.TruncateTable, _truncate),
    (exp.Copy, _copy),
    ((exp.Select, exp.Union, exp.Intersect, exp.Except), _select),
]
