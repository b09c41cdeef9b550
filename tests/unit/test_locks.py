"""Table locks of writers on main: waiting, release, deadlock detection, timeout, cancel."""

from __future__ import annotations

import threading

import pytest

from hati.errors import DeadlockDetected, LockNotAvailable, QueryCanceled
from hati.pg.locks import TableLocks


def _in_thread(fn) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            fn()
            out.append("ok")
        except Exception as exc:  # noqa: BLE001 - returned to the test
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_a_second_writer_waits_until_release() -> None:
    locks = TableLocks()
    locks.acquire(1, ["main.t"])
    locks.acquire(1, ["main.t"])  # its own lock again: no wait
    t, out = _in_thread(lambda: locks.acquire(2, ["main.t"]))
    assert locks.wait_for_waiters(1, 10)
    assert out == []
    locks.release_all(1)
    t.join(10)
    assert out == ["ok"]
    assert locks.holds(2) == {"main.t"}
    locks.release_all(2)
    assert locks.holds(2) == set()


def test_a_cycle_fails_the_session_that_closes_it() -> None:
    locks = TableLocks()
    locks.acquire(1, ["main.x"])
    locks.acquire(2, ["main.y"])
    t, out = _in_thread(lambda: locks.acquire(1, ["main.y"]))
    assert locks.wait_for_waiters(1, 10)
    with pytest.raises(DeadlockDetected):
        locks.acquire(2, ["main.x"])
    locks.release_all(2)
    t.join(10)
    assert out == ["ok"]


def test_a_wait_past_the_timeout_fails_with_55p03() -> None:
    locks = TableLocks()
    locks.acquire(1, ["main.t"])
    with pytest.raises(LockNotAvailable):
        locks.acquire(2, ["main.t"], timeout_s=0.01)
    assert locks.holds(2) == set()


def test_cancel_wakes_a_waiter() -> None:
    locks = TableLocks()
    locks.acquire(1, ["main.t"])
    t, out = _in_thread(lambda: locks.acquire(2, ["main.t"]))
    assert locks.wait_for_waiters(1, 10)
    locks.cancel(2)
    t.join(10)
    assert len(out) == 1 and isinstance(out[0], QueryCanceled)
    assert not locks.wait_for_waiters(1, 0)


class _CountingCondition(threading.Condition):
    """threading.Condition that counts notify_all calls (each wakes every waiter)."""

    def __init__(self) -> None:
        super().__init__()
        self.notified = 0

    def notify_all(self) -> None:
        self.notified += 1
        super().notify_all()


def test_waiters_do_not_wake_each_other() -> None:
    """Only a new waiter, a release or a cancel wakes the waiters: waiters that woke
    each other at every wake-up spun on the CPU the holder needs (pgbench TPC-B with
    4 clients ran at a quarter of one client's TPS)."""
    locks = TableLocks()
    cond = _CountingCondition()
    locks._cond = cond
    locks.acquire(1, ["main.t"])

    def take_and_release(session: int) -> None:
        locks.acquire(session, ["main.t"])
        locks.release_all(session)

    waiters = [_in_thread(lambda s=s: take_and_release(s)) for s in (2, 3, 4)]
    assert locks.wait_for_waiters(3, 10)
    before = cond.notified
    # the waiters' wait slices time out several times over (50 ms each) meanwhile
    assert not locks.wait_for_waiters(4, 0.3)
    assert cond.notified == before
    locks.release_all(1)
    for t, out in waiters:
        t.join(10)
        assert out == ["ok"]
