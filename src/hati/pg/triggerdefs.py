"""Triggers and trigger functions, which DuckDB lacks, kept in the hidden schema.

``CREATE FUNCTION ... RETURNS trigger LANGUAGE plpgsql`` records the function's text
(its body is checked when it is created: a statement the interpreter cannot run is
refused then, with 0A000); ``CREATE TRIGGER`` records the trigger; ``DROP TRIGGER``,
``ALTER TABLE ... ENABLE / DISABLE TRIGGER``, ``DROP FUNCTION`` and ``DROP TABLE``
change or forget them. The session fires them around each write (``hati/triggers.py``).
Triggers are defined on main; a branch's writes fire its tables' triggers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb
from pglast import ast, parser
from pglast.enums import AlterTableType
from pglast.stream import RawStream

from hati.errors import (
    DependentObjectsStillExist,
    DuplicateFunction,
    DuplicateObject,
    FeatureNotSupported,
    InvalidFunctionDefinition,
    InvalidObjectDefinition,
    SyntaxError_,
    UndefinedFunction,
    UndefinedObject,
    UndefinedTable,
    WrongObjectType,
)
from hati.pg import catalog, catalog_triggers, plpgsql
from hati.pg.emulate import Emulated, Printer

TABLE = f"{catalog.HIDDEN}.triggers"
FUNCTIONS = f"{catalog.HIDDEN}.trigger_functions"
SETUP_SQL = catalog_triggers.TABLES_SQL
HINT = (
    "hati runs BEFORE / AFTER INSERT, UPDATE and DELETE triggers, FOR EACH ROW or FOR "
    "EACH STATEMENT, on a table of main, with PL/pgSQL trigger functions."
)
# The PL/pgSQL statements a trigger function may use (what hati/triggerbody.py runs).
STATEMENTS = frozenset(
    {"block", "assign", "if", "case", "execsql", "perform", "dynexecute", "loop", "while",
     "fori", "fors", "exit", "return", "raise", "assert"}
)  # fmt: skip
_EVENTS = ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE"))
_BEFORE, _INSTEAD, _TRUNCATE = 2, 64, 32


@dataclass(frozen=True)
class Trigger:
    schema: str  # DuckDB's schema of the table ("main" for public)
    table: str
    name: str
    function: str
    timing: str  # "BEFORE" / "AFTER"
    events: tuple[str, ...]
    row: bool
    columns: tuple[str, ...] = ()  # UPDATE OF
    when: str | None = None  # the WHEN condition, PostgreSQL's text
    args: tuple[str, ...] = ()
    enabled: bool = True

    def definition(self) -> str:
        """As pg_get_triggerdef() prints it."""
        events = " OR ".join(
            f"UPDATE OF {', '.join(self.columns)}" if e == "UPDATE" and self.columns else e
            for e in self.events
        )
        schema = "public" if self.schema == "main" else self.schema
        level = "ROW" if self.row else "STATEMENT"
        when = f" WHEN (({self.when}))" if self.when else ""
        args = ", ".join("'" + a.replace("'", "''") + "'" for a in self.args)
        return (
            f"CREATE TRIGGER {self.name} {self.timing} {events} ON {schema}.{self.table} "
            f"FOR EACH {level}{when} EXECUTE FUNCTION {self.function}({args})"
        )

    def fires(self, event: str, timing: str, row: bool, assigned: set[str] | None) -> bool:
        """Whether this trigger fires for ``event`` (``assigned``: an UPDATE's columns)."""
        if not self.enabled or event not in self.events or self.timing != timing:
            return False
        if self.row != row:
            return False
        if event == "UPDATE" and self.columns and assigned is not None:
            return bool(set(self.columns) & assigned)
        return True


@dataclass
class Defs:
    """Every trigger by (schema, table), names sorted (the order PostgreSQL fires them),
    and the trigger functions' texts by name."""

    tables: dict[tuple[str, str], list[Trigger]] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)


def load(cur: duckdb.DuckDBPyConnection) -> Defs:
    defs = Defs()
    rows = cur.execute(
        f"SELECT schema_name, table_name, name, function_name, timing, events, row_level, "
        f"columns, when_sql, args, enabled FROM {TABLE} ORDER BY name"
    ).fetchall()
    for r in rows:
        t = Trigger(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            tuple(r[5]),
            bool(r[6]),
            tuple(r[7] or ()),
            r[8],
            tuple(r[9] or ()),
            bool(r[10]),
        )
        defs.tables.setdefault((t.schema, t.table.lower()), []).append(t)
    for name, source in cur.execute(f"SELECT name, source FROM {FUNCTIONS}").fetchall():
        defs.functions[str(name)] = str(source)
    return defs


