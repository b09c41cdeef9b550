"""Give a stopped data directory's disk space back by rewriting its DuckDB file.

Why this exists: discarding a branch drops its tables, and DuckDB marks their blocks
free and reuses them for later writes, but it never shrinks the file, not after
``CHECKPOINT``, ``VACUUM`` or a reopen. The only way to hand the bytes back to the file
system is to copy the live catalog into a new file (``COPY FROM DATABASE``) and put
that file in place of the old one (hati.storage.rewrite). This is the offline form,
for a stopped data directory: a running server does the same online, with clients
connected (hati.compactor), and ``hati compact`` asks it to when it runs.

Steps, each safe to interrupt:

1. Open the database as the server does (``Database`` + ``BranchEngine``), which folds
   the fork journal (``hati.duckdb.branches``) into ``_hati.branches``: branches that
   were created but never wrote live in the new file's metadata, and the journal is
   empty afterwards. Then ``CHECKPOINT``, so the old file needs no WAL.
2. ``ATTACH`` a temporary file next to it and ``COPY FROM DATABASE`` into it: schemas
   (empty ones too), tables with their keys and defaults, views, indexes, macros and
   sequences with their current values. Check that every table holds as many rows as
   before, then checkpoint and ``fsync`` the copy.
3. Open the copy alone and bind every view in it (no view may point at the copy's
   temporary catalog), then ``os.replace`` it over the old file and ``fsync`` the directory.

A crash before step 3's rename leaves the old file, complete and checkpointed (a stale
temporary file is removed by the next run); after it, the new one. The WAL of the old
file is removed before the rename; it is empty by then, and a WAL must never be
replayed onto a file it was not written for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from hati.app import open_database
from hati.branching.engine import BranchEngine
from hati.storage.duckdb_backend import Database
from hati.storage.rewrite import (
    CompactError,
    check_alone,
    copy_into,
    file_bytes,
    put_in_place,
    remove_scratch,
    scratch_path,
)

__all__ = ["CompactError", "CompactResult", "compact"]


@dataclass(frozen=True)
class CompactResult:
    bytes_before: int
    bytes_after: int
    seconds: float

    @property
    def reclaimed(self) -> int:
        return self.bytes_before - self.bytes_after

    @property
    def percent(self) -> float:
        return 100.0 * self.reclaimed / self.bytes_before if self.bytes_before else 0.0


def compact(db_path: str | Path) -> CompactResult:
    """Rewrite ``db_path`` (a stopped server's ``hati.duckdb``) without its free blocks."""
    path = Path(db_path)
    tmp = scratch_path(path)
    started = time.perf_counter()
    if not path.exists():
        raise CompactError(f"no database at {path}", "Start the server once with `hati init`.")
    before = file_bytes(path)
    db = _open(path)  # holds the file's lock from here: no server, no other compaction
    try:
        try:
            remove_scratch(path)
            BranchEngine(db).close()  # folds the fork journal into _hati.branches
            copy_into(db, tmp)
        finally:
            db.close()
        check_alone(tmp)
    except BaseException:
        remove_scratch(path)
        raise
    put_in_place(tmp, path)
    return CompactResult(before, file_bytes(path), time.perf_counter() - started)


def _open(path: Path) -> Database:
    try:
        # Compaction ATTACHes a new file: it runs with the sandbox off, server stopped.
        return open_database(path, sandbox=False)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise CompactError(
                f"{path} is in use by another process", "Run `hati stop` first."
            ) from exc
        raise
