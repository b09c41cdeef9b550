"""branch_create latency against the number of live branches (main: 1k rows).

At each level L, branches are created untimed until L-1 are live, then ``live_probe``
creates are timed. Systems that copy data stop at ``live_cap_costly`` (every
PostgreSQL database is ≥ 7 MB on disk). If the budget runs out while filling, the
level is reported as timed out with the number of live branches reached. At the end
``live_discard_sample`` discards are timed; the other branches go with the system
(this workload runs last).
"""

from __future__ import annotations

from benchmarks.core import perf, summarize
from benchmarks.workloads._create import time_creates
from benchmarks.workloads.base import Ctx

KEY = "create_vs_live"
TITLE = "branch_create vs live branches"


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    sys.ensure_main({"t": 1000})
    cap = None if sys.cheap_create else p.live_cap_costly
    levels = [lv for lv in p.live_counts if cap is None or lv <= cap]
    for lv in p.live_counts:
        if lv not in levels:
            ctx.add(
                f"live={lv}",
                x=lv,
                status="skipped",
                note=f"capped at {cap} live branches for systems that copy data",
            )
    reserve = 0.15  # of the budget, kept for the timed discards
    for i, level in enumerate(ctx.points(levels, lambda lv: (f"live={lv}", lv))):
        ctx.tick(f"fill to {level} live")
        while len(sys.branches) < level - 1 and ctx.left() > reserve * ctx.budget_s:
            b = ctx.name()
            sys.before_create()
            sys.branch_create(b)
            if len(sys.branches) % 100 == 0:
                ctx.tick(f"fill to {level} live: {len(sys.branches)}")
        if len(sys.branches) < level - 1:
            ctx.add(
                f"live={level}",
                x=level,
                status="skipped",
                note=f"{ctx.budget_note()} while filling: {len(sys.branches)} of "
                f"{level} branches live",
            )
            ctx.cut.append(f"live={level}")
            for rest in levels[i + 1 :]:
                ctx.add(f"live={rest}", x=rest, status="skipped", note=ctx.budget_note())
            break
        ctx.tick(f"create @ {level} live")
        samples = time_creates(ctx, p.live_probe, 0.5 / (len(levels) - i))
        ctx.add(
            f"live={level}",
            x=level,
            stats=summarize(samples),
            values={"live": len(sys.branches) - len(samples)},
        )
    live = len(sys.branches)
    ctx.tick(f"discard (of {live} live)")
    times = []
    for b in sorted(sys.branches)[: p.live_discard_sample]:
        t0 = perf()
        sys.branch_discard(b)
        times.append(perf() - t0)
    ctx.add(
        f"discard ({len(times)} of {live} live)",
        stats=summarize(times),
        values={"live_before": live, "timed": len(times)},
    )
