"""branch_create latency against the number of live branches (main: 1k rows).

At each level L, branches are created untimed until L-1 are live, then ``live_probe``
creates are timed. Systems that copy data stop at ``live_cap_costly`` (every
PostgreSQL database is ≥ 7 MB on disk). Discarding them all is timed too.
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
    for level in p.live_counts:
        if cap is not None and level > cap:
            ctx.add(f"live={level}", x=level, status="skipped",
                    note=f"capped at {cap} live branches for systems that copy data")
            continue
        ctx.tick(f"fill to {level} live")
        while len(sys.branches) < level - 1:
            b = ctx.name()
            sys.before_create()
            sys.branch_create(b)
        ctx.tick(f"create @ {level} live")
        samples = time_creates(sys, [ctx.name() for _ in range(p.live_probe)])
        ctx.add(f"live={level}", x=level, stats=summarize(samples))
    ctx.tick("discard all")
    live = len(sys.branches)
    times = []
    for b in sorted(sys.branches):
        t0 = perf()
        sys.branch_discard(b)
        times.append(perf() - t0)
    ctx.add("discard all", stats=summarize(times), values={"live_before": live})
