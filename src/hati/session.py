"""One client's state and the routing of its statements.

A session owns one DuckDB cursor (its own transaction and search_path), knows the
branch it works in, tracks the PostgreSQL transaction status (I/T/E) that DuckDB
does not report, and carries the agent tags recorded in the audit trail.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from hati.audit import AuditLog, AuditRecord
from hati.branching import delta
from hati.branching.analysis import Analysis, analyze, returning_probe
from hati.branching.calls import BranchCall, parse_call
from hati.branching.catalog import MAIN_ID, Branch
from hati.branching.engine import BranchEngine
from hati.branching.names import validate_name
from hati.errors import (
    FeatureNotSupported,
    HatiError,
    InFailedTransaction,
    InsufficientPrivilege,
    to_sql_error,
)
from hati.results import (
    Result,
    command,
    cursor_result,
    pg_column_names,
    rows_result,
    text_columns,
)
from hati.server import pgcatalog, serial
from hati.storage.duckdb_backend import Database, qident
from hati.wire import types as pgtypes

SERVER_VERSION = "15.0 (hati 0.1.0)"
AGENT_SETTINGS = (
    "hatidata_agent_id",
    "hatidata_framework",
    "hatidata_priority",
    "hatidata_request_id",
    "hatidata_reasoning_step",
    "hatidata_parent_request_id",
    "hatidata_branch",
)
_PG_DEFAULTS = {
    "server_version": SERVER_VERSION,
    "server_version_num": "150000",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "datestyle": "ISO, MDY",
    "timezone": "UTC",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "transaction_isolation": "repeatable read",
    "default_transaction_isolation": "repeatable read",
    "transaction_read_only": "off",
    "is_superuser": "on",
    "max_identifier_length": "63",
    "intervalstyle": "postgres",
    "lc_collate": "C",
    "lc_ctype": "C",
}

WRITE_ATTEMPTS = 8  # tries of an autocommit branch write that lost a race
_WS = r"(?:\s|/\*.*?\*/|--[^\n]*\n)*"
_FIRST_WORD = re.compile(_WS + r"([A-Za-z]+)", re.S)
_SET = re.compile(
    r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?([A-Za-z_][\w.]*)\s*(?:=|\bTO\b)\s*(.+?)\s*;?\s*$",
    re.I | re.S,
)
_SET_TZ = re.compile(r"^\s*SET\s+(?:SESSION\s+)?TIME\s+ZONE\s+(.+?)\s*;?\s*$", re.I | re.S)
_RESET = re.compile(r"^\s*RESET\s+([A-Za-z_][\w.]*|ALL)\s*;?\s*$", re.I)
_SHOW = re.compile(r"^\s*SHOW\s+([A-Za-z_][\w. ]*?)\s*;?\s*$", re.I)
_VERSION = re.compile(r"^\s*SELECT\s+(?:pg_catalog\.)?version\(\)\s*;?\s*$", re.I)
_CURRENT_SCHEMA = re.compile(r"^\s*SELECT\s+(?:pg_catalog\.)?current_schema\(\)\s*;?\s*$", re.I)
_RETURNING = re.compile(r"\bRETURNING\b", re.I)
_CHECKPOINT = re.compile(r"^\s*(FORCE\s+)?CHECKPOINT\b\s*([A-Za-z_][\w\"]*)?\s*;?\s*$", re.I)
_TXN_BEGIN = {"BEGIN", "START"}
_TXN_END = {"COMMIT", "END", "ROLLBACK", "ABORT"}
_NOOPS = {"DISCARD", "DEALLOCATE", "LISTEN", "UNLISTEN", "NOTIFY", "CLOSE"}
_WRITES = {
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "ALTER",
    "COPY",
    "MERGE",
    "TRUNCATE",
    "MERGE_INTO",
    "COPY_DATABASE",
}


def first_word(sql: str) -> str:
    m = _FIRST_WORD.match(sql)
    return m.group(1).upper() if m else ""


_BLANK = re.compile(r"(\s|--[^\n]*(\n|$)|/\*.*?\*/)*", re.S)


def split_statements(sql: str) -> list[str]:
    """Split on semicolons outside quotes, dollar quotes and comments."""
    if ";" not in sql and "--" not in sql and "/*" not in sql:
        return [sql] if sql.strip() else []
    out, start, i, n = [], 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == "$":
            m = re.match(r"\$[A-Za-z_]*\$", sql[i:])
            if m:
                end = sql.find(m.group(0), i + len(m.group(0)))
                i = n if end < 0 else end + len(m.group(0))
            else:
                i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == ";":
            out.append(sql[start:i])
            start = i = i + 1
        else:
            i += 1
    out.append(sql[start:])
    return [s for s in out if s.strip() and not _BLANK.fullmatch(s)]


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1].replace(v[0] * 2, v[0])
    return v


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
        self._open_audit: tuple[AuditRecord, float] | None = None
        self._audit_branch: str | None = None
        self.settings: dict[str, str] = {}
        self.txn = "I"
        self._holding_gate = False
        self._stale_search_path = False  # set when a failed delta write could not reset it
        self._persisted_here: list[Branch] = []  # branch rows this transaction inserted
        self._marked_here: list[tuple[int, str, str]] = []  # its delta_columns rows
        self.branch: str | None = None
        opts = parse_options(self.startup.get("options", ""))
        for key, value in opts.items():
            if key.lower() in AGENT_SETTINGS and key.lower() != "hatidata_branch":
                self.settings[key.lower()] = value
        self.settings.setdefault("application_name", self.startup.get("application_name", ""))
        if "hatidata_branch" in {k.lower() for k in opts}:
            self._enter_branch(opts.get("hatidata_branch") or opts.get("HATIDATA_BRANCH", ""))
        with self.state.sessions_lock:
            self.state.sessions.add(self)

    # ---------------------------------------------------------------- identity
    @property
    def agent_id(self) -> str | None:
        if self.auth_agent:
            return self.auth_agent
        return self.settings.get("hatidata_agent_id") or self.startup.get("user")

    @property
    def engine(self) -> BranchEngine:
        return self.state.engine

    def close(self) -> None:
        with self.state.sessions_lock:
            self.state.sessions.discard(self)
        self._close_audit()
        try:
            if self.txn != "I":
                self._end(commit=False)
        except duckdb.Error:
            pass
        finally:
            self._release_gate()
            self.cur.close()

    def interrupt(self) -> None:
        self.cur.interrupt()

    # ---------------------------------------------------------------- entry points
    def run(self, sql: str, params: list[Any] | None = None) -> Iterator[Result]:
        """Run every statement of ``sql``; yields one Result per statement."""
        statements = split_statements(sql)
        if not statements:
            return
        if len(statements) > 1 and self.txn == "I" and _one_transaction(statements):
            yield from self._run_implicit(statements, params)
            return
        for stmt in statements:
            yield self.run_one(stmt, params)

    def _run_implicit(self, statements: list[str], params: list[Any] | None) -> Iterator[Result]:
        """Several statements in one Query message: one implicit transaction, as in PostgreSQL.

        The batch runs as if in a transaction block (``txn`` is "T", so branch writes do
        not commit on their own); if a statement fails, the earlier ones are rolled back.
        The commit happens once the client has read the last result.
        """
        self.cur.execute("BEGIN TRANSACTION")
        self.txn = "T"
        done = False
        try:
            for stmt in statements:
                yield self.run_one(stmt, params)
            self._close_audit()
            self._end(commit=True)
            done = True
        finally:
            if not done:
                with contextlib.suppress(duckdb.Error):
                    self._end(commit=False)
            self.txn = "I"
            self._release_gate()

    def run_one(self, sql: str, params: list[Any] | None = None) -> Result:
        self._close_audit()
        self._audit_branch: str | None = None
        started = time.perf_counter()
        started_at = datetime.now()
        outcome, state, res = "ok", None, None
        try:
            res = self._dispatch(sql, params or [])
            return res
        except BaseException as exc:
            outcome = "error"
            state = to_sql_error(exc).sqlstate
            if self.txn == "T":
                self.txn = "E"
            raise
        finally:
            rec = AuditRecord(
                self.state.audit.next_seq(),
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
                _audit_text(sql, params),
                res.final_tag(len(res.rows)) if res else None,
                (res.rowcount if res.columns is None else len(res.rows)) if res else None,
                outcome,
                state,
            )
            if res is not None and res.fetch_more is not None:
                self._audit_streamed(rec, res, started)
            else:
                self.state.audit.record(rec)

    def _audit_streamed(self, rec: AuditRecord, res: Result, started: float) -> None:
        """Record a streamed result once its rows are counted (or at the next statement)."""
        self._open_audit = (rec, started)
        rec.rows = len(res.rows)
        fetch = res.fetch_more
        assert fetch is not None

        def counting(n: int) -> list[tuple[Any, ...]]:
            rows = fetch(n)
            rec.rows = (rec.rows or 0) + len(rows)
            rec.command = res.final_tag(rec.rows)
            if len(rows) < n and self._open_audit is not None and self._open_audit[0] is rec:
                self._close_audit()
            return rows

        res.fetch_more = counting

    def _close_audit(self) -> None:
        if self._open_audit is not None:
            rec, started = self._open_audit
            self._open_audit = None
            rec.finished_at = datetime.now()
            rec.duration_ms = (time.perf_counter() - started) * 1000
            self.state.audit.record(rec)

    def describe(self, sql: str) -> list[tuple[str, int]] | None:
        """Result columns of a statement without running it (for Describe of a statement)."""
        word = first_word(sql)
        if word in ("SELECT", "WITH", "VALUES", "TABLE", "FROM") and parse_call(sql) is None:
            probe = f"SELECT * FROM ({sql.rstrip().rstrip(';')}) LIMIT 0"
        elif word in ("INSERT", "UPDATE", "DELETE") and _RETURNING.search(sql):
            probe = returning_probe(sql)
            if probe is None:
                return None
            sql = probe
        else:
            return None
        try:
            n = max((int(i) for i in re.findall(r"\$(\d+)", probe)), default=0)
            rel = self.cur.execute(probe, [None] * n if n else None)
            return _pg_named(sql, _columns(rel.description))
        except duckdb.Error:
            return None

    # ---------------------------------------------------------------- dispatch
    def _dispatch(self, sql: str, params: list[Any]) -> Result:
        word = first_word(sql)
        if word in _TXN_BEGIN | _TXN_END or word in ("SAVEPOINT", "RELEASE"):
            return self._transaction(word, sql)
        if self.txn == "E":
            raise InFailedTransaction(
                "current transaction is aborted, commands ignored until end of transaction block",
                hint="Send ROLLBACK, then retry.",
            )
        if word in ("SET", "RESET", "SHOW"):
            res = self._settings(word, sql)
            if res is not None:
                return res
        if word in _NOOPS:
            return command(word)
        if word in ("CHECKPOINT", "FORCE"):
            m = _CHECKPOINT.match(sql)
            if m is not None:
                return self._checkpoint(bool(m.group(1)), m.group(2) or "")
        if word == "SELECT":
            if _VERSION.match(sql):
                return rows_result(
                    text_columns("version"), [(f"PostgreSQL {SERVER_VERSION} on DuckDB",)]
                )
            if _CURRENT_SCHEMA.match(sql):
                return rows_result([("current_schema", pgtypes.NAME)], [("main",)])
            call = parse_call(sql, params)
            if call is not None:
                return self._branch_call(call)
        if word in ("SELECT", "WITH"):
            sql = pgcatalog.adapt(sql)
        if "hati_audit" in sql:
            self.state.audit.flush()
        if self.branch is not None:
            return self._in_branch(self.engine.branch(self.branch), sql, params)
        return self._on_main(sql, params, word)

    def _on_main(self, sql: str, params: list[Any], word: str) -> Result:
        if (
            word
            in (
                "SELECT",
                "WITH",
                "VALUES",
                "TABLE",
                "FROM",
                "EXPLAIN",
                "DESCRIBE",
                "PRAGMA",
                "SUMMARIZE",
            )
            and not _RETURNING.search(sql)
            and word != "WITH"
        ):
            return self._execute(sql, params, word)
        if word == "WITH" and not re.search(r"\b(INSERT|UPDATE|DELETE)\b", sql, re.I):
            return self._execute(sql, params, word)
        with self._write_gate():
            if self.engine.catalog.children(MAIN_ID):
                a = analyze(sql)
                tables = [
                    r.name for r in [*a.writes, *a.drops, *a.creates] if r.schema in (None, "main")
                ]
                if tables:
                    # A plain UPDATE/DELETE says which rows it changes: the snapshot
                    # live branches need then keeps just those (branching/undo.py).
                    write = delta.plan_write(a, sql, params) if a.writes and not a.drops else None
                    self.engine.before_write(MAIN_ID, tables, write=write)
            return self._execute(sql, params, word)

    def _in_branch(self, b: Branch, sql: str, params: list[Any]) -> Result:
        if self._stale_search_path and self.txn != "E":
            self.engine.reset_search_path(self.cur, b)  # a delta write failed last time
            self._stale_search_path = False
        with self.engine.reading():
            if self.engine.plain_read(b, sql):
                return self._execute(sql, params, first_word(sql))
        a = analyze(sql)
        writes = bool(a.writes or a.drops or a.creates) or a.kind not in ("SELECT",)
        if not writes:
            with self.engine.reading():
                return self._branch_statement(b, a, sql, params)
        with self._write_gate():
            if self.txn != "I":
                return self._branch_statement(b, a, sql, params)
            # Outside a client transaction a branch write (copy-on-write + the statement)
            # runs in its own transaction, so kill -9 cannot leave it half done. It is run
            # again when a snapshot another session committed after our BEGIN is invisible
            # to us, or when another writer of this branch got there first (PostgreSQL
            # would make us wait for it; DuckDB reports the conflict at once).
            for attempt in range(WRITE_ATTEMPTS):
                self.cur.execute("BEGIN TRANSACTION")
                try:
                    res = self._branch_statement(b, a, sql, params)
                    if res.fetch_more is not None:
                        res.rows = res.fetch(1 << 62)
                        res.fetch_more = None
                        res._pos = 0
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

    def _branch_statement(self, b: Branch, a: Analysis, sql: str, params: list[Any]) -> Result:
        fresh = not b.persisted
        try:
            plan = self.engine.prepare_statement(self.cur, b, a, sql, params)
        finally:
            if fresh and b.persisted:
                self._persisted_here.append(b)
        if plan is None:
            return command(_tag_for(a.kind, sql, 0))
        ok = False
        try:
            res = self._execute(sql, params, first_word(sql))
            if plan.delta is not None and res.fetch_more is not None:
                res.rows = res.fetch(1 << 62)  # before search_path is reset on this cursor
                res.fetch_more = None
                res._pos = 0
            ok = True
        finally:
            if not self.engine.finish_statement(self.cur, b, plan, ok):
                self._stale_search_path = True
            self._marked_here += plan.marked
        if a.drops or a.creates:
            self.engine.after_statement(self.cur, b, a)
        return res

    def _execute(self, sql: str, params: list[Any], word: str) -> Result:
        if word == "CREATE" and serial.mentions_serial(sql):
            expanded = serial.expand(sql)
            if expanded is not None:
                for stmt in expanded.sequences:
                    self.cur.execute(stmt)
                sql = expanded.sql
        rel = self.cur.execute(sql, params or None)
        desc = self.cur.description
        kind = _with_verb(sql) if word == "WITH" else word
        if kind in ("INSERT", "UPDATE", "DELETE", "MERGE") and not _RETURNING.search(sql):
            row = rel.fetchone() if desc else None
            n = int(row[0]) if row and row[0] is not None else 0
            return command(_tag_for(kind, sql, n), n)
        if desc is None or kind in (
            "CREATE",
            "DROP",
            "ALTER",
            "SET",
            "RESET",
            "COPY",
            "ATTACH",
            "DETACH",
            "LOAD",
            "INSTALL",
            "CHECKPOINT",
            "VACUUM",
            "CALL",
            "TRUNCATE",
        ):
            n = 0
            if desc and kind == "COPY":
                row = rel.fetchone()
                n = int(row[0]) if row and isinstance(row[0], int) else 0
            elif desc:
                rel.fetchall()
            return command(_tag_for(kind, sql, n), n)
        cols = _pg_named(sql, _columns(desc))
        # INSERT/UPDATE/DELETE ... RETURNING keep their own tag; the row count is filled
        # in once the rows are sent, as for SELECT.
        tag = (
            _tag_for(kind, sql, 0) if kind in ("INSERT", "UPDATE", "DELETE", "MERGE") else "SELECT"
        )
        return cursor_result(tag, cols, self.cur)

    # ---------------------------------------------------------------- transactions
    def _write_gate(self) -> Any:
        """Writes hold the fork gate shared; in a transaction, until it ends."""
        if self.txn == "T":
            if not self._holding_gate:
                self.engine.gate.acquire_shared()
                self._holding_gate = True
            return _null_context()
        return self.engine.writing()

    def _release_gate(self) -> None:
        if self._holding_gate:
            self._holding_gate = False
            self.engine.gate.release_shared()

    def _transaction(self, word: str, sql: str) -> Result:
        upper = sql.strip().rstrip(";").upper()
        if word in ("SAVEPOINT", "RELEASE"):
            if self.txn == "E":
                raise InFailedTransaction(
                    "current transaction is aborted", hint="Send ROLLBACK, then retry."
                )
            return command(word)
        if word == "ROLLBACK" and re.match(r"ROLLBACK\s+(WORK\s+|TRANSACTION\s+)?TO\b", upper):
            raise FeatureNotSupported(
                "ROLLBACK TO SAVEPOINT is not supported",
                hint="Roll back the whole transaction instead.",
            )
        if word in _TXN_BEGIN:
            if self.txn != "I":
                return command("BEGIN")  # PostgreSQL warns and stays in the transaction
            self.cur.execute("BEGIN TRANSACTION")
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
            if self.txn != "I":
                self.txn = "I"
                self._release_gate()

    def _end(self, commit: bool) -> None:
        """COMMIT or ROLLBACK the cursor's transaction. A branch row inserted by a
        transaction that did not commit is gone: its branch must insert it again."""
        committed = False
        try:
            if commit:
                self.cur.execute("COMMIT")
                committed = True
                self.engine.marks_committed(self._marked_here)
            else:
                self.cur.execute("ROLLBACK")
        finally:
            if not committed:
                for b in self._persisted_here:
                    b.persisted = False
            self._persisted_here.clear()
            self._marked_here.clear()

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
                raise _sql_error(
                    "25001",
                    "CHECKPOINT cannot run in a transaction that has changed data",
                    hint="COMMIT or ROLLBACK this transaction, then run CHECKPOINT.",
                ) from None
            if "other write transactions" not in text:
                raise
            if self.txn != "I":
                raise _sql_error(
                    "55006",
                    "CHECKPOINT cannot wait for other sessions' writes inside a transaction block",
                    hint="Run CHECKPOINT outside a transaction block.",
                ) from None
            with self.state.sessions_lock:
                busy = sum(1 for s in self.state.sessions if s is not self and s.txn != "I")
            if busy:
                raise _sql_error(
                    "55006",
                    "CHECKPOINT cannot run while other sessions have open write transactions",
                    detail=f"{busy} other session(s) are inside a transaction block.",
                    hint="Retry once they COMMIT or ROLLBACK.",
                ) from None
            self.cur.execute(f"FORCE {target}").fetchall()
        return command("CHECKPOINT")

    # ---------------------------------------------------------------- SET / SHOW
    def _settings(self, word: str, sql: str) -> Result | None:
        if word == "SET":
            m = _SET.match(sql) or _SET_TZ.match(sql)
            if m is None:
                return None
            name, value = (
                (m.group(1).lower(), _unquote(m.group(2)))
                if m.re is _SET
                else ("timezone", _unquote(m.group(1)))
            )
            if name == "hatidata_branch":
                self._enter_branch(value)
            elif name.startswith("hatidata_"):
                self.settings[name] = value
            elif name in ("search_path",) and self.branch is not None:
                raise InsufficientPrivilege(
                    "search_path is managed by hati inside a branch session"
                )
            else:
                # PostgreSQL-only settings (extra_float_digits, ...) are accepted and kept.
                with contextlib.suppress(duckdb.Error):
                    self.cur.execute(sql)
                self.settings[name] = value
            return command("SET")
        if word == "RESET":
            m = _RESET.match(sql)
            if m is None:
                return None
            name = m.group(1).lower()
            if name in ("hatidata_branch", "all"):
                self._leave_branch()
            if name == "all":
                for k in [
                    k
                    for k in self.settings
                    if k.startswith("hatidata_") and k != "hatidata_agent_id"
                ]:
                    del self.settings[k]
            else:
                self.settings.pop(name, None)
            return command("RESET")
        m = _SHOW.match(sql)
        if m is None:
            return None
        name = re.sub(r"\s+", " ", m.group(1).strip().lower())
        if name == "transaction isolation level":
            name = "transaction_isolation"
        if name == "hatidata_branch":
            return rows_result(text_columns(name), [(self.branch or "main",)])
        if name == "hatidata_agent_id" and self.auth_agent:
            return rows_result(text_columns(name), [(self.auth_agent,)])
        if name in self.settings:
            return rows_result(text_columns(name), [(self.settings[name],)])
        if name in _PG_DEFAULTS:
            return rows_result(text_columns(name), [(_PG_DEFAULTS[name],)])
        if name.startswith("hatidata_"):
            return rows_result(text_columns(name), [("",)])
        return None

    def _enter_branch(self, name: str) -> None:
        if name in ("", "main", "default"):
            self._leave_branch()
            return
        validate_name(name)
        b = self.engine.branch(name)
        self.cur.execute(f"SET search_path = '{self.engine.search_path(b)}'")
        self._stale_search_path = False
        self.branch = name

    def _leave_branch(self) -> None:
        if self.branch is not None:
            self.cur.execute("SET search_path = 'main'")
            self._stale_search_path = False
        self.branch = None

    # ---------------------------------------------------------------- branch functions
    def _branch_call(self, call: BranchCall) -> Result:
        fn, args = call.function, call.args
        if fn in ("branch_create", "branch_merge", "branch_discard") and self.txn != "I":
            raise _in_txn_error(fn)
        eng = self.engine
        col = call.alias or fn
        if args and isinstance(args[0], str):
            self._audit_branch = args[0]  # the audit names the branch the call acted on
        if fn == "branch_create":
            name = args[0]
            parent = args[1] if len(args) > 1 else None
            ttl = float(args[2]) if len(args) > 2 and args[2] is not None else None
            b = eng.create(self.cur, name, parent, ttl, self.agent_id)
            return rows_result(text_columns(col), [(b.name,)])
        if fn == "branch_query":
            return self._branch_query(str(args[0]), str(args[1]))
        if fn == "branch_merge":
            strategy = args[1] if len(args) > 1 and args[1] is not None else "branch_wins"
            self._check_merge_permission(args[0])
            r = eng.merge(self.cur, args[0], strategy)
            if self.branch == r.branch and r.status == "merged":
                self._leave_branch()
            cols = [
                ("branch", pgtypes.TEXT),
                ("strategy", pgtypes.TEXT),
                ("inserted", pgtypes.INT8),
                ("updated", pgtypes.INT8),
                ("deleted", pgtypes.INT8),
                ("conflicts", pgtypes.INT8),
                ("status", pgtypes.TEXT),
            ]
            return rows_result(
                cols,
                [(r.branch, r.strategy, r.inserted, r.updated, r.deleted, r.conflicts, r.status)],
            )
        if fn == "branch_discard":
            eng.discard(self.cur, args[0])
            if self.branch == args[0]:
                self._leave_branch()
            return rows_result(text_columns(col), [(args[0],)])
        if fn == "branch_list":
            eng.expire(self.cur)
            return self._branch_list()
        if fn == "branch_diff":
            cols = text_columns("table_name", "change", "key", "old_values", "new_values")
            return rows_result(cols, eng.diff(self.cur, args[0]))
        if fn == "branch_conflicts":
            cols = text_columns("table_name", "key", "base_values", "main_values", "branch_values")
            rows = [
                (c.table, c.key, c.base, c.ours, c.theirs) for c in eng.conflicts(self.cur, args[0])
            ]
            return rows_result(cols, rows)
        if fn == "branch_resolve":
            choice = eng.record_resolution(self.cur, args[0], args[1], str(args[2]), str(args[3]))
            return rows_result(
                text_columns("branch_name", "table_name", "key", "resolution"),
                [(args[0], args[1], str(args[2]), choice)],
            )
        raise FeatureNotSupported(f"{fn} is not supported")

    def _check_merge_permission(self, name: str) -> None:
        allowed = self.state.merge_agents
        b = self.engine.branch(name)
        if allowed is not None and b.parent_id == MAIN_ID and self.agent_id not in allowed:
            raise InsufficientPrivilege(
                f'agent "{self.agent_id}" may not merge into main',
                hint="Ask an agent listed in merge_agents (hati.toml) to merge, or discard the branch.",
            )

    def _branch_query(self, name: str, sql: str) -> Result:
        b = self.engine.branch(name)
        statements = split_statements(sql)
        if len(statements) != 1:
            raise FeatureNotSupported(
                "branch_query runs exactly one statement",
                hint="Call branch_query once per statement.",
            )
        previous = self.branch
        if previous != name:
            self.cur.execute(f"SET search_path = '{self.engine.search_path(b)}'")
        try:
            self.branch = self._audit_branch = name
            res = self._in_branch(b, statements[0], [])
            if res.columns is not None:
                res.rows = res.fetch(1 << 62) if res.fetch_more else res.rows
                res.fetch_more = None
                res.tag = f"SELECT {len(res.rows)}"
                res.rowcount = len(res.rows)
                return res
            return rows_result(
                [("status", pgtypes.TEXT), ("rows_affected", pgtypes.INT8)],
                [(res.tag, res.rowcount)],
            )
        finally:
            self.branch = previous
            if previous != name:
                path = self.engine.search_path(self.engine.branch(previous)) if previous else "main"
                self.cur.execute(f"SET search_path = '{path}'")

    def _branch_list(self) -> Result:
        eng = self.engine
        rows = []
        counts = dict(  # full copies in _hb_<id>, row deltas in _hbd_<id> (not their $hide)
            self.cur.execute(
                "SELECT '_hb_' || regexp_extract(schema_name, '^_hbd?_([0-9]+)$', 1), count(*) "
                "FROM duckdb_tables() WHERE regexp_matches(schema_name, '^_hbd?_[0-9]+$') "
                "AND NOT ends_with(table_name, '$hide') "
                "AND database_name = current_database() GROUP BY ALL"
            ).fetchall()
        )
        for b in eng.live():
            parent = "main" if b.parent_id == MAIN_ID else eng.catalog.branches[b.parent_id].name
            changed = len(eng.diff(self.cur, b.name)) if counts.get(b.schema) else 0
            rows.append(
                (
                    b.name,
                    parent,
                    b.created_by,
                    b.created_at,
                    counts.get(b.schema, 0),
                    changed,
                    b.expires_at,
                )
            )
        cols = [
            ("name", pgtypes.TEXT),
            ("parent", pgtypes.TEXT),
            ("created_by", pgtypes.TEXT),
            ("created_at", pgtypes.TIMESTAMP),
            ("tables_materialized", pgtypes.INT8),
            ("rows_changed", pgtypes.INT8),
            ("expires_at", pgtypes.TIMESTAMP),
        ]
        return rows_result(cols, rows)


# Statements that keep a multi-statement Query message from running as one transaction:
# explicit transaction control (the client manages it), branch calls that commit on their
# own (branch_create/merge/discard refuse a transaction block), and DuckDB statements that
# cannot run inside one.
_OWN_TRANSACTION = {
    *_TXN_BEGIN,
    *_TXN_END,
    "SAVEPOINT",
    "RELEASE",
    "CHECKPOINT",
    "FORCE",
    "VACUUM",
    "ATTACH",
    "DETACH",
    "INSTALL",
    "LOAD",
    "USE",
    "EXPORT",
    "IMPORT",
}
_BRANCH_FN = re.compile(r"\bbranch_\w+\s*\(", re.I)


def _one_transaction(statements: list[str]) -> bool:
    """Whether a multi-statement Query message can run as one implicit transaction."""
    for stmt in statements:
        if first_word(stmt) in _OWN_TRANSACTION:
            return False
        if _BRANCH_FN.search(stmt):
            try:
                if parse_call(stmt) is not None:
                    return False
            except Exception:  # noqa: BLE001 - the statement reports its own error when run
                return False
    return True


def _audit_text(sql: str, params: list[Any] | None) -> str:
    """The statement as audited: its text, then its bound parameters if any."""
    text = sql.strip()
    if params:
        text += "  -- params: " + ", ".join(repr(p) for p in params)
    return text[:10_000]


def _sql_error(
    sqlstate: str, message: str, *, detail: str | None = None, hint: str | None = None
) -> HatiError:
    err = HatiError(message, detail=detail, hint=hint)
    err.sqlstate = sqlstate
    return err


def _in_txn_error(fn: str) -> HatiError:
    err = HatiError(
        f"{fn} cannot run inside a transaction block",
        hint="COMMIT or ROLLBACK first; branch operations commit on their own.",
    )
    err.sqlstate = "25001"
    return err


class _null_context:  # noqa: N801 - used like contextlib.nullcontext, cheaper
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _columns(desc: Any) -> list[tuple[str, int]]:
    return [(d[0], pgtypes.oid_for(d[1])) for d in desc]


def _pg_named(sql: str, cols: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Columns renamed as PostgreSQL names them (``count(*)`` -> ``count``); see results."""
    names = [c[0] for c in cols]
    if not any("(" in n for n in names):
        return cols
    return [(n, c[1]) for n, c in zip(pg_column_names(sql, names), cols, strict=True)]


