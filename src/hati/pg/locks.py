"""Writers on main wait for each other, as PostgreSQL's writers wait for row locks.

DuckDB's optimistic concurrency fails a write at once (40001) when another open
transaction changed the same row. PostgreSQL's writer instead waits until that
transaction ends and then proceeds. :class:`TableLocks` gives hati the waiting: a write
on main first takes an exclusive lock on each table it changes, held until its
transaction ends (for the statement alone in autocommit). DuckDB takes a transaction's
snapshot at its first statement, so a transaction that waited at its first write sees
what the other committed, and its write no longer conflicts. A cycle of waits is a
deadlock: the session that would close it fails with 40P01, as PostgreSQL's deadlock
detector fails one of them. Reads never wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from hati.errors import DeadlockDetected, QueryCanceled

Key = tuple[str, str]  # (schema, table), lower case


class TableLocks:
    """Exclusive table locks for writers, with deadlock detection."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: dict[Key, object] = {}
        self._held: dict[object, set[Key]] = {}
        self._waiting: dict[object, Key] = {}
        self._cancelled: set[object] = set()

    def acquire(self, owner: object, keys: Iterable[Key]) -> None:
        """Take every lock in ``keys`` for ``owner``, waiting while another holds one."""
        with self._cond:
            self._cancelled.discard(owner)
            for key in sorted(set(keys)):
                while (holder := self._owner.get(key)) not in (None, owner):
                    if self._closes_cycle(owner, holder):
                        raise DeadlockDetected(
                            "deadlock detected",
                            detail=f'Waiting for a lock on table "{key[1]}" held by a '
                            "transaction that waits for this one.",
                            hint="Retry the transaction; take tables in one order everywhere.",
                        )
                    if owner in self._cancelled:
                        self._cancelled.discard(owner)
                        raise QueryCanceled("canceling statement due to user request")
                    self._waiting[owner] = key
                    try:
                        self._cond.wait()
                    finally:
                        self._waiting.pop(owner, None)
                self._owner[key] = owner
                self._held.setdefault(owner, set()).add(key)

    def release(self, owner: object) -> None:
        """Everything ``owner`` holds (its transaction ended)."""
        with self._cond:
            keys = self._held.pop(owner, None)
            if keys:
                for key in keys:
                    del self._owner[key]
                self._cond.notify_all()

    def cancel(self, owner: object) -> None:
        """Wake ``owner`` if it waits for a lock: its statement is cancelled."""
        with self._cond:
            if owner in self._waiting:
                self._cancelled.add(owner)
                self._cond.notify_all()

    def waiting(self) -> int:
        """How many sessions wait for a lock now."""
        with self._cond:
            return len(self._waiting)

    def _closes_cycle(self, owner: object, holder: object) -> bool:
        seen: set[int] = set()
        current: object | None = holder
        while current is not None and id(current) not in seen:
            if current is owner:
                return True
            seen.add(id(current))
            waits_for = self._waiting.get(current)
            current = self._owner.get(waits_for) if waits_for is not None else None
        return False


def keys_of(tables: Iterable[object]) -> set[Key]:
    """The lock keys of the tables a statement writes or drops (TableRefs)."""
    return {
        (str(getattr(t, "schema", None) or "public").lower(), str(getattr(t, "name", "")).lower())
        for t in tables
    }
