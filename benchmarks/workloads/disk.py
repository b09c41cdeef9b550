"""Disk bytes a branch uses and how many come back when it is discarded.

Main: t with N rows. The branch updates 10 % of the rows and inserts N/2 new ones.
Sizes are taken after a CHECKPOINT before the branch, with it, and after discarding
it: ``used`` is what the engine reports (DuckDB used blocks, PostgreSQL
pg_database_size), ``file`` is bytes on disk. A second identical branch afterwards
shows whether freed space is reused.
"""

from __future__ import annotations

from benchmarks.core import human_rows
from benchmarks.systems.base import System
from benchmarks.workloads.base import Ctx, fork, mark_dirty, write_or_workaround

KEY = "disk"
TITLE = "Disk bytes after discard"


def _fill(ctx: Ctx, sys: System, rows: int) -> tuple[str, str]:
    """Create a branch and write into it; returns (branch, note)."""
    b = fork(ctx)
    s = sys.session(b)
    t = s.table("t")
    try:
        err = write_or_workaround(sys, s, "t", f"UPDATE {t} SET v = v + 1 WHERE id % 10 = 0")
        s.execute(
            f"INSERT INTO {t} SELECT g, g % 1000, 'row-' || g "
            f"FROM generate_series({rows}, {rows + rows // 2 - 1}) AS gs(g)"
        )
    finally:
        s.close()
    return b, f"cannot write in a branch ({err}); manual copy used" if err else ""


def _frac(gone: int, grown: int) -> float | None:
    return gone / grown if grown > 0 else None


def _sizes(ctx: Ctx, what: str) -> dict[str, int]:
    ctx.tick(what)
    ctx.sys.checkpoint()
    return ctx.sys.disk()


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    rows = ctx.profile.disk_rows
    ctx.tick(f"load {human_rows(rows)} rows")
    sys.ensure_main({"t": rows})
    d0 = _sizes(ctx, "size before")
    b, note = _fill(ctx, sys, rows)
    d1 = _sizes(ctx, "size with a branch")
    sys.branch_discard(b)
    d2 = _sizes(ctx, "size after discard")
    b2, _ = _fill(ctx, sys, rows)
    d3 = _sizes(ctx, "size with a second branch")
    sys.branch_discard(b2)
    sys.checkpoint()
    mark_dirty(sys, "t")
    used_grown = d1["used_bytes"] - d0["used_bytes"]
    file_grown = d1["file_bytes"] - d0["file_bytes"]
    ctx.add(
        f"rows={human_rows(rows)}",
        x=rows,
        values={
            "before": d0,
            "with_branch": d1,
            "after_discard": d2,
            "second_branch": d3,
            "branch_used_bytes": used_grown,
            "used_reclaimed": _frac(d1["used_bytes"] - d2["used_bytes"], used_grown),
            "branch_file_bytes": file_grown,
            "file_reclaimed": _frac(d1["file_bytes"] - d2["file_bytes"], file_grown),
            "file_growth_second_branch": d3["file_bytes"] - d2["file_bytes"],
        },
        note=note,
        correct=not note,
    )
