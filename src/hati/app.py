"""The composition root: one data directory opened as everything a server needs.

``App.open`` opens the DuckDB file, installs the PostgreSQL catalog emulation, starts
the branch engine (which folds the fork journal), repairs what an unclean stop left
behind, and starts the audit trail; ``App.session`` makes a client's session over
them; ``App.close`` stops them in reverse order. A server, a test or a tool that
wants hati without sockets starts here.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from hati.audit import AuditLog
from hati.auth import Roles
from hati.branching import layout
from hati.branching.engine import BranchEngine
from hati.branching.store import recover
from hati.compactor import Compactor, CompactPolicy
from hati.config import Config
from hati.pg import install as pginstall
from hati.pg import partition_rewrite
from hati.pg.frontend import FrontEnd
from hati.pg.guard import Policy
from hati.session import ServerState, Session
from hati.storage.duckdb_backend import Database
from hati.storage.rewrite import scratch_path

log = logging.getLogger("hati.app")


def open_database(
    path: str | Path,
    threads: int | None = None,
    *,
    sandbox: bool = True,
    memory_limit: str | None = None,
) -> Database:
    """The DuckDB file with hati's metadata schema and the pg_catalog emulation (the
    sandboxed database may write one file besides its own: online compaction's copy)."""
    path = Path(path)
    db = Database(
        path,
        threads=threads,
        sandbox=sandbox,
        memory_limit=memory_limit,
        scratch=scratch_path(path.resolve()),
    )
    cur = db.cursor()
    try:
        pginstall.install(cur)
    finally:
        cur.close()
    return db


def private_files(config: Config) -> None:
    """The data directory 0700 and hati's files in it 0600, whatever the umask: the
    data, the WAL, the config (it may hold keys), the log and the pid file. (``hati
    serve`` also sets umask 077, so files made later are private too; the directory's
    mode already keeps other users out of them.)"""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)
    names = (config.db_path.name, config.db_path.name + ".wal", config.config_path.name)
    for path in [config.data_dir / n for n in names] + [config.log_path, config.pid_path]:
        with contextlib.suppress(FileNotFoundError):
            path.chmod(0o600)


class App:
    """Database, branch engine, audit trail and what every session shares."""

    def __init__(self, config: Config) -> None:
        self.config = config
        private_files(config)
        self.db = open_database(config.db_path, config.threads, memory_limit=config.memory_limit)
        private_files(config)
        # The engine first folds the fork journal into _hati.branches, so recovery
        # sees every live branch (journal-only ones included) as having a row.
        self.engine = BranchEngine(self.db, frozenset(config.shared_schemas))
        self.recovered = recover(self.db)
        if self.recovered:
            cur = self.db.cursor()
            try:
                self.engine.collect_garbage(cur)
            finally:
                cur.close()
        self.audit = AuditLog(self.db, config.audit_max_rows)
        self.frontend = FrontEnd(
            Policy(
                reserved_schema=layout.is_internal_schema,
                reserved_name=layout.is_reserved_table_name,
                database=self.db.name,
                server_files=config.server_files,
            )
        )
        cur = self.db.cursor()
        try:
            self.frontend.set_partitions(partition_rewrite.load(cur))
        finally:
            cur.close()
        self.state = ServerState(
            self.db,
            self.engine,
            self.audit,
            self.frontend,
            config.merge_agents,
            roles=Roles.of(config.merge_agents, config.write_agents, config.read_only_agents),
        )
        self.compactor = Compactor(
            self.db,
            self.state.gate,
            self._sessions,
            self.audit,
            frozenset({layout.PG}),  # hati's catalog emulation: re-made at every start
            CompactPolicy(
                config.compact_free_percent,
                config.compact_free_mb,
                config.compact_wait_seconds,
                config.auto_compact,
            ),
        )
        self.state.compact = self.compactor.compact

    def _sessions(self) -> list[Session]:
        with self.state.sessions_lock:
            return [s for s in self.state.sessions if isinstance(s, Session)]

    @classmethod
    def open(cls, data_dir: str | Path, **overrides: object) -> App:
        """An app over ``data_dir`` with its hati.toml (for tests and tools)."""
        return cls(Config.load(data_dir, **overrides))

    def session(
        self,
        connection_id: int = 0,
        startup: dict[str, str] | None = None,
        auth_agent: str | None = None,
    ) -> Session:
        with self.state.gate.passed():  # its cursor: not while compaction swaps the file
            return Session(self.state, connection_id, dict(startup or {}), auth_agent)

    def close(self) -> None:
        with self.compactor.stopped():
            self.audit.close()
            self.engine.close()
            self.db.close()
