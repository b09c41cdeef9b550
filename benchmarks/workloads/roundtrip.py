"""Round trip of ``SELECT 1`` (median and p99 over many runs).

Each client first runs it untimed for at least ``roundtrip_warmup_s`` seconds (and 200
times): the first measurements of a fresh connection or server come out slow."""

from __future__ import annotations

from benchmarks.core import perf, summarize
from benchmarks.workloads.base import Ctx

KEY = "roundtrip"
TITLE = "SELECT 1 round trip"


def run(ctx: Ctx) -> None:
    n = ctx.profile.roundtrip_n
    warm_s = ctx.profile.roundtrip_warmup_s
    for variant, fn in ctx.sys.roundtrip_clients().items():
        label = f"SELECT 1 {variant}".strip()
        ctx.tick(f"{label}: warm-up")
        t0, warm = perf(), 0
        while warm < min(200, n) or perf() - t0 < warm_s:
            fn()
            warm += 1
        warm_took = perf() - t0
        ctx.tick(label)
        samples = []
        for _ in range(n):
            t0 = perf()
            fn()
            samples.append(perf() - t0)
        ctx.add(
            variant, stats=summarize(samples), values={"warmup_runs": warm, "warmup_s": warm_took}
        )
