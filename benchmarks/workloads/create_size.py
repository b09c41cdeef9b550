"""branch_create latency against the size of main (one table of N rows)."""

from __future__ import annotations

from benchmarks.core import human_rows, summarize
from benchmarks.workloads._create import reps, time_creates
from benchmarks.workloads.base import Ctx

KEY = "create_vs_rows"
TITLE = "branch_create vs rows in main"


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    n_reps = reps(sys, p.create_reps_cheap, p.create_reps_costly)
    for rows in p.create_sizes:
        ctx.tick(f"load {human_rows(rows)} rows")
        sys.ensure_main({"t": rows})
        ctx.tick(f"create @ {human_rows(rows)} rows")
        samples = time_creates(sys, [ctx.name() for _ in range(n_reps)])
        ctx.add(f"rows={human_rows(rows)}", x=rows, stats=summarize(samples))
        for b in sorted(sys.branches):
            sys.branch_discard(b)
        strategy = getattr(sys, "strategy", None)
        if strategy is not None:  # PostgreSQL: also the FILE_COPY strategy
            sys.strategy = "FILE_COPY"  # type: ignore[attr-defined]
            try:
                samples = time_creates(sys, [ctx.name() for _ in range(n_reps)])
            finally:
                sys.strategy = strategy  # type: ignore[attr-defined]
            ctx.add(f"rows={human_rows(rows)}", system=sys.key + "_file_copy", x=rows,
                    stats=summarize(samples))
            for b in sorted(sys.branches):
                sys.branch_discard(b)
