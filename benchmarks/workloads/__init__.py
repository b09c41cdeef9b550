"""Every workload, in run order (cheap ones first, the concurrency stress last)."""

from __future__ import annotations

from types import ModuleType

from benchmarks.workloads import (
    concurrency,
    correctness,
    create_live,
    create_size,
    create_tables,
    disk,
    first_write,
    merge,
    read,
    roundtrip,
)

ALL_WORKLOADS: list[ModuleType] = [
    roundtrip,
    correctness,
    create_size,
    read,
    first_write,
    merge,
    disk,
    create_tables,
    create_live,
    concurrency,
]

BY_KEY = {w.KEY: w for w in ALL_WORKLOADS}
