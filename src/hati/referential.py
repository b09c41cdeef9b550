"""Foreign keys hati keeps (``pg/foreignkeys.py``): checked, and their actions applied,
after every write to either of their tables, on main and in a branch.

A write runs as ``run``: what must be known before it (the old and new keys of an
UPDATE the key's ON UPDATE CASCADE follows), the statement, then for each foreign key
of a table it wrote:

- the parent's side: a DELETE (or an UPDATE of the referenced columns) that left rows
  of the child without their parent either fails (NO ACTION, RESTRICT: 23503, in
  PostgreSQL's words) or applies the action: CASCADE deletes them (or gives them the
  new key), SET NULL / SET DEFAULT sets their key columns;
- the child's side: a row written whose key the parent lacks fails with 23503.

Each action is an ordinary PostgreSQL statement run in the session's place (main, or
the branch, whose copy-on-write it goes through like any write), so its own foreign
keys are kept in turn: cascades follow the keys down. A write outside a transaction
block and its actions commit together.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
from pglast import ast, parser
from pglast.enums import DropBehavior
from pglast.stream import RawStream

from hati import lengths, pipeline
from hati.branching.constraints import may_orphan
from hati.errors import DependentObjectsStillExist, FeatureNotSupported, ForeignKeyViolation
from hati.pg import coltypes, foreignkeys, sequence_rows, triggerdefs
from hati.pg.foreignkeys import ForeignKey, orphan_condition, relation
from hati.pg.frontend import FrontEnd
from hati.pipeline import Statement, compile_one
from hati.results import Result
from hati.storage import duckdb_backend as storage
from hati.storage.duckdb_backend import qident

_DATA = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "EXPLAIN"})
Execute = Callable[[Statement], Result]
Compile = Callable[[str, list[Any]], Statement]


@dataclass
class Registry:
    """The foreign keys hati keeps, read once and again after DDL (every session's)."""

    _fks: list[ForeignKey] | None = None
    _lengths: dict[tuple[str, str], dict[str, tuple[str, int]]] | None = None
    _sequences: frozenset[tuple[str, str]] | None = None
    _triggers: triggerdefs.Defs | None = None
    _generation: int = 0
    _ddl: set[int] = field(default_factory=set)  # sessions with DDL in their transaction
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, cur: duckdb.DuckDBPyConnection, session: int) -> list[ForeignKey]:
        fks = self._fks
        if fks is not None and session not in self._ddl:
            return fks
        gen = self._generation
        fks = foreignkeys.load(cur)
        with self._lock:
            if gen == self._generation and session not in self._ddl:
                self._fks = fks  # not while this session's own DDL is uncommitted
        return fks

    def lengths(
        self, cur: duckdb.DuckDBPyConnection, session: int
    ) -> dict[tuple[str, str], dict[str, tuple[str, int]]]:
        """(schema, table) -> column -> (udt_name, n) of varchar(n) / char(n) columns."""
        got = self._lengths
        if got is not None and session not in self._ddl:
            return got
        gen = self._generation
        got = {}
        for schema, table, column, udt, n in cur.execute(
            f"SELECT schema_name, table_name, column_name, udt_name, length "
            f"FROM {coltypes.TABLE} WHERE length IS NOT NULL"
        ).fetchall():
            got.setdefault((schema, table.lower()), {})[column] = (udt, int(n))
        with self._lock:
            if gen == self._generation and session not in self._ddl:
                self._lengths = got
        return got

    def sequences(self, cur: duckdb.DuckDBPyConnection, session: int) -> frozenset[tuple[str, str]]:
        """(schema, name) of every sequence (a relation a SELECT may read)."""
        got = self._sequences
        if got is not None and session not in self._ddl:
            return got
        gen = self._generation
        got = sequence_rows.read_names(cur)
        with self._lock:
            if gen == self._generation and session not in self._ddl:
                self._sequences = got
        return got

    def triggers(
        self,
        cur: duckdb.DuckDBPyConnection,
        session: int,
        reader: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> triggerdefs.Defs:
        """Every trigger and trigger function (hati/triggers.py fires them), read on a
        cursor of ``reader``'s when given and the session changed none (a read on the
        session's cursor before a write's table lock would begin its snapshot early)."""
        got = self._triggers
        if got is not None and session not in self._ddl:
            return got
        gen = self._generation
        if reader is not None and session not in self._ddl:
            other = reader()
            try:
                got = triggerdefs.load(other)
            finally:
                other.close()
        else:
            got = triggerdefs.load(cur)
        with self._lock:
            if gen == self._generation and session not in self._ddl:
                self._triggers = got
        return got

    def sequence_rows(self, cur: duckdb.DuckDBPyConnection, session: int, stmt: Statement) -> None:
        """A SELECT's relations that name sequences, printed as their rows."""
        if isinstance(stmt.node, ast.SelectStmt):
            sequence_rows.answer(cur, self.sequences(cur, session), stmt)

    def ran(self, session: int, kind: str, in_block: bool) -> None:
        """A statement of ``kind`` ran: DDL may have changed the foreign keys."""
        if kind in _DATA:
            return
        with self._lock:
            self._generation += 1
            self._fks = self._lengths = self._sequences = self._triggers = None
            if in_block:
                self._ddl.add(session)

    def ended(self, session: int) -> None:
        """The session's transaction ended (its DDL is now everyone's, or gone)."""
        if session in self._ddl:
            with self._lock:
                self._ddl.discard(session)
                self._generation += 1
                self._fks = self._lengths = self._sequences = self._triggers = None


@dataclass
class Place:
    """Where a session's statements run now: how to compile and execute one there."""

    cur: duckdb.DuckDBPyConnection
    compile: Compile
    execute: Execute
    own_transaction: bool  # outside a transaction block: a write and its actions commit together
    branch: bool = False
    before_begin: Callable[[], None] | None = None  # told before that transaction begins


def _names(refs: list[Any]) -> set[str]:
    return {(r.schema or "main").lower() + "." + r.name.lower() for r in refs}


def _key(schema: str, table: str) -> str:
    return f"{schema.lower()}.{table.lower()}"


def relevant(fks: list[ForeignKey], stmt: Statement) -> list[ForeignKey]:
    a = stmt.analysis
    touched = _names([*a.writes, *a.drops])
    return [
        fk
        for fk in fks
        if _key(fk.schema, fk.child) in touched or _key(fk.pschema, fk.parent) in touched
    ]


class Session(Protocol):
    cur: duckdb.DuckDBPyConnection
    branch: str | None
    branches: Any  # the session's EngineSession

    @property
    def frontend(self) -> FrontEnd: ...

    @property
    def state(self) -> Any: ...


def on_main(session: Session, stmt: Statement, own: bool) -> Result:
    """A write on main: live branches keep what they read of its tables, then it runs."""

    def execute(s: Statement) -> Result:
        session.branches.before_main_write(s)
        return pipeline.execute(session.cur, s)

    return run_in(session, stmt, execute, own, session.branches.statement_transaction)


def run_in(
    session: Session,
    stmt: Statement,
    execute: Execute,
    own: bool,
    before_begin: Callable[[], None] | None = None,
) -> Result:
    """``execute`` the session's statement where it runs (``own``: outside a transaction
    block), keeping the foreign keys hati keeps (``before_begin``: told before a
    transaction of the statement's own begins)."""
    branch = session.branch is not None

    def compile_(sql: str, params: list[Any]) -> Statement:
        stmt = compile_one(session.frontend, sql, params)
        stmt.in_branch = branch
        return stmt

    place = Place(session.cur, compile_, execute, own, branch, before_begin)
    return run(session.state.keys, id(session), place, stmt)


def run(registry: Registry, session: int, place: Place, stmt: Statement) -> Result:
    """The statement, with the foreign keys hati keeps checked and their actions applied
    (and the values it writes to varchar(n) / char(n) columns checked first)."""
    if isinstance(stmt.node, ast.InsertStmt | ast.UpdateStmt):
        lengths.check(registry.lengths(place.cur, session), place.cur, stmt)

    fks = (
        relevant(registry.get(place.cur, session), stmt)
        if stmt.analysis.writes or (stmt.analysis.drops)
        else []
    )
    if not fks:
        res = place.execute(stmt)
        dropped = isinstance(stmt.node, ast.DropStmt) and not place.branch
        if dropped and registry.triggers(place.cur, session).tables:
            triggerdefs.forget_tables(place.cur)
        registry.ran(session, stmt.kind, not place.own_transaction)
        return res
    own = place.own_transaction
    if own:
        if place.before_begin is not None:
            place.before_begin()
        storage.begin(place.cur)
    nested = Place(place.cur, place.compile, place.execute, False, place.branch)
    try:
        before = _before(fks, stmt, nested)
        res = place.execute(stmt).buffer()
        _after(registry, session, fks, stmt, nested, before)
        if own:
            storage.commit(place.cur)
    except BaseException:
        if own:
            with contextlib.suppress(duckdb.Error):
                storage.rollback(place.cur)
        raise
    registry.ran(session, stmt.kind, not own)
    return res


def _sub(registry: Registry, session: int, place: Place, sql: str, params: list[Any]) -> Result:
    return run(registry, session, place, place.compile(sql, params))


# ---------------------------------------------------------------- before
def _before(
    fks: list[ForeignKey], stmt: Statement, place: Place
) -> dict[str, list[tuple[tuple[Any, ...], tuple[Any, ...]]] | None]:
    """Refuse what PostgreSQL refuses before running (DROP / TRUNCATE of a referenced
    table); the (old key, new key) pairs an UPDATE's ON UPDATE CASCADE needs, by key."""
    a, node = stmt.analysis, stmt.node
    if isinstance(node, ast.DropStmt):
        dropped = _names(a.drops)
        for fk in fks:
            dependent = _key(fk.pschema, fk.parent) in dropped and (
                _key(fk.schema, fk.child) not in dropped
            )
            if dependent and node.behavior != DropBehavior.DROP_CASCADE:
                raise DependentObjectsStillExist(
                    f"cannot drop table {fk.parent} because other objects depend on it",
                    detail=f"constraint {fk.name} on table {fk.child} depends on table {fk.parent}",
                    hint="Use DROP ... CASCADE to drop the dependent objects too.",
                )
        return {}
    if isinstance(node, ast.TruncateStmt):
        cut = _names(a.writes)
        for fk in fks:
            dependent = _key(fk.pschema, fk.parent) in cut and _key(fk.schema, fk.child) not in cut
            if dependent and node.behavior != DropBehavior.DROP_CASCADE:
                raise FeatureNotSupported(
                    "cannot truncate a table referenced in a foreign key constraint",
                    detail=f'Table "{fk.child}" references "{fk.parent}".',
                    hint=f'Truncate table "{fk.child}" at the same time, or use '
                    "TRUNCATE ... CASCADE.",
                )
        return {}
    out: dict[str, list[tuple[tuple[Any, ...], tuple[Any, ...]]] | None] = {}
    if not isinstance(node, ast.UpdateStmt):
        return out
    rv: Any = node.relation
    target = _key(rv.schemaname or "main", rv.relname)
    if target.startswith("public."):
        target = "main." + target[len("public.") :]
    for fk in fks:
        if fk.on_update != "c" or _key(fk.pschema, fk.parent) != target:
            continue
        if not may_orphan(node, fk, False, True)[1]:
            continue
        out[fk.name] = _key_changes(stmt, fk, place)
    return out


def _key_changes(
    stmt: Statement, fk: ForeignKey, place: Place
) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]] | None:
    """(old, new) referenced key of each row the UPDATE changes (None: it cannot say:
    SET (a, b) = ..., WHERE CURRENT OF)."""
    tree: Any = parser.parse_sql(stmt.text)[0].stmt
    if not isinstance(tree, ast.UpdateStmt):
        return None
    rel: Any = tree.relation
    alias = rel.alias.aliasname if rel.alias else rel.relname
    assigned: dict[str, Any] = {}
    for t in tree.targetList or ():
        if (
            not isinstance(t, ast.ResTarget)
            or t.indirection
            or isinstance(t.val, ast.MultiAssignRef)
        ):
            return None
        assigned[str(t.name)] = t.val
    if isinstance(tree.whereClause, ast.CurrentOfExpr):
        return None

    def col(name: str) -> ast.ColumnRef:
        return ast.ColumnRef(fields=(ast.String(sval=alias), ast.String(sval=name)))

    targets = [ast.ResTarget(val=col(p)) for p in fk.pcols]
    for p in fk.pcols:
        new = assigned.get(p)
        if isinstance(new, ast.SetToDefault):
            return None
        targets.append(ast.ResTarget(val=new if new is not None else col(p)))
    sel = ast.SelectStmt(
        targetList=tuple(targets),
        fromClause=(rel, *(tree.fromClause or ())),
        whereClause=tree.whereClause,
        withClause=tree.withClause,
    )
    rows = place.execute(place.compile(RawStream()(sel), list(stmt.params))).tuples()
    n = len(fk.pcols)
    return [(tuple(r[:n]), tuple(r[n:])) for r in rows if tuple(r[:n]) != tuple(r[n:])]


