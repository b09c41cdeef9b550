"""pgbench against hati: ``pgbench -i`` (multi-table DROP and TRUNCATE, CREATE TABLE ...
WITH (fillfactor), COPY FROM STDIN of its accounts, ALTER TABLE ADD PRIMARY KEY), its
built-in scripts, and writers on main that wait for each other (0 failed transactions
with 4 clients) or fail with 40P01 on a deadlock."""

from __future__ import annotations

import shutil
import subprocess

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


@pytest.mark.parametrize("mode", ["extended", "prepared"])
def test_pgbench_extended_and_prepared_protocols(hati_server, mode: str) -> None:
    """``-M extended`` / ``-M prepared`` bind untyped text parameters: ``abalance + $1``
    must take the column's type, as in PostgreSQL."""
    assert _pgbench(hati_server, "-i", "-s", "1").returncode == 0
    for script in (["-S"], []):
        proc = _pgbench(hati_server, "-c", "2", "-t", "50", "-M", mode, *script)
        assert proc.returncode == 0, proc.stderr
        assert "number of failed transactions: 0 (0.000%)" in proc.stdout, proc.stdout
        assert "actually processed: 100/100" in proc.stdout, proc.stdout


def test_pgbench_tpcb_four_clients_has_no_failed_transactions(hati_server) -> None:
    assert _pgbench(hati_server, "-i", "-s", "2").returncode == 0
    proc = _pgbench(hati_server, "-c", "4", "-j", "2", "-t", "150")
    assert proc.returncode == 0, proc.stderr
    assert "number of failed transactions: 0 (0.000%)" in proc.stdout, proc.stdout
    assert "number of transactions actually processed: 600/600" in proc.stdout, proc.stdout


@pytest.mark.parametrize("mode", ["simple", "prepared"])
def test_pgbench_tpcb_four_clients_in_a_branch_has_no_failed_transactions(
    hati_server, conn, monkeypatch, mode: str
) -> None:
    """Sessions of one branch writing the same rows wait for each other as main's do
    (their first writes create the branch's deltas and copies: one session at a time)."""
    assert _pgbench(hati_server, "-i", "-s", "2").returncode == 0
    cur = conn.cursor()
    cur.execute("SELECT branch_create('bench')")
    monkeypatch.setenv("PGOPTIONS", "-c hatidata_branch=bench")
    proc = _pgbench(hati_server, "-c", "4", "-j", "2", "-t", "60", "-M", mode)
    assert proc.returncode == 0, proc.stderr
    assert "number of failed transactions: 0 (0.000%)" in proc.stdout, proc.stdout
    assert "number of transactions actually processed: 240/240" in proc.stdout, proc.stdout
    # every transaction's delta is in the branch's accounts, tellers, branches and
    # history, and main is untouched
    totals = (
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), "
        "(SELECT sum(tbalance) FROM pgbench_tellers), (SELECT sum(bbalance) FROM pgbench_branches), "
        "(SELECT sum(delta) FROM pgbench_history), (SELECT count(*) FROM pgbench_history)"
    )
    assert rows(cur, totals) == [(0, 0, 0, None, 0)]
    branch = hati_server.connect(hatidata_branch="bench")
    try:
        [(acc, tel, bra, hist, n)] = rows(branch.cursor(), totals)
    finally:
        branch.close()
    assert n == 240
    assert acc == tel == bra == hist
