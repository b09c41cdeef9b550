"""Online compaction: a running server gives free space in its file back to the disk.

DuckDB reuses the blocks a discarded branch freed but never shrinks its file (see
hati.compact). While the server runs, this rewrites the file the way ``hati compact``
does, with clients connected: automatically when the file's free blocks pass both
thresholds of hati.toml (``[server] compact_free_percent`` and ``compact_free_mb``,
checked every few seconds), and on demand (``SELECT * FROM hati_compact()``, or
``hati compact`` against a running server).

Steps:

1. ``CHECKPOINT``, hold the audit writer (its records wait in memory), and copy the
   database into ``hati.duckdb.compact`` while clients are served (``COPY FROM
   DATABASE`` in one snapshot, every object and row count checked, the copy's views
   bound with nothing else attached). The WAL's and the file's size, inode and mtime
   are noted before the copy begins.
2. Wait until no client holds a transaction block open (automatic runs do not even
   try while one does), then close the statement gate (hati.gate): statements in
   flight finish, new ones wait at the gate. The wait is bounded
   (``compact_wait_seconds``); past it the gate opens again and compaction is retried
   later. A client's transaction is never cut off.
3. If anything was committed since the copy began (the WAL or the file moved), copy
   once more, now with the gate closed.
4. Every session parks its open results in memory and closes its cursor, the database
   closes (cleanly: no WAL left), the copy is ``fsync``-ed and renamed over the old
   file, and the directory ``fsync``-ed.
5. The database opens again on the new file; every session gets a new cursor (its
   branch route, search_path and settings are set again on first use), the audit
   writer resumes, and the gate opens.

Clients see a pause (measured and logged), never an error. ``kill -9`` at any step
loses nothing: until the rename the old file is complete and authoritative (the
next compaction removes the stale copy); after it, the new one is. The fork journal
(``hati.duckdb.branches``) applies to either file alike. A session holding temporary
tables postpones compaction (they live in its DuckDB connection, which is replaced).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import duckdb

from hati.errors import ObjectInUse
from hati.gate import Pass, StatementGate
from hati.storage.duckdb_backend import Database, Space
from hati.storage.rewrite import (
    CompactError,
    Copy,
    check_alone,
    file_bytes,
    put_in_place,
    remove_scratch,
    scratch_path,
)

log = logging.getLogger("hati.compactor")
# For crash tests: "STEP=PATH" makes a compaction, on reaching STEP (drained, copied,
# closed, replaced), write STEP to the named pipe PATH and stop there for good.
HOOK_ENV = "HATI_COMPACT_HOOK"
CHECKPOINT_EVERY_SECONDS = 30.0  # a quiet WAL is checkpointed this often, to count free blocks
RETRY_AFTER_FAILURE_SECONDS = 600.0


class Compactable(Protocol):
    """What compaction needs of a client session."""

    cur: duckdb.DuckDBPyConnection  # temporary tables live in it, and would be lost

    @property
    def in_transaction(self) -> bool: ...

    def detach(self) -> None:
        """Read open results into memory and close the cursor."""

    def attach(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Continue on ``cur`` (the new file)."""


class AuditWriter(Protocol):
    def suspended(self, db: Database) -> contextlib.AbstractContextManager[None]:
        """No audit write inside; a new cursor of ``db`` after."""
        ...

    def detach(self) -> None:
        """Inside ``suspended``: close the cursor."""


@dataclass(frozen=True)
class CompactPolicy:
    """When automatic compaction runs ([server] in hati.toml)."""

    free_percent: float = 20.0  # free blocks, as a share of the file's blocks
    free_mb: float = 16.0  # and at least this much free space
    wait_seconds: float = 5.0  # how long clients' statements may hold a compaction up
    auto: bool = True

    def due(self, space: Space) -> bool:
        return (
            self.auto
            and space.free_bytes > 0
            and space.free_fraction * 100 >= self.free_percent
            and space.free_bytes >= self.free_mb * 2**20
        )


