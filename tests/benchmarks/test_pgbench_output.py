"""What the harness reads from pgbench's output (captured from pgbench 15 runs)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import pgbench  # noqa: E402

HEAD = """pgbench (15.18 (Debian 15.18-0+deb12u1), server 15.0 (hati 0.1.0))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 5 s
"""

WITH_FAILURES = (
    HEAD
    + """number of transactions actually processed: 202
number of failed transactions: 759 (78.980%)
number of serialization failures: 759 (78.980%)
number of deadlock failures: 0 (0.000%)
latency average = 20.844 ms (including failures)
initial connection time = 5.217 ms
tps = 40.337630 (without initial connection time)
"""
)


def test_a_run_with_serialization_failures() -> None:
    o = pgbench.parse(WITH_FAILURES, "", 0, 5.1)
    assert o.tps == 40.33763
    assert (o.processed, o.failed, o.serialization_failures, o.deadlock_failures) == (
        202,
        759,
        759,
        0,
    )
    assert o.failed_pct == 78.98
    assert o.latency_ms == 20.844
    assert not o.aborted and o.error == ""


def test_an_aborted_run_keeps_its_numbers_and_says_why() -> None:
    err = (
        "pgbench: error: client 1 script 0 aborted in command 4 query 0: ERROR:  "
        "Table with name pgbench_history does not exist!\n"
        "pgbench: error: Run was aborted; the above results are incomplete.\n"
    )
    o = pgbench.parse(WITH_FAILURES, err, 2, 5.0)
    assert o.aborted and o.tps == 40.33763
    assert o.error.startswith("run aborted: client 1 script 0 aborted in command 4")
    assert "pgbench_history does not exist" in o.error


def test_an_older_pgbench_without_failure_lines() -> None:
    out = (
        "number of transactions actually processed: 4100/4100\n"
        "latency average = 0.731 ms\n"
        "tps = 1367.962127 (including connections establishing)\n"
        "tps = 1370.000000 (excluding connections establishing)\n"
    )
    o = pgbench.parse(out, "", 0, 3.0)
    assert o.tps == 1370.0 and o.processed == 4100
    assert o.failed is None and o.failed_pct is None


def test_a_failed_init_gives_the_servers_message_and_the_query() -> None:
    err = (
        "dropping old tables...\n"
        "pgbench: error: query failed: ERROR:  Can only drop one object at a time\n"
        "pgbench: detail: Query was: drop table if exists pgbench_accounts, "
        "pgbench_branches, pgbench_history, pgbench_tellers\n"
    )
    o = pgbench.parse("", err, 1, 0.1)
    assert o.tps is None
    assert o.error.startswith("ERROR: Can only drop one object at a time (query: drop table")


def test_no_output_at_all_is_a_failed_step() -> None:
    o = pgbench.parse("", "", 1, 0.0)
    assert o.tps is None and "exited with 1" in o.error


def test_run_arguments() -> None:
    assert pgbench.run_args("select-only", 16, 10, 15)[:3] == ["-n", "-S", "-c"]
    assert "--failures-detailed" in pgbench.run_args("TPC-B", 4, 10, 15)
    assert "--failures-detailed" not in pgbench.run_args("TPC-B", 4, 10, 14)
    args = pgbench.run_args("TPC-B", 1, 2.5, None)
    assert args[args.index("-T") + 1] == "2.5" and args[args.index("-j") + 1] == "1"
