"""Timing ``branch_create`` (shared by the three create workloads)."""

from __future__ import annotations

from benchmarks.core import perf
from benchmarks.systems.base import System


def time_creates(sys: System, names: list[str]) -> list[float]:
    """Create the branches one by one; seconds per create (preparation untimed)."""
    out = []
    for name in names:
        sys.before_create()
        t0 = perf()
        sys.branch_create(name)
        out.append(perf() - t0)
    return out


def reps(sys: System, cheap: int, costly: int) -> int:
    return cheap if sys.cheap_create else costly
