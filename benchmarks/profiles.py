"""Sizes and repetition counts of the quick and full runs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    name: str
    roundtrip_n: int
    create_sizes: tuple[int, ...]
    create_reps_cheap: int  # systems whose create should be O(1): hati, SDK views
    create_reps_costly: int  # systems that copy data: PG template, schema copies
    table_counts: tuple[int, ...]
    table_rows: int
    live_counts: tuple[int, ...]
    live_probe: int  # creates timed at each live-branch level
    live_cap_costly: int  # max live branches for copying systems (PG databases = disk)
    read_rows: int
    read_reps: int
    write_reps: int
    merge_main_rows: int
    merge_diffs: tuple[int, ...]
    disk_rows: int
    agents: tuple[int, ...]
    cycles_per_agent: dict[int, int]
    concurrency_timeout_s: float
    # system key -> the only workloads it runs (the others are reported as skipped)
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)


QUICK = Profile(
    name="quick",
    roundtrip_n=1000,
    create_sizes=(1_000, 10_000, 100_000),
    create_reps_cheap=20,
    create_reps_costly=3,
    table_counts=(1, 10, 50),
    table_rows=100,
    live_counts=(1, 10, 100, 300),
    live_probe=10,
    live_cap_costly=30,
    read_rows=100_000,
    read_reps=10,
    write_reps=3,
    merge_main_rows=100_000,
    merge_diffs=(10, 100, 1_000),
    disk_rows=100_000,
    agents=(1, 8, 64),
    cycles_per_agent={1: 5, 8: 2, 64: 1},
    concurrency_timeout_s=60.0,
)

FULL = Profile(
    name="full",
    roundtrip_n=5000,
    create_sizes=(1_000, 10_000, 100_000, 1_000_000, 10_000_000),
    create_reps_cheap=50,
    create_reps_costly=3,
    table_counts=(1, 10, 100, 1000),
    table_rows=100,
    live_counts=(1, 10, 100, 1_000, 10_000),
    live_probe=20,
    live_cap_costly=100,
    read_rows=10_000_000,
    read_reps=20,
    write_reps=5,
    merge_main_rows=10_000_000,
    merge_diffs=(10, 100, 1_000, 10_000, 100_000),
    disk_rows=1_000_000,
    agents=(1, 8, 64),
    cycles_per_agent={1: 30, 8: 10, 64: 3},
    concurrency_timeout_s=300.0,
    # Same server code path as hati (psycopg2): only what the driver or the plain-SQL
    # mode can change is run at full size (keeps --full near 40 minutes).
    only={
        "hati_psycopg3": ("roundtrip", "correctness", "create_vs_rows", "read_untouched",
                          "first_write", "concurrency"),
        "hati_plain": ("roundtrip", "correctness", "read_untouched", "first_write", "disk",
                       "create_vs_tables", "concurrency"),
    },
)

PROFILES = {"quick": QUICK, "full": FULL}
