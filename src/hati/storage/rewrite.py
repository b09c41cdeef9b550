"""Rewrite a DuckDB file without its free blocks: copy it into a new file, check the
copy, and put it in place with one rename (see hati.compact for why and when).

This module knows DuckDB files, not hati: the offline ``hati compact`` and the online
compaction of a running server (hati.compactor) both use it.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import duckdb

from hati.storage.duckdb_backend import Database, qident, qlit, qname, transaction

TMP_SUFFIX = ".compact"
MTIME_GRAIN_SECONDS = 0.02  # coarser than any file system's timestamp tick
_ALIAS = "hati_compact_target"


class CompactError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def file_bytes(path: Path) -> int:
    """The database file and its WAL, in bytes."""
    return sum(p.stat().st_size for p in (path, wal_path(path)) if p.exists())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scratch_path(path: Path) -> Path:
    """Where a compaction writes the new file, next to the old one."""
    return path.with_name(path.name + TMP_SUFFIX)


def remove_scratch(path: Path) -> None:
    """A copy left by a compaction that was killed, or failed, midway."""
    _remove(scratch_path(path))


def _remove(tmp: Path) -> None:
    for stale in (tmp, wal_path(tmp), tmp.with_name(tmp.name + ".wal.checkpoint")):
        stale.unlink(missing_ok=True)


def put_in_place(tmp: Path, path: Path) -> None:
    """Make the checked copy ``tmp`` the database at ``path``: durable, then one rename.
    The old file's WAL must be empty (the old database closed cleanly)."""
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    _fsync(tmp)
    wal_path(path).unlink(missing_ok=True)  # empty after the clean close
    os.replace(tmp, path)
    _fsync(path.parent)


def copy_into(db: Database, tmp: Path) -> None:
    """CHECKPOINT ``db``, then copy everything in it into a new file ``tmp`` and check
    the copy (objects, row counts, views); ``tmp`` is checkpointed and detached after."""
    cur = db.cursor()
    try:
        cur.execute("CHECKPOINT")
    finally:
        cur.close()
    Copy(db, tmp)


class Copy:
    """A copy of ``db`` into the new file ``tmp`` (checked, checkpointed, detached),
    made while others may still use ``db``. ``unchanged`` tells whether anything was
    committed to ``db`` since the copy began: every commit appends to the WAL and
    every checkpoint (automatic ones too) writes the file, so neither file's size,
    inode or modification time may have moved."""

    def __init__(self, db: Database, tmp: Path) -> None:
        self._path = db.path
        self._mark = _fingerprint(db.path)  # before the copy's snapshot begins
        # A write after the mark lands in a later tick of the file system's clock
        # (its timestamps are coarser than nanoseconds), so its mtime differs.
        time.sleep(MTIME_GRAIN_SECONDS)
        _remove(tmp)  # a copy begun before: this one starts afresh
        cur = db.cursor()
        try:
            cur.execute(f"ATTACH {qlit(str(tmp))} AS {_ALIAS}")
            try:
                with transaction(cur):  # one snapshot: the copy and its checks
                    cur.execute(f"COPY FROM DATABASE {qident(db.name)} TO {_ALIAS}")
                    _check_counts(cur, db.name)
                cur.execute(f"CHECKPOINT {_ALIAS}")
            finally:
                cur.execute(f"DETACH {_ALIAS}")
        except BaseException:
            _remove(tmp)
            raise
        finally:
            cur.close()

    def unchanged(self) -> bool:
        return _fingerprint(self._path) == self._mark


def _fingerprint(path: Path) -> tuple[int, ...]:
    out: list[int] = []
    for p in (path, wal_path(path)):
        try:
            st = p.stat()
            out += [st.st_size, st.st_mtime_ns, st.st_ino]
        except FileNotFoundError:
            out += [0, 0, 0]
    return tuple(out)


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


def check_alone(tmp: Path, skip: frozenset[str] = frozenset()) -> int:
    """Bind every view of the copy (but those in schemas ``skip``) with nothing else
    attached; returns the copy's block count."""
    con = duckdb.connect(str(tmp))
    try:
        for schema, view in con.execute(
            "SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE NOT internal AND database_name = current_database()"
        ).fetchall():
            if schema in skip:
                continue
            con.execute(f"SELECT * FROM {qname(schema, view)} LIMIT 0").fetchall()
        return int(con.execute("SELECT total_blocks FROM pragma_database_size()").fetchall()[0][0])
    finally:
        con.close()
