"""Measure the branching engine through a real server (not a unit test).

    python scripts/bench_branching.py [--rows 1000000] [--cycles 1000]

Prints: branch_create time with main at 1 k and at N rows; the first point UPDATE in
a fresh branch (copy-on-write of the table) against the same UPDATE on main; main's
first write after a fork (snapshot); and the DuckDB file size across create/write/
discard cycles.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import start_server


def timed(cur: Any, sql: str, params: tuple | None = None) -> float:
    t0 = time.perf_counter()
    cur.execute(sql, params)
    if cur.description:
        cur.fetchall()
    return (time.perf_counter() - t0) * 1000


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values):8.2f} ms (min {min(values):.2f}, n={len(values)})"


def load(cur: Any, table: str, n: int) -> None:
    cur.execute(f"CREATE TABLE {table} (k BIGINT PRIMARY KEY, v BIGINT, payload VARCHAR)")
    cur.execute(
        f"INSERT INTO {table} SELECT range, range % 97, md5(range::VARCHAR) FROM range({n})"
    )


def bench_create(cur: Any, table_rows: int, reps: int = 20) -> list[float]:
    out = []
    for i in range(reps):
        name = f"c{table_rows}_{i}"
        out.append(timed(cur, "SELECT branch_create(%s)", (name,)))
        cur.execute("SELECT branch_discard(%s)", (name,))
    return out


def file_size(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--cycle-rows", type=int, default=100_000)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="hati-bench-")) / "data"
    server = start_server(data)
    db = server.data_dir / "hati.duckdb"
    try:
        with closing(server.connect(agent="bench")) as conn:
            cur = conn.cursor()
            load(cur, "small", 1000)
            print(f"branch_create, main = 1k rows:          {ms(bench_create(cur, 1000))}")
            load(cur, "big", args.rows)
            cur.execute("CHECKPOINT")
            print(
                f"branch_create, main = 1k + {args.rows:,} rows: {ms(bench_create(cur, args.rows))}"
            )

            point = "UPDATE big SET v = v + 1 WHERE k = %s"
            main_w, branch_first, branch_second, branch_third, main_after_fork = [], [], [], [], []
            for i in range(5):
                k = 1000 + i * 7919
                main_w.append(timed(cur, point, (k,)))
                name = f"w{i}"
                cur.execute("SELECT branch_create(%s)", (name,))
                branch_first.append(timed(cur, "SELECT branch_query(%s, %s)", (name, point % k)))
                branch_second.append(
                    timed(cur, "SELECT branch_query(%s, %s)", (name, point % (k + 1)))
                )
                branch_third.append(
                    timed(cur, "SELECT branch_query(%s, %s)", (name, point % (k + 3)))
                )
                main_after_fork.append(timed(cur, point, (k + 2,)))
                cur.execute("SELECT branch_discard(%s)", (name,))
            print(f"point UPDATE on main ({args.rows:,} rows):          {ms(main_w)}")
            print(f"first point UPDATE in a fresh branch:       {ms(branch_first)}")
            print(f"second point UPDATE in that branch:         {ms(branch_second)}")
            print(f"third point UPDATE in that branch:          {ms(branch_third)}")
            print(f"first main UPDATE after a fork (snapshot):  {ms(main_after_fork)}")
            cur.execute("DROP TABLE big")
            cur.execute("CHECKPOINT")

            load(cur, "cyc", args.cycle_rows)
            cur.execute("CHECKPOINT")
            print(f"\n{args.cycles} create/write/discard cycles on a {args.cycle_rows:,}-row table")
            print(f"  start: file {file_size(db) / 1e6:8.2f} MB")
            t0 = time.perf_counter()
            for i in range(args.cycles):
                name = f"cy{i}"
                cur.execute("SELECT branch_create(%s)", (name,))
                cur.execute("SELECT branch_query(%s, %s)", (name, point.replace("big", "cyc") % i))
                cur.execute(
                    "SELECT branch_query(%s, 'CREATE TABLE scratch AS SELECT * FROM range(1000)')",
                    (name,),
                )
                if i % 2:
                    cur.execute("UPDATE cyc SET v = v + 1 WHERE k = %s", (i,))
                cur.execute("SELECT branch_discard(%s)", (name,))
                if (i + 1) % max(args.cycles // 10, 1) == 0:
                    cur.execute(
                        "SELECT total_blocks, used_blocks, free_blocks FROM pragma_database_size() "
                        "WHERE database_name = current_database()"
                    )
                    total, used, free = cur.fetchone()
                    print(
                        f"  after {i + 1:5d}: file+wal {file_size(db) / 1e6:8.2f} MB  "
                        f"blocks total {total} used {used} free {free}"
                    )
            elapsed = max(time.perf_counter() - t0, 1e-9)
            cur.execute("CHECKPOINT")
            print(
                f"  after CHECKPOINT: file {file_size(db) / 1e6:8.2f} MB "
                f"({elapsed / max(args.cycles, 1) * 1000:.1f} ms per cycle)"
            )
    finally:
        server.thread.stop()
    print(f"  after shutdown: file {file_size(db) / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()