# ---------------------------------------------------------------- after
def _after(
    registry: Registry,
    session: int,
    fks: list[ForeignKey],
    stmt: Statement,
    place: Place,
    before: dict[str, list[tuple[tuple[Any, ...], tuple[Any, ...]]] | None],
) -> None:
    a, node = stmt.analysis, stmt.node
    if isinstance(node, ast.DropStmt):
        if not place.branch:
            foreignkeys.forget_tables(place.cur)
            triggerdefs.forget_tables(place.cur)
        return
    written = _names(a.writes)
    if isinstance(node, ast.TruncateStmt):
        for fk in fks:
            if _key(fk.pschema, fk.parent) in written and _key(fk.schema, fk.child) not in written:
                _sub(registry, session, place, f"TRUNCATE {relation(fk.schema, fk.child)}", [])
        return
    for fk in fks:  # the parent's side first: actions may change the children
        child = _key(fk.schema, fk.child) in written
        parent = _key(fk.pschema, fk.parent) in written
        if parent and may_orphan(node, fk, False, True)[1]:
            _parent_side(registry, session, fk, stmt, place, before.get(fk.name, []))
        if child and may_orphan(node, fk, True, False)[0]:
            orphan = _first_orphan(fk, place)
            if orphan is not None:
                raise foreignkeys.child_violation(fk, orphan)


