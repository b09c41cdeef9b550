"""Writes on main while N branches are live vs the same writes with none.

Point ``UPDATE``, single-row ``INSERT`` and point ``DELETE`` on main's keyed table are
timed with no branch, then with ``live_writers`` (32) branches live, each of which has
read and written the table, then again after they are discarded (to show drift). A
system that must keep every live branch's snapshot pays for it here.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.core import perf, summarize
from benchmarks.systems.base import Session
from benchmarks.workloads.base import Ctx, big_main, fork, mark_dirty

KEY = "main_live"
TITLE = "Writes on main with live branches"
SYSTEMS = ("hati_psycopg2", "duckdb")
ELSEWHERE = (
    "runs on hati (psycopg2) and on plain DuckDB, whose branch copies leave main alone; "
    "PostgreSQL's databases per branch would need 32 copies of the table on disk"
)

# kind -> statement for the i-th repetition of a phase (keys never meet across phases)
WRITES: dict[str, Callable[[int, int], str]] = {
    "update": lambda rows, i: f"UPDATE t SET v = v + 1 WHERE id = {rows * 3 // 4 + i}",
    "insert": lambda rows, i: f"INSERT INTO t VALUES ({rows + 100_000 + i}, 1, 'live')",
    "delete": lambda rows, i: f"DELETE FROM t WHERE id = {rows // 3 + i}",
}


def _phase(s: Session, rows: int, reps: int, phase: int) -> dict[str, list[float]]:
    """Each kind of write ``reps`` times (after one warm-up, whose time is the list's
    first) on fresh keys of ``phase``."""
    out: dict[str, list[float]] = {}
    for kind, make in WRITES.items():
        times = []
        for i in range(reps + 1):
            sql = make(rows, phase * 10_000 + i)
            t0 = perf()
            s.execute(sql)
            times.append(perf() - t0)
        out[kind] = times
    return out


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    rows = big_main(ctx, p.live_write_rows)
    n = p.live_writers
    mark_dirty(sys, "t")
    # Five times the point reps of the depth series: a write takes ~1.5 ms, and ten of
    # them on a shared 2-core machine swung the ratio from x0.5 to x5 between runs.
    reps = p.point_reps * 5
    main = sys.session(None)
    try:
        ctx.tick("writes on main, no branch")
        alone = _phase(main, rows, reps, 0)
        for i in range(n):
            ctx.tick(f"branch {i + 1}/{n}: fork, read, write")
            b = fork(ctx)
            s = sys.session(b)
            try:
                s.query(f"SELECT v FROM {s.table('t')} WHERE id = {rows // 5 + i}")
                s.execute(f"UPDATE {s.table('t')} SET v = v + 1 WHERE id = {rows // 5 + i}")
            finally:
                s.close()
        ctx.tick(f"writes on main, {n} branches live")
        live = _phase(main, rows, reps, 1)
        ctx.tick("discard")
        for b in sorted(sys.branches):
            sys.branch_discard(b)
        ctx.tick("writes on main after the discards")
        after = _phase(main, rows, reps, 2)
    finally:
        main.close()
    for kind in WRITES:
        st, base = summarize(live[kind][1:]), summarize(alone[kind][1:])
        ctx.add(
            kind,
            x=n,
            stats=st,
            values={
                "alone": base,
                "after_discard": summarize(after[kind][1:]),
                # The warm-up: the first write of its kind with the branches live
                # (the first UPDATE takes the snapshot; a write that cannot say its
                # rows would copy the table here).
                "first_live_ms": live[kind][0] * 1e3,
                "ratio": st["p50_ms"] / base["p50_ms"],
                "live": n,
                "rows": rows,
            },
        )
