"""Every workload, in run order.

Cheap ones first; disk while the data file is fresh (after a dropped 10 M-row table
the branch fits in freed blocks and the file's bytes say nothing); then the big-main
series (create_vs_rows grows main to its largest size, which read_untouched,
first_write and merge reuse); the live-branch series last, because the branches it
leaves go with the system."""

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
    disk,
    create_size,
    read,
    first_write,
    merge,
    create_tables,
    concurrency,
    create_live,
]

BY_KEY = {w.KEY: w for w in ALL_WORKLOADS}
