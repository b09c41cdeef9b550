"""What every session of a server shares: the database, the engine, the audit log,
the locks and the gate between clients' statements and online compaction."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hati import referential
from hati.advisory import AdvisoryLocks
from hati.audit import AuditLog
from hati.auth import Roles
from hati.branching.engine import BranchEngine
from hati.errors import FeatureNotSupported
from hati.gate import Pass, StatementGate
from hati.pg.frontend import FrontEnd
from hati.pg.locks import TableLocks
from hati.storage.duckdb_backend import Database


class Member(Protocol):
    """A session, as the others see it: whether it holds a transaction open."""

    txn: str


@dataclass
class ServerState:
    """What every session shares: the database, the branch engine, the audit log."""

    db: Database
    engine: BranchEngine
    audit: AuditLog
    frontend: FrontEnd
    merge_agents: list[str] | None = None
    roles: Roles = field(default_factory=Roles)  # who may write main, merge, or only read
    # Every open session (CHECKPOINT asks whether another one holds a transaction).
    sessions: set[Member] = field(default_factory=set)
    sessions_lock: threading.Lock = field(default_factory=threading.Lock)
    # Writers of one of main's tables wait for each other, as in PostgreSQL.
    locks: TableLocks = field(default_factory=TableLocks)
    advisory: AdvisoryLocks = field(default_factory=AdvisoryLocks)  # pg_advisory_lock()
    catalog_epoch: int = 0  # moves on when a statement may have changed a table's columns
    data_version: int = 0  # moves on when a session commits a change (hati.transactions)
    keys: referential.Registry = field(default_factory=referential.Registry)  # hati's FKs
    # Clients pass it while they have work in flight; online compaction closes it.
    gate: StatementGate = field(default_factory=StatementGate)
    # Online compaction now (hati.compactor), for hati_compact(): the caller's pass
    # through the gate is given up while it waits.
    compact: Callable[[Pass | None], Any] = field(default=lambda caller: _not_offered())


def _not_offered() -> Any:
    raise FeatureNotSupported("online compaction is not available here")
