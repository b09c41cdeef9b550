"""branch_create latency against the number of tables in main (small tables)."""

from __future__ import annotations

from benchmarks.workloads._create import create_series
from benchmarks.workloads.base import Ctx

KEY = "create_vs_tables"
TITLE = "branch_create vs tables in main"


def run(ctx: Ctx) -> None:
    p = ctx.profile
    create_series(
        ctx, [(f"tables={k}", k, {f"t{i}": p.table_rows for i in range(k)}) for k in p.table_counts]
    )
