"""branch_create latency against the number of tables in main (small tables)."""

from __future__ import annotations

from benchmarks.core import summarize
from benchmarks.workloads._create import reps, time_creates
from benchmarks.workloads.base import Ctx

KEY = "create_vs_tables"
TITLE = "branch_create vs tables in main"


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    n_reps = reps(sys, p.create_reps_cheap, p.create_reps_costly)
    for k in p.table_counts:
        ctx.tick(f"load {k} tables")
        sys.ensure_main({f"t{i}": p.table_rows for i in range(k)})
        ctx.tick(f"create @ {k} tables")
        samples = time_creates(sys, [ctx.name() for _ in range(n_reps)])
        ctx.add(f"tables={k}", x=k, stats=summarize(samples))
        for b in sorted(sys.branches):
            sys.branch_discard(b)
    sys.ensure_main({})
