"""Disk bytes a branch uses and how many come back when it is discarded.

Main: t with N rows. The branch updates 10 % of the rows and inserts N/2 new ones.
Sizes are taken after a CHECKPOINT before the branch, with it, and after discarding
it: ``used`` is what the engine reports (DuckDB used blocks, PostgreSQL
pg_database_size), ``file`` is bytes on disk. A second identical branch afterwards
shows whether freed space is reused. Systems that can compact their stopped data
file (hati: ``hati compact``) are then measured once more after compaction, with
both branches discarded: ``file_reclaimed_after_compact`` is the share of the first
branch's file growth the compacted file no longer has (above 100 % when compaction
also drops free blocks the file had before the branch).
"""

from __future__ import annotations

from typing import Any

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
    used_grown = d1["used_bytes"] - d0["used_bytes"]
    file_grown = d1["file_bytes"] - d0["file_bytes"]
    compacted: dict[str, Any] = {}
    compact = getattr(sys, "compact", None)
    if callable(compact):
        d4 = _sizes(ctx, "size after the second discard")
        ctx.tick("compact the stopped data file")
        try:
            d5 = compact()
        except RuntimeError as exc:  # e.g. a server version without `hati compact`
            compacted = {"after_second_discard": d4, "compact_error": str(exc)[:300]}
        else:
            compacted = {
                "after_second_discard": d4,
                "after_compact": d5,
                "file_reclaimed_after_compact": _frac(
                    d1["file_bytes"] - d5["file_bytes"], file_grown
                ),
                "file_after_compact_minus_before": d5["file_bytes"] - d0["file_bytes"],
                "compact_s": d5.get("compact_s"),
                "compact_command_s": d5.get("command_s"),
            }
    else:
        sys.checkpoint()
    mark_dirty(sys, "t")
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
            **compacted,
        },
        note=note,
        correct=not note,
    )
