"""What the PostgreSQL emulation needs inside the database, created at start-up.

The catalog's filtered views and macros (``catalog.py``), the Python functions jsonb's
operators, the regular-expression functions and to_char call (``jsonb.py``, ``regex.py``,
``tochar.py``, registered for every connection of the database), then
the DuckDB objects the translation rules and expansions call (each module's
``SETUP_SQL``), all in the hidden schema. Idempotent: every start runs it.
"""

from __future__ import annotations

import duckdb

from hati.pg import catalog, expand, jsonb, regex, tochar, translate


def install(cur: duckdb.DuckDBPyConnection) -> None:
    catalog.install(cur)
    jsonb.register(cur)
    regex.register(cur)
    tochar.register(cur)
    for sql in [*translate.setup_sql(), expand.SETUP_SQL]:
        cur.execute(sql)
