"""The DuckDB database behind hati: one file, one cursor per client connection.

Everything (main's tables, branch schemas, snapshots, metadata, audit) lives in one
DuckDB file so that a merge is a single transaction and survives ``kill -9``. This
module knows DuckDB, not hati: it opens the file, hands out cursors, runs
transactions (``transaction``, or ``begin``/``commit``/``rollback`` for a client's
own) and reads the catalog. What hati keeps where is ``branching/layout.py``'s.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb


def qident(name: str) -> str:
    """Quote one SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def qname(schema: str, table: str) -> str:
    return f"{qident(schema)}.{qident(table)}"


def qlit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def begin(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("BEGIN TRANSACTION")


def commit(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("COMMIT")


def rollback(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("ROLLBACK")


class Transaction:
    """The handle ``transaction`` yields: ``rollback_only`` ends it with ROLLBACK instead."""

    def __init__(self) -> None:
        self.commit = True

    def rollback_only(self) -> None:
        self.commit = False


@contextlib.contextmanager
def transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[Transaction]:
    """BEGIN ... COMMIT on ``cur``; ROLLBACK if the block raises (a failed COMMIT has
    already rolled back in DuckDB) or asked for it."""
    txn = Transaction()
    begin(cur)
    try:
        yield txn
    except BaseException:
        rollback(cur)
        raise
    if txn.commit:
        commit(cur)
    else:
        rollback(cur)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool = False


@dataclass(frozen=True)
class TableInfo:
    """What a branch needs to know to copy a table's shape (see Database.table_info)."""

    ddl: str
    primary_key: list[str]  # in column order
    unique_index: bool  # a UNIQUE index besides the primary key's
    types: dict[str, str]  # column -> DuckDB type, in column order


# DuckDB's settings for PostgreSQL's meaning of SQL: 7/2 is 3 and 1/0 an error, NULLs
# sort last ascending and first descending.
POSTGRES_SEMANTICS: dict[str, str | bool | int | float | list[str]] = {
    "integer_division": True,
    "default_null_order": "nulls_last_on_asc_first_on_desc",
}
# The database reaches nothing outside its own file: no files, no network, no
# extensions, no secrets, no Python objects by name (see docs/security.md).
SANDBOX: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
}


@dataclass(frozen=True)
class Space:
    """``pragma_database_size()`` of the open file."""

    block_size: int
    total_blocks: int
    free_blocks: int
    wal_bytes: int

    @property
    def free_bytes(self) -> int:
        return self.free_blocks * self.block_size

    @property
    def free_fraction(self) -> float:
        return self.free_blocks / self.total_blocks if self.total_blocks else 0.0


def _bytes(text: object) -> int:
    """DuckDB's human size ("1.2 MiB", "0 bytes") as bytes."""
    number, _, unit = str(text).strip().partition(" ")
    scale = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    scale |= {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    try:
        return int(float(number) * scale.get(unit, 1))
    except ValueError:
        return 0


class Database:
    """An open DuckDB file plus catalog helpers the branching engine needs."""

    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        *,
        sandbox: bool = True,
        memory_limit: str | None = None,
        scratch: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        # Lossless Arrow output keeps what result encoding needs: TIMETZ offsets, 128-bit
        # integers, BIT and UUID as themselves (see hati.wire.text_out).
        config: dict[str, str | bool | int | float | list[str]] = dict(POSTGRES_SEMANTICS)
        config["arrow_lossless_conversion"] = True
        if sandbox:
            config.update({k: v for k, v in SANDBOX.items() if k != "enable_external_access"})
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._config = config
        self._sandbox = sandbox
        # The one file besides its own the sandboxed database may write: the copy an
        # online compaction makes (its WAL and checkpoint WAL too); see hati.compact.
        self.scratch = Path(scratch) if scratch is not None else None
        self._lock = threading.Lock()
        self._handed: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
        self._connect()

    def _connect(self) -> None:
        self._con = duckdb.connect(str(self.path), config=self._config)
        # The database computes in UTC; each session's cursor follows its TimeZone
        # (hati.pg.timezones), the one setting a locked configuration still lets change.
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        self._con.execute("SET allowed_configs = ['TimeZone']")
        if self._sandbox:  # from here no statement can change a setting
            if self.scratch is not None:
                s = str(self.scratch)
                files = ", ".join(qlit(f) for f in (s, s + ".wal", s + ".wal.checkpoint"))
                self._con.execute(f"SET allowed_paths = [{files}]")
            self._con.execute("SET enable_external_access = false")
            self._con.execute("SET lock_configuration = true")
        # fetchall, not fetchone: a result left open on the root connection keeps its
        # transaction alive forever, and then DuckDB can never checkpoint or free old
        # row versions (unbounded memory and WAL growth).
        self.name = self._con.execute("SELECT current_database()").fetchall()[0][0]
        self._system = self._con.cursor()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """An independent connection: its own transaction and search_path."""
        with self._lock:
            cur = self._con.cursor()
            self._handed.add(cur)
            return cur

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._system.execute("CHECKPOINT")
        self._system.close()
        self._con.close()

    def close_all(self) -> int:
        """Close the file for good, every cursor handed out included (online compaction:
        DuckDB gives a new connection to a path the instance still open on it while any
        of its connections lives). Returns how many cursors were still open."""
        with self._lock:
            left = 0
            for cur in list(self._handed):
                try:
                    cur.execute("SELECT 1").fetchall()
                except duckdb.Error:
                    continue  # closed already
                left += 1
                cur.close()
            self._handed = weakref.WeakSet()
            self.close()
            return left

    def reconnect(self) -> None:
        """Open ``path`` again after ``close_all`` (a new file may be there now)."""
        with self._lock:
            self._connect()

    def space(self) -> Space:
        """The file's blocks as DuckDB counts them (free blocks are known after a checkpoint)."""
        with self._lock:
            row = self._system.execute(
                "SELECT block_size, total_blocks, free_blocks, wal_size "
                "FROM pragma_database_size() WHERE database_name = current_database()"
            ).fetchall()[0]
        return Space(int(row[0]), int(row[1]), int(row[2]), _bytes(row[3]))

    # ---------------------------------------------------------- catalog queries
    @staticmethod
    def temporary_objects(cur: duckdb.DuckDBPyConnection) -> int:
        """Temporary tables, views and sequences of this cursor (they live in it)."""
        rows = cur.execute(
            "SELECT (SELECT count(*) FROM duckdb_tables() WHERE temporary) "
            "+ (SELECT count(*) FROM duckdb_views() WHERE temporary AND NOT internal) "
            "+ (SELECT count(*) FROM duckdb_sequences() WHERE temporary)"
        ).fetchall()
        return int(rows[0][0])

    @staticmethod
    def schemas(cur: duckdb.DuckDBPyConnection) -> set[str]:
        rows = cur.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
        ).fetchall()
        return {r[0] for r in rows}

    @staticmethod
    def tables_in(cur: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
        rows = cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND database_name = current_database()",
            [schema],
        ).fetchall()
        return {r[0] for r in rows}

    @staticmethod
    def views_in(cur: duckdb.DuckDBPyConnection, schema: str) -> dict[str, str]:
        rows = cur.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = ? AND NOT internal AND database_name = current_database()",
            [schema],
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    @staticmethod
    def table_exists(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
        return bool(
            cur.execute(
                "SELECT 1 FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? AND database_name = current_database()",
                [schema, table],
            ).fetchall()
        )

    @staticmethod
    def relation_exists(cur: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
        """A table or a view of that name."""
        where = "database_name = current_database() AND schema_name = $1"
        return bool(
            cur.execute(
                f"SELECT 1 FROM duckdb_tables() WHERE {where} AND table_name = $2 "
                f"UNION ALL SELECT 1 FROM duckdb_views() WHERE {where} AND view_name = $2",
                [schema, name],
            ).fetchall()
        )

    @staticmethod
    def columns(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[Column]:
        rows = cur.execute(
            "SELECT column_name, data_type, NOT is_nullable FROM duckdb_columns() "
            "WHERE schema_name = ? AND table_name = ? AND database_name = current_database() ORDER BY column_index",
            [schema, table],
        ).fetchall()
        return [Column(r[0], r[1], bool(r[2])) for r in rows]

    @staticmethod
    def primary_key(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
        rows = cur.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY' AND database_name = current_database()",
            [schema, table],
        ).fetchall()
        return list(rows[0][0]) if rows else []

    @classmethod
    def table_info(cls, cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> TableInfo:
        """DDL, key, unique indexes and column types. Three small queries: one query
        joining the catalog functions costs more than the three (measured)."""
        ddl = cls.table_sql(cur, schema, table)
        cols = cur.execute(
            "SELECT name, type, pk FROM pragma_table_info(?)", [qname(schema, table)]
        ).fetchall()
        row = cur.execute(
            "SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? AND is_unique",
            [schema, table],
        ).fetchall()
        return TableInfo(
            ddl, [c[0] for c in cols if c[2]], bool(row[0][0]), {c[0]: c[1] for c in cols}
        )

    @staticmethod
    def column_names(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
        rows = cur.execute("SELECT name FROM pragma_table_info(?)", [qname(schema, table)])
        return [r[0] for r in rows.fetchall()]

    @staticmethod
    def table_sql(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
        row = cur.execute(
            "SELECT sql FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? AND database_name = current_database()",
            [schema, table],
        ).fetchone()
        if row is None:
            raise LookupError(f"{schema}.{table}")
        return str(row[0])
