"""What a client may run: the statement kinds hati serves, and nothing outside the data.

Agents' SQL is untrusted. After parsing, before anything runs, the guard refuses:

- statement kinds hati does not serve (extensions, roles...);
- any mention of hati's own schemas (its registry, audit, branches, deltas, snapshots)
  and of other databases;
- DuckDB functions that reach outside the database or into DuckDB's own catalog
  (files, globs, ``query()``, ``duckdb_*``, ``pragma_*``): PostgreSQL has none of them;
- set-returning functions in FROM other than the ones PostgreSQL clients use;
- COPY to or from server files or programs, unless the administrator opened it;
- writes to relations hati keeps read-only (``hati_audit``).

Whether the *agent* may write or merge is a separate decision (``authorize``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pglast import ast

from hati.errors import (
    FeatureNotSupported,
    InsufficientPrivilege,
    ReservedName,
    UndefinedFunction,
)
from hati.pg.analyze import Analysis, Role
from hati.pg.sqlfunctions import TABLE_MACROS

# Prefixes and names of DuckDB functions that read files, run SQL text, or expose
# DuckDB's catalog and settings. None of them exists in PostgreSQL.
_DENIED_PREFIXES = (
    "read_",
    "parquet_",
    "duckdb_",
    "pragma_",
    "iceberg_",
    "delta_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "json_execute",
    "icu_",
    "test_",
    "load_",
    "install_",
    "enable_",
    "disable_",
)
_DENIED = frozenset(
    {
        "glob",
        "query",
        "query_table",
        "sniff_csv",
        "getenv",
        "getvariable",
        "which_secret",
        "checkpoint",
        "force_checkpoint",
        "arrow_scan",
        "arrow_scan_dumb",
        "python_map_function",
        "summary",
        "repeat_row",
        "from_substrait",
        "get_substrait",
        "get_substrait_json",
        "tpch",
        "tpcds",
        "dbgen",
        "dsdgen",
        "json_deserialize_sql",
        "json_serialize_sql",
        "json_serialize_plan",
        "current_setting_duckdb",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "dblink",
    }
)
# Set-returning functions a FROM clause may call (PostgreSQL's everyday ones, DuckDB's
# range, and hati's own).
TABLE_FUNCTIONS = frozenset(
    {
        "generate_series",
        "generate_subscripts",
        "unnest",
        "range",
        "json_each",
        "json_each_text",
        "jsonb_each",
        "jsonb_each_text",
        "json_array_elements",
        "json_array_elements_text",
        "jsonb_array_elements",
        "jsonb_array_elements_text",
        "json_object_keys",
        "jsonb_object_keys",
        "json_to_record",
        "jsonb_to_record",
        "json_to_recordset",
        "jsonb_to_recordset",
        "json_populate_record",
        "jsonb_populate_record",
        "json_populate_recordset",
        "jsonb_populate_recordset",
        "jsonb_path_query",
        "jsonb_path_query_tz",
        "regexp_matches",
        "regexp_split_to_table",
        "string_to_table",
        "pg_get_keywords",
        "pg_options_to_table",
        "branch_create",
        "branch_query",
        "branch_merge",
        "branch_discard",
        "branch_list",
        "branch_diff",
        "branch_conflicts",
        "branch_resolve",
        "hati_compact",
        "hatidata_context",
        "hatidata_rag_context",
    }
)
# Statement kinds hati serves (see analyze._KINDS); the rest are refused with a hint.
_SERVED = frozenset(
    {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "CREATE",
        "CREATE_INDEX",
        "CREATE_OTHER",
        "ALTER",
        "DROP",
        "DROP_OTHER",
        "TRUNCATE",
        "TRANSACTION",
        "SET",
        "SHOW",
        "EXPLAIN",
        "COPY",
        "DECLARE",
        "FETCH",
        "CLOSE",
        "PREPARE",
        "EXECUTE",
        "DEALLOCATE",
        "DO",
        "DISCARD",
        "LISTEN",
        "UNLISTEN",
        "NOTIFY",
        "CHECKPOINT",
        "VACUUM",
        "LOCK",
        "COMMENT",
    }
)
_HINTS = {
    "CREATEFUNCTIONSTMT": "hati runs SQL only; write the expression inline or in a view.",
    "DOSTMT": "Run the block's statements one by one.",
    "CREATEEXTENSIONSTMT": "hati ships the functions it supports; no extension can be added.",
    "GRANTSTMT": "Agents' rights are set per agent in hati.toml (read-only, write, merge).",
    "CREATEROLESTMT": "Agents are configured in hati.toml ([server.agent_keys]).",
}


@dataclass(frozen=True)
class Policy:
    """What the guard needs to know about the server it protects."""

    reserved_schema: Callable[[str], bool]  # hati's own schemas
    database: str = "hati"  # the one database a statement may name
    read_only_relations: frozenset[str] = field(default_factory=lambda: frozenset({"hati_audit"}))
    reserved_name: Callable[[str], bool] = lambda name: False  # hati's relation names
    server_files: bool = False  # COPY to/from server files ([server] in hati.toml)


def _denied_function(names: tuple[str, ...]) -> bool:
    name = names[-1].lower() if names else ""
    return name in _DENIED or name.startswith(_DENIED_PREFIXES)


def _reserved(policy: Policy, schema: str | None) -> bool:
    return schema is not None and policy.reserved_schema(schema.lower())


def _no_access(what: str) -> InsufficientPrivilege:
    return InsufficientPrivilege(
        f"permission denied for {what}",
        hint="That schema holds hati's own bookkeeping; query hati_audit and the "
        "branch_* functions instead.",
    )


def check(a: Analysis, policy: Policy) -> None:  # noqa: C901 - one rule per line
    """Raise unless a client may run the statement ``a`` describes."""
    if a.kind not in _SERVED:
        name = type(a.node).__name__
        raise FeatureNotSupported(
            f"{name.removesuffix('Stmt')} statements are not supported",
            hint=_HINTS.get(name.upper(), "hati serves queries, data changes and table DDL."),
        )
    if isinstance(a.node, ast.DoStmt):
        for opt in a.node.args or ():
            language = str(getattr(opt.arg, "sval", "")).lower()
            if opt.defname == "language" and language != "plpgsql":
                raise FeatureNotSupported(
                    f'language "{language}" is not supported', hint="DO blocks run plpgsql."
                )
    for t in a.tables:
        if t.catalog is not None and t.catalog.lower() != policy.database.lower():
            raise FeatureNotSupported(
                f'cross-database references are not implemented: "{t.catalog}.{t.schema}.{t.name}"'
            )
        if _reserved(policy, t.schema):
            raise _no_access(f"schema {t.schema}")
        if t.role is Role.CREATE and policy.reserved_name(t.name):
            raise ReservedName(
                f'relation name "{t.name}" is reserved',
                hint="Names ending in $hide, $rows or $full are hati's own; choose another.",
            )
        if t.role is not Role.READ and t.name.lower() in policy.read_only_relations:
            raise InsufficientPrivilege(
                f"permission denied for view {t.name}",
                hint=f"{t.name} is append-only: hati records every statement there itself.",
            )
    for schema in a.schemas:
        if _reserved(policy, schema):
            raise _no_access(f"schema {schema}")
    for names in a.types:
        if len(names) > 1 and _reserved(policy, names[0]):
            raise _no_access(f"schema {names[0]}")
    for names in a.functions:
        if len(names) > 1 and _reserved(policy, names[0]):
            raise _no_access(f"schema {names[0]}")
        if _denied_function(names):
            raise UndefinedFunction(
                f"function {'.'.join(names)} does not exist",
                hint="hati does not expose DuckDB's file, catalog or settings functions.",
            )
    for names in a.table_functions:
        if names[-1].lower() not in TABLE_FUNCTIONS and names[-1] not in TABLE_MACROS:
            raise UndefinedFunction(
                f"function {'.'.join(names)} does not exist",
                hint="Set-returning functions available in FROM: "
                + ", ".join(sorted(TABLE_FUNCTIONS)),
            )
    if isinstance(a.node, ast.CopyStmt):
        _check_copy(a.node, policy)


def _check_copy(node: ast.CopyStmt, policy: Policy) -> None:
    if node.is_program:
        raise InsufficientPrivilege(
            "permission denied to COPY to or from an external program",
            hint="Use COPY ... FROM STDIN / TO STDOUT from the client.",
        )
    if node.filename is not None and not policy.server_files:
        direction = "from" if node.is_from else "to"
        raise InsufficientPrivilege(
            f"permission denied to COPY {direction} a file on the server",
            hint="Use COPY ... FROM STDIN / TO STDOUT (psql \\copy); an administrator can "
            "allow server files with [server] server_files = true in hati.toml.",
        )