def _first_orphan(fk: ForeignKey, place: Place) -> tuple[Any, ...] | None:
    rows = place.execute(place.compile(foreignkeys.orphan_query(fk), [])).tuples()
    return tuple(rows[0]) if rows else None


def _parent_side(
    registry: Registry,
    session: int,
    fk: ForeignKey,
    stmt: Statement,
    place: Place,
    changes: list[tuple[tuple[Any, ...], tuple[Any, ...]]] | None,
) -> None:
    node = stmt.node
    deleting = isinstance(node, ast.DeleteStmt)
    action = _action(node, fk)
    c = qident("$fk_c")
    child = f"{relation(fk.schema, fk.child)} AS {c}"
    if action == "c" and not deleting:
        if changes is None or not isinstance(node, ast.UpdateStmt):
            if _first_orphan(fk, place) is None:
                return
            raise _cannot_follow(fk)
        if changes:
            _follow_keys(registry, session, fk, place, changes)
        orphan = _first_orphan(fk, place)
        if orphan is not None:  # changed by something the mapping did not see
            raise foreignkeys.parent_violation(fk, orphan)
        return
    orphan = _first_orphan(fk, place)
    if orphan is None:
        return
    if action in ("a", "r"):
        raise foreignkeys.parent_violation(fk, orphan)
    if action == "?":
        raise _cannot_follow(fk)
    where = orphan_condition(fk, c)
    if action == "c":
        _sub(registry, session, place, f"DELETE FROM {child} WHERE {where}", [])
        return
    cols = fk.set_cols if action == "n" and fk.set_cols else fk.cols
    value = "NULL" if action == "n" else "DEFAULT"
    sets = ", ".join(f"{qident(x)} = {value}" for x in cols)
    gone = set() if action == "n" else _orphan_keys(fk, place)
    try:
        _sub(registry, session, place, f"UPDATE {child} SET {sets} WHERE {where}", [])
    except ForeignKeyViolation as exc:
        # SET DEFAULT to a key this write removed: PostgreSQL reports the removal.
        if getattr(exc, "fk", None) == fk.name and getattr(exc, "key", None) in gone:
            raise foreignkeys.parent_violation(fk, exc.key) from None  # type: ignore[attr-defined]
        raise


