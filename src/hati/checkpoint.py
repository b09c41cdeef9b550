"""CHECKPOINT as PostgreSQL answers it, over DuckDB's stricter one."""

from __future__ import annotations

from typing import Any, Protocol

import duckdb

from hati.errors import ActiveSqlTransaction, ObjectInUse
from hati.results import Result, command


class Session(Protocol):
    """What CHECKPOINT needs of a session: its cursor, its transaction status, and the
    other sessions."""

    cur: duckdb.DuckDBPyConnection
    txn: str
    state: Any


def run(session: Session, force: bool, database: str) -> Result:
    """CHECKPOINT as in PostgreSQL: it succeeds while other sessions write.

    DuckDB's plain CHECKPOINT fails while another transaction has written; FORCE
    CHECKPOINT waits for those transactions (and holds back new statements meanwhile).
    So: try the plain one, and wait with FORCE only when no other client holds a
    transaction open (only statements in flight, which end on their own). A CHECKPOINT
    that waits is cancelled like any statement (CancelRequest).
    """
    target = f"CHECKPOINT {database}".strip()
    try:
        session.cur.execute(f"FORCE {target}" if force else target).fetchall()
    except duckdb.TransactionException as exc:
        text = str(exc)
        if "transaction local changes" in text:
            raise ActiveSqlTransaction(
                "CHECKPOINT cannot run in a transaction that has changed data",
                hint="COMMIT or ROLLBACK this transaction, then run CHECKPOINT.",
            ) from None
        if "other write transactions" not in text:
            raise
        if session.txn != "I":
            raise ObjectInUse(
                "CHECKPOINT cannot wait for other sessions' writes inside a transaction block",
                hint="Run CHECKPOINT outside a transaction block.",
            ) from None
        with session.state.sessions_lock:
            busy = sum(1 for s in session.state.sessions if s is not session and s.txn != "I")
        if busy:
            raise ObjectInUse(
                "CHECKPOINT cannot run while other sessions have open write transactions",
                detail=f"{busy} other session(s) are inside a transaction block.",
                hint="Retry once they COMMIT or ROLLBACK.",
            ) from None
        session.cur.execute(f"FORCE {target}").fetchall()
    return command("CHECKPOINT")
