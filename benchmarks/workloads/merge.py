"""Merge time against diff size at a fixed big main.

The branch updates k consecutive rows (untimed), then the merge is timed and main is
checked: the k rows got +1 and the row count did not change.
"""

from __future__ import annotations

from typing import Any

from benchmarks.core import human_rows, perf, summarize
from benchmarks.systems.base import Unsupported
from benchmarks.workloads.base import Ctx, mark_dirty, short_error

KEY = "merge"
TITLE = "Merge time vs diff size"


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    rows = p.merge_main_rows
    if not sys.supports_merge:
        ctx.add(status="unsupported", note=sys.merge_note)
        return
    ctx.tick(f"load {human_rows(rows)} rows")
    sys.ensure_main({"t": rows})
    try:
        for k in p.merge_diffs:
            if k > rows:
                continue
            ctx.tick(f"merge diff {human_rows(k)}")
            times, notes, ok_all, res = [], [], True, {}
            for rep in range(3 if sys.cheap_create else 1):
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
            ctx.add(
                f"diff={human_rows(k)}",
                x=k,
                stats=summarize(times),
                values={"main_rows": rows, "result": {str(a): str(v) for a, v in res.items()}},
                correct=ok_all,
                note="; ".join(notes),
            )
    finally:
        mark_dirty(sys, "t")


def _one(ctx: Ctx, k: int, rng: str) -> tuple[float, bool, str, dict[str, Any]]:
    sys = ctx.sys
    b = ctx.name()
    sys.before_create()
    sys.branch_create(b)
    main = sys.main()
    before = main.query(f"SELECT sum(v), count(*) FROM t WHERE {rng}")[0]
    total = main.query("SELECT count(*) FROM t")[0][0]
    s = sys.session(b)
    note = ""
    try:
        upd = f"UPDATE {s.table('t')} SET v = v + 1 WHERE {rng}"
        try:
            s.execute(upd)
        except Exception as exc:  # noqa: BLE001
            note = f"cannot write in a branch ({short_error(exc)}); manual copy used"
            sys.materialize_workaround(s, "t")
            s.execute(upd)
    finally:
        s.close()
    t0 = perf()
    try:
        res = sys.branch_merge(b)
    except Unsupported:
        sys.branch_discard(b)
        raise
    dt = perf() - t0
    after = main.query(f"SELECT sum(v), count(*) FROM t WHERE {rng}")[0]
    total_after = main.query("SELECT count(*) FROM t")[0][0]
    ok = (int(after[0]) == int(before[0]) + k and after[1] == before[1] == k
          and total_after == total)
    if not ok:
        note = (note + f" wrong result: range sum {before[0]}->{after[0]}, "
                       f"count {total}->{total_after}").strip()
    return dt, ok, note, res
