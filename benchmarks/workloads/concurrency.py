"""N agents, each on its own connection, doing create → insert → merge cycles.

Every cycle inserts one row with a unique id into ``ev`` inside a fresh branch and
merges it. Afterwards main must hold exactly the rows of the successful cycles: none
lost, none duplicated, the 1000 seed rows intact. Agents that do not finish within the
deadline count as a deadlock.
"""

from __future__ import annotations

import threading
from typing import Any

from benchmarks.core import perf, summarize
from benchmarks.systems.base import Agent, Unsupported
from benchmarks.workloads.base import Ctx, cannot_merge, mark_dirty, short_error

KEY = "concurrency"
TITLE = "Concurrent agents: create-write-merge cycles"
BASE_ID = 10_000_000


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    if cannot_merge(ctx):
        return
    sys.ensure_main({"ev": 1000})
    mark_dirty(sys, "ev")
    for n in ctx.points(p.agents, lambda n: (f"agents={n}", n)):
        ctx.tick(f"{n} agents")
        try:
            agents: list[Agent] = [sys.agent() for _ in range(n)]
        except Unsupported as exc:
            ctx.add(status="unsupported", note=str(exc))
            return
        if not _round(ctx, n, agents):
            return  # stuck threads: do not go on with this system


def _round(ctx: Ctx, n: int, agents: list[Agent]) -> bool:
    sys = ctx.sys
    p = ctx.profile
    cycles = p.cycles_per_agent.get(n, 1)
    lo = BASE_ID + n * 100_000
    lat: list[list[float]] = [[] for _ in range(n)]
    errs: list[list[str]] = [[] for _ in range(n)]
    retries = [0] * n
    barrier = threading.Barrier(n + 1)

    def work(i: int) -> None:
        agent = agents[i]
        barrier.wait()
        for c in range(cycles):
            rid = lo + i * 1000 + c
            t0 = perf()
            try:
                retries[i] += agent.cycle(f"a{n}x{i}c{c}", "ev", (rid, i, f"a{i}c{c}"))
                lat[i].append(perf() - t0)
            except Exception as exc:  # noqa: BLE001 - counted, reported
                errs[i].append(short_error(exc))

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = perf()
    end = t0 + p.concurrency_timeout_s
    for t in threads:
        t.join(max(0.0, end - perf()))
    wall = perf() - t0
    stuck = sum(t.is_alive() for t in threads)
    ok = sum(len(x) for x in lat)
    errors = [e for x in errs for e in x]
    values: dict[str, Any] = {
        "agents": n,
        "cycles": n * cycles,
        "succeeded": ok,
        "errors": len(errors),
        "throughput_per_s": ok / wall if wall > 0 else None,
        "wall_s": wall,
        "retries": sum(retries),
        "stuck_agents": stuck,
        "workarounds": sum(getattr(a, "workarounds", 0) for a in agents),
    }
    if stuck:
        ctx.add(
            f"agents={n}",
            x=n,
            stats=summarize([x for y in lat for x in y]),
            values=values,
            correct=False,
            status="failed",
            note=f"{stuck} agents still running after {p.concurrency_timeout_s:.0f}s "
            "(deadlock or hang)",
        )
        return False
    for a in agents:
        a.close()
    main = sys.main()
    got = main.query(
        f"SELECT count(*), count(DISTINCT id) FROM ev WHERE id >= {lo} AND id < {lo + 100_000}"
    )[0]
    seed = main.query("SELECT count(*) FROM ev WHERE id < 1000")[0][0]
    lost = max(0, ok - int(got[0]))
    dup = int(got[0]) - int(got[1])
    values.update(
        rows_in_main=int(got[0]),
        lost=lost,
        duplicated=dup,
        seed_rows=int(seed),
        extra=max(0, int(got[1]) - ok),
    )
    notes = []
    if errors:
        notes.append(f"{len(errors)} failed cycles, first: {errors[0]}")
    if lost or dup or seed != 1000 or got[1] > ok:
        notes.append(
            f"rows: {ok} merged cycles, {got[0]} rows in main ({dup} duplicated), "
            f"{seed}/1000 seed rows left"
        )
    if values["workarounds"]:
        notes.append(f"{values['workarounds']} writes needed a manual table copy")
    ctx.add(
        f"agents={n}",
        x=n,
        stats=summarize([x for y in lat for x in y]),
        values=values,
        correct=not errors and not lost and not dup and seed == 1000 and got[1] <= ok,
        note="; ".join(notes),
    )
    return True
