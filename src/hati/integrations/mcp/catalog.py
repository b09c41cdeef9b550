"""Main's catalog as ``hati mcp`` shows it: the tables of main, and one table's columns.

Both the tools (``list_tables``, ``describe_table``) and the resources
(``hati://tables``, ``hati://tables/{name}``) answer from here.
"""

from __future__ import annotations

from typing import Any

from .connection import Call, HatiError

_LIST_TABLES = """\
SELECT t.table_name, t.table_type, count(c.column_name) AS columns
FROM information_schema.tables t
LEFT JOIN information_schema.columns c
  ON c.table_schema = t.table_schema AND c.table_name = t.table_name
WHERE t.table_schema = 'public'
GROUP BY t.table_name, t.table_type
ORDER BY t.table_name"""


async def tables(call: Call) -> dict[str, Any]:
    """Main's tables and views: ``{"tables": [{"name", "type", "columns"}, ...]}``."""
    result = await call.one(_LIST_TABLES, max_rows=-1, retry=True)
    return {
        "tables": [
            {"name": name, "type": "view" if kind == "VIEW" else "table", "columns": n}
            for name, kind, n in result.rows
        ]
    }


_COLUMNS = """\
SELECT column_name, data_type, is_nullable, column_default
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = $1
ORDER BY ordinal_position"""
_PRIMARY_KEY = """\
SELECT k.column_name
FROM information_schema.table_constraints c
JOIN information_schema.key_column_usage k
  ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
 AND k.table_name = c.table_name
WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = 'public' AND c.table_name = $1
ORDER BY k.ordinal_position"""


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def describe(call: Call, table: str, branch: str | None = None) -> dict[str, Any]:
    """A table's columns in main, or as ``branch`` sees it (names and types only)."""
    if branch:
        # The table as the branch sees it. Only names and types: a branch's copy of a
        # table does not carry the original's constraints.
        probe = await call.one(
            "SELECT * FROM branch_query($1, $2)",
            [branch, f"SELECT * FROM {_quote_ident(table)} LIMIT 0"],
            max_rows=-1,
            retry=True,
        )
        columns = [
            {"name": name, "type": kind}
            for name, kind in zip(probe.columns or [], probe.types or [], strict=False)
        ]
        return {"table": table, "branch": branch, "columns": columns}
    cols = await call.one(_COLUMNS, [table], max_rows=-1, retry=True)
    if not cols.rows:
        raise HatiError(
            "42P01",
            f'relation "{table}" does not exist in main',
            hint="list_tables shows main's tables; names are case-sensitive.",
        )
    key = [r[0] for r in (await call.one(_PRIMARY_KEY, [table], max_rows=-1, retry=True)).rows]
    return {
        "table": table,
        "columns": [
            {
                "name": name,
                "type": dtype,
                "nullable": nullable == "YES",
                "default": default,
                "primary_key": name in key,
            }
            for name, dtype, nullable, default in cols.rows
        ],
        "primary_key": key,
    }
