"""Round trip of ``SELECT 1`` (median and p99 over many runs)."""

from __future__ import annotations

from benchmarks.core import perf, summarize
from benchmarks.workloads.base import Ctx

KEY = "roundtrip"
TITLE = "SELECT 1 round trip"


def run(ctx: Ctx) -> None:
    n = ctx.profile.roundtrip_n
    for variant, fn in ctx.sys.roundtrip_clients().items():
        ctx.tick(f"SELECT 1 {variant}".strip())
        for _ in range(min(200, n)):
            fn()
        samples = []
        for _ in range(n):
            t0 = perf()
            fn()
            samples.append(perf() - t0)
        ctx.add(variant, stats=summarize(samples))
