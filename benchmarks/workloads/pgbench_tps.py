"""pgbench select-only and TPC-B TPS at 1/4/16 clients, on main and in a branch.

``pgbench -i -s N`` loads the tables; where it fails, the step is recorded as failed
with pgbench's error and the same tables are loaded with equivalent SQL, so the runs
can still measure something (their rows say so). Then ``pgbench -n -T D`` runs each
built-in script at each client count on main, and on hati again in a branch forked
after the main runs (``PGOPTIONS='-c hatidata_branch=b'``): the main runs see no live
branch. A run that fails or is aborted is recorded with pgbench's first error.
"""

from __future__ import annotations

from typing import Any

from benchmarks import pgbench as tool
from benchmarks.core import perf
from benchmarks.drivers import Pg2Conn
from benchmarks.workloads.base import Ctx, fork, short_error

KEY = "pgbench"
TITLE = "pgbench TPS"
SYSTEMS = ("hati_psycopg2", "pg_template")
ELSEWHERE = (
    "pgbench is run against hati (psycopg2's server) and PostgreSQL; in-process "
    "DuckDB has no server for it to connect to"
)


def _load(ctx: Ctx, path: str, wire: dict[str, str]) -> str:
    """``pgbench -i``, else the equivalent SQL. Returns how the tables were loaded."""
    scale = ctx.profile.pgbench_scale
    ctx.tick(f"pgbench -i -s {scale}")
    t0 = perf()
    init = tool.invoke(path, ["-i", "-q", "-s", str(scale)], wire, timeout=600)
    ok = init.rc == 0 and not init.error.startswith("pgbench did not finish")
    reason = "" if ok else init.error or f"exit code {init.rc}"
    loaded, note = "pgbench -i", ""
    if not ok:
        ctx.tick("pgbench -i failed: loading the same tables with SQL")
        conn = Pg2Conn(wire["host"], int(wire["port"]), wire["dbname"], wire["user"])
        try:
            for sql in tool.load_sql(scale):
                conn.run(sql)
        except Exception as exc:  # noqa: BLE001 - nothing to measure then
            note = f"failed: {reason}; loading with SQL failed too: {short_error(exc)}"
            loaded = ""
        else:
            loaded = "equivalent SQL"
            note = f"failed: {reason}; tables loaded with equivalent SQL instead"
        finally:
            conn.close()
    ctx.add(
        "init",
        stats={"n": 1, "p50_ms": (perf() - t0) * 1000},
        values={"pgbench_init": "ok" if ok else f"failed: {reason}", "loaded_by": loaded},
        correct=ok,
        note=note,
    )
    return loaded


def _drop(wire: dict[str, str]) -> None:
    conn = Pg2Conn(wire["host"], int(wire["port"]), wire["dbname"], wire["user"])
    try:
        for t in tool.TABLES:
            conn.run(f"DROP TABLE IF EXISTS {t}")
    finally:
        conn.close()


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    path = tool.pgbench_path()
    if path is None:
        ctx.add(status="skipped", note="pgbench not found (apt-get install postgresql-client)")
        return
    major = tool.major_version(path)
    wire = sys.wire()
    assert wire is not None
    loaded = _load(ctx, path, wire)
    if not loaded:
        return
    plan = [("main", mode, c) for mode in tool.MODES for c in p.pgbench_clients]
    if sys.nested_branches:  # hati: the same runs in a branch
        plan += [("branch", mode, c) for mode in tool.MODES for c in p.pgbench_clients]
    branch = ""
    try:
        for i, (where, mode, clients) in enumerate(
            ctx.points(plan, lambda pt: (f"{pt[0]} {pt[1]} c={pt[2]}", pt[2]))
        ):
            if where == "branch" and not branch:
                branch = fork(ctx)
            ctx.tick(f"{where}: {mode}, {clients} clients ({i + 1}/{len(plan)})")
            args = tool.run_args(mode, clients, p.pgbench_duration_s, major)
            o = tool.invoke(
                path, args, sys.wire(branch or None) or wire, timeout=p.pgbench_duration_s + 120
            )
            values: dict[str, Any] = {
                k: v for k, v in o.to_json().items() if k not in ("rc", "error", "aborted")
            }
            values.update(where=where, mode=mode, clients=clients, loaded_by=loaded)
            stats: dict[str, float] = {"n": o.processed or 0}
            if o.latency_ms is not None:
                stats["mean_ms"] = o.latency_ms
            notes = [f"failed: {o.error}" if o.tps is None else o.error]
            if loaded != "pgbench -i":
                notes.append(f"tables loaded with {loaded} (pgbench -i failed)")
            ctx.add(
                f"{where} {mode} c={clients}",
                x=clients,
                stats=stats,
                values=values,
                correct=o.tps is not None and not o.aborted,
                note="; ".join(n for n in notes if n),
            )
    finally:
        if branch:
            sys.branch_discard(branch)
        ctx.tick("drop the pgbench tables")
        _drop(wire)