def _orphan_keys(fk: ForeignKey, place: Place) -> set[tuple[Any, ...]]:
    c = qident("$fk_c")
    cols = ", ".join(f"{c}.{qident(x)}" for x in fk.cols)
    sql = (
        f"SELECT DISTINCT {cols} FROM {relation(fk.schema, fk.child)} {c} "
        f"WHERE {orphan_condition(fk, c)} LIMIT 10000"
    )
    return {tuple(r) for r in place.execute(place.compile(sql, [])).tuples()}


def _action(node: ast.Node, fk: ForeignKey) -> str:
    """The action a write to the parent takes ("?": it cannot say which)."""
    if isinstance(node, ast.DeleteStmt):
        return fk.on_delete
    if isinstance(node, ast.UpdateStmt) or (
        isinstance(node, ast.InsertStmt) and node.onConflictClause is not None
    ):
        return fk.on_update
    return fk.on_delete if fk.on_delete == fk.on_update else "?"


def _follow_keys(
    registry: Registry,
    session: int,
    fk: ForeignKey,
    place: Place,
    changes: list[tuple[tuple[Any, ...], tuple[Any, ...]]],
) -> None:
    """ON UPDATE CASCADE: the children of each changed key get the new one."""
    c, m = qident("$fk_c"), qident("$fk_m")
    n = len(fk.cols)
    params: list[Any] = []
    rows = []
    for old, new in changes:
        marks = []
        for v in (*old, *new):
            params.append(v)
            marks.append(f"${len(params)}")
        rows.append(f"({', '.join(marks)})")
    names = [qident(f"o{i}") for i in range(n)] + [qident(f"n{i}") for i in range(n)]
    sets = ", ".join(f"{qident(x)} = {m}.{qident(f'n{i}')}" for i, x in enumerate(fk.cols))
    match = " AND ".join(f"{c}.{qident(x)} = {m}.{qident(f'o{i}')}" for i, x in enumerate(fk.cols))
    sql = (
        f"UPDATE {relation(fk.schema, fk.child)} AS {c} SET {sets} "
        f"FROM (VALUES {', '.join(rows)}) AS {m} ({', '.join(names)}) WHERE {match}"
    )
    _sub(registry, session, place, sql, params)


def _cannot_follow(fk: ForeignKey) -> FeatureNotSupported:
    return FeatureNotSupported(
        f'cannot apply the ON UPDATE action of foreign key "{fk.name}" to this statement',
        hint=f'Change the referenced key of "{fk.parent}" with a plain UPDATE ... SET '
        "column = value ... WHERE ...",
    )
