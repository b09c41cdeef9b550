"""The statement gate: clients pass it to use the database; compaction closes it.

A client is inside the gate while it has work in flight: from its first message of a
unit of work (a Query, or Parse/Bind/Execute up to Sync) until it is idle again, and
for as long as it keeps a transaction block open. Online compaction (hati.compactor)
closes the gate to have the database to itself: clients already inside finish, new
work waits at the gate, and once nobody is inside the file can be swapped. ``close``
waits a bounded time; a client that keeps a transaction open is never cut off, the
compaction gives up and opens the gate again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class StatementGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0
        self._closed = False

    @property
    def inside(self) -> int:
        with self._cond:
            return self._inside

    def enter(self) -> None:
        """Pass the gate (wait while it is closed)."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._inside += 1

    def leave(self) -> None:
        with self._cond:
            self._inside -= 1
            if self._inside == 0:
                self._cond.notify_all()

    @contextlib.contextmanager
    def passed(self) -> Iterator[None]:
        """Inside the gate for one piece of work (a background job, a session's start)."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def close(self, timeout: float) -> bool:
        """Hold new work back and wait up to ``timeout`` seconds until nobody is inside.
        False (and the gate open again) if someone still is."""
        with self._cond:
            self._closed = True
            if self._cond.wait_for(lambda: self._inside == 0, timeout):
                return True
            self._closed = False
            self._cond.notify_all()
            return False

    def open(self) -> None:
        with self._cond:
            self._closed = False
            self._cond.notify_all()


class Pass:
    """One client's way through the gate: held from its first message of a unit of
    work until it is idle with no transaction block open (see Connection)."""

    def __init__(self, gate: StatementGate) -> None:
        self.gate = gate
        self.held = False

    def hold(self) -> None:
        if not self.held:
            self.gate.enter()
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.gate.leave()

    @contextlib.contextmanager
    def outside(self) -> Iterator[None]:
        """Out of the gate for the block (it waits for the gate to close), back after."""
        held = self.held
        self.release()
        try:
            yield
        finally:
            if held:
                self.hold()
