"""First write to a big table in a fresh branch vs the same write on main.

The write is a point ``UPDATE``. Each repetition forks a new branch (untimed), times
one write on main while the branch is live (a system may have to preserve the
branch's snapshot then), then the first and a second write in the branch. Where a
system cannot write in a branch, the error is the correctness finding and, if a
manual workaround exists, its cost (copy + write) is reported instead. The table is
the big main of the workloads before (its values change, its rows do not).
"""

from __future__ import annotations

from benchmarks import datagen
from benchmarks.core import human_rows, perf, summarize
from benchmarks.systems.base import Session
from benchmarks.workloads.base import Ctx, big_main, fork, write_or_workaround

KEY = "first_write"
TITLE = "First write in a branch vs on main"


def _update(table: str, id_: int) -> str:
    return f"UPDATE {table} SET v = v + 1 WHERE id = {id_}"


def _timed_write(s: Session, sql: str) -> float:
    t0 = perf()
    s.execute(sql)
    return perf() - t0


def run(ctx: Ctx) -> None:
    rows = big_main(ctx, ctx.profile.read_rows)
    measure(ctx, "t", rows, f"rows={human_rows(rows)}")


def measure(ctx: Ctx, table: str, rows: int, param: str) -> None:
    """Writes on main, on main with a live branch, first and second in the branch."""
    sys = ctx.sys
    p = ctx.profile
    ctx.tick("write on main")
    main = sys.session(None)
    try:
        main_s = [
            _timed_write(main, _update(table, (i * 104729) % rows))
            for i in range(max(5, p.write_reps + 1))
        ][1:]  # the first one warms up
    finally:
        main.close()
    after_fork, first, second, error, workaround = [], [], [], "", False
    for i in ctx.repeat(p.write_reps):
        ctx.tick(f"fork {i + 1}/{p.write_reps}")
        b = fork(ctx)
        try:
            ctx.tick(f"write on main, branch live {i + 1}/{p.write_reps}")
            main = sys.session(None)
            try:
                after_fork.append(_timed_write(main, _update(table, (i * 7727) % rows)))
            finally:
                main.close()
            ctx.tick(f"first write in branch {i + 1}/{p.write_reps}")
            s = sys.session(b)
            try:
                sql = _update(s.table(table), (i * 15485863) % rows)
                t0 = perf()
                try:
                    err = write_or_workaround(sys, s, table, sql)
                except Exception as exc:  # noqa: BLE001 - no way to write: the finding
                    error = error or f"{type(exc).__name__}: {exc}"[:200]
                    break
                first.append(perf() - t0)
                if err:
                    error, workaround = error or err, True
                second.append(_timed_write(s, _update(s.table(table), (i * 15485863 + 1) % rows)))
            finally:
                s.close()
        finally:
            sys.branch_discard(b)
    main_stats = summarize(main_s)
    st = summarize(first)
    note = error
    if workaround:
        note = f"cannot write in a branch ({error}); timed: manual table copy + write"
    ctx.add(
        param,
        x=rows,
        stats=st,
        values={
            "main": main_stats,
            "second_write": summarize(second),
            "main_after_fork": summarize(after_fork),
            "ratio": (st["p50_ms"] / main_stats["p50_ms"]) if st.get("n") else None,
            "workaround": workaround,
            "rows": rows,
            "primary_key": datagen.has_key(table),
        },
        correct=not error,
        status="ok" if first else "failed",
        note=note,
    )
