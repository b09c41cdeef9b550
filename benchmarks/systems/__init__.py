"""Every benchmarked system, in report order."""

from __future__ import annotations

from benchmarks.systems.base import System
from benchmarks.systems.duckdb_inproc import DuckDBInProcess
from benchmarks.systems.hati import Hati, HatiPlain, HatiPsycopg3
from benchmarks.systems.hatidata_local import SdkLocalEngine
from benchmarks.systems.postgres import PostgresSchema, PostgresTemplate

ALL_SYSTEMS: list[type[System]] = [
    Hati,
    HatiPsycopg3,
    HatiPlain,
    DuckDBInProcess,
    PostgresTemplate,
    PostgresSchema,
    SdkLocalEngine,
]

BY_KEY = {cls.key: cls for cls in ALL_SYSTEMS}
