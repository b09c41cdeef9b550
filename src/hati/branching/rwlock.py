"""A writer-preferring readers-writer lock.

Writes hold it shared; ``branch_create`` holds it exclusively for a moment so a fork
never lands between a write's snapshot check and that write's commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RWLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    def acquire_shared(self, timeout: float | None = None) -> bool:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: not self._writer and self._waiting_writers == 0, timeout
            )
            if ok:
                self._readers += 1
            return ok

    def release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    @contextmanager
    def shared(self) -> Iterator[None]:
        self.acquire_shared()
        try:
            yield
        finally:
            self.release_shared()

    def acquire_exclusive(self, timeout: float | None = None) -> bool:
        with self._cond:
            self._waiting_writers += 1
            self._cond.notify_all()  # wait_for_writer sees it
            try:
                ok = self._cond.wait_for(lambda: not self._writer and self._readers == 0, timeout)
                if ok:
                    self._writer = True
                return ok
            finally:
                self._waiting_writers -= 1
                if not ok:
                    self._cond.notify_all()

    def wait_for_writer(self, timeout: float) -> bool:
        """Wait until someone waits to hold the lock exclusively (for tests that order
        threads)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._waiting_writers > 0, timeout)

    def release_exclusive(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()
