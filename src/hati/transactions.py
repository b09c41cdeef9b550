"""The transaction block as PostgreSQL keeps it and DuckDB does not.

DuckDB has no savepoints and no READ ONLY transactions, and an error ends its
transaction. A session keeps here, for its open transaction block, what PostgreSQL
would: the access mode, the settings the block began with (a rolled-back ``SET`` is
undone), its savepoints, and the journal of the statements whose effects the block
still holds. The session's branch (``SET hatidata_branch``) is not undone: a client
that rolls back after entering a branch (psycopg2 opens a block before its first
statement) stays in the branch, rather than go on, unaware, on main.

``ROLLBACK TO SAVEPOINT`` rolls DuckDB's transaction back and runs the journal up to
the savepoint again in a new one, keeping the locks the block holds. A replay gives
back the same state only when the statements give the same answers, so it is refused
with 0A000 when one of them drew from a sequence, the clock or random numbers (itself
or through a table's column defaults), and with 40001 when another session committed
a change since the block began (the client retries the transaction, as after any
serialization failure). Statements that change nothing are not run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
from pglast import ast
from pglast.enums import SQLValueFunctionOp, TransactionStmtKind, VariableSetKind

from hati.cursors import Cursors
from hati.errors import (
    ActiveSqlTransaction,
    FeatureNotSupported,
    HatiError,
    InFailedTransaction,
    InvalidSavepointSpecification,
    NoActiveSqlTransaction,
    ReadOnlySqlTransaction,
    SerializationFailure,
)
from hati.pg import settings as pgsettings
from hati.pg.analyze import Analysis, Role
from hati.pg.translate import walk
from hati.pipeline import Statement
from hati.results import Result, command
from hati.state import ServerState

# Statements that change what a transaction holds (data, schema, cursors).
WRITING_KINDS = frozenset(
    "INSERT UPDATE DELETE MERGE CREATE CREATE_INDEX CREATE_OTHER ALTER DROP DROP_OTHER "  # noqa: SIM905
    "TRUNCATE".split()
)
CHANGING_CALLS = frozenset({"branch_create", "branch_merge", "branch_discard", "branch_resolve"})
_CURSOR_KINDS = frozenset({"DECLARE", "FETCH", "CLOSE"})
_NOT_REPLAYED = frozenset({"PREPARE", "DEALLOCATE", "SET", "SHOW", "TRANSACTION"})
# Functions whose answer differs when a statement runs again.
_VOLATILE = frozenset(
    "nextval currval lastval setval random setseed gen_random_uuid uuid uuid_generate_v4 "  # noqa: SIM905
    "now transaction_timestamp statement_timestamp clock_timestamp timeofday "
    "txid_current pg_current_xact_id get_current_timestamp get_current_time current_date "
    "current_localtime current_localtimestamp today".split()
)
_CLOCK = frozenset(
    {
        SQLValueFunctionOp.SVFOP_CURRENT_DATE,
        SQLValueFunctionOp.SVFOP_CURRENT_TIME,
        SQLValueFunctionOp.SVFOP_CURRENT_TIME_N,
        SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP,
        SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N,
        SQLValueFunctionOp.SVFOP_LOCALTIME,
        SQLValueFunctionOp.SVFOP_LOCALTIME_N,
        SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP,
        SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N,
    }
)
_VOLATILE_DEFAULT = (
    "SELECT table_name FROM duckdb_columns() WHERE table_name IN ({}) AND ("
    + " OR ".join(
        f"lower(column_default) LIKE '%{f}(%'"
        for f in ("nextval", "random", "uuid", "now", "current_", "timestamp", "localtime")
    )
    + ")"
)


JOURNAL_BYTES = 64 << 20  # a longer transaction cannot ROLLBACK TO a savepoint


class TxnSession(Protocol):
    """What the transaction block needs of its session (hati.session.Session)."""

    txn: str
    branch: str | None
    block: Block
    settings: pgsettings.Settings
    state: ServerState
    cursors: Cursors
    cur: duckdb.DuckDBPyConnection

    def compile(self, sql: str, params: list[Any] | None = None) -> Statement: ...
    def replay(self, stmt: Statement) -> None: ...
    def begin_transaction(self) -> None: ...
    def end_transaction(self, commit: bool) -> None: ...
    def restart_transaction(self, declared: set[str]) -> None: ...
    def restore_branch(self, name: str | None) -> None: ...


@dataclass
class Entry:
    """A statement the block ran, and what it was."""

    sql: str
    params: list[Any]
    kind: str
    cursor: str | None = None  # DECLARE / FETCH / MOVE / CLOSE: the cursor's name
    branch: str | None = None  # where it ran (None: main)


@dataclass
class Saved:
    """The session's settings at a point of the block."""

    settings: pgsettings.SettingsState


