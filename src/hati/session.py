"""One client's session: its transaction state, and the pipeline its statements take.

A session owns one DuckDB cursor (its own transaction and search_path), knows the
branch it works in, tracks the PostgreSQL transaction status (I/T/E) that DuckDB does
not report, and carries the agent tags recorded in the audit trail. Each statement
goes through the steps of ``pipeline.py``; the branch engine is reached only through
the session's :class:`EngineSession`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
from pglast import ast
from pglast.enums import VariableSetKind

from hati import advisory, checkpoint, copying, functions, pipeline, referential, transactions
from hati import triggers as firing
from hati.audit import SessionAudit, audit_text
from hati.auth import read_only_error
from hati.branching.catalog import Branch
from hati.branching.engine import BranchEngine
from hati.branching.names import validate_name
from hati.cursors import Cursors
from hati.doblocks import run as run_do
from hati.errors import (
    ActiveSqlTransaction,
    FeatureNotSupported,
    HatiError,
    InFailedTransaction,
    SyntaxError_,
    names_relation,
    sqlstate_of,
)
from hati.gate import Pass
from hati.pg import locks, paramtypes, partition_rewrite, partitions, settings, translate
from hati.pg.analyze import Role
from hati.pg.frontend import FrontEnd
from hati.pg.lastval import LastValue
from hati.pg.statements import columns_of, describe_sql, tag
from hati.pg.timezones import arrow_zone, follow
from hati.pg.violations import named as violation
from hati.prepared import PreparedStatements
from hati.results import Result, command, rows_result, text_columns
from hati.state import ServerState
from hati.storage import duckdb_backend as storage

WRITE_ATTEMPTS = 8  # tries of an autocommit branch write that lost a race


@dataclass(eq=False)
class Session:
    state: ServerState
    connection_id: int
    startup: dict[str, str] = field(default_factory=dict)
    # The agent the connection authenticated as (per-agent keys): it cannot be overridden.
    auth_agent: str | None = None
    passage: Pass | None = None  # the connection's way through the statement gate

    def __post_init__(self) -> None:
        self.cur: duckdb.DuckDBPyConnection = self.state.db.cursor()
        self.cur.execute(f"SET VARIABLE hati_backend_pid = {int(self.connection_id)}")
        self.branches = self.state.engine.open_session(self.cur)
        self.audit = SessionAudit(self.state.audit)
        self._audit_branch: str | None = None
        self._reports: dict[str, str] = {}  # ParameterStatus the client is owed
        self._published: dict[str, str] = {}  # what current_setting() reads in DuckDB
        self._zone_icu = "UTC"  # DuckDB's TimeZone on the cursor (pg/timezones.py)
        self._path_for: str | None = settings.GUCS["search_path"].default  # DuckDB's path
        self.settings = settings.Settings(on_report=self._reports.__setitem__)
        self.txn = "I"
        self.block = transactions.Block()  # the transaction block's savepoints, journal
        self.branch: str | None = None
        self.cursors, self.lastval = Cursors(), LastValue()
        self._partitions_changed = False  # partition DDL in the open transaction
        self.prepared = PreparedStatements()  # PREPARE / EXECUTE
        self._param_types = paramtypes.Remembered(self.cur)
        self._duck_path = "main"  # DuckDB's search_path on main (see _follow_search_path)
        startup = {k: v for k, v in self.startup.items() if k not in _STARTUP_KEYS}
        startup.update(settings.parse_options(self.startup.get("options", "")))
        branch = None
        for key, value in startup.items():
            if key.lower() == settings.BRANCH_SETTING:
                branch = value
            else:
                self.settings.set_startup(key, value)
        self.settings.set_startup("application_name", self.startup.get("application_name", ""))
        self.settings.set_startup(
            "session_authorization", self.startup.get("user", ""), internal=True
        )
        if branch is not None:
            self._enter_branch(branch)
        with self.state.sessions_lock:
            self.state.sessions.add(self)

    # ---------------------------------------------------------------- identity
    @property
    def agent_id(self) -> str | None:
        if self.auth_agent:
            return self.auth_agent
        return self.settings.get(settings.AGENT_SETTING) or self.startup.get("user")

    @property
    def frontend(self) -> FrontEnd:
        return self.state.frontend

    def startup_status(self) -> list[tuple[str, str]]:
        """Every setting PostgreSQL reports at startup, with this session's values."""
        self._reports.clear()
        return [(name, self.settings.get(name)) for name in settings.STARTUP_STATUS]

    def reports(self) -> list[tuple[str, str]]:
        """Settings changed since the last call, for ParameterStatus messages."""
        out = list(self._reports.items())
        self._reports.clear()
        return out

    def tag(self, name: str) -> str | None:
        """One of hati's agent tags (None when unset)."""
        return self.settings.get(name) or None

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
                self.end_transaction(commit=False)
        except duckdb.Error:
            pass
        finally:
            self.state.locks.release_all(id(self))
            self.state.advisory.release_all(id(self))
            self._param_types.close()
            self.cur.close()

    def detach(self) -> None:  # online compaction (hati.compactor) swaps the file
        self.cursors.park()
        self._param_types.close()
        self.cur.close()

    def attach(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Continue on ``cur`` (compaction's new file): route and settings are set anew."""
        self.cur, self.branches = cur, self.state.engine.open_session(cur)
        self._param_types = paramtypes.Remembered(cur)
        self._published, self._path_for, self._duck_path = {}, None, "main"
        self._zone_icu = "UTC"  # DuckDB's TimeZone on the cursor (pg/timezones.py)
        if (b := self.engine.catalog.get(self.branch or "")) is not None:
            self.branches.route(b)  # (discarded meanwhile: its next statement says so)

    def compact(self) -> Any:
        """hati_compact() (hati.compactor): this client leaves the gate while it waits."""
        self.state.roles.authorize_compact(self.agent_id)
        return self.state.compact(self.passage)

    def interrupt(self) -> None:
        self.state.locks.cancel(id(self))
        self.cur.interrupt()

    def parameter_types(
        self, sql: str, count: int, before_query: Callable[[], None] | None = None
    ) -> list[int]:
        """Type oids of ``$1..$count`` as this session's tables suggest (0: unknown)."""
        key = (sql, count, self.branch, self.settings.get("search_path"), self.state.catalog_epoch)
        if self.txn == "I":
            return self._param_types.get(key, sql, count, None, before_query)
        b = self.branch and self.engine.branch(self.branch)  # the session cursor's path:
        path = self.engine.router.search_path(b) if b else self._duck_path
        return self._param_types.get(key, sql, count, path, before_query)

    # ---------------------------------------------------------------- entry points
    def run(self, sql: str, params: list[Any] | None = None) -> Iterator[Result]:
        """Run every statement of ``sql``; yields one Result per statement."""
        texts = pipeline.split(self.frontend, sql)
        if not texts:
            return
        if len(texts) > 1 and self.txn == "I":
            stmts = [pipeline.compile_or_error(self.frontend, t, params) for t in texts]
            if all(isinstance(s, pipeline.Statement) for s in stmts) and pipeline.one_transaction(
                [s for s in stmts if isinstance(s, pipeline.Statement)]
            ):
                yield from self._run_implicit(texts, stmts)
                return
        for text in texts:
            yield self.run_one(text, params)

    def _run_implicit(
        self, texts: list[str], stmts: list[pipeline.Statement | BaseException]
    ) -> Iterator[Result]:
        """Several statements in one Query message: one implicit transaction, as in PostgreSQL.

        The batch runs as if in a transaction block (``txn`` is "T": branch writes do not
        commit on their own); a failure rolls back the earlier ones; the commit happens
        once the client has read the last result.
        """
        self.branches.begin()  # BEGIN on the cursor
        self.txn = "T"
        done = False
        try:
            for text, stmt in zip(texts, stmts, strict=True):
                yield self._audited(
                    text, stmt.params if isinstance(stmt, pipeline.Statement) else [], stmt
                )
            self.audit.close()
            self.end_transaction(commit=True)
            done = True
        finally:
            if not done:
                with contextlib.suppress(duckdb.Error):
                    self.end_transaction(commit=False)
            self.txn = "I"

    def run_one(self, sql: str, params: list[Any] | None = None) -> Result:
        """One statement (a Parse message's, or one of a Query's) through the pipeline,
        with its audit record."""
        return self._audited(sql, list(params or []), None)

    def compile(self, sql: str, params: list[Any] | None = None) -> pipeline.Statement:
        """A Parse message's statement: exactly one, as PostgreSQL requires."""
        texts = pipeline.split(self.frontend, sql)
        if len(texts) != 1:
            raise SyntaxError_(
                "cannot insert multiple commands into a prepared statement"
                if texts
                else "a prepared statement needs one statement",
                hint="Send each statement in its own Parse message.",
            )
        return pipeline.compile_one(self.frontend, texts[0], params)

    def _audited(
        self,
        sql: str,
        params: list[Any],
        stmt: pipeline.Statement | BaseException | None,
    ) -> Result:
        self.audit.close()
        self._audit_branch = None
        started = time.perf_counter()
        started_at = datetime.now()
        state, res = None, None
        try:
            if isinstance(stmt, BaseException):
                raise stmt
            if stmt is None:
                stmt = self.compile(sql, params)
            res = self._run_timed(stmt)
            if self.txn == "T" and stmt.kind not in ("TRANSACTION", "DO"):  # DO's: its own
                self.block.record(sql, params, stmt, self.branch)
            elif self.txn == "I" and transactions.changes_state(stmt.analysis):
                self.state.data_version += 1
            return res
        except BaseException as exc:
            state = sqlstate_of(exc)
            if self.txn == "T":
                self.txn = "E"
            if isinstance(stmt, pipeline.Statement) and names_relation(exc):
                raise violation(self.cur, exc, stmt.relation) from exc  # PostgreSQL's names
            raise
        finally:
            branch, text = self._audit_branch or self.branch, audit_text(sql, params)
            self.audit.statement(self, started_at, started, text, branch, res, state)

    def _run_timed(self, stmt: pipeline.Statement) -> Result:
        try:
            with settings.statement_timeout(
                self.settings.timeout_ms("statement_timeout"), self.interrupt
            ):
                return self._run(stmt)
        finally:  # parameter types inferred before a DDL statement are not reused
            self.state.catalog_epoch += paramtypes.may_change_columns(stmt.analysis)
            if partitions.touched(self.frontend.partitions, stmt.compiled.template, stmt.analysis):
                self._partitions_changed = True
                self._reload_partitions()

    def _reload_partitions(self) -> None:
        """Partition DDL ran (or was undone): the front end rewrites by the new trees."""
        with contextlib.suppress(duckdb.Error):
            self.frontend.set_partitions(partition_rewrite.load(self.cur))

    def idle_timeout(self) -> float | None:
        """Seconds a client may sit idle inside a transaction block (None: no limit)."""
        ms = self.settings.timeout_ms("idle_in_transaction_session_timeout")
        return ms / 1000 if ms and self.txn != "I" else None

    def describe(self, sql: str) -> list[tuple[str, int]] | None:
        """Result columns of a statement without running it (for Describe of a statement)."""
        stmt = self.compile(sql)
        if stmt.kind == "SHOW":
            return text_columns(settings.show_name(stmt.node))
        call = pipeline.intercept(stmt, describing=True)
        if call is not None:
            return functions.described(call, self.describe)
        for node in translate.walk(stmt.node):  # described, never run: no setting changes
            if isinstance(node, ast.FuncCall) and node.funcname[-1].sval == "set_config":
                stmt.answers[id(node)] = "CAST(NULL AS VARCHAR)"
        sources = functions.materialize(self, stmt, describing=True)
        probe = describe_sql(stmt.compiled, stmt.sql)
        try:
            if probe is None:
                return None
            rel = self.cur.execute(probe[0], [None] * probe[1] if probe[1] else None)
            return columns_of(rel.description, stmt.analysis)
        except duckdb.Error:
            return None
        finally:
            for name in sources:
                self.cur.unregister(name)

    # ---------------------------------------------------------------- the pipeline
    def _run(self, stmt: pipeline.Statement) -> Result:
        kind = stmt.kind
        if kind == "TRANSACTION":
            return transactions.control(self, self.block, stmt.node)
        if self.txn == "E":
            raise InFailedTransaction(
                "current transaction is aborted, commands ignored until end of transaction block",
                hint="Send ROLLBACK (or ROLLBACK TO a savepoint), then retry.",
            )
        self._zone_icu = follow(self.cur, self.settings.get("timezone"), self._zone_icu)
        transactions.check_access(self, stmt)
        if kind in ("DECLARE", "FETCH", "CLOSE"):
            return self.cursors.run(self, stmt.node, stmt.params)
        if kind == "DO":
            return run_do(self, stmt.node)
        if kind in ("PREPARE", "EXECUTE", "DEALLOCATE"):
            return self.prepared.run(self, stmt.node, lambda a: stmt.compiled.value(a, stmt.params))
        self.cursors.park()
        self.cursors.publish(self.cur, stmt.analysis.tables)
        answer = self._answer(stmt)
        if answer is not None:
            return answer
        if kind == "COPY":
            return copying.start(self, stmt.node)
        call = pipeline.intercept(stmt)
        if call is not None:
            if call.function in _CHANGING and self.state.roles.read_only(self.agent_id):
                raise read_only_error(self.agent_id)
            return functions.run(self, call)
        if any(t.name == "hati_audit" for t in stmt.analysis.tables):
            self.state.audit.flush()
        self._answer_calls(stmt, {f[-1] for f in stmt.analysis.functions})
        b = self.branch  # branch_list() ... in a larger query: its rows are a relation
        run = (lambda: self._in_branch(self.engine.branch(b), stmt)) if b else None
        work = run or (lambda: self._on_main(stmt))
        return firing.around(self, stmt, lambda: functions.with_sources(self, stmt, work))

    def _answer_calls(self, stmt: pipeline.Statement, called: set[str]) -> None:
        """What the session answers before DuckDB runs (set_config, locks, sequences)."""
        # a constant written to a date column is read in DateStyle (pipeline.py), too
        if called & {"current_setting", "set_config"} or pipeline.reads_datestyle(stmt):
            self._publish_settings()
        stmt.answers.update(self.lastval.answer(stmt, called))
        self.state.keys.sequence_rows(self.cur, id(self), stmt)  # SELECT * FROM a sequence
        value = lambda a: stmt.compiled.value(a, stmt.params)  # noqa: E731
        if "set_config" in called:
            stmt.answers.update(self.settings.set_config(stmt.node, value, self.txn != "I"))
        if called & advisory.FUNCTIONS:
            timeout = self.settings.timeout_ms("lock_timeout") / 1e3
            lock = self.state.advisory, id(self), stmt.node, value, self.txn != "I", timeout
            stmt.answers.update(advisory.answer(*lock))

    def _answer(self, stmt: pipeline.Statement) -> Result | None:
        """Statements the session answers itself: settings, no-ops, CHECKPOINT."""
        kind, node = stmt.kind, stmt.node
        if kind == "SET":
            return self._set(node)
        if kind == "SHOW":
            return self._show(node)
        if kind in _NOOPS:
            return command(stmt.analysis.command)
        if kind == "LOCK":
            return advisory.lock_table(self, node)
        if kind == "DISCARD":
            if self.txn != "I":
                raise ActiveSqlTransaction("DISCARD ALL cannot run inside a transaction block")
            self.settings.reset_all()
            self.leave_branch()
            self.lastval.sequence = None
            return command("DISCARD ALL")
        if kind == "VACUUM":
            return command("VACUUM" if node.is_vacuumcmd else "ANALYZE")
        if kind == "CHECKPOINT":
            return checkpoint.run(self, False, "")
        return None

    def _authorize(self, stmt: pipeline.Statement, on_main: bool) -> None:
        """The agent's role (hati.toml) allows this statement where it runs; on main a
        temporary table and the agents' shared schemas are not main's data."""
        a = stmt.analysis
        if a.kind in _WRITING_KINDS or a.changes_data:
            shared = self.engine.router.shared_schemas
            targets = [t for t in a.tables if t.role is not Role.READ]
            exempt = a.temporary or bool(targets and all(t.schema in shared for t in targets))
            self.state.roles.authorize_write(self.agent_id, on_main and not exempt)

    def _on_main(self, stmt: pipeline.Statement) -> Result:
        self._authorize(stmt, on_main=True)
        self._follow_search_path()
        if stmt.kind == "SELECT" and not stmt.analysis.changes_data:
            skip = not self._lock_rows(stmt, "main", on_main=True)
            return pipeline.execute(self.cur, stmt).emptied(skip)
        tables = locks.tables_to_lock(stmt.node, stmt.analysis)
        self._lock(tables)
        try:
            with self.branches.writing(self.txn == "T"):
                # A plain write carries the old rows live branches keep in its own
                # statement (branching/undo.py): one commit, outside a block too.
                return referential.on_main(self, stmt, self.txn == "I")
        finally:
            self.branches.main_written()
            if tables and self.txn == "I":
                self.state.locks.release_all(id(self))

    def _lock(self, tables: list[str]) -> None:  # held to the end of the transaction
        self.state.locks.acquire(id(self), tables, self.settings.timeout_ms("lock_timeout") / 1e3)

    def _lock_rows(self, stmt: pipeline.Statement, schema: str, on_main: bool) -> bool:
        """SELECT ... FOR UPDATE / SHARE takes its tables' write locks to the end of the
        transaction; False: SKIP LOCKED skips them (another transaction holds one)."""
        rl = stmt.analysis.row_locks
        if rl is None:
            return True
        self.state.roles.authorize_write(self.agent_id, on_main)
        timeout = self.settings.timeout_ms("lock_timeout") / 1e3
        names = rl.names(stmt.analysis, schema)
        return locks.lock_rows(self.state.locks, id(self), rl, names, timeout, self.txn != "I")

    def _in_branch(self, b: Branch, stmt: pipeline.Statement) -> Result:
        self._authorize(stmt, on_main=False)
        self.branches.heal(b)
        stmt.in_branch = True
        a = stmt.analysis
        read = a.kind == "SELECT" and not a.changes_data
        if read:
            skip = not self._lock_rows(stmt, b.schema, on_main=False)
            with self.branches.reading():
                if self.branches.plain_read(b, a):
                    return pipeline.execute(self.cur, stmt).emptied(skip)
                return self._branch_statement(b, stmt).emptied(skip)
        tables = locks.branch_tables_to_lock(a, b.schema)
        if self.txn == "I":
            return self._autocommit_write(b, stmt, tables)
        self._lock(tables)  # before the statement's first read starts the snapshot
        with self.branches.writing(self.txn == "T", b.id):
            return self._branch_statement(b, stmt)

    def _autocommit_write(self, b: Branch, stmt: pipeline.Statement, tables: list[str]) -> Result:
        """Outside a client transaction a branch write (copy-on-write + the statement)
        runs in its own transaction, so kill -9 cannot leave it half done; run again
        when a snapshot committed after our BEGIN is invisible to us, or on a conflict."""
        for attempt in range(WRITE_ATTEMPTS):
            self._lock(tables)  # released by _end
            try:
                with self.branches.writing(False, b.id), self._own_transaction():
                    return self._branch_statement(b, stmt).buffer()
            except BaseException as exc:
                if isinstance(exc, LookupError | duckdb.CatalogException) and attempt < 2:
                    continue  # a snapshot we could not see yet (or a real error: twice)
                if attempt == WRITE_ATTEMPTS - 1 or not _lost_a_race(exc):
                    raise
                time.sleep(min(0.001 * 2**attempt, 0.05))  # let the other writer commit
        raise AssertionError("unreachable")

    def _branch_statement(self, b: Branch, stmt: pipeline.Statement) -> Result:
        """One statement in ``b``, with the foreign keys hati keeps (referential.py)."""
        return referential.run_in(self, stmt, lambda s: self._branch_one(b, s), False)

    def _branch_one(self, b: Branch, stmt: pipeline.Statement) -> Result:
        """prepare -> execute -> finish of one statement in ``b``."""
        a = stmt.analysis
        plan = self.branches.prepare(b, a, stmt.write)
        if plan is None:
            return command(tag(a))
        ok = False
        stmt.relocate_target(plan.target_schema)
        try:
            res = pipeline.execute(self.cur, stmt)
            if plan.target_schema is not None or (a.writes and res.columns is not None):
                res.buffer()  # a RETURNING's rows, before finish runs on the cursor
            ok = True
        finally:
            self.branches.finish(b, a, plan, ok)
        return res

    # ---------------------------------------------------------------- transactions
    @contextlib.contextmanager
    def _own_transaction(self) -> Iterator[None]:
        """A write outside a transaction block, in a transaction of its own."""
        self.branches.begin()
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.end_transaction(commit=False)
            raise
        self.end_transaction(commit=True)

    def end_transaction(self, commit: bool) -> None:
        """COMMIT or ROLLBACK the cursor's transaction, and tell the engine which."""
        committed, block = False, self.block
        self.block = transactions.Block()
        self.cursors.end_transaction()
        try:
            if commit:
                self.branches.commit()  # COMMIT on the cursor
                committed = True
            else:
                storage.rollback(self.cur)
        finally:
            self.state.catalog_epoch += not committed  # DDL it ran is undone
            if self._partitions_changed:
                self._partitions_changed = False
                self._reload_partitions()
            self.state.locks.release_all(id(self))
            self.state.keys.ended(id(self))
            self.branches.end(committed)
            self.settings.end_transaction()
            self.state.data_version += committed and block.wrote
            self.state.advisory.end_transaction(id(self))

    def begin_transaction(self) -> None:
        self.branches.begin()  # BEGIN on the cursor

    def restart_transaction(self, declared: set[str]) -> None:
        """ROLLBACK TO SAVEPOINT (hati.transactions): a new DuckDB transaction for the
        block, which keeps its locks; the block's cursors close."""
        self.cursors.end_transaction()
        self.cursors.drop(declared)
        try:
            storage.rollback(self.cur)
        finally:
            self.state.catalog_epoch += 1
            self.state.keys.ended(id(self))
            self.branches.end(False)
        self.branches.begin()

    def replay(self, stmt: pipeline.Statement) -> None:
        self._run(stmt).buffer().close()

    def restore_branch(self, name: str | None) -> None:
        try:
            self._enter_branch(name or "main")
        except (HatiError, duckdb.Error):  # its next statement routes it (heal)
            self.branch, self._path_for = name, None
            self.branches.stale()

    # ---------------------------------------------------------------- SET / SHOW
    def _set(self, node: ast.VariableSetStmt) -> Result:
        k, name = node.kind, (node.name or "").lower()
        if k == VariableSetKind.VAR_RESET_ALL:
            self.settings.reset_all()
            self.leave_branch()
            return command("RESET")
        if transactions.is_set_transaction(node):
            return transactions.set_transaction(self, node)
        if name in settings.SET_ALIASES:
            name = settings.SET_ALIASES[name]
        value = (
            None
            if k in (VariableSetKind.VAR_SET_DEFAULT, VariableSetKind.VAR_RESET)
            else settings.set_value(node)
        )
        if name == settings.BRANCH_SETTING:
            if value is None:
                self.leave_branch()
            else:
                self._enter_branch(value)
            return command("RESET" if k == VariableSetKind.VAR_RESET else "SET")
        self.settings.set(name, value, local=bool(node.is_local) and self.txn != "I")
        return command("RESET" if k == VariableSetKind.VAR_RESET else "SET")

    def _show(self, node: ast.VariableShowStmt) -> Result:
        name = settings.show_name(node)
        if name == "all":
            cols = text_columns("name", "setting", "description")
            return rows_result(cols, self.settings.show_all())
        if name == settings.BRANCH_SETTING:
            value = self.branch or "main"
        elif name == settings.AGENT_SETTING and self.auth_agent:
            value = self.auth_agent
        else:
            value = self.settings.get(name)
        g = self.settings.lookup(name)  # named as PostgreSQL spells it (DateStyle)
        res = rows_result(text_columns(g.name if g else name), [(value,)])
        res.tag = "SHOW"
        return res

    def _follow_search_path(self) -> None:
        """On main, unqualified names resolve along the session's search_path, as in
        PostgreSQL: public is DuckDB's main; hati's own schemas and schemas that do not
        exist are passed over."""
        path = self.settings.get("search_path")
        if path == self._path_for:
            return
        duck = settings.duckdb_search_path(path, lambda: self.state.db.schemas(self.cur))
        self.cur.execute(f"SET search_path = {settings.literal(duck)}")
        self._path_for, self._duck_path = path, duck

    def _publish_settings(self) -> None:
        """Hand the session's settings to DuckDB, where current_setting() reads them."""
        values = self.settings.values()
        values[settings.BRANCH_SETTING] = self.branch or "main"
        if values != self._published:
            pairs = ", ".join(
                f"{settings.literal(k)}: {settings.literal(v)}" for k, v in sorted(values.items())
            )
            self.cur.execute(f"SET VARIABLE hati_gucs = MAP {{{pairs}}}")
            self._published = values

    def _enter_branch(self, name: str) -> None:
        if name in ("", "main"):  # 'default' is refused by validate_name, never main
            self.leave_branch()
            return
        validate_name(name)
        self.branches.route(self.engine.branch(name))
        self.branch = name

    # ---------------------------------------------------------------- for branch functions
    def leave_branch(self) -> None:
        if self.branch is not None:
            self.branches.route(None)
            self._path_for, self._duck_path = None, "main"  # follow search_path again
        self.branch = None

    def run_internal(self, sql: str, params: list[Any] | None = None, fire: bool = True) -> Result:
        """A statement hati makes for the client's (COPY's, DECLARE's, a trigger's)."""
        try:
            return self._run(pipeline.compile_one(self.frontend, sql, params, fire))
        except BaseException:
            self.txn = "E" if self.txn == "T" else self.txn
            raise

    def zone(self) -> str | None:  # the zone timestamptz text is printed in
        return arrow_zone(self.settings.get("timezone"))

    def acted_on(self, branch: str) -> None:
        self._audit_branch = branch

    def query_in(self, name: str, sql: str) -> Result:
        """One statement in branch ``name``, whichever branch the session is in."""
        b = self.engine.branch(name)
        texts = pipeline.split(self.frontend, sql)
        if len(texts) != 1:
            raise FeatureNotSupported(
                "branch_query runs exactly one statement",
                hint="Call branch_query once per statement.",
            )
        stmt = pipeline.compile_one(self.frontend, texts[0])
        if stmt.kind not in _IN_BRANCH_QUERY:
            raise FeatureNotSupported(
                f"branch_query cannot run {stmt.analysis.command or stmt.kind}",
                hint="branch_query runs queries, data changes and table DDL; "
                "transaction control and settings belong to the session.",
            )
        previous = self.branch
        if previous != name:
            self.branches.route(b)
        try:
            self.branch = self._audit_branch = name
            return firing.around(self, stmt, lambda: self._in_branch(b, stmt)).buffer()
        finally:
            self.branch = previous
            if previous != name:
                self.branches.route(self.engine.branch(previous) if previous else None)
                self._path_for, self._duck_path = None, "main"


_WRITING_KINDS, _CHANGING = transactions.WRITING_KINDS, transactions.CHANGING_CALLS
_STARTUP_KEYS = frozenset({"user", "database", "options", "application_name", "replication"})
_NOOPS = frozenset({"LISTEN", "UNLISTEN", "NOTIFY"})
# What branch_query runs: a statement about the branch's data, nothing about the session.
_IN_BRANCH_QUERY = frozenset(
    "SELECT INSERT UPDATE DELETE MERGE CREATE CREATE_INDEX ALTER DROP TRUNCATE EXPLAIN".split()  # noqa: SIM905
)


def _lost_a_race(exc: BaseException) -> bool:
    """A write conflict with another session (see Session._autocommit_write), not a wrong write."""
    return isinstance(exc, duckdb.Error | HatiError) and sqlstate_of(exc) == "40001"


__all__ = ["ServerState", "Session"]
