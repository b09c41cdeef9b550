"""The audit trail: every statement with who ran it, where, how long, and how it ended.

Records are buffered in memory and written in batches by one background thread, so
auditing never adds a DuckDB write to a client's round trip. Reads of ``hati_audit``
(a view over ``_hati.audit`` in schema ``main``, so it resolves from main and from
every branch) flush first. When the table grows past ``max_rows`` the oldest records
are deleted down to 90 % of it, so the trail can never hold more than ``max_rows``
rows nor fill the disk. Records still in the buffer (at most about half a second's
worth) are lost if the process is killed with ``kill -9``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

import duckdb

from hati.branching import layout, store
from hati.errors import sqlstate_of
from hati.results import CopyIn, CopyOut, Result
from hati.storage.duckdb_backend import Database

FLUSH_EVERY_SECONDS = 0.5
VIEW = "hati_audit"
log = logging.getLogger("hati.audit")


@dataclass
class AuditRecord:
    seq: int
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    agent_id: str | None
    framework: str | None
    request_id: str | None
    parent_request_id: str | None
    reasoning_step: str | None
    branch: str | None
    connection_id: int
    sql: str
    command: str | None
    rows: int | None
    outcome: str
    sqlstate: str | None


_SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "datetime": "TIMESTAMP", "str": "VARCHAR"}
_NAMES = [f.name for f in fields(AuditRecord)]
_TYPES = [_SQL_TYPES[str(f.type).split()[0]] for f in fields(AuditRecord)]


class AuditLog:
    def __init__(self, db: Database, max_rows: int = 1_000_000) -> None:
        self._cur: duckdb.DuckDBPyConnection = db.cursor()
        self._pending: deque[AuditRecord] = deque()
        self._flush_lock = threading.Lock()
        self._suspended = self._detached = False  # see suspended()
        self.max_rows = max(1, int(max_rows))
        try:
            store.create_audit_view(self._cur, VIEW)
        except duckdb.Error:  # a user table of that name: keep it, the audit stays hidden
            log.warning("main.%s exists and is not hati's view; read %s", VIEW, layout.AUDIT)
        top, self._rows = store.audit_extent(self._cur)
        self._seq = itertools.count(top + 1)
        if self._rows > self.max_rows:
            self._trim()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hati-audit", daemon=True)
        self._thread.start()

    def next_seq(self) -> int:
        return next(self._seq)

    def record(self, rec: AuditRecord) -> None:
        self._pending.append(rec)

    def flush(self) -> None:
        with self._flush_lock:
            if self._suspended:
                return
            batch: list[AuditRecord] = []
            while self._pending:
                batch.append(self._pending.popleft())
            if not batch:
                return
            try:
                columns = [[getattr(r, name) for r in batch] for name in _NAMES]
                store.append_audit(self._cur, _TYPES, columns)
                self._rows += len(batch)
                if self._rows > self.max_rows:
                    self._trim()
            except duckdb.Error:
                # The audit trail must never take the server down.
                log.exception("could not write %d audit records", len(batch))

    @contextlib.contextmanager
    def suspended(self, db: Database) -> Iterator[None]:
        """No audit write inside the block (online compaction copies the database):
        records wait in memory, and reads of hati_audit meanwhile do not see the
        newest. If ``detach`` closed the cursor, the writer continues on a new one."""
        self.flush()
        with self._flush_lock:
            self._suspended = True
        try:
            yield
        finally:
            with self._flush_lock:
                self._suspended = False
                if self._detached:
                    self._cur, self._detached = db.cursor(), False

    def detach(self) -> None:
        """Inside ``suspended``: close the cursor (the database is about to close)."""
        with self._flush_lock:
            self._cur.close()
            self._detached = True

    def _trim(self) -> None:
        """Delete the oldest records, keeping the newest 90 % of ``max_rows``."""
        self._rows = store.trim_audit(self._cur, max(1, self.max_rows * 9 // 10))

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_SECONDS):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
        self._cur.close()


def audit_text(sql: str, params: list[Any] | None) -> str:
    """The statement as audited: its text, then its bound parameters if any."""
    text = sql.strip()
    if params:
        text += "  -- params: " + ", ".join(repr(p) for p in params)
    return text[:10_000]


class Audited(Protocol):
    """What a statement's record tells of its session (hati.session.Session)."""

    connection_id: int

    @property
    def agent_id(self) -> str | None: ...
    def tag(self, name: str) -> str | None: ...


class SessionAudit:
    """One session's records: one per statement, kept open while its rows stream so
    the record counts them, and written at the latest when the next statement starts."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log
        self._open: tuple[AuditRecord, float] | None = None

    def next_seq(self) -> int:
        return self._log.next_seq()

    def statement(
        self,
        s: Audited,
        started_at: datetime,
        started: float,
        sql: str,
        branch: str | None,
        res: Result | None,
        sqlstate: str | None,
    ) -> None:
        """The record of one statement of session ``s`` in ``branch`` (``sqlstate``: it
        failed)."""
        rec = AuditRecord(
            self.next_seq(),
            started_at,
            datetime.now(),
            (time.perf_counter() - started) * 1000,
            s.agent_id,
            s.tag("hatidata_framework"),
            s.tag("hatidata_request_id"),
            s.tag("hatidata_parent_request_id"),
            s.tag("hatidata_reasoning_step"),
            branch,
            s.connection_id,
            sql,
            res.final_tag(len(res.rows)) if res else None,
            (res.rowcount if res.columns is None else len(res.rows)) if res else None,
            "ok" if sqlstate is None else "error",
            sqlstate,
        )
        self.record(rec, res, started)

    def record(self, rec: AuditRecord, res: Result | None, started: float) -> None:
        """Keep ``rec`` for the statement that produced ``res`` (None: it failed)."""
        if res is not None and res.copy is not None:
            self._copy(rec, res, started)
            return
        if res is None or res.fetch_more is None:
            self._log.record(rec)
            return
        self._open = (rec, started)
        rec.rows = len(res.rows)
        fetch = res.fetch_more

        def counting(n: int) -> list[tuple[Any, ...]]:
            rows = fetch(n)
            rec.rows = (rec.rows or 0) + len(rows)
            rec.command = res.final_tag(rec.rows)
            if len(rows) < n and self._open is not None and self._open[0] is rec:
                self.close()
            return rows

        res.fetch_more = counting

    def _copy(self, rec: AuditRecord, res: Result, started: float) -> None:
        """A COPY's record is written once its data moved: with its row count, or failed."""
        self._open = (rec, started)
        c = res.copy

        def done(n: int) -> int:
            rec.rows, rec.command = n, f"COPY {n}"
            self.close()
            return n

        if isinstance(c, CopyIn):
            load = c.load

            def loading(data: bytes) -> int:
                try:
                    return done(load(data))
                except BaseException as exc:
                    rec.outcome, rec.sqlstate = "error", sqlstate_of(exc)
                    rec.command = rec.rows = None
                    self.close()
                    raise

            c.load = loading
        elif isinstance(c, CopyOut):
            count = c.rows
            c.rows = lambda: done(count())

    def close(self) -> None:
        """Write the record still open for a streamed result."""
        if self._open is not None:
            rec, started = self._open
            self._open = None
            rec.finished_at = datetime.now()
            rec.duration_ms = (time.perf_counter() - started) * 1000
            self._log.record(rec)
