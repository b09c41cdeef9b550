"""Table locks of writers on main: waiting, release, deadlock detection, cancel."""

from __future__ import annotations

import threading
import time

import pytest

from hati.errors import DeadlockDetected, QueryCanceled
from hati.pg.locks import TableLocks, keys_of


def _until(locks: TableLocks, n: int) -> None:
    deadline = time.monotonic() + 10
    while locks.waiting() < n:
        assert time.monotonic() < deadline
        time.sleep(0.001)


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
    locks, a, b = TableLocks(), object(), object()
    locks.acquire(a, {("public", "t")})
    locks.acquire(a, {("public", "t")})  # its own lock again: no wait
    t, out = _in_thread(lambda: locks.acquire(b, {("public", "t")}))
    _until(locks, 1)
    assert out == []
    locks.release(a)
    t.join(10)
    assert out == ["ok"]
    locks.release(b)


def test_a_cycle_fails_the_session_that_closes_it() -> None:
    locks, a, b = TableLocks(), object(), object()
    locks.acquire(a, {("public", "x")})
    locks.acquire(b, {("public", "y")})
    t, out = _in_thread(lambda: locks.acquire(a, {("public", "y")}))
    _until(locks, 1)
    with pytest.raises(DeadlockDetected):
        locks.acquire(b, {("public", "x")})
    locks.release(b)
    t.join(10)
    assert out == ["ok"]


def test_cancel_wakes_a_waiter() -> None:
    locks, a, b = TableLocks(), object(), object()
    locks.acquire(a, {("public", "t")})
    t, out = _in_thread(lambda: locks.acquire(b, {("public", "t")}))
    _until(locks, 1)
    locks.cancel(b)
    t.join(10)
    assert len(out) == 1 and isinstance(out[0], QueryCanceled)
    assert locks.waiting() == 0


def test_keys_are_schema_qualified_lower_case() -> None:
    class Ref:
        def __init__(self, schema: str | None, name: str) -> None:
            self.schema, self.name = schema, name

    assert keys_of([Ref(None, "T"), Ref("Public", "t"), Ref("s", "u")]) == {
        ("public", "t"),
        ("s", "u"),
    }