@dataclass
class Mark:
    name: str
    at: int  # how many journal entries came before it
    saved: Saved
    tainted: str | None = None  # Block.tainted when it was set
    read_only: str = "off"  # transaction_read_only when it was set (RELEASE restores it)


@dataclass
class Block:
    """One transaction block's own state."""

    version: int = 0  # the server's data version when the block began
    began: Saved | None = None
    marks: list[Mark] = field(default_factory=list)
    journal: list[Entry] = field(default_factory=list)
    wrote: bool = False
    size: int = 0  # about how many bytes the journal holds
    overflow: str | None = None  # why the journal was given up
    tainted: str | None = None  # what a statement that is not replayed saw (e.g. now())
    queried: bool = False  # a statement other than SET / SHOW ran (PostgreSQL's snapshot)

    def record(self, sql: str, params: list[Any], stmt: Statement, branch: str | None) -> None:
        """After a statement of the block succeeded: the statements a replay runs again
        are kept; of the others, only whether they saw values a replay changes."""
        changing = changes_state(stmt.analysis)
        self.wrote = self.wrote or changing
        self.queried = self.queried or stmt.kind not in _NOT_REPLAYED
        if stmt.kind in _NOT_REPLAYED or self.overflow is not None:
            return
        if not changing and stmt.kind not in _CURSOR_KINDS:
            if self.tainted is None:
                self.tainted = _volatile(stmt, sql)
            return
        self.size += len(sql) + 16 * len(params) + 64
        if self.size > JOURNAL_BYTES:
            self.overflow = f"more than {JOURNAL_BYTES >> 20} MB of statements"
            self.journal.clear()
            return
        entry = Entry(sql, list(params), stmt.kind, _cursor_name(stmt.node), branch)
        self.journal.append(entry)

    def find(self, name: str) -> int:
        for i in range(len(self.marks) - 1, -1, -1):  # the latest of that name
            if self.marks[i].name == name:
                return i
        raise InvalidSavepointSpecification(
            f'savepoint "{name}" does not exist',
            hint="SAVEPOINT sets one inside the transaction block.",
        )


def changes_state(a: Analysis) -> bool:
    """Might the statement change what other sessions (or a replay) see?"""
    return (
        a.kind in WRITING_KINDS
        or a.changes_data
        or a.kind in ("EXECUTE", "COPY", "CALL", "DO")
        or any(f[-1] in CHANGING_CALLS for f in a.functions)
    )


def read_only(s: TxnSession) -> bool:
    name = "transaction_read_only" if s.txn != "I" else "default_transaction_read_only"
    return s.settings.get(name) == "on"


def check_access(s: TxnSession, stmt: Statement) -> None:
    """25006 for a write in a READ ONLY transaction (temporary tables aside, as in PostgreSQL)."""
    a = stmt.analysis
    if not read_only(s) or a.temporary or a.kind == "PREPARE":  # EXECUTE is checked
        return
    writes = (a.kind in WRITING_KINDS or a.changes_data) and not _temporary_only(s, a)
    copy_from = a.kind == "COPY" and isinstance(stmt.node, ast.CopyStmt) and stmt.node.is_from
    calls = [
        f[-1] for f in a.functions if f[-1] in CHANGING_CALLS or f[-1] in ("nextval", "setval")
    ]
    if writes or copy_from or calls:
        what = f"{calls[0]}()" if calls and not writes else a.command or a.kind
        raise ReadOnlySqlTransaction(
            f"cannot execute {'COPY FROM' if copy_from else what} in a read-only transaction",
            hint="The transaction is READ ONLY: run the write in a new transaction.",
        )