_WITH_TOKEN = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|[()]|[A-Za-z_]\w*", re.S
)
_WITH_BODY = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE", "FROM"}


def _with_verb(sql: str) -> str:
    """The statement a ``WITH ...`` prefix belongs to (SELECT, INSERT, UPDATE, ...)."""
    depth = 0
    for m in _WITH_TOKEN.finditer(sql):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and tok.upper() in _WITH_BODY:
            return tok.upper()
    return "WITH"


def _lost_a_race(exc: BaseException) -> bool:
    """A write conflict with another session (see Session._in_branch), not a wrong write."""
    return isinstance(exc, duckdb.Error | HatiError) and to_sql_error(exc).sqlstate == "40001"


def _tag_for(kind: str, sql: str, n: int) -> str:
    if kind == "INSERT":
        return f"INSERT 0 {n}"
    if kind == "TRUNCATE":
        return "TRUNCATE TABLE"
    if kind in ("UPDATE", "DELETE", "MERGE", "COPY"):
        return f"{kind} {n}"
    if kind in ("CREATE", "DROP", "ALTER", "CREATE_INDEX", "CREATE_OTHER", "DROP_OTHER"):
        words = re.findall(r"[A-Za-z]+", sql)[:4]
        words = [
            w.upper()
            for w in words
            if w.upper()
            not in ("OR", "REPLACE", "TEMP", "TEMPORARY", "UNIQUE", "IF", "NOT", "EXISTS")
        ]
        return " ".join(words[:2])
    if kind == "SELECT":
        return f"SELECT {n}"
    return kind.upper()


def parse_options(options: str) -> dict[str, str]:
    """``-c key=value`` pairs from the startup ``options`` parameter (spaces escaped with \\)."""
    out: dict[str, str] = {}
    tokens = re.findall(r"(?:\\.|[^\s])+", options or "")
    i = 0
    while i < len(tokens):
        tok = tokens[i].replace("\\ ", " ")
        if tok == "-c" and i + 1 < len(tokens):
            tok, i = tokens[i + 1].replace("\\ ", " "), i + 1
        elif tok.startswith("-c") or tok.startswith("--"):
            tok = tok[2:]
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k.strip()] = v.strip()
        i += 1
    return out


def quote_ident(name: str) -> str:
    return qident(name)


__all__ = ["Session", "ServerState", "split_statements", "parse_options", "Analysis"]
