"""Many agents at once: psycopg 3 async clients creating, writing, reading back,
merging and discarding branches while others write main and fight over one row.

Every client logs what it saw committed; at the end main must hold exactly the
logged rows (none lost, none duplicated), the contended counter must equal the
number of acknowledged increments (conflicts come back as SQLSTATE 40001 and are
retried), no branch is left behind, and everything finishes within a deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import errors
from reliability_support import ProcServer, long_or_short, report

CLIENTS = long_or_short(64, 16)
SECONDS = long_or_short(60.0, 10.0)
ROWS_PER_WRITE = 3


@dataclass
class Log:
    committed: set[int] = field(default_factory=set)
    discarded: set[int] = field(default_factory=set)
    increments: int = 0
    ops: int = 0
    merges: int = 0
    discards: int = 0
    main_writes: int = 0
    retries_40001: int = 0
    other_states: dict[str, int] = field(default_factory=dict)


async def _retry(log: Log, fn, attempts: int = 50):
    for i in range(attempts):
        try:
            return await fn()
        except errors.SerializationFailure:
            log.retries_40001 += 1
            await asyncio.sleep(0.001 * (i + 1))  # back-off before retrying, not synchronisation
    raise AssertionError("40001 retried 50 times without success")


async def _client(port: int, c: int, stop_at: float, log: Log, rng: random.Random) -> None:
    conn = await psycopg.AsyncConnection.connect(
        host="127.0.0.1",
        port=port,
        user=f"agent{c}",
        dbname="hati",
        autocommit=True,
        options=f"-c hatidata_agent_id=agent{c} -c hatidata_framework=stress",
    )
    role = "main" if c % 8 == 0 else ("counter" if c % 8 == 1 else "branch")
    i = 0
    async with conn:
        while time.monotonic() < stop_at:
            i += 1
            ids = [c * 10_000_000 + i * 10 + j for j in range(ROWS_PER_WRITE)]
            values = ", ".join(f"({x}, {c}, {i})" for x in ids)
            if role == "main":
                await _retry(log, lambda v=values: conn.execute(f"INSERT INTO items VALUES {v}"))
                log.committed.update(ids)
                log.main_writes += 1
            elif role == "counter":

                async def bump() -> None:
                    try:
                        await conn.execute("BEGIN")
                        await conn.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
                        await conn.execute("COMMIT")
                    except BaseException:
                        await conn.execute("ROLLBACK")
                        raise

                await _retry(log, bump)
                log.increments += 1
            else:
                name = f"c{c}-{i}"
                await conn.execute("SELECT branch_create(%s)", [name])
                await conn.execute(
                    "SELECT branch_query(%s, %s)", [name, f"INSERT INTO items VALUES {values}"]
                )
                cur = await conn.execute(
                    "SELECT * FROM branch_query(%s, %s)",
                    [name, f"SELECT id FROM items WHERE client = {c} AND seq = {i} ORDER BY id"],
                )
                assert [r[0] for r in await cur.fetchall()] == ids, "read-back in the branch"
                cur = await conn.execute(
                    "SELECT count(*) FROM items WHERE client = %s AND seq = %s", [c, i]
                )
                assert (await cur.fetchone())[0] == 0, "branch writes visible in main before merge"
                if rng.random() < 0.6:

                    async def merge(n: str = name) -> tuple:
                        cur = await conn.execute("SELECT * FROM branch_merge(%s)", [n])
                        return await cur.fetchone()

                    row = await _retry(log, merge)
                    # The branch only inserted its own rows: a merge that updates or
                    # deletes anything in main is destroying other clients' work.
                    assert row[-1] == "merged", row
                    assert tuple(row[2:6]) == (ROWS_PER_WRITE, 0, 0, 0), row
                    log.committed.update(ids)
                    log.merges += 1
                else:
                    await conn.execute("SELECT branch_discard(%s)", [name])
                    log.discarded.update(ids)
                    log.discards += 1
            log.ops += 1


async def _run(port: int) -> Log:
    log = Log()
    rng = random.Random(7)
    stop_at = time.monotonic() + SECONDS
    tasks = [_client(port, c, stop_at, log, random.Random(rng.random())) for c in range(CLIENTS)]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=SECONDS + 120)
    return log


def test_concurrent_agents_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    with ProcServer(tmp_path / "data") as server:
        server.query("CREATE TABLE items (id BIGINT PRIMARY KEY, client INT, seq INT)")
        server.query("CREATE TABLE counter (id INT PRIMARY KEY, n INT)")
        server.query("INSERT INTO counter VALUES (1, 0)")
        rss_before = server.rss_kb()
        started = time.monotonic()
        log = asyncio.run(_run(server.port))
        elapsed = time.monotonic() - started
        assert server.alive()
        ids = [r[0] for r in server.query("SELECT id FROM items")]
        assert len(ids) == len(set(ids)), "duplicated rows"
        got = set(ids)
        assert got - log.committed == set(), (
            f"rows nobody committed: {sorted(got - log.committed)[:10]}"
        )
        assert log.committed - got == set(), f"lost rows: {sorted(log.committed - got)[:10]}"
        assert not (got & log.discarded)
        assert server.query("SELECT n FROM counter")[0][0] == log.increments, "lost update"
        assert server.query("SELECT * FROM branch_list()") == [], "branches left behind"
        # No transaction was left open by any session: DuckDB can checkpoint (an open
        # one would also pin every old row version in memory).
        server.query("CHECKPOINT")
        rss_growth_mb = (server.rss_kb() - rss_before) / 1024
    assert log.merges > 0 and log.discards > 0 and log.main_writes > 0 and log.increments > 0
    assert rss_growth_mb < 256, f"server memory grew by {rss_growth_mb:.0f} MB"
    report(
        f"concurrency: {CLIENTS} sessions x {log.ops} operations in {elapsed:.1f}s "
        f"({log.merges} merges, {log.discards} discards, {log.main_writes} main writes, "
        f"{log.increments} contended increments, {log.retries_40001} retried 40001), "
        f"{len(got)} rows, 0 lost, 0 duplicated, RSS +{rss_growth_mb:.0f} MB"
    )
