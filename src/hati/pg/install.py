"""What the PostgreSQL emulation needs inside the database, created at start-up.

The catalog's filtered views and macros (``catalog.py``), the Python functions jsonb's
operators and the regular-expression functions call (``jsonb.py``, ``regex.py``,
registered for every connection of the database), then
the DuckDB objects the translation rules and expansions call (each module's
``SETUP_SQL``), all in the hidden schema. Idempotent: every start runs it.
"""

from __future__ import annotations

import duckdb

from hati.pg import catalog, expand, jsonb, regex, translate


def install(cur: duckdb.DuckDBPyConnection) -> None:
    catalog.install(cur)
    jsonb.register(cur)
    regex.register(cur)
    for sql in [*translate.setup_sql(), expand.SETUP_SQL]:
        cur.execute(sql)
