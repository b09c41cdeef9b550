"""What a statement reads and writes, found with sqlglot (never used to rewrite SQL).

Only the ``main`` schema is branchable; names qualified with another schema are
reported with that schema so the router can refuse or ignore them.
"""

from __future__ import annotations

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
    tree: exp.Expression | None = field(default=None, repr=False, compare=False)


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


def _cte_names(stmt: exp.Expression) -> set[str]:
    return {c.alias_or_name for c in stmt.find_all(exp.CTE)}


def analyze_tree(stmt: exp.Expression) -> Analysis:
    ctes = _cte_names(stmt)
    reads = [
        _ref(t)
        for t in stmt.find_all(exp.Table)
        if t.name and not (t.args.get("db") is None and t.name in ctes)
    ]
    a = Analysis(kind=type(stmt).__name__.upper(), reads=reads, tree=stmt)
    if isinstance(stmt, (exp.Insert, exp.Update, exp.Delete, exp.Merge)):
        t = _table_of(stmt.this)
        if t is not None:
            a.writes.append(_ref(t))
        a.kind = {
            exp.Insert: "INSERT",
            exp.Update: "UPDATE",
            exp.Delete: "DELETE",
            exp.Merge: "MERGE",
        }[type(stmt)]
    elif isinstance(stmt, exp.Create):
        kind = (stmt.args.get("kind") or "").upper()
        a.if_not_exists = bool(stmt.args.get("exists"))
        if kind == "INDEX":
            index = stmt.this
            t = index.args.get("table") if isinstance(index, exp.Index) else None
            if isinstance(t, exp.Table):
                a.writes.append(_ref(t))
            a.kind = "CREATE_INDEX"
        elif kind in ("TABLE", "VIEW"):
            t = _table_of(stmt.this)
            if t is not None:
                a.creates.append(_ref(t))
            a.kind = "CREATE"
            a.is_view = kind == "VIEW"
        else:
            a.kind = "CREATE_OTHER"
    elif isinstance(stmt, exp.Drop):
        kind = (stmt.args.get("kind") or "").upper()
        a.if_exists = bool(stmt.args.get("exists"))
        if kind in ("TABLE", "VIEW"):
            targets = stmt.args.get("tables") or [stmt.this]
            for t in targets:
                tt = _table_of(t)
                if tt is not None:
                    a.drops.append(_ref(tt))
            a.kind = "DROP"
            a.is_view = kind == "VIEW"
        else:
            a.kind = "DROP_OTHER"
    elif isinstance(stmt, exp.Alter):
        t = _table_of(stmt.this)
        if t is not None:
            a.writes.append(_ref(t))
        a.kind = "ALTER"
        for action in stmt.args.get("actions") or []:
            if isinstance(action, exp.AlterRename):
                new = _table_of(action.this)
                if new is not None:
                    a.creates.append(_ref(new))
    elif isinstance(stmt, exp.TruncateTable):
        for t in stmt.expressions:
            tt = _table_of(t)
            if tt is not None:
                a.writes.append(_ref(tt))
        a.kind = "TRUNCATE"
    elif isinstance(stmt, exp.Copy):
        t = _table_of(stmt.this)
        if t is not None and stmt.args.get("kind"):  # COPY t FROM ...
            a.writes.append(_ref(t))
        a.kind = "COPY"
    elif isinstance(stmt, exp.Select | exp.Union | exp.Intersect | exp.Except):
        into = stmt.args.get("into")
        if into is not None:
            t = _table_of(into)
            if t is not None:
                a.creates.append(_ref(t))
            a.kind = "CREATE"
        else:
            a.kind = "SELECT"
    # A created or written table is not "read" from the base unless mentioned elsewhere.
    targets = {(r.schema, r.name) for r in a.creates}
    a.reads = [r for r in a.reads if (r.schema, r.name) not in targets or r in a.writes]
    return a
