"""Sizes, repetition counts and time budgets of the quick and full runs.

Budgets are in seconds of wall time. A workload's budget is soft: once it is spent no
new point or repetition starts, and the points left out are recorded as "timed out"
(see ``Ctx.points``/``Ctx.repeat``). A watchdog cancels the running statement when a
workload overruns its budget by ``hard_grace_s`` (the workload is then reported as
"timed out at N s"). A system's budget caps the sum of its workloads: what is left
when it is spent is reported as timed out, so one slow system never blocks the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DEFAULT = "*"


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
    live_discard_sample: int  # discards timed at the end (the rest go with the system)
    read_rows: int
    read_reps: int
    write_reps: int
    merge_main_rows: int
    merge_diffs: tuple[int, ...]
    merge_diffs_costly: tuple[int, ...]  # systems whose merge scans all of main
    merge_reps: int  # 1 for systems whose merge scans all of main
    disk_rows: int
    agents: tuple[int, ...]
    cycles_per_agent: dict[int, int]
    concurrency_timeout_s: float
    roundtrip_warmup_s: float  # SELECT 1 runs untimed for at least this long first
    depth_rows: int  # table of the branch-depth series
    depth_levels: tuple[int, ...]  # depths measured (the chain goes to the largest)
    point_reps: int  # timed point reads/writes per point (depth, main_live)
    live_writers: int  # live branches while main writes (main_live)
    live_write_rows: int
    pgbench_scale: int
    pgbench_clients: tuple[int, ...]
    pgbench_duration_s: float
    fetch_rows: int
    fetch_reps: int
    # workload key -> soft budget (s); DEFAULT for the others
    workload_budget_s: dict[str, float] = field(default_factory=dict)
    # system key -> budget for all its workloads (s); DEFAULT for the others
    system_budget_s: dict[str, float] = field(default_factory=dict)
    # (system key, workload key) -> budget overriding both of the above's share
    overrides: dict[tuple[str, str], float] = field(default_factory=dict)
    hard_grace_s: float = 60.0
    # system key -> the only workloads it runs (the others are reported as skipped)
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def workload_budget(self, system: str, workload: str) -> float:
        got = self.overrides.get((system, workload))
        if got is not None:
            return got
        return self.workload_budget_s.get(workload, self.workload_budget_s.get(DEFAULT, 1e9))

    def system_budget(self, system: str) -> float:
        return self.system_budget_s.get(system, self.system_budget_s.get(DEFAULT, 1e9))


# What a driver or the plain-SQL mode can change (the rest runs the same server code as
# hati_psycopg2). A workload module's SYSTEMS names the only systems it runs on.
DRIVER_ONLY = ("roundtrip", "correctness", "read_untouched", "concurrency")

QUICK = Profile(
    name="quick",
    roundtrip_n=1000,
    create_sizes=(1_000, 10_000, 100_000),
    create_reps_cheap=20,
    create_reps_costly=2,
    table_counts=(1, 10, 50),
    table_rows=100,
    live_counts=(1, 10, 100, 300),
    live_probe=5,
    live_cap_costly=20,
    live_discard_sample=50,
    read_rows=100_000,
    read_reps=10,
    write_reps=3,
    merge_main_rows=100_000,
    merge_diffs=(10, 100, 1_000),
    merge_diffs_costly=(10, 1_000),
    merge_reps=3,
    disk_rows=100_000,
    agents=(1, 8, 64),
    cycles_per_agent={1: 5, 8: 2, 64: 1},
    concurrency_timeout_s=60.0,
    roundtrip_warmup_s=0.5,
    depth_rows=100_000,
    depth_levels=(1, 2, 4, 8),
    point_reps=5,
    live_writers=32,
    live_write_rows=100_000,
    pgbench_scale=1,
    pgbench_clients=(1, 4),
    pgbench_duration_s=2.0,
    fetch_rows=100_000,
    fetch_reps=2,
    workload_budget_s={DEFAULT: 30.0, "concurrency": 60.0, "pgbench": 45.0, "disk_online": 75.0},
    system_budget_s={DEFAULT: 60.0, "hati_psycopg2": 150.0, "pg_template": 90.0},
    hard_grace_s=30.0,
    only={
        "hati_psycopg3": DRIVER_ONLY,
        "hati_plain": (
            "roundtrip",
            "correctness",
            "read_untouched",
            "create_vs_tables",
            "concurrency",
        ),
    },
)

# --full: every SPEC §5 point for hati (psycopg2) and every baseline, in about 30
# minutes on 2 CPUs. The 10 M-row table is loaded once per system (grown from 1 k by
# create_vs_rows) and reused by read_untouched, first_write and merge. The depth chain
# stays on 1 M rows: building it and reading at each depth took 27 s at 1 M on
# f7d9407, and every statement at depth scans the table, so at 10 M it would take an
# estimated 4-5 minutes of hati's budget.
FULL = Profile(
    name="full",
    roundtrip_n=3000,
    create_sizes=(1_000, 10_000, 100_000, 1_000_000, 10_000_000),
    create_reps_cheap=30,
    create_reps_costly=2,
    table_counts=(1, 10, 100, 1000),
    table_rows=100,
    live_counts=(1, 10, 100, 1_000, 10_000),
    live_probe=10,
    live_cap_costly=100,
    live_discard_sample=200,
    read_rows=10_000_000,
    read_reps=10,
    write_reps=3,
    merge_main_rows=10_000_000,
    merge_diffs=(10, 100, 1_000, 10_000, 100_000),
    merge_diffs_costly=(10, 10_000, 100_000),
    merge_reps=2,
    disk_rows=1_000_000,
    agents=(1, 8, 64),
    cycles_per_agent={1: 10, 8: 3, 64: 2},
    concurrency_timeout_s=150.0,
    roundtrip_warmup_s=3.0,
    depth_rows=1_000_000,
    depth_levels=(1, 2, 4, 8, 16, 32),
    point_reps=10,
    live_writers=32,
    live_write_rows=1_000_000,
    pgbench_scale=10,
    pgbench_clients=(1, 4, 16),
    pgbench_duration_s=10.0,
    fetch_rows=1_000_000,
    fetch_reps=3,
    workload_budget_s={
        DEFAULT: 60.0,
        "create_vs_rows": 120.0,
        "depth": 150.0,
        "first_write": 90.0,
        "first_write_nokey": 120.0,
        "merge": 150.0,
        "disk": 90.0,
        "disk_online": 120.0,
        "create_vs_tables": 90.0,
        "concurrency": 150.0,
        "create_vs_live": 90.0,
        "pgbench": 240.0,
        "fetch": 120.0,
    },
    system_budget_s={
        DEFAULT: 200.0,
        "hati_psycopg2": 640.0,
        "hati_psycopg3": 50.0,
        "hati_plain": 50.0,
        "duckdb": 220.0,
        "pg_template": 340.0,
        "pg_schema": 320.0,
        "sdk_local": 180.0,
    },
    overrides={
        # hati's 10 k live branches: filling them is one create per round trip.
        ("hati_psycopg2", "create_vs_live"): 260.0,
        ("hati_psycopg2", "merge"): 190.0,
        # a 10 M-row schema copy (≈ 30 s) + full-scan merge (≈ 50 s) per diff size
        ("pg_schema", "merge"): 170.0,
    },
    hard_grace_s=60.0,
    # Same server code path as hati (psycopg2): only what the driver or the plain-SQL
    # mode can change is run at full size.
    only={
        "hati_psycopg3": DRIVER_ONLY,
        "hati_plain": DRIVER_ONLY,
        # A schema copy is an ordinary table: reading or writing it costs what main
        # does (PostgreSQL's branch read/write is measured by pg_template).
        "pg_schema": (
            "roundtrip",
            "correctness",
            "create_vs_rows",
            "merge",
            "disk",
            "disk_online",
            "create_vs_tables",
            "concurrency",
            "create_vs_live",
        ),
    },
)

# --medium: the sizes between, for a before/after comparison of a few workloads in one
# run (``--medium --workloads depth first_write …``): --full with every table at 1 M
# rows (the depth chain, pgbench and the fetch as in --full).
MEDIUM = replace(
    FULL,
    name="medium",
    roundtrip_n=2000,
    roundtrip_warmup_s=2.0,
    create_sizes=(1_000, 10_000, 100_000, 1_000_000),
    create_reps_cheap=20,
    table_counts=(1, 10, 100),
    live_counts=(1, 10, 100, 1_000),
    live_cap_costly=50,
    live_discard_sample=100,
    read_rows=1_000_000,
    merge_main_rows=1_000_000,
    merge_diffs=(10, 100, 1_000, 10_000),
    merge_diffs_costly=(10, 10_000),
    # five drivers fetch 1 M rows three times each
    workload_budget_s={**FULL.workload_budget_s, "merge": 120.0, "fetch": 240.0},
    system_budget_s={
        DEFAULT: 300.0,
        "hati_psycopg2": 900.0,
        "hati_psycopg3": 100.0,
        "hati_plain": 100.0,
        "pg_template": 400.0,
    },
    overrides={},
)

PROFILES = {"quick": QUICK, "medium": MEDIUM, "full": FULL}
