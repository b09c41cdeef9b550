"""Timing ``branch_create`` (shared by the three create workloads)."""

from __future__ import annotations

from benchmarks.core import perf, summarize
from benchmarks.systems.base import System
from benchmarks.workloads.base import Ctx


def time_creates(ctx: Ctx, n: int, share: float = 1.0) -> list[float]:
    """Up to ``n`` creates one by one within ``share`` of the budget left; seconds per
    create (the preparation before each is untimed)."""
    sys = ctx.sys
    out = []
    for _ in ctx.repeat(n, share):
        name = ctx.name()
        sys.before_create()
        t0 = perf()
        sys.branch_create(name)
        out.append(perf() - t0)
    return out


def reps(sys: System, cheap: int, costly: int) -> int:
    return cheap if sys.cheap_create else costly


def discard_all(sys: System) -> None:
    for b in sorted(sys.branches):
        sys.branch_discard(b)


def create_series(ctx: Ctx, points: list[tuple[str, float, dict[str, int]]]) -> None:
    """At each point (param, x, main's tables): make main hold those tables, then time
    creates. PostgreSQL's TEMPLATE system also times its FILE_COPY strategy."""
    sys = ctx.sys
    p = ctx.profile
    n_reps = reps(sys, p.create_reps_cheap, p.create_reps_costly)
    strategy = getattr(sys, "strategy", None)
    variants = 2 if strategy is not None else 1
    for i, (param, x, tables) in enumerate(ctx.points(points, lambda pt: (pt[0], pt[1]))):
        ctx.tick(f"load {param}")
        sys.ensure_main(tables)
        ctx.tick(f"create @ {param}")
        runs_left = variants * (len(points) - i)
        samples = time_creates(ctx, n_reps, 1 / runs_left)
        ctx.add(param, x=x, stats=summarize(samples))
        discard_all(sys)
        if strategy is not None:  # PostgreSQL: also the FILE_COPY strategy
            sys.strategy = "FILE_COPY"  # type: ignore[attr-defined]
            try:
                samples = time_creates(ctx, n_reps, 1 / (runs_left - 1))
            finally:
                sys.strategy = strategy  # type: ignore[attr-defined]
            ctx.add(param, system=sys.key + "_file_copy", x=x, stats=summarize(samples))
            discard_all(sys)
