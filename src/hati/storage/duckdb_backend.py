"""The DuckDB database behind hati: one file, one cursor per client connection.

Everything (main's tables, branch schemas, snapshots, metadata, audit) lives in one
DuckDB file so that a merge is a single transaction and survives ``kill -9``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

META = "_hati"
SNAP = "_hati_snap"
MAIN = "main"


def qident(name: str) -> str:
    """Quote one SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def qname(schema: str, table: str) -> str:
    return f"{qident(schema)}.{qident(table)}"


def qlit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@contextlib.contextmanager
def transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT on ``cur``; ROLLBACK if the block raises (a failed COMMIT has
    already rolled back in DuckDB)."""
    cur.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


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


_BOOTSTRAP = f"""
CREATE SCHEMA IF NOT EXISTS {META};
CREATE SCHEMA IF NOT EXISTS {SNAP};
CREATE SEQUENCE IF NOT EXISTS {META}.ids START 1;
CREATE TABLE IF NOT EXISTS {META}.state (key VARCHAR PRIMARY KEY, value BIGINT);
CREATE TABLE IF NOT EXISTS {META}.branches (
    id BIGINT PRIMARY KEY,
    name VARCHAR NOT NULL,
    parent_id BIGINT,
    fork_epoch BIGINT NOT NULL,
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS {META}.snapshots (
    owner_id BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    tag BIGINT NOT NULL,
    snap_table VARCHAR,
    PRIMARY KEY (owner_id, table_name, tag)
);
CREATE TABLE IF NOT EXISTS {META}.dropped (
    branch_id BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    PRIMARY KEY (branch_id, table_name)
);
CREATE TABLE IF NOT EXISTS {META}.resolutions (
    branch_id BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    row_key VARCHAR NOT NULL,
    choice VARCHAR NOT NULL,
    row_values VARCHAR,
    PRIMARY KEY (branch_id, table_name, row_key)
);
CREATE TABLE IF NOT EXISTS {META}.delta_columns (
    branch_id BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    col VARCHAR NOT NULL,  -- a column UPDATE assigned; '*' every column; '-' rows deleted
    PRIMARY KEY (branch_id, table_name, col)
);
CREATE TABLE IF NOT EXISTS {META}.audit (
    seq BIGINT,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    duration_ms DOUBLE,
    agent_id VARCHAR,
    framework VARCHAR,
    request_id VARCHAR,
    parent_request_id VARCHAR,
    reasoning_step VARCHAR,
    branch VARCHAR,
    connection_id BIGINT,
    sql VARCHAR,
    command VARCHAR,
    rows BIGINT,
    outcome VARCHAR,
    sqlstate VARCHAR
);
INSERT OR IGNORE INTO {META}.state VALUES ('epoch', 0);
"""

# Functions PostgreSQL clients call during introspection that DuckDB lacks.
_PG_SHIMS = """
CREATE OR REPLACE MACRO main.pg_get_userbyid(id) AS 'hati';
CREATE OR REPLACE MACRO main.pg_encoding_to_char(id) AS 'UTF8';
CREATE OR REPLACE MACRO main.to_regtype(name) AS NULL::INTEGER;
CREATE OR REPLACE MACRO main.pg_backend_pid() AS 0;
CREATE OR REPLACE MACRO main.pg_is_in_recovery() AS false;
CREATE OR REPLACE MACRO main.pg_get_indexdef(a, b := 0, c := false) AS '';
CREATE OR REPLACE MACRO main.pg_get_statisticsobjdef_columns(id) AS NULL;
CREATE OR REPLACE MACRO main.pg_relation_is_publishable(id) AS false;
CREATE OR REPLACE MACRO main.array_length(arr, dim) AS len(arr);
CREATE OR REPLACE MACRO main.obj_description(id) AS NULL;
"""


class Database:
    """An open DuckDB file plus catalog helpers the branching engine needs."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        self.path = Path(path)
        # Lossless Arrow output keeps what result encoding needs: TIMETZ offsets, 128-bit
        # integers, BIT and UUID as themselves (see hati.wire.text_out).
        config: dict[str, object] = {"arrow_lossless_conversion": True}
        if threads:
            config["threads"] = threads
        self._con = duckdb.connect(str(self.path), config=config)
        # fetchall, not fetchone: a result left open on the root connection keeps its
        # transaction alive forever, and then DuckDB can never checkpoint or free old
        # row versions (unbounded memory and WAL growth).
        self.name = self._con.execute("SELECT current_database()").fetchall()[0][0]
        self._lock = threading.Lock()
        self._system = self._con.cursor()
        self._system.execute(_BOOTSTRAP)
        self._system.execute(_PG_SHIMS)
        from hati.server import pgcatalog  # lazy: hati.server imports this module

        pgcatalog.install(self._system)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """An independent connection: its own transaction and search_path."""
        with self._lock:
            return self._con.cursor()

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._system.execute("CHECKPOINT")
        self._con.close()

    def next_id(self, cur: duckdb.DuckDBPyConnection) -> int:
        return int(cur.execute(f"SELECT nextval('{META}.ids')").fetchone()[0])  # type: ignore[index]

    # ---------------------------------------------------------- catalog queries

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
