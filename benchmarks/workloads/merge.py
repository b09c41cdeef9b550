"""Merge time against diff size at a fixed big main.

The branch updates k consecutive rows (untimed), then the merge is timed and main is
checked: the k rows got +1 and the row count did not change. Main is the big table of
the workloads before; the check is relative, so it is reused (reloaded after only
where a merge went wrong or rebuilt the table). Systems whose merge scans all of main
run fewer diff sizes (``merge_diffs_costly``); the time budget cuts the rest.
"""

from __future__ import annotations

from typing import Any

from benchmarks.core import human_rows, perf, summarize
from benchmarks.systems.base import Unsupported
from benchmarks.workloads.base import (
    Ctx,
    big_main,
    cannot_merge,
    fork,
    mark_dirty,
    write_or_workaround,
)

KEY = "merge"
TITLE = "Merge time vs diff size"


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    if cannot_merge(ctx):
        return
    rows = big_main(ctx, p.merge_main_rows)
    diffs = [
        k for k in (p.merge_diffs_costly if sys.merge_scans_main else p.merge_diffs) if k <= rows
    ]
    reps = 1 if sys.merge_scans_main else p.merge_reps
    clean = sys.merge_keeps_table
    try:
        for i, k in enumerate(ctx.points(diffs, lambda k: (f"diff={human_rows(k)}", k))):
            ctx.tick(f"merge diff {human_rows(k)}")
            times, notes, ok_all, res = [], [], True, {}
            for rep in ctx.repeat(reps, 1 / (len(diffs) - i)):
                off = (rows // 3) - k // 2 + rep * k
                try:
                    dt, ok, note, res = _one(ctx, k, f"id >= {off} AND id < {off + k}")
                except Unsupported as exc:
                    ctx.add(status="unsupported", note=str(exc))
                    return
                times.append(dt)
                ok_all = ok_all and ok
                if note and note not in notes:
                    notes.append(note)
            clean = clean and ok_all
            ctx.add(
                f"diff={human_rows(k)}",
                x=k,
                stats=summarize(times),
                values={"main_rows": rows, "result": {str(a): str(v) for a, v in res.items()}},
                correct=ok_all,
                note="; ".join(notes),
            )
    finally:
        if not clean:
            mark_dirty(sys, "t")


def _one(ctx: Ctx, k: int, rng: str) -> tuple[float, bool, str, dict[str, Any]]:
    sys = ctx.sys
    b = fork(ctx)
    main = sys.main()
    before = main.query(f"SELECT sum(v), count(*) FROM t WHERE {rng}")[0]
    total = main.query("SELECT count(*) FROM t")[0][0]
    s = sys.session(b)
    try:
        err = write_or_workaround(sys, s, "t", f"UPDATE {s.table('t')} SET v = v + 1 WHERE {rng}")
    finally:
        s.close()
    note = f"cannot write in a branch ({err}); manual copy used" if err else ""
    t0 = perf()
    try:
        res = sys.branch_merge(b)
    except Unsupported:
        sys.branch_discard(b)
        raise
    dt = perf() - t0
    after = main.query(f"SELECT sum(v), count(*) FROM t WHERE {rng}")[0]
    total_after = main.query("SELECT count(*) FROM t")[0][0]
    ok = int(after[0]) == int(before[0]) + k and after[1] == before[1] == k and total_after == total
    if not ok:
        note = (
            note + f" wrong result: range sum {before[0]}->{after[0]}, count {total}->{total_after}"
        ).strip()
    return dt, ok, note, res
