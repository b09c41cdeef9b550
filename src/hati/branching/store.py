"""hati's metadata tables: the only code that writes them, and recovery after a crash."""

from __future__ import annotations

import logging
import re

from hati.storage.duckdb_backend import META, Database, qident, transaction

log = logging.getLogger("hati.branching")

_BRANCH_SCHEMA = re.compile(r"_hbd?_(\d+)")  # a branch's schema, or its row-delta schema


def recover(db: Database) -> list[str]:
    """Make branch metadata and branch schemas agree after an unclean stop.

    Every branch operation commits its schema change and its ``_hati`` rows in one
    DuckDB transaction, so after ``kill -9`` they already agree; this also repairs data
    directories written by older versions or damaged by hand. A ``_hb_<id>`` or
    ``_hbd_<id>`` schema with no branch row is dropped (its branch was discarded or
    merged; empty ones were made ahead of forks, and the engine re-creates those of
    branches that live only in the fork journal, see branching/journal.py), a branch row
    with no schema gets an empty schema back (the branch reads its base through it),
    and rows of ``_hati.dropped`` / ``_hati.resolutions`` whose branch is gone are
    deleted. Returns what was repaired, for the log.
    """
    cur = db.cursor()
    repaired: list[str] = []
    try:
        ids = {r[0] for r in cur.execute(f"SELECT id FROM {META}.branches").fetchall()}
        schemas = {
            r[0]
            for r in cur.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
            ).fetchall()
        }
        owned = {s for s in schemas if _BRANCH_SCHEMA.fullmatch(s)}
        holding = {
            r[0]
            for r in cur.execute(
                "SELECT schema_name FROM duckdb_tables() WHERE database_name = current_database() "
                "UNION SELECT schema_name FROM duckdb_views() WHERE NOT internal "
                "AND database_name = current_database()"
            ).fetchall()
        }
        with transaction(cur):
            for schema in sorted(owned):
                m = _BRANCH_SCHEMA.fullmatch(schema)
                if m is not None and int(m.group(1)) not in ids:
                    cur.execute(f"DROP SCHEMA {qident(schema)} CASCADE")
                    if schema in holding:  # empty ones are forks made ahead or journal-only
                        repaired.append(f"dropped orphan schema {schema}")
            for bid in sorted(ids):
                if f"_hb_{bid}" not in owned:
                    cur.execute(f"CREATE SCHEMA {qident(f'_hb_{bid}')}")
                    repaired.append(f"re-created missing schema _hb_{bid}")
            for table in ("dropped", "resolutions", "delta_columns"):
                n = cur.execute(
                    f"SELECT count(*) FROM {META}.{table} "
                    f"WHERE branch_id NOT IN (SELECT id FROM {META}.branches)"
                ).fetchone()
                if n and n[0]:
                    cur.execute(
                        f"DELETE FROM {META}.{table} "
                        f"WHERE branch_id NOT IN (SELECT id FROM {META}.branches)"
                    )
                    repaired.append(f"deleted {n[0]} stale row(s) of {META}.{table}")
    finally:
        cur.close()
    for line in repaired:
        log.warning("recovery: %s", line)
    return repaired
