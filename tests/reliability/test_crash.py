"""Crash safety: kill -9 the server in the middle of merges, branch writes and discards.

A real ``hati serve`` subprocess runs a workload that cycles through merges (each one
moves ROWS rows into ``log`` and adds 1 to every row of ``acct``), discards and
writes to a long-lived branch. The server is killed with SIGKILL after a seeded
random delay, restarted, and the invariants are checked:

- main is wholly before or after each merge: every ``acct.v`` is the same number M,
  ``log`` holds exactly ROWS rows for each of M distinct merge tags, and every merge
  the client saw succeed is there (acknowledged means durable);
- a merged branch is gone, branch metadata and ``_hb_<id>`` schemas agree, no orphans;
- the long-lived branch holds only whole statements, and nothing of it leaks to main;
- every surviving branch can still be read, written and discarded.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from pathlib import Path

import duckdb
import psycopg2
from reliability_support import ProcServer, long_or_short, report

ACCOUNTS = 400
ROWS = 300  # log rows each merge moves into main
W_ROWS = 200  # rows per statement in the long-lived branch
MAIN_ROWS = 50  # rows per INSERT of the main writer


class Workload(threading.Thread):
    """Runs operations until the connection breaks; remembers what was acknowledged."""

    def __init__(self, server: ProcServer, first_tag: int, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.tag = first_tag
        self.rng = rng
        self.acked_merges: list[int] = []
        self.acked_w: list[int] = []
        self.in_flight = "idle"
        self.in_flight_tag = 0
        self.ops = 0
        self.started_ops = threading.Event()
        self.merging = threading.Event()  # set while a branch_merge request is in flight
        self.merge_ms: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn = self.server.connect(agent="crash-worker")
        except psycopg2.Error:
            return
        try:
            with conn.cursor() as cur:
                while True:
                    self.tag += 1
                    k = self.tag
                    op = self.rng.choice(["merge", "merge", "discard", "write"])
                    self.in_flight = op
                    self.in_flight_tag = k
                    self.started_ops.set()
                    if op == "merge":
                        name = f"m{k}"
                        cur.execute("SELECT branch_create(%s)", (name,))
                        cur.execute("SELECT branch_query(%s, 'UPDATE acct SET v = v + 1')", (name,))
                        cur.execute(
                            "SELECT branch_query(%s, %s)",
                            (name, f"INSERT INTO log SELECT {k}, i FROM range({ROWS}) t(i)"),
                        )
                        self.merging.set()
                        t0 = time.monotonic()
                        cur.execute("SELECT * FROM branch_merge(%s)", (name,))
                        self.merge_ms.append((time.monotonic() - t0) * 1000)
                        self.merging.clear()
                        status = cur.fetchone()[-1]
                        assert status == "merged", status
                        self.acked_merges.append(k)
                    elif op == "discard":
                        name = f"d{k}"
                        cur.execute("SELECT branch_create(%s)", (name,))
                        cur.execute("SELECT branch_query(%s, 'DELETE FROM acct')", (name,))
                        cur.execute("SELECT branch_query(%s, 'UPDATE log SET i = -1')", (name,))
                        cur.execute("SELECT branch_discard(%s)", (name,))
                    else:
                        cur.execute(
                            "SELECT branch_query('w', %s)",
                            (f"INSERT INTO log SELECT {-k}, i FROM range({W_ROWS}) t(i)",),
                        )
                        self.acked_w.append(-k)
                    self.ops += 1
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            return  # the server was killed
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc
        finally:
            self.in_flight += " (killed)"
            with contextlib.suppress(psycopg2.Error):
                conn.close()


class MainWriter(threading.Thread):
    """Multi-row inserts straight into main, alongside the branch workload."""

    def __init__(self, server: ProcServer, first_batch: int) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.batch = first_batch
        self.acked: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn = self.server.connect(agent="crash-main-writer")
        except psycopg2.Error:
            return
        try:
            with conn.cursor() as cur:
                while True:
                    self.batch += 1
                    cur.execute(
                        f"INSERT INTO mainlog SELECT {self.batch}, i FROM range({MAIN_ROWS}) t(i)"
                    )
                    self.acked.append(self.batch)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            return
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc
        finally:
            with contextlib.suppress(psycopg2.Error):
                conn.close()


def _setup(server: ProcServer) -> None:
    server.query("CREATE TABLE mainlog (batch INT, i INT)")
    server.query("CREATE TABLE acct (id INT PRIMARY KEY, v INT NOT NULL)")
    server.query(f"INSERT INTO acct SELECT i, 0 FROM range({ACCOUNTS}) t(i)")
    server.query("CREATE TABLE log (tag INT, i INT)")  # no key: bag semantics
    server.query("SELECT branch_create('w')")


def _check(
    server: ProcServer, acked_merges: set[int], acked_w: set[int], acked_main: set[int]
) -> set[int]:
    """All invariants; returns the tags of the merges main holds."""
    q = server.query
    batches = dict(q("SELECT batch, count(*) FROM mainlog GROUP BY batch"))
    assert all(n == MAIN_ROWS for n in batches.values()), "a main INSERT was applied partly"
    assert acked_main <= set(batches), f"acknowledged main writes lost: {acked_main - set(batches)}"
    (n_acct, distinct_v, v) = q("SELECT count(*), count(DISTINCT v), max(v) FROM acct")[0]
    assert n_acct == ACCOUNTS
    assert distinct_v == 1, "acct is half-merged: rows disagree on how many merges happened"
    per_tag = q("SELECT tag, count(*) FROM log GROUP BY tag ORDER BY tag")
    assert all(n == ROWS for _, n in per_tag), f"a merge was applied partly: {per_tag}"
    tags = {t for t, _ in per_tag}
    assert all(t > 0 for t in tags), "rows of the long-lived branch leaked into main"
    assert len(tags) == v, f"acct says {v} merges, log holds {len(tags)}"
    assert acked_merges <= tags, f"acknowledged merges lost: {sorted(acked_merges - tags)}"
    assert q("SELECT count(*) FROM log WHERE i < 0")[0][0] == 0, "a discarded branch leaked"

    live = {r[0] for r in q("SELECT * FROM branch_list()")}
    meta = dict(server.internal("SELECT name, id FROM _hati.branches"))
    assert live == set(meta), (live, meta)
    schemas = {
        r[0]
        for r in server.internal(
            "SELECT schema_name FROM duckdb_schemas() WHERE schema_name LIKE '\\_hb\\_%' ESCAPE '\\'"
        )
    }
    assert schemas == {f"_hb_{i}" for i in meta.values()}, (schemas, meta)
    assert "w" in live, "the long-lived branch must survive every crash"
    snaps = {
        r[0]
        for r in server.internal(
            "SELECT snap_table FROM _hati.snapshots WHERE snap_table IS NOT NULL"
        )
    }
    snap_tables = {  # full copies are tables, undo snapshots views (branching/undo.py)
        r[0]
        for r in server.internal(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = '_hati_snap' "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = '_hati_snap'"
        )
    }
    assert snaps <= snap_tables, f"snapshot rows without their table: {snaps - snap_tables}"
    for tag in tags:
        assert f"m{tag}" not in live, f"merged branch m{tag} is still live"

    # The long-lived branch: whole statements only, every acknowledged one present.
    w_tags = dict(
        q("SELECT * FROM branch_query('w', 'SELECT tag, count(*) FROM log GROUP BY tag')")
    )
    assert all(n == W_ROWS for t, n in w_tags.items() if t < 0), w_tags
    assert acked_w <= set(w_tags), f"acknowledged branch writes lost: {acked_w - set(w_tags)}"
    # Surviving branches hold whole statements: a copy-on-write table is never empty or
    # half-updated, a branch INSERT is all or nothing.
    for name in live - {"w"}:
        bq = "SELECT * FROM branch_query(%s, %s)"
        n, distinct = q(bq, (name, "SELECT count(*), count(DISTINCT v) FROM acct"))[0]
        if name.startswith("m"):
            assert (n, distinct) == (ACCOUNTS, 1), (name, n, distinct)
        else:  # discard workload: DELETE FROM acct ran or did not
            assert n in (0, ACCOUNTS), (name, n)
        counts = q(bq, (name, "SELECT tag, count(*) FROM log GROUP BY tag"))
        assert all(c == ROWS for t, c in counts if t > 0), (name, counts)
    # Surviving branches work: read, write, then discard them (all but 'w').
    for name in live - {"w"}:
        q("SELECT * FROM branch_query(%s, 'SELECT count(*) FROM acct')", (name,))
        q("SELECT * FROM branch_query(%s, 'INSERT INTO log VALUES (0, -5)')", (name,))
        q("SELECT branch_discard(%s)", (name,))
    assert {r[0] for r in q("SELECT * FROM branch_list()")} == {"w"}
    return tags


def test_kill_9_during_merges_branch_writes_and_discards(tmp_path: Path) -> None:
    kills = long_or_short(120, 8)
    rng = random.Random(20261125)
    server = ProcServer(tmp_path / "data").start()
    acked_merges: set[int] = set()
    acked_w: set[int] = set()
    where: dict[str, int] = {}
    tag = 0
    merges_in_main = 0
    merge_sides = {"before": 0, "after": 0}
    acked_main: set[int] = set()
    merge_ms: list[float] = []
    batch = 0
    try:
        _setup(server)
        for _ in range(kills):
            work = Workload(server, tag, rng)
            writer = MainWriter(server, batch)
            work.start()
            writer.start()
            assert work.started_ops.wait(30)
            if rng.random() < 0.5:
                # Targeted: a few milliseconds after a merge request was sent, i.e.
                # while the server is planning, applying or committing it.
                assert work.merging.wait(60) or not work.is_alive()
                deadline = time.monotonic() + rng.uniform(0.0, 0.15)
            else:  # anywhere in the workload
                deadline = time.monotonic() + rng.uniform(0.0, 0.6)
            while time.monotonic() < deadline and work.is_alive():
                time.sleep(0.005)
            server.kill9()
            work.join(30)
            writer.join(30)
            assert not work.is_alive() and not writer.is_alive(), "client stuck after the kill"
            assert work.error is None, repr(work.error)
            assert writer.error is None, repr(writer.error)
            batch = writer.batch
            acked_main |= set(writer.acked)
            merge_ms += work.merge_ms
            where[work.in_flight] = where.get(work.in_flight, 0) + 1
            tag = work.tag
            acked_merges |= set(work.acked_merges)
            acked_w |= set(work.acked_w)
            server.start()
            tags = _check(server, acked_merges, acked_w, acked_main)
            merges_in_main = len(tags)
            if work.in_flight.startswith("merge"):
                # Which side of the commit did the kill land on?
                side = "after" if work.in_flight_tag in tags else "before"
                merge_sides[side] += 1
    finally:
        server.stop()
    report(
        f"crash: {kills} kill -9 points ({', '.join(f'{k}: {v}' for k, v in sorted(where.items()))}); "
        f"(an uninterrupted merge took {sorted(merge_ms)[len(merge_ms) // 2] if merge_ms else 0:.0f} ms "
        "median); "
        f"merge kills landed {merge_sides['before']}x before and {merge_sides['after']}x after "
        f"the commit; {merges_in_main} merges in main, {len(acked_merges)} acknowledged, "
        f"{len(acked_main)} acknowledged main inserts all present, "
        "0 invariant violations"
    )
    assert merges_in_main >= len(acked_merges)


def test_recovery_drops_orphan_branch_schemas(tmp_path: Path) -> None:
    """Schemas left without metadata (older versions, hand edits) are repaired at start-up."""
    server = ProcServer(tmp_path / "data").start()
    try:
        server.query("CREATE TABLE t (x INT)")
        server.query("SELECT branch_create('keep')")
        server.query("SELECT branch_query('keep', 'INSERT INTO t VALUES (1)')")  # records its row
        server.kill9()
        # A hand edit while the server is down: an orphan schema, a branch's schema gone.
        con = duckdb.connect(str(server.data_dir / "hati.duckdb"))
        try:
            con.execute("CREATE SCHEMA _hb_999999")
            con.execute("CREATE TABLE _hb_999999.t (x INT)")
            bid = con.execute("SELECT id FROM _hati.branches WHERE name = 'keep'").fetchall()[0][0]
            con.execute(f'DROP SCHEMA "_hb_{bid}" CASCADE')
        finally:
            con.close()
        server.start()
        schemas = {r[0] for r in server.internal("SELECT schema_name FROM duckdb_schemas()")}
        assert "_hb_999999" not in schemas
        assert f"_hb_{bid}" in schemas
        # The branch's inserted row lives in its delta schema (_hbd_), which survived:
        # the view over it is made again on the next read.
        assert server.query("SELECT * FROM branch_query('keep', 'SELECT count(*) FROM t')") == [
            (1,)
        ]
        assert "recovery:" in server.log_tail(200)
    finally:
        server.stop()


def test_forks_live_in_the_journal_across_kill9(tmp_path: Path) -> None:
    """branch_create commits nothing to DuckDB; kill -9 must still keep every fork,
    drop every retired one, and never hand out a fork epoch twice."""
    server = ProcServer(tmp_path / "data").start()
    try:
        server.query("CREATE TABLE t (k INT PRIMARY KEY, v VARCHAR)")
        server.query("INSERT INTO t VALUES (1, 'v0'), (2, 'v0')")
        for name in ("a", "gone", "merged"):
            server.query("SELECT branch_create(%s)", (name,))
        server.query("SELECT branch_discard('gone')")
        server.query("SELECT branch_query('merged', 'INSERT INTO t VALUES (3, ''m'')')")
        server.query("SELECT * FROM branch_merge('merged', 'branch_wins')")
        server.query("UPDATE t SET v = 'v1' WHERE k = 1")  # a keeps reading v0
        server.kill9()
        server.start()
        assert [r[0] for r in server.query("SELECT * FROM branch_list()")] == ["a"]
        server.query("SELECT branch_create('c')")  # forks after v1
        server.query("UPDATE t SET v = 'v2' WHERE k = 1")
        read = "SELECT * FROM branch_query(%s, 'SELECT v FROM t ORDER BY k')"
        assert server.query(read, ("a",)) == [("v0",), ("v0",)]
        assert server.query(read, ("c",)) == [("v1",), ("v0",), ("m",)]
        server.query("SELECT branch_create('gone')")  # a retired name is free again
        server.kill9()
        server.start()
        names = sorted(r[0] for r in server.query("SELECT * FROM branch_list()"))
        assert names == ["a", "c", "gone"]
        assert server.query(read, ("a",)) == [("v0",), ("v0",)]
        assert server.query(read, ("c",)) == [("v1",), ("v0",), ("m",)]
    finally:
        server.stop()