def _temporary_only(s: TxnSession, a: Analysis) -> bool:
    """Does the statement write temporary tables only (which READ ONLY allows)?"""
    written = {
        t.name for t in a.tables if t.role is not Role.READ and t.schema in (None, "pg_temp")
    }
    if not written or len(written) != len([t for t in a.tables if t.role is not Role.READ]):
        return False
    marks = ", ".join("?" for _ in written)
    found = s.cur.execute(
        f"SELECT count(DISTINCT table_name) FROM duckdb_tables() "
        f"WHERE temporary AND table_name IN ({marks})",
        sorted(written),
    ).fetchone()
    return found is not None and found[0] == len(written)


# ---------------------------------------------------------------- transaction control
def control(s: TxnSession, block: Block, node: ast.TransactionStmt) -> Result:
    """BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE and ROLLBACK TO."""
    k = node.kind
    if k in (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START):
        done = command(
            "BEGIN" if k == TransactionStmtKind.TRANS_STMT_BEGIN else "START TRANSACTION"
        )
        if s.txn == "I":  # else PostgreSQL warns and stays in the transaction
            begin(s, block, node.options or ())
        return done
    if k in _TWO_PHASE:
        raise FeatureNotSupported(
            "prepared transactions are not supported",
            hint="Commit or roll back the transaction itself.",
        )
    if k in _SAVEPOINTS:
        return _savepoint(s, block, k, node.savepoint_name or "")
    rollback = k == TransactionStmtKind.TRANS_STMT_ROLLBACK  # COMMIT / END / ROLLBACK / ABORT
    word = "ROLLBACK" if rollback else "COMMIT"
    if node.chain and s.txn == "I":
        raise NoActiveSqlTransaction(
            f"{word} AND CHAIN can only be used in transaction blocks", hint="Send BEGIN first."
        )
    chained = _characteristics(s) if node.chain else None
    try:
        if s.txn == "I":
            return command(word)
        if s.txn == "E" or rollback:
            s.end_transaction(commit=False)
            _undo_settings(s, block.began)  # a rolled-back SET is undone
            return command("ROLLBACK")
        s.end_transaction(commit=True)
        return command("COMMIT")
    finally:
        s.txn = "I"
        if chained is not None:  # AND CHAIN: a new block with the same characteristics
            begin(s, s.block)
            for name, value in chained.items():
                s.settings.set(name, value, local=True)


_CHARACTERISTICS = ("transaction_read_only", "transaction_deferrable")


def _characteristics(s: TxnSession) -> dict[str, str]:
    return {name: s.settings.get(name) for name in _CHARACTERISTICS}


def begin(s: TxnSession, block: Block, options: tuple[ast.Node, ...] = ()) -> None:
    block.version = s.state.data_version
    block.began = Saved(s.settings.state())
    s.begin_transaction()
    s.txn = "T"
    for name in ("transaction_read_only", "transaction_deferrable"):
        mode = s.settings.get("default_" + name)
        for opt in options:
            if isinstance(opt, ast.DefElem) and opt.defname == name:
                mode = "on" if _flag(opt) else "off"
        s.settings.set(name, mode, local=True)


