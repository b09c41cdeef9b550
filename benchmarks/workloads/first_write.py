"""First write to a big table in a fresh branch vs the same write on main.

The write is a point ``UPDATE``. Each repetition uses a new branch (created untimed).
A second write in the same branch is timed too, and so is the first write on main
while a branch is live (a system may have to preserve the branch's snapshot then). Where a system cannot write in a
branch, the error is the correctness finding and, if a manual workaround exists,
its cost (copy + write) is reported instead.
"""

from __future__ import annotations

from benchmarks.core import human_rows, perf, summarize
from benchmarks.systems.base import Unsupported
from benchmarks.workloads.base import Ctx, short_error

KEY = "first_write"
TITLE = "First write in a branch vs on main"


def _update(table: str, id_: int) -> str:
    return f"UPDATE {table} SET v = v + 1 WHERE id = {id_}"


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    rows = p.read_rows
    ctx.tick(f"load {human_rows(rows)} rows")
    sys.ensure_main({"t": rows})
    main = sys.session(None)
    ctx.tick("write on main")
    main_s = []
    try:
        for i in range(p.write_reps + 1):
            t0 = perf()
            main.execute(_update(main.table("t"), (i * 104729) % rows))
            if i:
                main_s.append(perf() - t0)
    finally:
        main.close()
    ctx.tick("write on main after a fork")
    after_fork = []
    for i in range(p.write_reps):
        b = ctx.name()
        sys.before_create()
        sys.branch_create(b)
        main = sys.session(None)
        try:
            t0 = perf()
            main.execute(_update(main.table("t"), (i * 7727) % rows))
            after_fork.append(perf() - t0)
        finally:
            main.close()
            sys.branch_discard(b)
    first, second, error, workaround = [], [], "", False
    for i in range(p.write_reps):
        ctx.tick(f"first write in branch {i + 1}/{p.write_reps}")
        b = ctx.name()
        sys.before_create()
        sys.branch_create(b)
        s = sys.session(b)
        try:
            sql = _update(s.table("t"), (i * 15485863) % rows)
            t0 = perf()
            try:
                s.execute(sql)
            except Exception as exc:  # noqa: BLE001
                error = error or short_error(exc)
                try:
                    t0 = perf()
                    sys.materialize_workaround(s, "t")
                    s.execute(sql)
                    workaround = True
                except Unsupported:
                    break
            first.append(perf() - t0)
            t0 = perf()
            s.execute(_update(s.table("t"), (i * 15485863 + 1) % rows))
            second.append(perf() - t0)
        finally:
            s.close()
            sys.branch_discard(b)
    main_stats = summarize(main_s)
    st = summarize(first)
    note = error
    if workaround:
        note = f"cannot write in a branch ({error}); timed: manual table copy + write"
    ctx.add(
        f"rows={human_rows(rows)}",
        x=rows,
        stats=st,
        values={
            "main": main_stats,
            "second_write": summarize(second),
            "main_after_fork": summarize(after_fork),
            "ratio": (st["p50_ms"] / main_stats["p50_ms"]) if st.get("n") else None,
            "workaround": workaround,
            "rows": rows,
        },
        correct=not error,
        status="ok" if first else "failed",
        note=note,
    )
