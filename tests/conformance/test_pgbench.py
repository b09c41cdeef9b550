"""pgbench against hati: ``pgbench -i`` (multi-table DROP and TRUNCATE, CREATE TABLE ...
WITH (fillfactor), COPY FROM STDIN of its accounts, ALTER TABLE ADD PRIMARY KEY), its
built-in scripts, and writers on main that wait for each other (0 failed transactions
with 4 clients) or fail with 40P01 on a deadlock."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import psycopg2
import pytest

from conftest import rows

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(shutil.which("pgbench") is None, reason="pgbench is not installed"),
]


def _pgbench(server, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pgbench", "-h", server.host, "-p", str(server.port), "-U", "u", *args, "hati"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_pgbench_init_scale_10(hati_server, conn) -> None:
    proc = _pgbench(hati_server, "-i", "-s", "10")
    assert proc.returncode == 0, proc.stderr
    cur = conn.cursor()
    assert rows(cur, "SELECT count(*), sum(abalance) FROM pgbench_accounts") == [(1_000_000, 0)]
    assert rows(cur, "SELECT count(*) FROM pgbench_branches") == [(10,)]
    assert rows(cur, "SELECT count(*) FROM pgbench_tellers") == [(100,)]
    assert rows(cur, "SELECT count(*) FROM pgbench_history") == [(0,)]
    # again: it drops and recreates the tables (DROP TABLE a, b, c)
    proc = _pgbench(hati_server, "-i", "-s", "1")
    assert proc.returncode == 0, proc.stderr
    assert rows(cur, "SELECT count(*) FROM pgbench_accounts") == [(100_000,)]


def test_pgbench_select_only_and_one_client_tpcb(hati_server) -> None:
    assert _pgbench(hati_server, "-i", "-s", "1").returncode == 0
    for mode in (["-S"], []):
        proc = _pgbench(hati_server, "-c", "1", "-t", "200", *mode)
        assert proc.returncode == 0, proc.stderr
        assert "number of failed transactions: 0" in proc.stdout, proc.stdout


def test_pgbench_tpcb_four_clients_has_no_failed_transactions(hati_server) -> None:
    assert _pgbench(hati_server, "-i", "-s", "2").returncode == 0
    proc = _pgbench(hati_server, "-c", "4", "-j", "2", "-t", "150")
    assert proc.returncode == 0, proc.stderr
    assert "number of failed transactions: 0 (0.000%)" in proc.stdout, proc.stdout
    assert "number of transactions actually processed: 600/600" in proc.stdout, proc.stdout


def _until_waiting(server, n: int) -> None:
    locks = server.thread.server.app.state.locks
    deadline = time.monotonic() + 10
    while locks.waiting() < n:
        assert time.monotonic() < deadline, "the writer never waited"
        time.sleep(0.001)


def test_a_writer_on_main_waits_for_the_other_transaction(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE acct (k INT PRIMARY KEY, v INT)")
    cur.execute("INSERT INTO acct VALUES (1, 0)")
    first = hati_server.connect(autocommit=False)
    first.cursor().execute("UPDATE acct SET v = v + 1 WHERE k = 1")
    done: list[object] = []

    def second() -> None:
        c = hati_server.connect()
        try:
            c.cursor().execute("UPDATE acct SET v = v + 10 WHERE k = 1")
            done.append("ok")
        except Exception as exc:  # noqa: BLE001 - reported below
            done.append(exc)
        finally:
            c.close()

    t = threading.Thread(target=second)
    t.start()
    _until_waiting(hati_server, 1)
    assert done == []  # still waiting: PostgreSQL's writer waits for the row lock
    first.commit()
    t.join(timeout=30)
    first.close()
    assert done == ["ok"]
    assert rows(cur, "SELECT v FROM acct") == [(11,)]


def test_a_deadlock_fails_one_transaction_with_40p01(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE a (k INT PRIMARY KEY, v INT)")
    cur.execute("CREATE TABLE b (k INT PRIMARY KEY, v INT)")
    cur.execute("INSERT INTO a VALUES (1, 0)")
    cur.execute("INSERT INTO b VALUES (1, 0)")
    one, two = hati_server.connect(autocommit=False), hati_server.connect(autocommit=False)
    one.cursor().execute("UPDATE a SET v = 1")
    two.cursor().execute("UPDATE b SET v = 2")
    outcome: list[object] = []

    def one_wants_b() -> None:
        try:
            one.cursor().execute("UPDATE b SET v = 1")
            one.commit()
            outcome.append("committed")
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome.append(exc)

    t = threading.Thread(target=one_wants_b)
    t.start()
    _until_waiting(hati_server, 1)
    with pytest.raises(psycopg2.errors.DeadlockDetected) as err:
        two.cursor().execute("UPDATE a SET v = 2")
    assert err.value.pgcode == "40P01"
    two.rollback()  # the victim ends; the other goes on
    t.join(timeout=30)
    assert outcome == ["committed"]
    one.close()
    two.close()
    assert rows(cur, "SELECT (SELECT v FROM a), (SELECT v FROM b)") == [(1, 1)]
