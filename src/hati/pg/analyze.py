"""What a parsed statement is and what it touches.

One walk over PostgreSQL's parse tree finds every relation the statement names (with
the role it plays: read, written, created, dropped), every function, every type and every
schema it mentions. CTE names are scoped as PostgreSQL scopes them, so a CTE is never
taken for a table. The router decides where each relation lives; the guard decides
whether the statement may run at all; nothing here looks at the database.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.enums import ObjectType, TransactionStmtKind

# The schema unqualified names resolve to: PostgreSQL's public, DuckDB's main. A
# TableRef's schema is None for both.
DEFAULT_SCHEMAS = frozenset({"public", "main"})


class Role(enum.Enum):
    READ = "read"
    WRITE = "write"
    CREATE = "create"
    DROP = "drop"


@dataclass(eq=False)
class TableRef:
    """One mention of a relation. ``node`` is the RangeVar (None for DROP's names)."""

    schema: str | None
    name: str
    role: Role
    node: ast.Node | None = field(default=None, repr=False)
    catalog: str | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.schema, self.name)


# Top-level statement node -> (legacy kind, command tag). The legacy kind is what the
# branch router understands (it predates this module).
_KINDS: dict[type[ast.Node], tuple[str, str]] = {
    ast.SelectStmt: ("SELECT", "SELECT"),
    ast.DoStmt: ("DO", "DO"),
    ast.InsertStmt: ("INSERT", "INSERT"),
    ast.UpdateStmt: ("UPDATE", "UPDATE"),
    ast.DeleteStmt: ("DELETE", "DELETE"),
    ast.MergeStmt: ("MERGE", "MERGE"),
    ast.CreateStmt: ("CREATE", "CREATE TABLE"),
    ast.CreateTableAsStmt: ("CREATE", "SELECT"),
    ast.ViewStmt: ("CREATE", "CREATE VIEW"),
    ast.IndexStmt: ("CREATE_INDEX", "CREATE INDEX"),
    ast.AlterTableStmt: ("ALTER", "ALTER TABLE"),
    ast.RenameStmt: ("ALTER", "ALTER TABLE"),
    ast.DropStmt: ("DROP", "DROP TABLE"),
    ast.TruncateStmt: ("TRUNCATE", "TRUNCATE TABLE"),
    ast.CreateSeqStmt: ("CREATE_OTHER", "CREATE SEQUENCE"),
    ast.AlterSeqStmt: ("CREATE_OTHER", "ALTER SEQUENCE"),
    ast.TransactionStmt: ("TRANSACTION", "BEGIN"),
    ast.VariableSetStmt: ("SET", "SET"),
    ast.VariableShowStmt: ("SHOW", "SHOW"),
    ast.ExplainStmt: ("EXPLAIN", "EXPLAIN"),
    ast.CopyStmt: ("COPY", "COPY"),
    ast.DeclareCursorStmt: ("DECLARE", "DECLARE CURSOR"),
    ast.FetchStmt: ("FETCH", "FETCH"),
    ast.ClosePortalStmt: ("CLOSE", "CLOSE CURSOR"),
    ast.PrepareStmt: ("PREPARE", "PREPARE"),
    ast.ExecuteStmt: ("EXECUTE", "EXECUTE"),
    ast.DeallocateStmt: ("DEALLOCATE", "DEALLOCATE"),
    ast.DiscardStmt: ("DISCARD", "DISCARD ALL"),
    ast.ListenStmt: ("LISTEN", "LISTEN"),
    ast.UnlistenStmt: ("UNLISTEN", "UNLISTEN"),
    ast.NotifyStmt: ("NOTIFY", "NOTIFY"),
    ast.CheckPointStmt: ("CHECKPOINT", "CHECKPOINT"),
    ast.VacuumStmt: ("VACUUM", "VACUUM"),
    ast.LockStmt: ("LOCK", "LOCK TABLE"),
    ast.CommentStmt: ("COMMENT", "COMMENT"),
    ast.CreateEnumStmt: ("CREATE_OTHER", "CREATE TYPE"),
    ast.CreateFunctionStmt: ("CREATE_OTHER", "CREATE FUNCTION"),
    ast.CreateTrigStmt: ("CREATE_OTHER", "CREATE TRIGGER"),
    ast.CompositeTypeStmt: ("CREATE_OTHER", "CREATE TYPE"),
    ast.CreateDomainStmt: ("CREATE_OTHER", "CREATE DOMAIN"),
    ast.CreateSchemaStmt: ("CREATE_OTHER", "CREATE SCHEMA"),
}

