"""One client's session: its transaction state, and the pipeline its statements take.

A session owns one DuckDB cursor (its own transaction and search_path), knows the
branch it works in, tracks the PostgreSQL transaction status (I/T/E) that DuckDB does
not report, and carries the agent tags recorded in the audit trail. Each statement
goes through the steps of ``pipeline.py``; the branch engine is reached only through
the session's :class:`EngineSession`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from hati import functions, pipeline
from hati.audit import AuditLog, AuditRecord, SessionAudit, audit_text
from hati.branching.calls import parse_call
from hati.branching.catalog import Branch
from hati.branching.engine import BranchEngine
from hati.branching.names import validate_name
from hati.errors import (
    ActiveSqlTransaction,
    FeatureNotSupported,
    HatiError,
    InFailedTransaction,
    InsufficientPrivilege,
    ObjectInUse,
    sqlstate_of,
)
from hati.pg import paramtypes, settings
from hati.pg.statements import (
    NOOPS,
    QUERIES,
    SETTINGS,
    TXN_BEGIN,
    TXN_CONTROL,
    checkpoint,
    columns_of,
    constant_answer,
    describe_probe,
    first_word,
    is_plain_read,
    is_rollback_to,
    parameter_count,
    pg_named,
    tag_for,
)
from hati.results import Result, command, rows_result, text_columns
from hati.storage import duckdb_backend as storage
from hati.storage.duckdb_backend import Database

WRITE_ATTEMPTS = 8  # tries of an autocommit branch write that lost a race


@dataclass
class ServerState:
    """What every session shares: the database, the branch engine, the audit log."""

    db: Database
    engine: BranchEngine
    audit: AuditLog
    merge_agents: list[str] | None = None
    # Every open session (CHECKPOINT asks whether another one holds a transaction).
    sessions: set[Session] = field(default_factory=set)
    sessions_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(eq=False)
class Session:
    state: ServerState
    connection_id: int
    startup: dict[str, str] = field(default_factory=dict)
    # The agent the connection authenticated as (per-agent keys): it cannot be overridden.
    auth_agent: str | None = None

    def __post_init__(self) -> None:
        self.cur: duckdb.DuckDBPyConnection = self.state.db.cursor()
        self.branches = self.state.engine.open_session(self.cur)
        self.audit = SessionAudit(self.state.audit)
        self._audit_branch: str | None = None
        self.settings = settings.Settings()
        self.txn = "I"
        self.branch: str | None = None
        opts = settings.parse_options(self.startup.get("options", ""))
        for key, value in opts.items():
            if key.lower() in settings.AGENT_SETTINGS and key.lower() != settings.BRANCH_SETTING:
                self.settings.set(key.lower(), value)
        self.settings.set("application_name", self.startup.get("application_name", ""))
        if settings.BRANCH_SETTING in {k.lower() for k in opts}:
            self._enter_branch(opts.get("hatidata_branch") or opts.get("HATIDATA_BRANCH", ""))
        with self.state.sessions_lock:
            self.state.sessions.add(self)

    # ---------------------------------------------------------------- identity
    @property
    def agent_id(self) -> str | None:
        if self.auth_agent:
            return self.auth_agent
        return self.settings.get(settings.AGENT_SETTING) or self.startup.get("user")

    @property
    def engine(self) -> BranchEngine:
        return self.state.engine

    @property
    def merge_agents(self) -> list[str] | None:
        return self.state.merge_agents

    @property
    def in_transaction(self) -> bool:
        return self.txn != "I"

    def close(self) -> None:
        with self.state.sessions_lock:
            self.state.sessions.discard(self)
        self.audit.close()
        try:
            if self.txn != "I":
                self._end(commit=False)
        except duckdb.Error:
            pass
        finally:
            self.cur.close()

    def interrupt(self) -> None:
        self.cur.interrupt()

    def parameter_types(self, sql: str, count: int) -> list[int]:
        """Type oids of ``$1..$count`` as this session's tables suggest (0: unknown)."""
        return paramtypes.infer(self.cur, sql, count)

    # ---------------------------------------------------------------- entry points
    def run(self, sql: str, params: list[Any] | None = None) -> Iterator[Result]:
        """Run every statement of ``sql``; yields one Result per statement."""
        statements = pipeline.split(sql)
        if not statements:
            return
        if len(statements) > 1 and self.txn == "I" and pipeline.one_transaction(statements):
            yield from self._run_implicit(statements, params)
            return
        for text in statements:
            yield self.run_one(text, params)

    def _run_implicit(self, statements: list[str], params: list[Any] | None) -> Iterator[Result]:
        """Several statements in one Query message: one implicit transaction, as in PostgreSQL.

        The batch runs as if in a transaction block (``txn`` is "T", so branch writes do
        not commit on their own); if a statement fails, the earlier ones are rolled back.
        The commit happens once the client has read the last result.
        """
        storage.begin(self.cur)
        self.txn = "T"
        done = False
        try:
            for text in statements:
                yield self.run_one(text, params)
            self.audit.close()
            self._end(commit=True)
            done = True
        finally:
            if not done:
                with contextlib.suppress(duckdb.Error):
                    self._end(commit=False)
            self.txn = "I"

    def run_one(self, sql: str, params: list[Any] | None = None) -> Result:
        """One statement through the pipeline, with its audit record."""
        self.audit.close()
        self._audit_branch = None
        started = time.perf_counter()
        started_at = datetime.now()
        outcome, state, res = "ok", None, None
        try:
            res = self._run(pipeline.classify(sql, params))
            return res
        except BaseException as exc:
            outcome, state = "error", sqlstate_of(exc)
            if self.txn == "T":
                self.txn = "E"
            raise
        finally:
            rec = AuditRecord(
                self.audit.next_seq(),
                started_at,
                datetime.now(),
                (time.perf_counter() - started) * 1000,
                self.agent_id,
                self.settings.get("hatidata_framework"),
                self.settings.get("hatidata_request_id"),
                self.settings.get("hatidata_parent_request_id"),
                self.settings.get("hatidata_reasoning_step"),
                self._audit_branch or self.branch,
                self.connection_id,
                audit_text(sql, params),
                res.final_tag(len(res.rows)) if res else None,
                (res.rowcount if res.columns is None else len(res.rows)) if res else None,
                outcome,
                state,
            )
            self.audit.record(rec, res, started)

    def describe(self, sql: str) -> list[tuple[str, int]] | None:
        """Result columns of a statement without running it (for Describe of a statement)."""
        if first_word(sql) in QUERIES and parse_call(sql) is not None:
            return None
        probe = describe_probe(sql)
        if probe is None:
            return None
        text, naming = probe
        try:
            n = parameter_count(text)
            rel = self.cur.execute(text, [None] * n if n else None)
            return pg_named(naming, columns_of(rel.description))
        except duckdb.Error:
            return None

    # ---------------------------------------------------------------- the pipeline
    def _run(self, stmt: pipeline.Statement) -> Result:
        word = stmt.word
        if word in TXN_CONTROL:
            return self._transaction(word, stmt.text)
        if self.txn == "E":
            raise InFailedTransaction(
                "current transaction is aborted, commands ignored until end of transaction block",
                hint="Send ROLLBACK, then retry.",
            )
        answer = self._answer(stmt)
        if answer is not None:
            return answer
        call = pipeline.intercept(stmt)
        if call is not None:
            return functions.run(self, call)
        pipeline.adapt(stmt)
        if "hati_audit" in stmt.text:
            self.state.audit.flush()
        if self.branch is not None:
            return self._in_branch(self.engine.branch(self.branch), stmt)
        return self._on_main(stmt)

    def _answer(self, stmt: pipeline.Statement) -> Result | None:
        """Statements the session answers itself: settings, no-ops, CHECKPOINT, and
        ``SELECT version()`` / ``current_schema()``."""
        word, text = stmt.word, stmt.text
        if word in SETTINGS:
            st = settings.parse(word, text)
            return None if st is None else self._setting(st, text)
        if word in NOOPS:
            return command(word)
        if word in ("CHECKPOINT", "FORCE"):
            cp = checkpoint(text)
            return None if cp is None else self._checkpoint(*cp)
        if word == "SELECT":
            return constant_answer(text)
        return None

    def _on_main(self, stmt: pipeline.Statement) -> Result:
        if is_plain_read(stmt.word, stmt.text):
            return pipeline.execute(self.cur, stmt)
        with self.branches.writing(self.txn == "T"):
            self.branches.before_main_write(stmt.analysis, stmt.text, stmt.params)
            return pipeline.execute(self.cur, stmt)

    def _in_branch(self, b: Branch, stmt: pipeline.Statement) -> Result:
        self.branches.heal(b)
        with self.branches.reading():
            if self.branches.plain_read(b, stmt.text):
                return pipeline.execute(self.cur, stmt)
        a = stmt.analysis()
        if not (a.writes or a.drops or a.creates) and a.kind == "SELECT":
            with self.branches.reading():
                return self._branch_statement(b, stmt)
        with self.branches.writing(self.txn == "T"):
            if self.txn != "I":
                return self._branch_statement(b, stmt)
            return self._autocommit_write(b, stmt)

    def _autocommit_write(self, b: Branch, stmt: pipeline.Statement) -> Result:
        """Outside a client transaction a branch write (copy-on-write + the statement)
        runs in its own transaction, so kill -9 cannot leave it half done. It is run
        again when a snapshot another session committed after our BEGIN is invisible
        to us, or when another writer of this branch got there first (PostgreSQL would
        make us wait for it; DuckDB reports the conflict at once)."""
        for attempt in range(WRITE_ATTEMPTS):
            storage.begin(self.cur)
            try:
                res = self._branch_statement(b, stmt).buffer()
                self._end(commit=True)
                return res
            except BaseException as exc:
                with contextlib.suppress(duckdb.Error):
                    self._end(commit=False)
                if isinstance(exc, LookupError | duckdb.CatalogException) and attempt < 2:
                    continue  # a snapshot we could not see yet (or a real error: twice)
                if attempt == WRITE_ATTEMPTS - 1 or not _lost_a_race(exc):
                    raise
                time.sleep(min(0.001 * 2**attempt, 0.05))  # let the other writer commit
        raise AssertionError("unreachable")

    def _branch_statement(self, b: Branch, stmt: pipeline.Statement) -> Result:
        """prepare -> execute -> finish of one statement in ``b``."""
        a = stmt.analysis()
        plan = self.branches.prepare(b, a, stmt.text, stmt.params)
        if plan is None:
            return command(tag_for(a.kind, stmt.text, 0))
        ok = False
        try:
            res = pipeline.execute(self.cur, stmt)
            if plan.rerouted:
                res.buffer()  # before search_path is reset on this cursor
            ok = True
        finally:
            self.branches.finish(b, a, plan, ok)
        return res

    # ---------------------------------------------------------------- transactions
    def _transaction(self, word: str, sql: str) -> Result:
        if word in ("SAVEPOINT", "RELEASE"):
            if self.txn == "E":
                raise InFailedTransaction(
                    "current transaction is aborted", hint="Send ROLLBACK, then retry."
                )
            return command(word)
        if word == "ROLLBACK" and is_rollback_to(sql):
            raise FeatureNotSupported(
                "ROLLBACK TO SAVEPOINT is not supported",
                hint="Roll back the whole transaction instead.",
            )
        if word in TXN_BEGIN:
            if self.txn != "I":
                return command("BEGIN")  # PostgreSQL warns and stays in the transaction
            storage.begin(self.cur)
            self.txn = "T"
            return command("BEGIN")
        # COMMIT / END / ROLLBACK / ABORT
        try:
            if self.txn == "I":
                return command("ROLLBACK" if word in ("ROLLBACK", "ABORT") else "COMMIT")
            if self.txn == "E" or word in ("ROLLBACK", "ABORT"):
                self._end(commit=False)
                return command("ROLLBACK")
            self._end(commit=True)
            return command("COMMIT")
        finally:
            self.txn = "I"

    def _end(self, commit: bool) -> None:
        """COMMIT or ROLLBACK the cursor's transaction, and tell the engine which."""
        committed = False
        try:
            if commit:
                storage.commit(self.cur)
                committed = True
            else:
                storage.rollback(self.cur)
        finally:
            self.branches.end(committed)

    def _checkpoint(self, force: bool, database: str) -> Result:
        """CHECKPOINT as in PostgreSQL: it succeeds while other sessions write.

        DuckDB's plain CHECKPOINT fails while another transaction has written; FORCE
        CHECKPOINT waits for those transactions (and holds back new statements meanwhile).
        So: try the plain one, and wait with FORCE only when no other client holds a
        transaction open (only statements in flight, which end on their own). A CHECKPOINT
        that waits is cancelled like any statement (CancelRequest).
        """
        target = f"CHECKPOINT {database}".strip()
        try:
            self.cur.execute(f"FORCE {target}" if force else target).fetchall()
        except duckdb.TransactionException as exc:
            text = str(exc)
            if "transaction local changes" in text:
                raise ActiveSqlTransaction(
                    "CHECKPOINT cannot run in a transaction that has changed data",
                    hint="COMMIT or ROLLBACK this transaction, then run CHECKPOINT.",
                ) from None
            if "other write transactions" not in text:
                raise
            if self.txn != "I":
                raise ObjectInUse(
                    "CHECKPOINT cannot wait for other sessions' writes inside a transaction block",
                    hint="Run CHECKPOINT outside a transaction block.",
                ) from None
            with self.state.sessions_lock:
                busy = sum(1 for s in self.state.sessions if s is not self and s.txn != "I")
            if busy:
                raise ObjectInUse(
                    "CHECKPOINT cannot run while other sessions have open write transactions",
                    detail=f"{busy} other session(s) are inside a transaction block.",
                    hint="Retry once they COMMIT or ROLLBACK.",
                ) from None
            self.cur.execute(f"FORCE {target}").fetchall()
        return command("CHECKPOINT")

    # ---------------------------------------------------------------- SET / SHOW
    def _setting(self, st: settings.SettingStatement, sql: str) -> Result | None:
        name = st.name
        if st.verb == "SET":
            if name == settings.BRANCH_SETTING:
                self._enter_branch(st.value)
            elif name.startswith("hatidata_"):
                self.settings.set(name, st.value)
            elif name == "search_path" and self.branch is not None:
                raise InsufficientPrivilege(
                    "search_path is managed by hati inside a branch session"
                )
            else:
                # PostgreSQL-only settings (extra_float_digits, ...) are accepted and kept.
                with contextlib.suppress(duckdb.Error):
                    self.cur.execute(sql)
                self.settings.set(name, st.value)
            return command("SET")
        if st.verb == "RESET":
            if name in (settings.BRANCH_SETTING, "all"):
                self.leave_branch()
            self.settings.reset(name)
            return command("RESET")
        if name == settings.BRANCH_SETTING:
            value: str | None = self.branch or "main"
        elif name == settings.AGENT_SETTING and self.auth_agent:
            value = self.auth_agent
        else:
            value = self.settings.show(name)
        return None if value is None else rows_result(text_columns(name), [(value,)])

    def _enter_branch(self, name: str) -> None:
        if name in ("", "main", "default"):
            self.leave_branch()
            return
        validate_name(name)
        self.branches.route(self.engine.branch(name))
        self.branch = name

    # ---------------------------------------------------------------- for branch functions
    def leave_branch(self) -> None:
        if self.branch is not None:
            self.branches.route(None)
        self.branch = None

    def acted_on(self, branch: str) -> None:
        self._audit_branch = branch

    def query_in(self, name: str, sql: str) -> Result:
        """One statement in branch ``name``, whichever branch the session is in."""
        b = self.engine.branch(name)
        statements = pipeline.split(sql)
        if len(statements) != 1:
            raise FeatureNotSupported(
                "branch_query runs exactly one statement",
                hint="Call branch_query once per statement.",
            )
        stmt = pipeline.classify(statements[0])
        pipeline.expand(stmt)
        previous = self.branch
        if previous != name:
            self.branches.route(b)
        try:
            self.branch = self._audit_branch = name
            return self._in_branch(b, stmt).buffer()
        finally:
            self.branch = previous
            if previous != name:
                self.branches.route(self.engine.branch(previous) if previous else None)


def _lost_a_race(exc: BaseException) -> bool:
    """A write conflict with another session (see Session._autocommit_write), not a wrong write."""
    return isinstance(exc, duckdb.Error | HatiError) and sqlstate_of(exc) == "40001"


__all__ = ["ServerState", "Session"]