@dataclass(frozen=True)
class Compacted:
    bytes_before: int
    bytes_after: int
    seconds: float
    pause_seconds: float  # how long new statements waited at the gate

    @property
    def reclaimed(self) -> int:
        return self.bytes_before - self.bytes_after


class Compactor:
    """Compacts ``db`` online, one compaction at a time."""

    def __init__(
        self,
        db: Database,
        gate: StatementGate,
        sessions: Callable[[], Sequence[Compactable]],
        audit: AuditWriter,
        trusted: frozenset[str],
        policy: CompactPolicy,
    ) -> None:
        self.db, self.gate, self.policy = db, gate, policy
        self._trusted = trusted  # schemas whose views need no binding check
        self._sessions, self._audit = sessions, audit
        self._lock = threading.Lock()
        self._branches: int | None = None
        self._garbage = True  # count free blocks once at start
        self._checkpointed = time.monotonic()
        self._retry_at = 0.0
        self.last: Compacted | None = None

    # ------------------------------------------------------------------ automatic
    def tick(self, branches: int) -> Compacted | None:
        """The server's timer: compact if the file's free space passed the thresholds.
        ``branches``: how many branches live now (fewer than last time: a discard or a
        merge freed blocks, and a checkpoint makes DuckDB count them)."""
        if not self.policy.auto or time.monotonic() < self._retry_at:
            return None
        if self._branches is not None and branches < self._branches:
            self._garbage = True  # until a checkpoint has counted the freed blocks
        self._branches = branches
        space = self.db.space()
        log.debug("compaction check: %s, %d branches, garbage=%s", space, branches, self._garbage)
        stale = time.monotonic() - self._checkpointed > CHECKPOINT_EVERY_SECONDS
        if space.wal_bytes and (self._garbage or stale):
            self._checkpoint()
            space = self.db.space()
        if not self.policy.due(space):
            return None
        if any(s.in_transaction for s in self._sessions()):
            log.debug("compaction waits: a client holds a transaction block open")
            return None
        log.info(
            "compaction: %s of %s free (%.0f %%), over the thresholds (%g %%, %g MB)",
            _mb(space.free_bytes),
            _mb(space.total_blocks * space.block_size),
            space.free_fraction * 100,
            self.policy.free_percent,
            self.policy.free_mb,
        )
        try:
            return self.compact()
        except ObjectInUse as exc:
            log.info("compaction postponed: %s", exc)
        except (CompactError, duckdb.Error, OSError):
            log.exception("compaction failed; the database was left as it was")
            self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
        return None

    def _checkpoint(self) -> None:
        """CHECKPOINT, so DuckDB counts the blocks freed since. It fails while other
        sessions write: then once more with the gate closed (a short pause, bounded)."""
        with self.gate.passed():
            if self._try_checkpoint():
                return
        if self._garbage and self.gate.close(self.policy.wait_seconds):
            try:
                self._try_checkpoint()
            finally:
                self.gate.open()

    def _try_checkpoint(self) -> bool:
        cur = self.db.cursor()
        try:
            cur.execute("CHECKPOINT").fetchall()
        except duckdb.TransactionException:
            return False
        finally:
            cur.close()
        self._checkpointed = time.monotonic()
        self._garbage = False
        return True

    # ------------------------------------------------------------------ on demand
    def compact(self, caller: Pass | None = None) -> Compacted:
        """Compact now; ObjectInUse (55006) when clients keep it from starting.
        ``caller``: the pass of the client asking (it leaves the gate meanwhile)."""
        with contextlib.nullcontext() if caller is None else caller.outside(), self._lock:
            return self._compact()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """No compaction runs inside (the server is closing)."""
        with self._lock:
            self.policy = dataclasses.replace(self.policy, auto=False)
            yield

    def _compact(self) -> Compacted:
        path = self.db.path
        started = time.perf_counter()
        before = file_bytes(path)
        with self.gate.passed():  # the WAL folded in now, not while clients wait
            self._try_checkpoint()
        remove_scratch(path)
        tmp = scratch_path(path)
        with self._audit.suspended(self.db):  # its records wait in memory meanwhile
            log.info("compaction: copying %s, clients served", path.name)
            t0 = time.perf_counter()
            copy = Copy(self.db, tmp)
            blocks = check_alone(tmp, self._trusted)
            log.info("compaction: copied in %.2f s; waiting at the gate", time.perf_counter() - t0)
            try:
                self._close_gate()
            except BaseException:
                remove_scratch(path)
                raise
            paused = time.perf_counter()
            try:
                _hook("drained")
                sessions = self._sessions()
                if any(Database.temporary_objects(s.cur) for s in sessions):
                    remove_scratch(path)
                    raise ObjectInUse(
                        "compaction could not start: a client holds temporary tables",
                        hint="Retry once it drops them or disconnects.",
                    )
                if not copy.unchanged():  # a commit since the copy began: copy again
                    remove_scratch(path)
                    log.info("compaction: clients wrote meanwhile; copying again at the gate")
                    Copy(self.db, tmp)
                    blocks = check_alone(tmp, self._trusted)
                self._swap(sessions, blocks)
            finally:
                self.gate.open()
                pause = time.perf_counter() - paused
        done = Compacted(before, file_bytes(path), time.perf_counter() - started, pause)
        self.last = done
        log.info(
            "compaction: %s -> %s (%s given back) in %.2f s; clients waited %.0f ms",
            _mb(done.bytes_before),
            _mb(done.bytes_after),
            _mb(done.reclaimed),
            done.seconds,
            done.pause_seconds * 1000,
        )
        return done

    def _close_gate(self) -> None:
        busy = self.gate.inside
        if busy:
            log.info("compaction: waiting for %d client(s) to finish their statements", busy)
        if not self.gate.close(self.policy.wait_seconds):
            held = sum(1 for s in self._sessions() if s.in_transaction)
            raise ObjectInUse(
                "compaction could not start: clients kept the database busy for "
                f"{self.policy.wait_seconds:g} s",
                detail=f"{held} client(s) hold a transaction block open.",
                hint="Retry once they COMMIT or ROLLBACK (compaction never cuts a "
                "transaction off).",
            )

    def _swap(self, sessions: Sequence[Compactable], blocks: int) -> None:
        """Put the checked copy (``blocks`` long) in place and move everyone onto it."""
        path = self.db.path
        _hook("copied")
        t0 = time.perf_counter()
        for s in sessions:
            s.detach()
        self._audit.detach()
        left = self.db.close_all()
        if left:
            log.warning("compaction closed %d cursor(s) nobody had closed", left)
        _hook("closed")
        t1 = time.perf_counter()
        try:
            put_in_place(scratch_path(path), path)
        except BaseException:
            remove_scratch(path)
            self.db.reconnect()  # the old file, as it was
            for s in sessions:
                s.attach(self.db.cursor())
            raise
        _hook("replaced")
        t2 = time.perf_counter()
        self.db.reconnect()
        opened = self.db.space().total_blocks
        if opened != blocks:  # cannot happen once every cursor is closed
            log.critical("after compaction %s has %d blocks, the copy %d", path, opened, blocks)
        for s in sessions:
            s.attach(self.db.cursor())
        log.debug(
            "compaction steps: closed %.3f s, renamed %.3f s, reopened %.3f s",
            t1 - t0,
            t2 - t1,
            time.perf_counter() - t2,
        )


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _hook(step: str) -> None:
    """The crash-test hook (HOOK_ENV): announce ``step`` on the pipe, then stop."""
    spec = os.environ.get(HOOK_ENV, "")
    wanted, _, pipe = spec.partition("=")
    if wanted != step or not pipe:
        return
    with open(pipe, "w") as fh:
        fh.write(step + "\n")
    threading.Event().wait()  # until the test kills the process
