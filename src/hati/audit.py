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

import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, fields
from datetime import datetime

import duckdb

from hati.storage.duckdb_backend import META, Database

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
# One INSERT of one list per column: executemany runs a statement per row (1,000 rows
# take 1.4 s of the server's CPU and GIL; this takes 20 ms).
_NAMES = [f.name for f in fields(AuditRecord)]
_INSERT = f"INSERT INTO {META}.audit SELECT " + ", ".join(
    f"unnest(?::{_SQL_TYPES[str(f.type).split()[0]]}[])" for f in fields(AuditRecord)
)


class AuditLog:
    def __init__(self, db: Database, max_rows: int = 1_000_000) -> None:
        self._db = db
        self._cur: duckdb.DuckDBPyConnection = db.cursor()
        self._pending: deque[AuditRecord] = deque()
        self._flush_lock = threading.Lock()
        self.max_rows = max(1, int(max_rows))
        try:
            self._cur.execute(f"CREATE OR REPLACE VIEW main.{VIEW} AS SELECT * FROM {META}.audit")
        except duckdb.Error:  # a user table of that name: keep it, audit stays in _hati.audit
            log.warning("main.%s exists and is not hati's view; read %s.audit", VIEW, META)
        # fetchall: an unfinished result would hold a transaction open until the next flush.
        row = self._cur.execute(
            f"SELECT coalesce(max(seq), 0), count(*) FROM {META}.audit"
        ).fetchall()[0]
        self._seq = itertools.count((row[0] if row else 0) + 1)
        self._rows = int(row[1]) if row else 0
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
            batch: list[AuditRecord] = []
            while self._pending:
                batch.append(self._pending.popleft())
            if not batch:
                return
            try:
                columns = [[getattr(r, name) for r in batch] for name in _NAMES]
                self._cur.execute(_INSERT, columns)
                self._rows += len(batch)
                if self._rows > self.max_rows:
                    self._trim()
            except duckdb.Error:
                # The audit trail must never take the server down.
                log.exception("could not write %d audit records", len(batch))

    def _trim(self) -> None:
        """Delete the oldest records, keeping the newest 90 % of ``max_rows``."""
        keep = max(1, self.max_rows * 9 // 10)
        self._cur.execute(
            f"DELETE FROM {META}.audit WHERE seq <= (SELECT seq FROM {META}.audit "
            f"ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            [keep],
        )
        row = self._cur.execute(f"SELECT count(*) FROM {META}.audit").fetchall()[0]
        self._rows = int(row[0])

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_SECONDS):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
        self._cur.close()
