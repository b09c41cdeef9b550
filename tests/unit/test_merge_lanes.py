"""Merges into main that run side by side: the locks they hold (one per table they
write), and the merge of a branch whose keys main has not changed since the fork
while main changed others (no three-way comparison: main's rows there are the base's)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from unit_support import run

from hati.app import App
from hati.branching.keylocks import KeyLocks
from hati.branching.space import table_lock
from hati.session import Session

WAIT = 30.0  # only a guard against a hang: every wait below ends on an event


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def go() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # noqa: BLE001 - returned to the test
            out.append(exc)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, out


def test_key_locks_of_different_names_do_not_wait_for_each_other() -> None:
    locks = KeyLocks()
    with locks.holding(["a", "b"]):
        t, out = _in_thread(lambda: _hold(locks, ["c"]))
        t.join(WAIT)
        assert out == ["held"]
        t, out = _in_thread(lambda: _hold(locks, ["c", "b"]))
        assert locks.wait_for_waiters("b", WAIT)
        assert out == [] and not locks.held("c")  # all or nothing: c is not taken
    t.join(WAIT)
    assert out == ["held"]
    assert not locks.held("a") and not locks.held("b")


def test_take_free_skips_held_names_and_release_gives_back() -> None:
    locks = KeyLocks()
    with locks.holding(["a"]):
        got = locks.take_free(["a", "b"])
        assert got == {"b"} and locks.held("b")
        locks.release(got)
    assert not locks.held("b")
    assert locks.take_free(["a"]) == {"a"}
    locks.release({"a"})


def _hold(locks: KeyLocks, names: list[str]) -> str:
    with locks.holding(names):
        return "held"


def _session(app: App, n: int) -> Session:
    return app.session(n, {"user": "tester", "options": f"-c hatidata_agent_id=s{n}"})


def test_a_merge_of_one_table_does_not_wait_for_a_merge_of_another(app: App) -> None:
    """While a merge holds main's table t (as it does until it committed), a merge of a
    branch that wrote only u runs to its end; one that wrote t waits for it."""
    s = _session(app, 1)
    run(s, "CREATE TABLE t (k INT PRIMARY KEY, v INT)")
    run(s, "CREATE TABLE u (k INT PRIMARY KEY, v INT)")
    for name, table in (("bt", "t"), ("bu", "u")):
        run(s, f"SELECT branch_create('{name}')")
        run(s, f"SELECT branch_query('{name}', 'INSERT INTO {table} VALUES (1, 1)')")
    other = _session(app, 2)
    locks = app.engine.merging
    merge = "SELECT * FROM branch_merge('{}')"
    with locks.holding([table_lock(0, "t")]):
        t, out = _in_thread(lambda: run(other, merge.format("bu")))
        t.join(WAIT)
        assert [r[0][-1] for r in out] == ["merged"]  # type: ignore[index]
        t, out = _in_thread(lambda: run(other, merge.format("bt")))
        assert locks.wait_for_waiters(table_lock(0, "t"), WAIT)
        assert out == []
    t.join(WAIT)
    assert [r[0][-1] for r in out] == ["merged"]  # type: ignore[index]
    assert run(s, "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM u)") == [(1, 1)]
    other.close()


def test_merges_of_different_tables_from_many_threads_lose_nothing(app: App) -> None:
    s = _session(app, 1)
    tables = ["t0", "t1", "t2", "t3"]
    for name in tables:
        run(s, f"CREATE TABLE {name} (k INT PRIMARY KEY, v INT)")
    sessions = [_session(app, 10 + i) for i in range(8)]
    start = threading.Barrier(len(sessions))

    def agent(i: int) -> None:
        me, table = sessions[i], tables[i % len(tables)]
        start.wait()
        for c in range(3):
            b = f"a{i}c{c}"
            run(me, f"SELECT branch_create('{b}')")
            run(me, f"SELECT branch_query('{b}', 'INSERT INTO {table} VALUES ({i * 10 + c}, 1)')")
            if c:  # and one update of a row merged before
                run(
                    me,
                    f"SELECT branch_query('{b}', 'UPDATE {table} SET v = v + 1 WHERE k = {i * 10}')",
                )
            assert run(me, f"SELECT * FROM branch_merge('{b}')")[0][-1] == "merged"

    threads = [_in_thread(lambda i=i: agent(i)) for i in range(len(sessions))]
    for t, _ in threads:
        t.join(WAIT * 4)
    assert [out for _, out in threads] == [[None]] * len(sessions)
    got = run(s, " UNION ALL ".join(f"SELECT k, v FROM {t}" for t in tables) + " ORDER BY k")
    expected = sorted((i * 10 + c, 3 if c == 0 else 1) for i in range(8) for c in range(3))
    assert got == expected
    assert run(s, "SELECT count(*) FROM branch_list()") == [(0,)]
    for me in sessions:
        me.close()


@pytest.fixture
def moved(session: Session) -> Session:
    """Branches b1 and b2 forked together; b1 changed keys 1 and 10 and is merged."""
    run(session, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)")
    run(session, "INSERT INTO t VALUES (1, 'base'), (2, 'base'), (3, 'base')")
    run(session, "SELECT branch_create('b1')")
    run(session, "SELECT branch_create('b2')")
    run(session, "SELECT branch_query('b1', 'UPDATE t SET v = ''one'' WHERE k = 1')")
    run(session, "SELECT branch_query('b1', 'INSERT INTO t VALUES (10, ''one'')')")
    assert run(session, "SELECT * FROM branch_merge('b1')")[0][-1] == "merged"
    return session


def test_a_merge_of_keys_main_did_not_change_applies_the_branch(moved: Session) -> None:
    run(moved, "SELECT branch_query('b2', 'UPDATE t SET v = ''two'' WHERE k = 2')")
    run(moved, "SELECT branch_query('b2', 'DELETE FROM t WHERE k = 3')")
    run(moved, "SELECT branch_query('b2', 'INSERT INTO t VALUES (20, ''two'')')")
    assert run(moved, "SELECT * FROM branch_merge('b2', 'abort')") == [
        ("b2", "abort", 1, 1, 1, 0, "merged")
    ]
    assert run(moved, "SELECT * FROM t ORDER BY k") == [
        (1, "one"),
        (2, "two"),
        (10, "one"),
        (20, "two"),
    ]


def test_a_key_main_changed_since_the_fork_is_still_a_conflict(moved: Session) -> None:
    run(moved, "SELECT branch_query('b2', 'UPDATE t SET v = ''two'' WHERE k IN (1, 2)')")
    run(moved, "SELECT branch_query('b2', 'INSERT INTO t VALUES (10, ''two'')')")
    assert run(moved, "SELECT * FROM branch_merge('b2', 'main_wins')") == [
        ("b2", "main_wins", 0, 1, 0, 2, "merged")
    ]
    assert run(moved, "SELECT * FROM t ORDER BY k") == [
        (1, "one"),
        (2, "two"),
        (3, "base"),
        (10, "one"),
    ]


def test_a_unique_clash_with_a_row_main_wrote_since_is_settled(session: Session) -> None:
    """At a key main has not touched, the branch's row still clashes with the row main
    wrote since the fork on another unique column: branch_wins takes the branch's."""
    run(session, "CREATE TABLE t (k INT PRIMARY KEY, e TEXT UNIQUE)")
    run(session, "SELECT branch_create('b1')")
    run(session, "SELECT branch_create('b2')")
    run(session, "SELECT branch_query('b1', 'INSERT INTO t VALUES (1, ''x'')')")
    run(session, "SELECT branch_query('b2', 'INSERT INTO t VALUES (2, ''x'')')")
    assert run(session, "SELECT * FROM branch_merge('b1')")[0][-1] == "merged"
    assert run(session, "SELECT * FROM branch_merge('b2')")[0][-2:] == (1, "merged")
    assert run(session, "SELECT * FROM t ORDER BY k") == [(2, "x")]


