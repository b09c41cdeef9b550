"""Locks by name, taken together: what a merge holds for the tables it writes.

A merge into main holds one lock per table it writes (and one for the branch it
retires), so merges of branches that touch different tables run side by side, each
in its own DuckDB transaction, and two merges of one table take turns: the second
reads main only once the first has committed. Every holder takes its names in one
sorted order (no deadlock between holders), and before the fork gate. Each name is a
plain lock of its own while anyone holds or waits for it: a release wakes one waiter.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager


class KeyLocks:
    def __init__(self) -> None:
        # Guards ``_locks``; notified when someone starts waiting (wait_for_waiters).
        self._meta = threading.Condition()
        self._locks: dict[Hashable, _Entry] = {}

    def _enter(self, keys: list[Hashable]) -> list[_Entry]:
        with self._meta:
            out = []
            for k in keys:
                e = self._locks.get(k)
                if e is None:
                    e = self._locks[k] = _Entry()
                e.users += 1
                out.append(e)
            self._meta.notify_all()
            return out

    def _leave(self, keys: list[Hashable]) -> None:
        with self._meta:
            for k in keys:
                e = self._locks[k]
                e.users -= 1
                if not e.users:
                    del self._locks[k]

    @contextmanager
    def holding(self, names: Iterable[Hashable]) -> Iterator[None]:
        """Hold every lock of ``names`` (taken in one order, once each) for the block."""
        keys = sorted(set(names), key=repr)
        entries = self._enter(keys)
        taken: list[_Entry] = []
        try:
            for e in entries:
                e.lock.acquire()
                taken.append(e)
            yield
        finally:
            for e in reversed(taken):
                e.lock.release()
            self._leave(keys)

    def take_free(self, names: Iterable[Hashable]) -> set[Hashable]:
        """Take those of ``names`` no one holds at this moment, without waiting (for a
        holder of catalog.lock, which must never wait here); ``release`` them."""
        with self._meta:
            free = set()
            for k in set(names):
                e = self._locks.get(k)
                if e is None:
                    e = self._locks[k] = _Entry()
                if e.lock.acquire(blocking=False):
                    e.users += 1
                    free.add(k)
                elif not e.users:
                    del self._locks[k]
            return free

    def release(self, names: Iterable[Hashable]) -> None:
        """Give back what ``take_free`` took."""
        keys = list(names)
        for k in keys:
            self._locks[k].lock.release()
        self._leave(keys)

    def held(self, name: Hashable) -> bool:
        with self._meta:
            e = self._locks.get(name)
            return e is not None and e.lock.locked()

    def wait_for_waiters(self, name: Hashable, timeout: float) -> bool:
        """Wait until someone waits for ``name`` while it is held (for tests that order
        threads)."""
        with self._meta:
            return self._meta.wait_for(
                lambda: (e := self._locks.get(name)) is not None and e.users > 1, timeout
            )


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0  # holders and waiters
