"""A real PostgreSQL server, started from the system binaries on a temp dir.

Two ways to branch: a database per branch (``CREATE DATABASE … TEMPLATE main``;
no merge exists between databases) and a schema copy inside one database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.core import dir_bytes, perf
from benchmarks.drivers import Conn, Pg2Conn, Pg3Conn
from benchmarks.systems.base import Session, Unsupported
from benchmarks.systems.schema_copy import ConnSession, ConnSystem, SchemaCopySystem
from difftest.pgserver import PgServer, pg_unavailable

SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "1GB",
    "max_connections": "300",
    "max_wal_size": "4GB",
}


class PgCluster(PgServer):
    """The shared starter with the benchmarks' settings and their client drivers."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, SETTINGS)

    def connect(self, db: str, driver: str = "psycopg2") -> Conn:
        if driver == "psycopg3":
            return Pg3Conn("127.0.0.1", self.port, db, self.user)
        return Pg2Conn("127.0.0.1", self.port, db, self.user)

    def data_bytes(self) -> int:
        return dir_bytes(self.data / "base")


def pg_clients(cluster: PgCluster) -> dict[str, Callable[[], object]]:
    c2 = cluster.connect("postgres")
    c3 = cluster.connect("postgres", "psycopg3")
    return {"psycopg2": lambda: c2.run("SELECT 1"), "psycopg3": lambda: c3.run("SELECT 1")}


class PgBase(ConnSystem):
    """What both PostgreSQL systems share: the cluster and its ``bench`` database."""

    family = "postgres"
    cluster: PgCluster

    @classmethod
    def unavailable(cls) -> str | None:
        return pg_unavailable()

    def start(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = PgCluster(workdir / "pg")
        self.cluster.start()
        admin = self.cluster.connect("postgres")
        admin.run("CREATE DATABASE bench")
        self.after_start(admin)

    def after_start(self, admin: Conn) -> None:
        admin.close()

    def stop(self) -> None:
        self.close_main()
        self.cluster.stop()

    def abort(self) -> None:
        self.cluster.stop()

    def info(self) -> dict[str, Any]:
        return {"server_version": self.cluster.version, "settings": SETTINGS}

    def connect(self) -> Conn:
        return self.cluster.connect("bench")

    def wire(self, branch: str | None = None) -> dict[str, str] | None:
        c = self.cluster
        return {"host": "127.0.0.1", "port": str(c.port), "user": c.user, "dbname": "bench"}

    def roundtrip_clients(self) -> dict[str, Callable[[], object]]:
        return pg_clients(self.cluster)


class PostgresTemplate(PgBase):
    key = "pg_template"
    label = "PostgreSQL, CREATE DATABASE … TEMPLATE"
    cheap_create = False
    supports_merge = False
    merge_note = "no merge between databases (would need postgres_fdw or dblink)"
    description = (
        "PostgreSQL server from system binaries; branch = CREATE DATABASE b "
        "TEMPLATE bench (WAL_LOG strategy, the default), discard = DROP DATABASE"
    )

    def __init__(self) -> None:
        super().__init__()
        self.admin: Conn | None = None
        self.strategy = ""  # "" = default (WAL_LOG); "FILE_COPY" for the variant

    def after_start(self, admin: Conn) -> None:
        self.admin = admin  # kept: creates and drops run on the postgres database

    def stop(self) -> None:
        if self.admin:
            self.admin.close()
        super().stop()

    def before_create(self) -> None:
        # A template database must have no connections: close ours, wait until gone.
        self.close_main()
        assert self.admin is not None
        end = perf() + 10
        while perf() < end:
            rows = self.admin.run(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'bench'"
            ) or [(0,)]
            if rows[0][0] == 0:
                return
            time.sleep(0.005)  # bounded readiness polling

    def branch_create(self, name: str) -> None:
        assert self.admin is not None
        strat = f" STRATEGY {self.strategy}" if self.strategy else ""
        self.admin.run(f'CREATE DATABASE "{name}" TEMPLATE bench{strat}')
        self.branches.add(name)

    def branch_discard(self, name: str) -> None:
        assert self.admin is not None
        self.admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.branches.discard(name)

    def branch_merge(self, name: str) -> dict[str, Any]:
        raise Unsupported("no merge between PostgreSQL databases (would need postgres_fdw)")

    def session(self, branch: str | None) -> Session:
        return ConnSession(self.cluster.connect(branch or "bench"), None)

    def wire(self, branch: str | None = None) -> dict[str, str] | None:
        out = super().wire()
        assert out is not None
        if branch:  # a branch is a database
            out["dbname"] = branch
        return out

    def checkpoint(self) -> None:
        assert self.admin is not None
        self.admin.run("CHECKPOINT")

    def disk(self) -> dict[str, int]:
        assert self.admin is not None
        rows = self.admin.run("SELECT sum(pg_database_size(datname))::bigint FROM pg_database")
        return {"file_bytes": self.cluster.data_bytes(), "used_bytes": int(rows[0][0])}  # type: ignore[index]


class PostgresSchema(PgBase, SchemaCopySystem):
    key = "pg_schema"
    label = "PostgreSQL, schema copy"
    description = (
        "same PostgreSQL server; branch = CREATE SCHEMA + CREATE TABLE (same "
        "primary key) + INSERT … SELECT of every table in one transaction, merge = full-scan two-way diff"
    )

    def checkpoint(self) -> None:
        self.main().execute("CHECKPOINT")

    def disk(self) -> dict[str, int]:
        rows = self.main().query("SELECT pg_database_size(current_database())")
        return {"file_bytes": self.cluster.data_bytes(), "used_bytes": int(rows[0][0])}