def _schema(rv: ast.RangeVar) -> str:
    s = rv.schemaname
    return "main" if s in (None, "public", "main") else str(s)


def _table_kind(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> str | None:
    rows = cur.execute(
        "SELECT 'table' FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2 "
        "AND database_name = current_database() UNION ALL SELECT 'view' FROM duckdb_views() "
        "WHERE schema_name = $1 AND view_name = $2 AND database_name = current_database()",
        [schema, table],
    ).fetchall()
    return str(rows[0][0]) if rows else None


def _missing_table(rv: ast.RangeVar) -> UndefinedTable:
    return UndefinedTable(f'relation "{rv.relname}" does not exist')


def _not_in_branch(branch: bool, what: str) -> None:
    if branch:
        raise FeatureNotSupported(
            f"{what} is not supported in a branch",
            hint="Triggers are defined on main (RESET hatidata_branch); a branch's "
            "writes fire them.",
        )


# ---------------------------------------------------------------- functions
def check_function(stmt: ast.CreateFunctionStmt, body: str) -> str:
    """The text the trigger function is kept as (0A000 for what cannot run)."""
    language = None
    for opt in stmt.options or ():
        arg: Any = opt.arg if isinstance(opt, ast.DefElem) else None
        if isinstance(opt, ast.DefElem) and opt.defname == "language":
            language = str(arg.sval).lower()
    if language in (None, "sql"):
        raise InvalidFunctionDefinition("SQL functions cannot return type trigger")
    if language != "plpgsql":
        raise FeatureNotSupported(
            f'trigger functions in language "{language or "sql"}" are not supported',
            hint="Write the trigger function in plpgsql.",
        )
    if stmt.parameters:
        raise InvalidObjectDefinition(
            "trigger functions cannot have declared arguments",
            hint="The trigger's arguments are in TG_ARGV.",
        )
    source = plpgsql._create_text(stmt, plpgsql._parenthesize_returns(body))
    try:
        tree = json.loads(parser.parse_plpgsql_json(source))
    except parser.ParseError as exc:
        raise SyntaxError_(f"syntax error in function body: {exc}") from None
    _check_statements([tree[0]["PLpgSQL_function"]["action"]])
    return source


def _check_statements(stmts: list[Any]) -> None:
    for stmt in stmts:
        if not isinstance(stmt, dict):
            continue
        for kind, node in stmt.items():
            if not kind.startswith("PLpgSQL_stmt_"):
                continue
            name = kind.removeprefix("PLpgSQL_stmt_")
            if name not in STATEMENTS:
                what = name.upper().replace("_", " ")
                raise FeatureNotSupported(
                    f"PL/pgSQL statement {what} is not supported in a trigger function",
                    hint=HINT,
                )
            if name == "block" and node.get("exceptions"):
                raise FeatureNotSupported(
                    "EXCEPTION handlers are not supported in a trigger function",
                    hint="Check the condition before the statement instead.",
                )
            for value in node.values():
                if isinstance(value, list):
                    _check_statements(value)
                elif isinstance(value, dict):
                    _check_statements([value])
            for arm in node.get("elsif_list") or ():
                _check_statements(list(arm.get("PLpgSQL_if_elsif", {}).get("stmts") or ()))
            for arm in node.get("case_when_list") or ():
                _check_statements(list(arm.get("PLpgSQL_case_when", {}).get("stmts") or ()))


def _function_name(names: tuple[Any, ...]) -> str:
    return str(names[-1].sval)


@dataclass
class CreateFunction(Emulated):
    """CREATE [OR REPLACE] FUNCTION f() RETURNS trigger: the function's text, kept."""

    name: str
    source: str
    replace: bool

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        _not_in_branch(branch, "CREATE FUNCTION ... RETURNS trigger")
        found = cur.execute(f"SELECT count(*) FROM {FUNCTIONS} WHERE name = $1", [self.name])
        if found.fetchall()[0][0]:
            if not self.replace:
                raise DuplicateFunction(
                    f'function "{self.name}" already exists with same argument types'
                )
            cur.execute(f"DELETE FROM {FUNCTIONS} WHERE name = $1", [self.name])
        cur.execute(f"INSERT INTO {FUNCTIONS} VALUES ('main', $1, $2)", [self.name, self.source])


def drop_function(cur: duckdb.DuckDBPyConnection, name: str, cascade: bool) -> bool:
    """DROP FUNCTION of a trigger function (False: ``name`` is none)."""
    if not cur.execute(f"SELECT count(*) FROM {FUNCTIONS} WHERE name = $1", [name]).fetchall()[0][
        0
    ]:
        return False
    users = cur.execute(
        f"SELECT name, table_name FROM {TABLE} WHERE function_name = $1 ORDER BY name", [name]
    ).fetchall()
    if users and not cascade:
        raise DependentObjectsStillExist(
            f"cannot drop function {name}() because other objects depend on it",
            detail="\n".join(
                f"trigger {t} on table {tab} depends on function {name}()" for t, tab in users
            ),
            hint="Use DROP ... CASCADE to drop the dependent objects too.",
        )
    cur.execute(f"DELETE FROM {TABLE} WHERE function_name = $1", [name])
    cur.execute(f"DELETE FROM {FUNCTIONS} WHERE name = $1", [name])
    return True


# ---------------------------------------------------------------- triggers
def _when_refs(node: ast.Node | None) -> set[str]:
    """The records (new, old) a WHEN condition names."""
    from hati.pg.translate import walk

    out: set[str] = set()
    for n in walk(node) if node is not None else ():
        if isinstance(n, ast.ColumnRef) and n.fields and isinstance(n.fields[0], ast.String):
            first = str(n.fields[0].sval).lower()
            if first in ("new", "old") and len(n.fields) > 1:
                out.add(first)
    return out


def define(stmt: Any) -> CreateTrigger:
    """The step of a CREATE TRIGGER (0A000 for what hati does not fire)."""
    if stmt.isconstraint:
        raise FeatureNotSupported("constraint triggers are not supported", hint=HINT)
    if stmt.timing & _INSTEAD:
        raise FeatureNotSupported("INSTEAD OF triggers are not supported", hint=HINT)
    if stmt.events & _TRUNCATE:
        raise FeatureNotSupported("TRUNCATE triggers are not supported", hint=HINT)
    if stmt.transitionRels:
        raise FeatureNotSupported("transition tables (REFERENCING) are not supported", hint=HINT)
    events = tuple(name for bit, name in _EVENTS if stmt.events & bit)
    refs = _when_refs(stmt.whenClause)
    if refs and not stmt.row:
        raise InvalidObjectDefinition(
            "statement trigger's WHEN condition cannot reference column values"
        )
    if "new" in refs and "DELETE" in events:
        raise InvalidObjectDefinition("DELETE trigger's WHEN condition cannot reference NEW values")
    if "old" in refs and "INSERT" in events:
        raise InvalidObjectDefinition("INSERT trigger's WHEN condition cannot reference OLD values")
    when = RawStream()(stmt.whenClause) if stmt.whenClause is not None else None
    args = tuple(str(getattr(a, "sval", a)) for a in stmt.args or ())
    return CreateTrigger(
        Trigger(
            _schema(stmt.relation),
            str(stmt.relation.relname),
            str(stmt.trigname),
            _function_name(stmt.funcname),
            "BEFORE" if stmt.timing & _BEFORE else "AFTER",
            events,
            bool(stmt.row),
            tuple(str(c.sval) for c in stmt.columns or ()),
            when,
            args,
        ),
        bool(stmt.replace),
    )


@dataclass
class CreateTrigger(Emulated):
    trigger: Trigger
    replace: bool

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        _not_in_branch(branch, "CREATE TRIGGER")
        t = self.trigger
        kind = _table_kind(cur, t.schema, t.table)
        if kind is None:
            raise UndefinedTable(f'relation "{t.table}" does not exist')
        if kind == "view":
            raise WrongObjectType(
                f'"{t.table}" is a view',
                detail="Views cannot have row-level BEFORE or AFTER triggers.",
            )
        fn = cur.execute(f"SELECT count(*) FROM {FUNCTIONS} WHERE name = $1", [t.function])
        if not fn.fetchall()[0][0]:
            raise UndefinedFunction(f"function {t.function}() does not exist")
        cascading = cur.execute(
            f"SELECT name FROM {catalog.HIDDEN}.foreign_keys WHERE schema_name = $1 AND "
            "table_name = $2 AND (on_delete NOT IN ('a', 'r') OR on_update NOT IN ('a', 'r'))",
            [t.schema, t.table],
        ).fetchall()
        if cascading:
            raise FeatureNotSupported(
                f'table "{t.table}" is written by the actions of foreign key '
                f'"{cascading[0][0]}", which do not fire triggers here',
                hint=HINT,
            )
        key = [t.schema, t.table, t.name]
        where = "schema_name = $1 AND table_name = $2 AND name = $3"
        if cur.execute(f"SELECT count(*) FROM {TABLE} WHERE {where}", key).fetchall()[0][0]:
            if not self.replace:
                raise DuplicateObject(f'trigger "{t.name}" for relation "{t.table}" already exists')
            cur.execute(f"DELETE FROM {TABLE} WHERE {where}", key)
        cur.execute(
            f"INSERT INTO {TABLE} SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, "
            f"coalesce((SELECT max(seq) FROM {TABLE}), 0) + 1, $11",
            [
                t.schema,
                t.table,
                t.name,
                t.function,
                t.timing,
                list(t.events),
                t.row,
                list(t.columns),
                t.when,
                list(t.args),
                t.definition(),
            ],
        )


@dataclass
class DropTrigger(Emulated):
    schema: str
    table: str
    name: str
    missing_ok: bool

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        _not_in_branch(branch, "DROP TRIGGER")
        if _table_kind(cur, self.schema, self.table) is None:
            if self.missing_ok:
                return
            raise UndefinedTable(f'relation "{self.table}" does not exist')
        key = [self.schema, self.table, self.name]
        where = "schema_name = $1 AND table_name = $2 AND name = $3"
        if not cur.execute(f"SELECT count(*) FROM {TABLE} WHERE {where}", key).fetchall()[0][0]:
            if self.missing_ok:
                return
            raise UndefinedObject(f'trigger "{self.name}" for table "{self.table}" does not exist')
        cur.execute(f"DELETE FROM {TABLE} WHERE {where}", key)


def drop(stmt: Any) -> list[object]:
    steps: list[object] = []
    for obj in stmt.objects or ():
        names = [str(n.sval) for n in obj]
        schema = names[-3] if len(names) > 2 else None
        schema = "main" if schema in (None, "public") else schema
        steps.append(DropTrigger(schema, names[-2], names[-1], bool(stmt.missing_ok)))
    return steps


ENABLING = {
    AlterTableType.AT_EnableTrig: True, AlterTableType.AT_DisableTrig: False,
    AlterTableType.AT_EnableAlwaysTrig: True, AlterTableType.AT_EnableReplicaTrig: True,
    AlterTableType.AT_EnableTrigAll: True, AlterTableType.AT_DisableTrigAll: False,
    AlterTableType.AT_EnableTrigUser: True, AlterTableType.AT_DisableTrigUser: False,
}  # fmt: skip
_ALL = frozenset(
    {AlterTableType.AT_EnableTrigAll, AlterTableType.AT_DisableTrigAll,
     AlterTableType.AT_EnableTrigUser, AlterTableType.AT_DisableTrigUser}
)  # fmt: skip


@dataclass
class EnableTrigger(Emulated):
    """ALTER TABLE t ENABLE / DISABLE TRIGGER name | ALL | USER."""

    relation: ast.RangeVar
    name: str | None  # None: every trigger of the table
    enabled: bool

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        _not_in_branch(branch, "ALTER TABLE ... ENABLE / DISABLE TRIGGER")
        schema, table = _schema(self.relation), str(self.relation.relname)
        if _table_kind(cur, schema, table) is None:
            raise _missing_table(self.relation)
        where, key = "schema_name = $1 AND table_name = $2", [schema, table]
        if self.name is not None:
            where, key = where + " AND name = $3", [*key, self.name]
            if not cur.execute(f"SELECT count(*) FROM {TABLE} WHERE {where}", key).fetchall()[0][0]:
                raise UndefinedObject(f'trigger "{self.name}" for table "{table}" does not exist')
        n = len(key) + 1
        cur.execute(f"UPDATE {TABLE} SET enabled = ${n} WHERE {where}", [*key, self.enabled])


def enable(stmt: Any, cmd: Any) -> EnableTrigger:
    name = None if cmd.subtype in _ALL else str(cmd.name)
    return EnableTrigger(stmt.relation, name, ENABLING[cmd.subtype])


def forget_tables(cur: duckdb.DuckDBPyConnection) -> None:
    """Forget the triggers of tables that no longer exist (after DROP TABLE on main)."""
    cur.execute(
        f"DELETE FROM {TABLE} WHERE NOT EXISTS (SELECT 1 FROM duckdb_tables() d WHERE "
        f"d.schema_name = {TABLE}.schema_name AND d.table_name = {TABLE}.table_name "
        "AND d.database_name = current_database())"
    )
