"""What the PostgreSQL emulation needs inside the database, created at start-up.

The catalog's filtered views and macros (``catalog.py``), then the DuckDB objects the
translation rules and expansions call (each module's ``SETUP_SQL``), all in the hidden
schema. Idempotent: every start runs it.
"""

from __future__ import annotations

import duckdb

from hati.pg import catalog, expand, translate


def install(cur: duckdb.DuckDBPyConnection) -> None:
    catalog.install(cur)
    for sql in [*translate.setup_sql(), expand.SETUP_SQL]:
        cur.execute(sql)