def test_a_branch_write_does_not_wait_for_a_fork_from_main(app: App) -> None:
    """A fork from main waits for main's open write transaction (its gate); a write in
    a branch, which takes only that branch's gate, runs meanwhile."""
    s, writer, forker = _session(app, 1), _session(app, 2), _session(app, 3)
    run(s, "CREATE TABLE t (k INT PRIMARY KEY, v INT)")
    run(s, "INSERT INTO t VALUES (1, 1)")
    run(s, "SELECT branch_create('b')")
    run(writer, "BEGIN")
    run(writer, "UPDATE t SET v = 2 WHERE k = 1")  # holds main's gate to its COMMIT
    fork, forked = _in_thread(lambda: run(forker, "SELECT branch_create('later')"))
    assert app.engine.gate(0).wait_for_writer(WAIT)
    write, wrote = _in_thread(lambda: run(s, "SELECT branch_query('b', 'UPDATE t SET v = 3')"))
    write.join(WAIT)
    assert len(wrote) == 1 and not isinstance(wrote[0], Exception)
    assert forked == []
    run(writer, "COMMIT")
    fork.join(WAIT)
    assert len(forked) == 1 and not isinstance(forked[0], Exception)
    assert run(s, "SELECT * FROM branch_query('b', 'SELECT v FROM t')") == [(3,)]
    assert run(s, "SELECT * FROM branch_query('later', 'SELECT v FROM t')") == [(2,)]
    for x in (writer, forker):
        x.close()
