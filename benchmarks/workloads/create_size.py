"""branch_create latency against the size of main (one table of N rows).

The table grows from the smallest size to the largest (rows are appended, never
reloaded), so the largest main is generated once and reused by the workloads after.
"""

from __future__ import annotations

from benchmarks.core import human_rows
from benchmarks.workloads._create import create_series
from benchmarks.workloads.base import Ctx

KEY = "create_vs_rows"
TITLE = "branch_create vs rows in main"


def run(ctx: Ctx) -> None:
    create_series(ctx, [(f"rows={human_rows(n)}", n, {"t": n}) for n in ctx.profile.create_sizes])