_TXN_TAGS = {
    TransactionStmtKind.TRANS_STMT_BEGIN: "BEGIN",
    TransactionStmtKind.TRANS_STMT_START: "START TRANSACTION",
    TransactionStmtKind.TRANS_STMT_COMMIT: "COMMIT",
    TransactionStmtKind.TRANS_STMT_ROLLBACK: "ROLLBACK",
    TransactionStmtKind.TRANS_STMT_SAVEPOINT: "SAVEPOINT",
    TransactionStmtKind.TRANS_STMT_RELEASE: "RELEASE",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_TO: "ROLLBACK",
    TransactionStmtKind.TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
}

_DROP_TAGS = {
    ObjectType.OBJECT_TABLE: "DROP TABLE",
    ObjectType.OBJECT_VIEW: "DROP VIEW",
    ObjectType.OBJECT_INDEX: "DROP INDEX",
    ObjectType.OBJECT_SEQUENCE: "DROP SEQUENCE",
    ObjectType.OBJECT_SCHEMA: "DROP SCHEMA",
    ObjectType.OBJECT_TYPE: "DROP TYPE",
    ObjectType.OBJECT_FUNCTION: "DROP FUNCTION",
    ObjectType.OBJECT_TRIGGER: "DROP TRIGGER",
    ObjectType.OBJECT_DOMAIN: "DROP DOMAIN",
    ObjectType.OBJECT_MATVIEW: "DROP MATERIALIZED VIEW",
}


@dataclass(frozen=True)
class RowLocks:
    """What ``SELECT ... FOR UPDATE/SHARE [OF t] [NOWAIT | SKIP LOCKED]`` asked for
    (hati.pg.translate.locking): the tables to lock, all of the query's when ``tables``
    is empty."""

    strength: str  # "FOR UPDATE", "FOR SHARE", ... as PostgreSQL writes it
    wait: str  # "wait" | "nowait" | "skip"
    tables: tuple[str, ...] = ()

    def join(self, other: RowLocks) -> RowLocks:
        if not self.tables or not other.tables:
            names: tuple[str, ...] = ()
        else:
            names = tuple(sorted({*self.tables, *other.tables}))
        wait = "skip" if "skip" in (self.wait, other.wait) else max(self.wait, other.wait)
        return RowLocks(self.strength, wait, names)

    def names(self, a: Analysis, schema: str) -> list[str]:
        """The locks to take (hati.pg.locks): tables read by the query (named in OF, if
        given), named by ``schema`` where unqualified (main, or a branch's schema)."""
        return sorted(
            {
                f"{(t.schema or schema).lower()}.{t.name.lower()}"
                for t in a.reads
                if not self.tables or t.name.lower() in self.tables
            }
        )


@dataclass(eq=False)
class Analysis:
    """The statement's kind, its command tag and everything it names."""

    node: ast.Node = field(repr=False)
    kind: str
    command: str
    tables: list[TableRef] = field(default_factory=list)
    functions: list[tuple[str, ...]] = field(default_factory=list)
    table_functions: list[tuple[str, ...]] = field(default_factory=list)  # called in FROM
    types: list[tuple[str, ...]] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)  # schemas named outside relations
    if_exists: bool = False
    if_not_exists: bool = False
    is_view: bool = False
    temporary: bool = False
    returning: bool = False
    row_locks: RowLocks | None = None  # SELECT ... FOR UPDATE / SHARE (translate.locking)

    def _by(self, role: Role) -> list[TableRef]:
        return [t for t in self.tables if t.role is role]

    @property
    def reads(self) -> list[TableRef]:
        return self._by(Role.READ)

    @property
    def writes(self) -> list[TableRef]:
        return self._by(Role.WRITE)

    @property
    def creates(self) -> list[TableRef]:
        return self._by(Role.CREATE)

    @property
    def drops(self) -> list[TableRef]:
        return self._by(Role.DROP)

    @property
    def changes_data(self) -> bool:
        """Writes, creates or drops a relation (or is a kind that always writes)."""
        return bool(self.writes or self.creates or self.drops) or self.kind in (
            "INSERT",
            "UPDATE",
            "DELETE",
            "MERGE",
            "TRUNCATE",
        )


