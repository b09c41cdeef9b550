"""Send every statement of a corpus file to PostgreSQL and to hati, in order, and compare.

Each file gets a fresh database on both sides: ``CREATE DATABASE`` (from a template)
on PostgreSQL, a fresh data dir (a copy of a template dir, or empty) with its own hati
server. One autocommit psycopg2 connection per file and side.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from difftest.client import Client
from difftest.compare import Outcome, Verdict, compare
from difftest.corpus import ScriptFile, Statement
from difftest.hatiserver import HatiServer, copy_data_dir
from difftest.pgserver import NO_DURABILITY, PgServer

# The same session defaults on both sides, whatever the machine's locale and zone.
PG_SETTINGS = {
    **NO_DURABILITY,
    "timezone": "UTC",
    "datestyle": "'ISO, MDY'",
    "lc_messages": "C",
    "max_connections": "50",
}
PG_INITDB_ARGS = ("--locale=C",)


@dataclass
class Result:
    stmt: Statement
    pg: Outcome | None = None
    hati: Outcome | None = None
    verdict: Verdict | None = None  # None: not sent (out of scope before running)

    @property
    def cls(self) -> str:
        return self.verdict.cls if self.verdict else "not-sent"


@dataclass
class FileResult:
    script: ScriptFile
    results: list[Result] = field(default_factory=list)
    pg_seconds: float = 0.0
    hati_seconds: float = 0.0
    wall_seconds: float = 0.0


def start_pg(root: Path) -> PgServer:
    pg = PgServer(root / "pg", PG_SETTINGS, PG_INITDB_ARGS)
    pg.start()
    return pg


class Runner:
    """Runs corpus files against one PostgreSQL cluster and fresh hati servers."""

    def __init__(self, pg: PgServer, workdir: Path, timeout_s: float) -> None:
        self.pg = pg
        self.workdir = workdir
        self.timeout_s = timeout_s
        self.admin = psycopg2.connect(pg.dsn("postgres"))
        self.admin.autocommit = True
        self._n = 0

    def close(self) -> None:
        self.admin.close()

    def _admin(self, sql: str) -> None:
        with self.admin.cursor() as cur:
            cur.execute(sql)

    def new_database(self, template: str = "template0") -> str:
        self._n += 1
        name = f"difftest_{self._n}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(psycopg2.Error):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def new_hati_dir(self, template: Path | None = None) -> Path:
        self._n += 1
        path = self.workdir / "hati" / f"h{self._n}"
        if template is not None:
            copy_data_dir(template, path)
        else:
            path.mkdir(parents=True)
        return path

    def _terminate(self, pid: int | None) -> Callable[[], None]:
        def hang() -> None:
            if pid is not None:
                with contextlib.suppress(psycopg2.Error):
                    self._admin(f"SELECT pg_terminate_backend({pid})")

        return hang

    def run_file(
        self,
        script: ScriptFile,
        pg_db: str,
        hati_dir: Path,
        progress: Callable[[int, int], None] | None = None,
        keep_hati_dir: bool = False,
    ) -> FileResult:
        """Run ``script`` on database ``pg_db`` and a hati server on ``hati_dir``."""
        out = FileResult(script)
        t0 = time.perf_counter()
        server = HatiServer(hati_dir).start()
        pg_client = Client(self.pg.dsn(pg_db), self.timeout_s, lambda: None)
        pg_client.on_hang = self._terminate(pg_client.backend_pid())
        hati_client = Client(server.dsn(), self.timeout_s, server.kill)
        try:
            for n, stmt in enumerate(script.statements, start=1):
                out.results.append(self._one(stmt, pg_client, hati_client, out))
                if progress is not None:
                    progress(n, len(script.statements))
        finally:
            pg_client.close()
            hati_client.close()
            server.stop()
            if not keep_hati_dir:
                shutil.rmtree(hati_dir, ignore_errors=True)
        out.wall_seconds = time.perf_counter() - t0
        return out

    def _one(self, stmt: Statement, pg: Client, hati: Client, out: FileResult) -> Result:
        if not stmt.send:
            return Result(stmt)
        pg_out = pg.run(stmt.sql, stmt.copy_data, stmt.copy_out)
        hati_out = hati.run(stmt.sql, stmt.copy_data, stmt.copy_out)
        out.pg_seconds += pg_out.seconds
        out.hati_seconds += hati_out.seconds
        if pg_out.timeout and not stmt.scope:
            stmt.scope = "postgresql-timeout"
        return Result(stmt, pg_out, hati_out, compare(pg_out, hati_out, stmt.ordering))


def run_files(
    runner: Runner,
    scripts: Sequence[ScriptFile],
    pg_template: str = "template0",
    hati_template: Path | None = None,
    report: Callable[[str], None] = print,
) -> list[FileResult]:
    """Each script on a fresh database and a fresh hati, one after the other."""
    results = []
    for script in scripts:
        db = runner.new_database(pg_template)
        try:
            fr = runner.run_file(script, db, runner.new_hati_dir(hati_template))
        finally:
            runner.drop_database(db)
        agree = sum(1 for r in fr.results if r.cls == "agree")
        sent = sum(1 for r in fr.results if r.verdict is not None)
        report(f"  {script.name}: {agree}/{sent} agree ({fr.wall_seconds:.1f} s)")
        results.append(fr)
    return results
