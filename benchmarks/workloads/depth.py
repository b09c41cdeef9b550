"""Point read and point update in a branch at depth d (branches forked from branches).

The BranchBench shape: a chain of branches, each forked from the one before, each
writing a little (5 updates, 2 inserts, 1 delete) to a keyed table ``t``. Once the
chain is built, at each measured depth the point read ``SELECT v FROM t WHERE id = k``
and the point update ``UPDATE t SET v = v + 1 WHERE id = k`` (the branch has written
before: these are not first writes) are timed against the same statements on main,
measured before the chain existed (no live branches).

Systems without branches of branches (plain DuckDB in-process, PostgreSQL) run the
same writes level by level on main and time the same statements there: the flat line
to compare against. At every depth the system must show the inserts and deletes of
every level up to it and the update of level 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.core import perf, summarize
from benchmarks.systems.base import Session
from benchmarks.workloads.base import Ctx, big_main, fork, mark_dirty

KEY = "depth"
TITLE = "Branch depth: point read and update"
SYSTEMS = ("hati_psycopg2", "duckdb", "pg_template")
ELSEWHERE = (
    "the depth series runs on hati (psycopg2) and on one table on main of plain "
    "DuckDB and PostgreSQL; the other systems' branch statements cost what main's do"
)


def level_writes(d: int, rows: int) -> list[str]:
    """What level ``d`` writes. Updated, deleted, inserted and timed keys never meet."""
    ups = [f"UPDATE t SET v = v + 1 WHERE id = {rows // 8 + d * 100 + k * 7}" for k in range(5)]
    ins = [f"INSERT INTO t VALUES ({rows + d * 10 + k}, {d}, 'depth-{d}')" for k in range(2)]
    return ups + ins + [f"DELETE FROM t WHERE id = {rows // 2 + d}"]


def timed_key(rows: int, i: int) -> int:
    """Keys of the timed statements (untouched by the levels' writes)."""
    return rows * 3 // 4 + (i * 7919) % (rows // 8)


def _probe(s: Session, rows: int, d: int, level1_v: int) -> str:
    """'' if the session sees every level up to ``d``, else what it got wrong."""
    inserted = s.query(f"SELECT count(*) FROM t WHERE id >= {rows}")[0][0]
    deleted = s.query(f"SELECT count(*) FROM t WHERE id > {rows // 2} AND id <= {rows // 2 + d}")
    v = s.query(f"SELECT v FROM t WHERE id = {rows // 8 + 100}")
    got = (int(inserted), int(deleted[0][0]), v[0][0] if v else None)
    want = (2 * d, 0, level1_v + 1)
    if got == want:
        return ""
    return f"at depth {d}: (inserted, deleted left, level-1 v) = {got}, expected {want}"


def _time(s: Session, sqls: list[str], warm: int = 1) -> list[float]:
    """Run ``sqls`` one by one; seconds of each after the first ``warm``."""
    out = []
    for i, sql in enumerate(sqls):
        t0 = perf()
        if sql.startswith("SELECT"):
            s.query(sql)
        else:
            s.execute(sql)
        if i >= warm:
            out.append(perf() - t0)
    return out


def _point(s: Session, rows: int, reps: int, start: int) -> tuple[list[float], list[float]]:
    """Timed point reads and point updates (one warm-up each) at keys from ``start``."""
    keys = [timed_key(rows, start + i) for i in range(reps + 1)]
    reads = _time(s, [f"SELECT v FROM t WHERE id = {k}" for k in keys])
    writes = _time(s, [f"UPDATE t SET v = v + 1 WHERE id = {k}" for k in keys])
    return reads, writes


@contextmanager
def _session(ctx: Ctx, branch: str | None) -> Iterator[Session]:
    s = ctx.sys.session(branch)
    try:
        yield s
    finally:
        s.close()


def run(ctx: Ctx) -> None:  # noqa: C901 - the chain is built and timed level by level in one place
    sys = ctx.sys
    p = ctx.profile
    rows = big_main(ctx, p.depth_rows)
    levels = sorted(p.depth_levels)
    chain = sys.nested_branches
    reps = p.point_reps
    ctx.tick("main")
    with _session(ctx, None) as m:
        main_read, main_write = _point(m, rows, reps, 0)
        level1_v = m.query(f"SELECT v FROM t WHERE id = {rows // 8 + 100}")[0][0]
    main = {"read": summarize(main_read), "update": summarize(main_write)}
    names: dict[int, str] = {}
    build_s: dict[int, float] = {}
    try:
        deepest = 0
        for d in range(1, levels[-1] + 1):
            if ctx.over():
                break
            ctx.tick(f"level {d}" + (" (fork + writes)" if chain else " (writes on main)"))
            branch = None
            if chain:
                if d == 1:
                    branch = fork(ctx)
                else:
                    branch = ctx.name()
                    sys.branch_fork(branch, names[d - 1])
                names[d] = branch
            with _session(ctx, branch) as s:
                t0 = perf()
                for sql in level_writes(d, rows):
                    s.execute(sql)
                build_s[d] = perf() - t0
                if not chain and d in levels:
                    _measure(ctx, s, d, rows, main, build_s[d], level1_v)
            deepest = d
        if chain:
            for d in levels:
                if d > deepest:
                    break
                ctx.tick(f"depth {d}")
                with _session(ctx, names[d]) as s:
                    _measure(ctx, s, d, rows, main, build_s[d], level1_v)
        for d in levels:
            if d > deepest:
                ctx.add(f"depth={d}", x=d, status="skipped", note=ctx.budget_note())
                ctx.cut.append(f"depth={d}")
    finally:
        ctx.tick("discard the chain")
        for d in sorted(names, reverse=True):
            sys.branch_discard(names[d])
        if not chain:
            mark_dirty(sys, "t")


def _measure(
    ctx: Ctx,
    s: Session,
    d: int,
    rows: int,
    main: dict[str, dict[str, float]],
    build_s: float,
    level1_v: int,
) -> None:
    wrong = _probe(s, rows, d, level1_v)
    reads, writes = _point(s, rows, ctx.profile.point_reps, 1000 * d)
    read, write = summarize(reads), summarize(writes)
    ctx.add(
        f"depth={d}",
        x=d,
        stats=read,
        values={
            "update": write,
            "main_read": main["read"],
            "main_update": main["update"],
            "read_ratio": read["p50_ms"] / main["read"]["p50_ms"],
            "update_ratio": write["p50_ms"] / main["update"]["p50_ms"],
            "level_writes_ms": build_s * 1000,
            "rows": rows,
            "in_branch": ctx.sys.nested_branches,
        },
        correct=not wrong,
        note=wrong,
    )