def returning_list(node: ast.Node) -> tuple[ast.Node, ...] | None:
    """The RETURNING targets of an INSERT/UPDATE/DELETE/MERGE (PostgreSQL 18's grammar
    keeps them in a ReturningClause)."""
    clause = getattr(node, "returningClause", None)
    if clause is not None:
        return clause.exprs or None
    return getattr(node, "returningList", None) or None


def children(node: ast.Node) -> Iterator[tuple[str, ast.Node]]:
    """(attribute, child) for every node directly below ``node``."""
    for attr in node.__slots__:
        value = getattr(node, attr)
        if isinstance(value, ast.Node):
            yield attr, value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, ast.Node):
                    yield attr, item
                elif isinstance(item, tuple):
                    for sub in item:
                        if isinstance(sub, ast.Node):
                            yield attr, sub


def replace_nodes(node: Any, swap: Callable[[ast.Node], ast.Node | None]) -> Any:
    """``node`` with every node for which ``swap`` gives a replacement replaced (in place
    below the top; ``swap`` returning None leaves a node and looks inside it)."""
    if isinstance(node, tuple):
        return tuple(replace_nodes(v, swap) for v in node)
    if isinstance(node, ast.Node):
        new = swap(node)
        if new is not None:
            return new
        for attr in node.__slots__:
            child = getattr(node, attr, None)
            if isinstance(child, ast.Node | tuple):
                setattr(node, attr, replace_nodes(child, swap))
    return node


def _names(items: tuple[ast.Node, ...] | None) -> tuple[str, ...]:
    return tuple(i.sval or "" for i in items or () if isinstance(i, ast.String))


_DML_NODES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


class _Walker:
    def __init__(self, a: Analysis) -> None:
        self.a = a

    def table(self, rv: ast.RangeVar, role: Role, scope: frozenset[str]) -> None:
        if role is Role.READ and rv.schemaname is None and rv.relname in scope:
            return  # a CTE
        schema = None if rv.schemaname in DEFAULT_SCHEMAS else rv.schemaname
        self.a.tables.append(TableRef(schema, rv.relname, role, rv, rv.catalogname))

    def walk(self, node: ast.Node, scope: frozenset[str]) -> None:
        if isinstance(node, ast.WithClause):
            return  # handled by the statement that owns it (scope first)
        with_clause = getattr(node, "withClause", None)
        if isinstance(with_clause, ast.WithClause):
            scope = self.ctes(with_clause, scope)
        if isinstance(node, ast.RangeVar):
            self.table(node, Role.READ, scope)
            return
        if isinstance(node, _DML_NODES) and node.relation is not None:
            # A data-modifying CTE (WITH x AS (DELETE FROM t ...) SELECT ...) writes t.
            self.table(node.relation, Role.WRITE, scope)
            for attr, child in children(node):
                if attr not in ("withClause", "relation"):
                    self.walk(child, scope)
            return
        self.names(node)
        for attr, child in children(node):
            if attr == "withClause":
                continue
            self.walk(child, scope)

    def names(self, node: ast.Node) -> None:
        """Record the functions, types and schemas ``node`` itself names."""
        if isinstance(node, ast.RangeFunction):
            for item in node.functions or ():
                call = item[0] if isinstance(item, tuple) and item else item
                if isinstance(call, ast.FuncCall):
                    self.a.table_functions.append(_names(call.funcname))
        elif isinstance(node, ast.FuncCall):
            self.a.functions.append(_names(node.funcname))
        elif isinstance(node, ast.TypeName):
            self.a.types.append(_names(node.names))
        elif isinstance(node, ast.ColumnRef) and len(node.fields) >= 3:
            self.a.schemas.append(_names(node.fields)[0])

    def ctes(self, w: ast.WithClause, scope: frozenset[str]) -> frozenset[str]:
        names = [c.ctename for c in w.ctes or ()]
        if w.recursive:
            scope = scope | set(names)
            for c in w.ctes or ():
                self.walk(c.ctequery, scope)
            return scope
        for c in w.ctes or ():
            self.walk(c.ctequery, scope)
            scope = scope | {c.ctename}
        return scope


