"""Every workload, in run order.

Cheap ones first; disk while the data file is fresh (after a dropped 10 M-row table
the branch fits in freed blocks and the file's bytes say nothing); then the 1 M-row
series (depth leaves main's rows as they were, so fetch reuses its table; main_live
and pgbench change or add tables); then the big-main series (create_vs_rows grows
main to its largest size, which read_untouched, first_write and merge reuse;
first_write_nokey loads its key-less table after them); the live-branch series last,
because the branches it leaves go with the system."""

from __future__ import annotations

from types import ModuleType

from benchmarks.workloads import (
    concurrency,
    correctness,
    create_live,
    create_size,
    create_tables,
    depth,
    disk,
    disk_online,
    fetch,
    first_write,
    first_write_nokey,
    main_live,
    merge,
    pgbench_tps,
    read,
    roundtrip,
)

ALL_WORKLOADS: list[ModuleType] = [
    roundtrip,
    correctness,
    disk,
    disk_online,
    depth,
    fetch,
    main_live,
    pgbench_tps,
    create_size,
    read,
    first_write,
    merge,
    first_write_nokey,
    create_tables,
    concurrency,
    create_live,
]

BY_KEY = {w.KEY: w for w in ALL_WORKLOADS}
