"""Partition DDL on existing trees (``partitions.py``): DROP and TRUNCATE of a
partition, DROP of a partitioned table, ATTACH / DETACH PARTITION."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import parser

from hati.errors import (
    CheckViolation,
    DatatypeMismatch,
    DuplicateTable,
    FeatureNotSupported,
    InvalidObjectDefinition,
    UndefinedTable,
    WrongObjectType,
)
from hati.pg import inherits, render
from hati.pg.emulate import Emulated, Printer, locate, qualified
from hati.pg.partitions import (
    TABLE,
    Changes,
    Node,
    Tree,
    columns,
    define,
    duck_sql,
    load,
    quote,
    refuse_in_branch,
    schema_of,
    table_exists,
)


# ---------------------------------------------------------------- DROP, TRUNCATE, ATTACH, DETACH
def _forget(cur: duckdb.DuckDBPyConnection, nodes: list[Node]) -> None:
    for n in nodes:
        cur.execute(f"DELETE FROM {TABLE} WHERE schema_name = $1 AND name = $2", [n.schema, n.name])


def _delete_rows(cur: duckdb.DuckDBPyConnection, tree: Tree, node: Node) -> None:
    cur.execute(
        duck_sql(f"DELETE FROM {qualified(node.schema, node.root)} WHERE {tree.path(node)}")
    )


@dataclass
class DropPartition(Changes):
    """DROP TABLE of a partition: its rows leave the root, its name (and its own
    partitions') is forgotten."""

    schema: str
    name: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        refuse_in_branch(branch)
        tree = load(cur)
        node = tree.find(self.schema, self.name)
        if node is None:
            raise UndefinedTable(f'table "{self.name}" does not exist')
        _delete_rows(cur, tree, node)
        _forget(cur, tree.subtree(node))


@dataclass
class DropRoot(Changes):
    """DROP TABLE of a partitioned table: the table, and every partition's name."""

    drop: Any  # a DropStmt of this one table
    schema: str
    name: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        refuse_in_branch(branch)
        cur.execute(printed(self.drop))
        tree = load(cur)
        node = tree.find(self.schema, self.name)
        if node is not None:
            _forget(cur, tree.subtree(node))


@dataclass
class Plain(Emulated):
    """A statement of a multi-relation DROP/TRUNCATE that names no partition."""

    stmt: Any

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        cur.execute(printed(self.stmt))


@dataclass
class TruncatePartition(Emulated):
    """TRUNCATE of a partition: the root's rows within its bounds go."""

    schema: str
    name: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        tree = load(cur)
        node = tree.find(self.schema, self.name)
        if node is None:
            raise UndefinedTable(f'relation "{self.name}" does not exist')
        stmt: Any = parser.parse_sql(
            f"DELETE FROM {quote(node.schema)}.{quote(node.root)} WHERE {tree.path(node)}"
        )[0].stmt
        if node.schema == "main":
            stmt.relation.schemaname = None
        cur.execute(printed(stmt))


@dataclass
class Attach(Changes):
    """ALTER TABLE p ATTACH PARTITION t FOR VALUES ...: t's rows move into the root
    (each within the bound, else 23514, as PostgreSQL's scan of t) and t becomes a name."""

    parent: Any
    child: Any
    bound: Any

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        refuse_in_branch(branch)
        tree = load(cur)
        pschema = schema_of(cur, self.parent)
        parent = tree.find(pschema, self.parent.relname)
        if parent is None or parent.strategy is None:
            if not table_exists(cur, pschema, self.parent.relname):
                raise UndefinedTable(f'relation "{self.parent.relname}" does not exist')
            raise WrongObjectType(f'table "{self.parent.relname}" is not partitioned')
        schema, name = locate(cur, printed, self.child)
        existing = tree.find(schema, name)
        if existing is not None and existing.parent is not None:
            raise InvalidObjectDefinition(f'"{name}" is already a partition')
        if existing is not None and existing.root == parent.root:
            raise DuplicateTable("circular inheritance not allowed")
        _attachable(cur, parent, schema, name)
        mine, theirs = _matching(cur, parent, schema, name)
        subtree = tree.subtree(existing) if existing is not None else []
        _forget(cur, subtree[:1])  # a partitioned table joins the tree as its partition
        order = tuple(mine)
        own = order if order != tuple(c for c, _ in theirs) else None
        node = define(cur, load(cur), parent, parent.schema, name, self.bound, None, own)
        if existing is not None:
            cur.execute(
                f"UPDATE {TABLE} SET strategy = $3, key = $4 WHERE schema_name = $1 AND name = $2",
                [node.schema, name, existing.strategy, list(existing.key)],
            )
            for n in subtree[1:]:
                cur.execute(
                    f"UPDATE {TABLE} SET root = $3, cols = coalesce(cols, $4) "
                    "WHERE schema_name = $1 AND name = $2",
                    [n.schema, n.name, parent.root, list(own) if own else None],
                )
        cond = load(cur).path(node)
        src = qualified(schema, name)
        bad = cur.execute(duck_sql(f"SELECT 1 FROM {src} WHERE NOT ({cond}) LIMIT 1")).fetchone()
        if bad is not None:
            raise CheckViolation(
                f'partition constraint of relation "{name}" is violated by some row'
            )
        cols = ", ".join(render.quote_name(c) for c, _ in theirs)
        cur.execute(
            f"INSERT INTO {qualified(parent.schema, parent.root)} ({cols}) SELECT {cols} FROM {src}"
        )
        cur.execute(f"DROP TABLE {src}")


def _matching(
    cur: duckdb.DuckDBPyConnection, parent: Any, schema: str, name: str
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The table's columns and the partitioned table's, checked to match: the same
    names and types, the parent's CHECK constraints (42804)."""
    mine = dict(columns(cur, schema, name))
    theirs = columns(cur, parent.schema, parent.root)
    missing = [c for c, _ in theirs if c not in mine]
    extra = [c for c in mine if c not in dict(theirs)]
    if missing or extra:
        col = (extra or missing)[0]
        raise WrongObjectType(
            f'table "{name}" contains column "{col}" not found in parent "{parent.name}"'
            if extra
            else f'child table is missing column "{col}"'
        )
    for col, typ in theirs:
        if mine[col] != typ:
            raise DatatypeMismatch(f'child table "{name}" has different type for column "{col}"')
    wanted, have = (inherits.checks(cur, parent.schema, parent.root),
                    inherits.checks(cur, schema, name))  # fmt: skip
    for check in sorted(wanted):
        if check not in have:
            raise DatatypeMismatch(f'child table is missing constraint "{check}"')
        if have[check] != wanted[check]:
            raise DatatypeMismatch(
                f'child table "{name}" has different definition for check constraint "{check}"'
            )
    return mine, theirs


def _temporary(cur: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = cur.execute(
        "SELECT bool_or(temporary) FROM duckdb_tables() WHERE table_name = $1", [table]
    ).fetchone()
    return bool(row and row[0])


def _attachable(cur: duckdb.DuckDBPyConnection, parent: Any, schema: str, name: str) -> None:
    """A table of an inheritance tree, or of another persistence than the partitioned
    table, is no partition (42809)."""
    links = cur.execute(
        f"SELECT count(*) FILTER (WHERE child = $2), count(*) FILTER (WHERE parent = $2) "
        f"FROM {inherits.TABLE} WHERE schema_name = $1",
        [schema, name],
    ).fetchone()
    if links and links[0]:
        raise WrongObjectType("cannot attach inheritance child as partition")
    if links and links[1]:
        raise WrongObjectType("cannot attach inheritance parent as partition")
    temp, parent_temp = _temporary(cur, name), _temporary(cur, parent.root)
    if temp != parent_temp:
        kind, other = ("temporary", "permanent") if temp else ("permanent", "temporary")
        raise WrongObjectType(
            f'cannot attach a {kind} relation as partition of {other} relation "{parent.name}"'
        )


@dataclass
class Detach(Changes):
    """ALTER TABLE p DETACH PARTITION x: x becomes a table of its own with its rows."""

    parent: Any
    child: Any

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        refuse_in_branch(branch)
        tree = load(cur)
        schema = schema_of(cur, self.child)
        node = tree.find(schema, self.child.relname)
        pnode = tree.find(schema_of(cur, self.parent), self.parent.relname)
        if node is None or pnode is None or node.parent != pnode.name:
            raise UndefinedTable(
                f'relation "{self.child.relname}" is not a partition of relation '
                f'"{self.parent.relname}"'
            )
        if node.strategy is not None:
            raise FeatureNotSupported("DETACH of a partitioned partition is not supported")
        root = qualified(node.schema, node.root)
        cur.execute(
            f"CREATE TABLE {qualified(node.schema, node.name)} AS SELECT * FROM {root} LIMIT 0"
        )
        cur.execute(
            duck_sql(
                f"INSERT INTO {quote(node.schema)}.{quote(node.name)} SELECT * FROM "
                f"{quote(node.schema)}.{quote(node.root)} WHERE {tree.path(node)}"
            )
        )
        _delete_rows(cur, tree, node)
        _forget(cur, [node])