def analyze(stmt: ast.Node) -> Analysis:  # noqa: C901 - one case per statement kind
    """The Analysis of one top-level statement (a RawStmt's ``stmt``)."""
    kind, command = _KINDS.get(type(stmt), (type(stmt).__name__.upper(), ""))
    a = Analysis(stmt, kind, command)
    w = _Walker(a)
    scope: frozenset[str] = frozenset()
    if isinstance(getattr(stmt, "withClause", None), ast.WithClause):
        scope = w.ctes(stmt.withClause, scope)
    skip: set[int] = set()  # child nodes already recorded with their own role

    def target(rv: ast.RangeVar | None, role: Role) -> None:
        if rv is not None:
            w.table(rv, role, scope)
            skip.add(id(rv))

    if isinstance(stmt, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt):
        target(stmt.relation, Role.WRITE)
        a.returning = returning_list(stmt) is not None
    elif isinstance(stmt, ast.SelectStmt) and stmt.intoClause is not None:
        target(stmt.intoClause.rel, Role.CREATE)
        a.kind, a.command = "CREATE", "SELECT"
        a.temporary = stmt.intoClause.rel.relpersistence == "t"
    elif isinstance(stmt, ast.CreateStmt):
        target(stmt.relation, Role.CREATE)
        a.if_not_exists = bool(stmt.if_not_exists)
        a.temporary = stmt.relation.relpersistence == "t"
    elif isinstance(stmt, ast.CreateTableAsStmt):
        target(stmt.into.rel, Role.CREATE)
        a.if_not_exists = bool(stmt.if_not_exists)
        a.temporary = stmt.into.rel.relpersistence == "t"
        if stmt.objtype == ObjectType.OBJECT_MATVIEW:
            a.command = "SELECT"
    elif isinstance(stmt, ast.ViewStmt):
        target(stmt.view, Role.CREATE)
        a.is_view = True
        a.temporary = stmt.view.relpersistence == "t"
    elif isinstance(stmt, ast.IndexStmt):
        target(stmt.relation, Role.WRITE)
        a.if_not_exists = bool(stmt.if_not_exists)
    elif isinstance(stmt, ast.AlterTableStmt):
        target(stmt.relation, Role.WRITE)
        a.if_exists = bool(stmt.missing_ok)
        if stmt.objtype == ObjectType.OBJECT_VIEW:
            a.command, a.is_view = "ALTER VIEW", True
        elif stmt.objtype == ObjectType.OBJECT_SEQUENCE:
            a.kind, a.command = "CREATE_OTHER", "ALTER SEQUENCE"
        elif stmt.objtype == ObjectType.OBJECT_INDEX:
            a.kind, a.command = "CREATE_OTHER", "ALTER INDEX"
    elif isinstance(stmt, ast.RenameStmt):
        _rename(a, stmt, target)
    elif isinstance(stmt, ast.DropStmt):
        a.if_exists = bool(stmt.missing_ok)
        a.command = _DROP_TAGS.get(stmt.removeType, "DROP")
        if stmt.removeType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW):
            a.is_view = stmt.removeType == ObjectType.OBJECT_VIEW
            for obj in stmt.objects or ():
                names = _names(obj)
                schema = names[-2] if len(names) > 1 else None
                schema = None if schema in DEFAULT_SCHEMAS else schema
                a.tables.append(TableRef(schema, names[-1], Role.DROP, None))
        else:
            a.kind = "DROP_OTHER"
            for obj in stmt.objects or ():
                if isinstance(obj, ast.String):  # DROP SCHEMA s
                    a.schemas.append(obj.sval)
                elif isinstance(obj, tuple) and len(_names(obj)) > 1:
                    a.schemas.append(_names(obj)[0])
    elif isinstance(stmt, ast.CommentStmt):
        _comment(a, stmt)
    elif isinstance(stmt, ast.TruncateStmt):
        for rv in stmt.relations or ():
            target(rv, Role.WRITE)
    elif isinstance(stmt, ast.CopyStmt):
        if stmt.relation is not None:
            target(stmt.relation, Role.WRITE if stmt.is_from else Role.READ)
    elif isinstance(stmt, ast.TransactionStmt):
        a.command = _TXN_TAGS.get(stmt.kind, "BEGIN")
    elif isinstance(stmt, ast.CreateSchemaStmt):
        a.if_not_exists = bool(stmt.if_not_exists)
        if stmt.schemaname:
            a.schemas.append(stmt.schemaname)
    elif isinstance(stmt, ast.CreateSeqStmt):
        a.if_not_exists = bool(stmt.if_not_exists)
        if stmt.sequence.schemaname:
            a.schemas.append(stmt.sequence.schemaname)
        skip.add(id(stmt.sequence))
    elif isinstance(stmt, ast.AlterSeqStmt):
        a.if_exists = bool(stmt.missing_ok)
        if stmt.sequence.schemaname:
            a.schemas.append(stmt.sequence.schemaname)
        skip.add(id(stmt.sequence))
    for attr, child in children(stmt):
        if attr == "withClause" or id(child) in skip:
            continue
        w.walk(child, scope)
    return a


