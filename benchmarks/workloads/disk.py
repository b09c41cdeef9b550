"""Disk bytes a branch uses and how many come back when it is discarded.

Main: t with N rows. The branch updates 10 % of the rows and inserts N/2 new ones.
Sizes are taken after a CHECKPOINT before the branch, with it, and after discarding
it: ``used`` is what the engine reports (DuckDB used blocks, PostgreSQL
pg_database_size), ``file`` is bytes on disk. A second identical branch afterwards
shows whether freed space is reused.
"""

from __future__ import annotations

from benchmarks.core import human_rows
from benchmarks.systems.base import System, Unsupported
from benchmarks.workloads.base import Ctx, mark_dirty, short_error

KEY = "disk"
TITLE = "Disk bytes after discard"


def _fill(ctx: Ctx, sys: System, rows: int) -> tuple[str, str]:
    """Create a branch and write into it; returns (branch, note)."""
    b = ctx.name()
    sys.before_create()
    sys.branch_create(b)
    s = sys.session(b)
    note = ""
    t = s.table("t")
    stmts = [
        f"UPDATE {t} SET v = v + 1 WHERE id % 10 = 0",
        f"INSERT INTO {t} SELECT g, g % 1000, 'row-' || g "
        f"FROM generate_series({rows}, {rows + rows // 2 - 1}) AS gs(g)",
    ]
    try:
        try:
            s.execute(stmts[0])
        except Exception as exc:  # noqa: BLE001
            note = f"cannot write in a branch ({short_error(exc)}); manual copy used"
            try:
                sys.materialize_workaround(s, "t")
            except Unsupported:
                raise exc from None
            s.execute(stmts[0])
        s.execute(stmts[1])
    finally:
        s.close()
    return b, note


def _frac(gone: int, grown: int) -> float | None:
    return gone / grown if grown > 0 else None


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    rows = ctx.profile.disk_rows
    ctx.tick(f"load {human_rows(rows)} rows")
    sys.ensure_main({"t": rows})
    sys.checkpoint()
    d0 = sys.disk()
    ctx.tick("branch writes")
    b, note = _fill(ctx, sys, rows)
    sys.checkpoint()
    d1 = sys.disk()
    ctx.tick("discard")
    sys.branch_discard(b)
    sys.checkpoint()
    d2 = sys.disk()
    ctx.tick("second branch")
    b2, _ = _fill(ctx, sys, rows)
    sys.checkpoint()
    d3 = sys.disk()
    sys.branch_discard(b2)
    sys.checkpoint()
    mark_dirty(sys, "t")
    used_grown = d1["used_bytes"] - d0["used_bytes"]
    file_grown = d1["file_bytes"] - d0["file_bytes"]
    ctx.add(
        f"rows={human_rows(rows)}",
        x=rows,
        values={
            "before": d0, "with_branch": d1, "after_discard": d2, "second_branch": d3,
            "branch_used_bytes": used_grown,
            "used_reclaimed": _frac(d1["used_bytes"] - d2["used_bytes"], used_grown),
            "branch_file_bytes": file_grown,
            "file_reclaimed": _frac(d1["file_bytes"] - d2["file_bytes"], file_grown),
            "file_growth_second_branch": d3["file_bytes"] - d2["file_bytes"],
        },
        note=note,
        correct=not note,
    )
