"""Give a stopped data directory's disk space back by rewriting its DuckDB file.

Why this exists: discarding a branch drops its tables, and DuckDB marks their blocks
free and reuses them for later writes, but it never shrinks the file, not after
``CHECKPOINT``, ``VACUUM`` or a reopen. The only way to hand the bytes back to the file
system is to copy the live catalog into a new file (``COPY FROM DATABASE``) and put
that file in place of the old one. That needs the file to itself, so the server must
be stopped.

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

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from hati.app import open_database
from hati.branching.engine import BranchEngine
from hati.storage.duckdb_backend import Database, qident, qlit, qname

TMP_SUFFIX = ".compact"
_ALIAS = "hati_compact_target"


class CompactError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


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


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, _wal(path)) if p.exists())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compact(db_path: str | Path) -> CompactResult:
    """Rewrite ``db_path`` (a stopped server's ``hati.duckdb``) without its free blocks."""
    path = Path(db_path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    started = time.perf_counter()
    if not path.exists():
        raise CompactError(f"no database at {path}", "Start the server once with `hati init`.")
    before = _size(path)
    db = _open(path)  # holds the file's lock from here: no server, no other compaction
    try:
        try:
            for stale in (tmp, _wal(tmp)):  # left by a compaction killed midway
                stale.unlink(missing_ok=True)
            _copy(db, tmp)
        finally:
            db.close()
        _check_alone(tmp)
    except BaseException:
        for leftover in (tmp, _wal(tmp)):
            leftover.unlink(missing_ok=True)
        raise
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    _fsync(tmp)
    _wal(path).unlink(missing_ok=True)  # empty after the clean close above
    os.replace(tmp, path)
    _fsync(path.parent)
    return CompactResult(before, _size(path), time.perf_counter() - started)


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


def _copy(db: Database, tmp: Path) -> None:
    BranchEngine(db).close()  # folds the fork journal into _hati.branches
    cur = db.cursor()
    try:
        cur.execute("CHECKPOINT")
        cur.execute(f"ATTACH {qlit(str(tmp))} AS {_ALIAS}")
        try:
            cur.execute(f"COPY FROM DATABASE {qident(db.name)} TO {_ALIAS}")
            _check_counts(cur, db.name)
            cur.execute(f"CHECKPOINT {_ALIAS}")
        finally:
            cur.execute(f"DETACH {_ALIAS}")
    finally:
        cur.close()


def _objects(cur: duckdb.DuckDBPyConnection, catalog: str) -> set[tuple[str, str, str]]:
    return {
        (kind, schema, name)
        for kind, schema, name in cur.execute(
            "SELECT 'table', schema_name, table_name FROM duckdb_tables() WHERE database_name = $1 "
            "UNION ALL SELECT 'view', schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = $1 AND NOT internal "
            "UNION ALL SELECT 'sequence', schema_name, sequence_name FROM duckdb_sequences() "
            "WHERE database_name = $1 "
            "UNION ALL SELECT 'index', schema_name, index_name FROM duckdb_indexes() "
            "WHERE database_name = $1 "
            "UNION ALL SELECT 'schema', schema_name, '' FROM duckdb_schemas() "
            "WHERE database_name = $1",
            [catalog],
        ).fetchall()
    }


def _check_counts(cur: duckdb.DuckDBPyConnection, source: str) -> None:
    """Every object and every row made it into the copy, and no view names a catalog."""
    old, new = _objects(cur, source), _objects(cur, _ALIAS)
    if old != new:
        missing = sorted(old - new)[:5]
        raise CompactError(f"the copy lacks {missing}; the database was left as it was")
    for kind, schema, table in sorted(old):
        if kind != "table":
            continue
        rel = qname(schema, table)
        a = cur.execute(f"SELECT count(*) FROM {qident(source)}.{rel}").fetchall()[0][0]
        b = cur.execute(f"SELECT count(*) FROM {_ALIAS}.{rel}").fetchall()[0][0]
        if a != b:
            raise CompactError(f"{schema}.{table}: {a} rows, copied {b}; nothing was replaced")
    pattern = rf'(^|[^A-Za-z0-9_$"])"?{re.escape(_ALIAS)}"?\.'
    bad = cur.execute(
        "SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal AND regexp_matches(sql, ?)",
        [_ALIAS, pattern],
    ).fetchall()
    if bad:
        raise CompactError(f"views name the copy's catalog: {bad[:5]}; nothing was replaced")


def _check_alone(tmp: Path) -> None:
    """Bind every view of the copy with nothing else attached."""
    con = duckdb.connect(str(tmp))
    try:
        for schema, view in con.execute(
            "SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE NOT internal AND database_name = current_database()"
        ).fetchall():
            con.execute(f"SELECT * FROM {qname(schema, view)} LIMIT 0").fetchall()
    finally:
        con.close()