def set_transaction(s: TxnSession, node: ast.VariableSetStmt) -> Result:
    """SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...: the access
    mode and DEFERRABLE (isolation is always snapshot isolation, shown as repeatable read)."""
    session = (node.name or "").upper() == "SESSION CHARACTERISTICS"
    for opt in node.args or ():
        if not isinstance(opt, ast.DefElem):
            continue
        queried = s.txn != "I" and s.block.queried
        if opt.defname == "transaction_isolation" and not session and queried:
            raise ActiveSqlTransaction(
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                hint="Set it right after BEGIN.",
            )
        if opt.defname not in ("transaction_read_only", "transaction_deferrable"):
            continue
        value = "on" if _flag(opt) else "off"
        if session:
            s.settings.set("default_" + opt.defname, value)
        elif s.txn != "I":  # outside a block PostgreSQL only warns
            if opt.defname == "transaction_read_only" and value == "off":
                _check_read_write(s)
            s.settings.set(opt.defname, value, local=True)
    return command("SET")


def _check_read_write(s: TxnSession) -> None:
    """A READ ONLY transaction turns read-write only at its start, as in PostgreSQL."""
    if s.settings.get("transaction_read_only") != "on":
        return
    if s.block.marks:
        raise ActiveSqlTransaction(
            "cannot set transaction read-write mode inside a read-only transaction",
            hint="Release or roll back to the savepoint first, or start a new transaction.",
        )
    if s.block.queried:
        raise ActiveSqlTransaction(
            "transaction read-write mode must be set before any query",
            hint="Set the access mode right after BEGIN.",
        )


def is_set_transaction(node: ast.VariableSetStmt) -> bool:
    return node.kind == VariableSetKind.VAR_SET_MULTI


def _flag(opt: ast.DefElem) -> bool:
    arg = opt.arg
    val = getattr(arg, "val", arg)
    return bool(getattr(val, "ival", 0))


def _savepoint(s: TxnSession, block: Block, k: TransactionStmtKind, name: str) -> Result:
    words = {
        TransactionStmtKind.TRANS_STMT_SAVEPOINT: ("SAVEPOINT", "SAVEPOINT"),
        TransactionStmtKind.TRANS_STMT_RELEASE: ("RELEASE SAVEPOINT", "RELEASE"),
        TransactionStmtKind.TRANS_STMT_ROLLBACK_TO: ("ROLLBACK TO SAVEPOINT", "ROLLBACK"),
    }[k]
    if s.txn == "I":
        raise NoActiveSqlTransaction(
            f"{words[0]} can only be used in transaction blocks",
            hint="Send BEGIN first.",
        )
    if k == TransactionStmtKind.TRANS_STMT_ROLLBACK_TO:
        rollback_to(s, block, name)
        return command(words[1])
    if s.txn == "E":
        raise InFailedTransaction(
            "current transaction is aborted, commands ignored until end of transaction block",
            hint="Send ROLLBACK (or ROLLBACK TO a savepoint), then retry.",
        )
    read_only = s.settings.get("transaction_read_only")
    if k == TransactionStmtKind.TRANS_STMT_SAVEPOINT:
        saved = Saved(s.settings.state())
        block.marks.append(Mark(name, len(block.journal), saved, block.tainted, read_only))
    else:
        i = block.find(name)
        # the access mode is the subtransaction's own: releasing it restores the outer one
        s.settings.set("transaction_read_only", block.marks[i].read_only, local=True)
        del block.marks[i:]
    return command(words[1])