_COMMENTED_RELATIONS = frozenset(
    {
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_VIEW,
        ObjectType.OBJECT_MATVIEW,
        ObjectType.OBJECT_FOREIGN_TABLE,
        ObjectType.OBJECT_INDEX,
        ObjectType.OBJECT_SEQUENCE,
    }
)


def _comment(a: Analysis, stmt: ast.CommentStmt) -> None:
    """COMMENT ON a relation, its column or constraint changes that relation."""
    names: list[str] = (
        [str(n.sval) for n in stmt.object if isinstance(n, ast.String)]
        if isinstance(stmt.object, tuple)
        else []
    )
    if stmt.objtype in (ObjectType.OBJECT_COLUMN, ObjectType.OBJECT_TABCONSTRAINT):
        names = names[:-1]
    elif stmt.objtype not in _COMMENTED_RELATIONS:
        names = []
    if names:
        schema = names[-2] if len(names) > 1 else None
        schema = None if schema in DEFAULT_SCHEMAS else schema
        a.tables.append(TableRef(schema, names[-1], Role.WRITE, None))


def _rename(a: Analysis, stmt: ast.RenameStmt, target: object) -> None:
    assert callable(target)
    if stmt.renameType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW):
        target(stmt.relation, Role.WRITE)
        a.tables.append(TableRef(None, stmt.newname, Role.CREATE, None))
        a.is_view = stmt.renameType == ObjectType.OBJECT_VIEW
        a.command = "ALTER VIEW" if a.is_view else "ALTER TABLE"
    elif stmt.renameType == ObjectType.OBJECT_INDEX:
        a.kind, a.command = "CREATE_OTHER", "ALTER INDEX"
    elif stmt.renameType == ObjectType.OBJECT_SEQUENCE:
        a.kind, a.command = "CREATE_OTHER", "ALTER SEQUENCE"
    elif stmt.relation is not None:  # a column or constraint of a table
        target(stmt.relation, Role.WRITE)
    else:
        a.kind = "CREATE_OTHER"
    a.if_exists = bool(stmt.missing_ok)
