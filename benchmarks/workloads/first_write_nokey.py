"""First write in a fresh branch of a big table without a primary key.

The same measurement as ``first_write`` on a table of the same rows declared without a
key (``nk_t``): the shape of a table made by ``CREATE TABLE … AS`` or declared without
one. It runs after ``merge``, the last workload that reuses the big keyed table.
"""

from __future__ import annotations

from benchmarks.core import human_rows
from benchmarks.workloads.base import Ctx
from benchmarks.workloads.first_write import measure

KEY = "first_write_nokey"
TITLE = "First write in a branch, table without a primary key"
TABLE = "nk_t"


def run(ctx: Ctx) -> None:
    rows = ctx.profile.read_rows
    ctx.tick(f"load {human_rows(rows)} rows without a key")
    ctx.sys.ensure_main({TABLE: rows})
    measure(ctx, TABLE, rows, f"rows={human_rows(rows)}, no key")