def rollback_to(s: TxnSession, block: Block, name: str) -> None:
    """Back to the state the block had when savepoint ``name`` was set (see the module)."""
    i = block.find(name)
    mark = block.marks[i]
    before = block.journal[: mark.at]
    declared = {e.cursor for e in before if e.kind == "DECLARE" and e.cursor}
    motions = [
        e for e in block.journal[mark.at :] if e.kind in ("FETCH", "CLOSE") and e.cursor in declared
    ]
    keep = before + motions
    if block.overflow or mark.tainted:
        _refuse(block.overflow or mark.tainted or "")
    stmts = [s.compile(e.sql, e.params) for e in keep]
    _check_replayable(keep, stmts)
    if s.state.data_version != block.version:
        raise SerializationFailure(
            "could not serialize access due to concurrent update",
            hint="Another session committed a change since this transaction began: "
            "roll it back and run it again.",
        )
    in_block = {e.cursor for e in block.journal if e.kind == "DECLARE" and e.cursor}
    s.restart_transaction(in_block & set(s.cursors.open))
    s.txn = "T"
    now_in = s.branch
    try:
        _undo_settings(s, block.began)
        for e, stmt in zip(keep, stmts, strict=True):
            if stmt.kind in _CURSOR_KINDS or changes_state(stmt.analysis):
                if e.branch != s.branch:  # each runs again where it ran
                    s.restore_branch(e.branch)
                _check_defaults(s, stmt)
                s.replay(stmt)
    except FeatureNotSupported:
        s.txn = "E"
        raise
    except (HatiError, duckdb.Error) as exc:
        s.txn = "E"
        raise SerializationFailure(
            f"could not restore savepoint {name}: {exc}",
            hint="Roll the transaction back and run it again.",
        ) from exc
    finally:
        if s.branch != now_in:
            s.restore_branch(now_in)
    _undo_settings(s, mark.saved)
    block.journal = keep
    del block.marks[i + 1 :]


def _check_replayable(entries: list[Entry], stmts: list[Statement]) -> None:
    """0A000 when a statement of the replay draws other values when it runs again."""
    for e, stmt in zip(entries, stmts, strict=True):
        a = stmt.analysis
        if a.kind == "COPY" and isinstance(stmt.node, ast.CopyStmt) and stmt.node.is_from:
            _refuse("COPY FROM")
        why = _volatile(stmt, e.sql)
        if why is not None:
            _refuse(why)


def _volatile(stmt: Statement, sql: str) -> str | None:
    """What in the statement answers differently each time it runs, if anything."""
    for f in stmt.analysis.functions:
        if f[-1] in _VOLATILE or f[-1] in CHANGING_CALLS:
            return f[-1] + "()"
    low = sql.lower()
    if ("current_" in low or "localtime" in low) and any(_is_clock(n) for n in walk(stmt.node)):
        return "the current date or time"
    return None


def _check_defaults(s: TxnSession, stmt: Statement) -> None:
    """... or through the column defaults of the table it writes (checked as it replays,
    once the tables the transaction created exist again)."""
    if stmt.analysis.kind not in ("INSERT", "UPDATE", "MERGE"):
        return
    names = ", ".join("'" + t.name.replace("'", "''") + "'" for t in stmt.analysis.writes)
    if names:
        rows = s.cur.execute(_VOLATILE_DEFAULT.format(names)).fetchall()
        if rows:
            _refuse(f"a column default of {rows[0][0]} (a sequence, the clock or random)")


def _refuse(why: str) -> None:
    raise FeatureNotSupported(
        f"ROLLBACK TO SAVEPOINT cannot replay this transaction: it used {why}",
        hint="hati restores a savepoint by running the transaction's statements again, "
        "which gives other values here. Roll back the whole transaction and run it again.",
    )


def _undo_settings(s: TxnSession, saved: Saved | None) -> None:
    if saved is None:
        return
    s.settings.restore(saved.settings)


def _is_clock(node: object) -> bool:
    if isinstance(node, ast.FuncCall):  # as translated (hati.pg.translate.schema)
        names = node.funcname or ()
        return bool(names) and names[-1].sval in _VOLATILE
    return isinstance(node, ast.SQLValueFunction) and node.op in _CLOCK


def _cursor_name(node: ast.Node) -> str | None:
    if isinstance(node, ast.DeclareCursorStmt):
        return node.portalname
    if isinstance(node, ast.FetchStmt | ast.ClosePortalStmt):
        return node.portalname
    return None


_SAVEPOINTS = (
    TransactionStmtKind.TRANS_STMT_SAVEPOINT,
    TransactionStmtKind.TRANS_STMT_RELEASE,
    TransactionStmtKind.TRANS_STMT_ROLLBACK_TO,
)
_TWO_PHASE = (
    TransactionStmtKind.TRANS_STMT_PREPARE,
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
    TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED,
)
