"""PostgreSQL catalog emulation: what psql, SQLAlchemy and drivers need from pg_catalog.

DuckDB ships ``pg_catalog`` views of its own, but the queries clients send assume
PostgreSQL's grammar and functions.  This module is the one place that bridges the gap:

* :data:`SETUP_SQL` creates, in the hidden schema ``_hati_pg``, filtered copies of the
  catalog views that hide hati's internal schemas (``_hati``, ``_hati_snap``,
  ``_hati_pg`` and the branch schemas ``_hb_<id>``) and the pg shim macros, plus macros for
  PostgreSQL functions DuckDB lacks.  :func:`install` runs it once per database file.
* :func:`adapt` rewrites a *catalog* query (one that mentions ``pg_catalog``,
  ``information_schema`` or a ``pg_*`` catalog relation) minimally so DuckDB can run
  it: ``OPERATOR(pg_catalog.~)`` becomes ``~``, ``COLLATE pg_catalog.default`` is
  dropped, ``'name'::regclass`` becomes an oid lookup, catalog relations point at the
  filtered views, and the remaining ``pg_catalog.`` prefixes are stripped so that
  functions resolve to DuckDB built-ins or our macros.  Any other statement is returned
  unchanged: user SQL is never rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

from hati.branching import layout
from hati.pg import (
    catalog_comments,
    catalog_defaults,
    catalog_roles,
    catalog_sequences,
    catalog_triggers,
    catalog_types,
)

HIDDEN = layout.PG

# Functions PostgreSQL clients call during introspection that DuckDB lacks.
_PG_SHIMS = """
CREATE OR REPLACE MACRO main.pg_get_userbyid(id) AS 'hati';
CREATE OR REPLACE MACRO main.pg_encoding_to_char(id) AS 'UTF8';
CREATE OR REPLACE MACRO main.to_regtype(name) AS NULL::INTEGER;
CREATE OR REPLACE MACRO main.pg_backend_pid() AS
    CAST(coalesce(getvariable('hati_backend_pid'), 0) AS INTEGER);
CREATE OR REPLACE MACRO main.pg_is_in_recovery() AS false;
CREATE OR REPLACE MACRO main.pg_get_indexdef(a, b := 0, c := false) AS '';
CREATE OR REPLACE MACRO main.pg_get_statisticsobjdef_columns(id) AS NULL;
CREATE OR REPLACE MACRO main.pg_relation_is_publishable(id) AS false;
CREATE OR REPLACE MACRO main.array_length(arr, dim) AS len(arr);
"""

# A schema is internal if hati created it for itself (see branching/layout.py).
_INTERNAL_NS = layout.internal_schema_sql("nspname")
_SHIM_MACROS = (
    "pg_get_userbyid",
    "pg_encoding_to_char",
    "to_regtype",
    "pg_backend_pid",
    "pg_is_in_recovery",
    "pg_get_indexdef",
    "pg_get_statisticsobjdef_columns",
    "pg_relation_is_publishable",
    "array_length",
    "obj_description",
    "pg_table_is_visible",
    "array_upper",
    "pg_get_expr",
    "format_type",
    "pg_get_constraintdef",
    "array_to_string",
    "pg_tablespace_location",
    "pg_get_partkeydef",
    "col_description",
    "shobj_description",
    "pg_get_viewdef",
    "current_setting",
    "pg_type_is_visible",
    "pg_collation_is_visible",
    "hati_regclass",
    "hati_regclass_name",
    "to_regclass",
    "hati_current_setting",
    "pg_get_function_result",
    "pg_get_function_arguments",
    "pg_function_is_visible",
    "quote_ident",
    "pg_get_serial_sequence",
    "pg_total_relation_size",
    "pg_relation_size",
    "pg_table_size",
    "pg_indexes_size",
    "pg_size_pretty",
    "has_table_privilege",
    "has_schema_privilege",
    "has_database_privilege",
    "pg_has_role",
    *catalog_roles.MACROS,
    *catalog_triggers.MACROS,
)
_HIDDEN_NS_OIDS = f"(SELECT oid FROM pg_catalog.pg_namespace WHERE {_INTERNAL_NS})"

# In a branch session DuckDB's search path starts with the branch's schema: its tables
# show as public's, except those main has too (main's entry stands for both).
BRANCH_SCHEMA = f"{HIDDEN}.branch_schema()"
_BRANCH_MACRO = (
    f"CREATE OR REPLACE MACRO {BRANCH_SCHEMA} AS (CASE WHEN regexp_full_match("
    f"coalesce(current_schemas(false)[1], ''), '{layout.BRANCH_SCHEMA_RE.strip('^$')}') "
    "THEN current_schemas(false)[1] END);"
)
# current_schemas(): main and a branch session's own schema are public; hati's others go.
CURRENT_SCHEMAS = f"{HIDDEN}.hati_current_schemas"
# (DuckDB's search path is main's until a session sets one)
_PATH = "coalesce(nullif(current_schemas(false), []), ['main'])"
_CURRENT_SCHEMAS_MACRO = (
    f"CREATE OR REPLACE MACRO {HIDDEN}.list_distinct_ordered(l) AS "
    "list_filter(l, lambda x, i: list_position(l, x) = i);\n"
    # DuckDB's current_schemas(true) starts with temp's main: the search path is (false)'s
    f"CREATE OR REPLACE MACRO {CURRENT_SCHEMAS}(implicit) AS {HIDDEN}.list_distinct_ordered(list_filter("
    f"list_transform(CASE WHEN implicit THEN list_prepend('pg_catalog', {_PATH}) "
    f"ELSE {_PATH} END, lambda s: CASE WHEN s = 'main' OR "
    f"regexp_full_match(s, '{layout.BRANCH_SCHEMA_RE.strip('^$')}') THEN 'public' ELSE s END), "
    f"lambda s: NOT ({layout.internal_schema_sql('s')}) AND (implicit OR s <> 'pg_catalog')));"
)
_MAIN_NS = "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'main')"
_BRANCH_NS = f"(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = {BRANCH_SCHEMA})"

# Catalog relations shown without hati's own schemas, main as public:
# (view, source, schema column, name column).
_SCHEMA_FILTERED = (
    ("pg_tables", "pg_catalog.pg_tables", "schemaname", "tablename"),
    ("pg_views", "pg_catalog.pg_views", "schemaname", "viewname"),
    ("is_schemata", "information_schema.schemata", "schema_name", None),
    ("is_tables", "information_schema.tables", "table_schema", "table_name"),
    ("is_columns", "information_schema.columns", "table_schema", "table_name"),
    ("is_views", "information_schema.views", "table_schema", "table_name"),
    ("is_table_constraints", "information_schema.table_constraints", "table_schema", "table_name"),
    ("is_key_column_usage", "information_schema.key_column_usage", "table_schema", "table_name"),
)


# DuckDB's type names in information_schema.columns -> PostgreSQL's data_type, udt_name.
_IS_TYPES = {
    "INTEGER": ("integer", "int4"),
    "BIGINT": ("bigint", "int8"),
    "SMALLINT": ("smallint", "int2"),
    "DOUBLE": ("double precision", "float8"),
    "FLOAT": ("real", "float4"),
    "BOOLEAN": ("boolean", "bool"),
    "VARCHAR": ("character varying", "varchar"),
    "DATE": ("date", "date"),
    "TIMESTAMP": ("timestamp without time zone", "timestamp"),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", "timestamptz"),
    "TIME": ("time without time zone", "time"),
    "BLOB": ("bytea", "bytea"),
    "UUID": ("uuid", "uuid"),
    "JSON": ("json", "json"),
    "INTERVAL": ("interval", "interval"),
}


def _udt(expr: str) -> str:
    cases = " ".join(f"WHEN '{d}' THEN '{u}'" for d, (_, u) in _IS_TYPES.items())
    return f"CASE {expr} {cases} ELSE CASE WHEN {expr} LIKE 'DECIMAL%' THEN 'numeric' ELSE lower({expr}) END END"


def _pg_type_columns(dt: str = "data_type", alias: str = " AS data_type") -> str:
    """data_type (and, with ``alias``, udt_name) as PostgreSQL's
    information_schema.columns has them, from DuckDB's ``dt``."""
    cases = " ".join(f"WHEN '{d}' THEN '{t}'" for d, (t, _) in _IS_TYPES.items())
    base = f"regexp_replace({dt}, '\\[\\]$', '')"
    data_type = (
        f"CASE WHEN {dt} LIKE '%[]' THEN 'ARRAY' ELSE CASE {dt} {cases} ELSE "
        f"CASE WHEN {dt} LIKE 'DECIMAL%' THEN 'numeric' ELSE lower({dt}) END END END"
    )
    if not alias:
        return data_type
    return (
        f"{data_type}{alias}, CASE WHEN {dt} LIKE '%[]' THEN '_' || ({_udt(base)}) "
        f"ELSE {_udt(dt)} END AS udt_name"
    )


def _filtered(view: str, src: str, col: str, name: str | None) -> str:
    own = (
        f" OR ({col} = {BRANCH_SCHEMA} AND {name} NOT IN "
        f"(SELECT {name} FROM {src} WHERE {col} = 'main'))"
        if name
        else ""
    )
    if view == "is_columns":
        # A VARCHAR column's declared type (text, varchar(n), char(n)) as recorded.
        dt = "c.data_type"
        base = f"regexp_replace({dt}, '\\[\\]$', '')"
        udt = f"CASE WHEN {dt} LIKE '%[]' THEN '_' || ({_udt(base)}) ELSE {_udt(dt)} END"
        data_type = f"coalesce(k.data_type, {_pg_type_columns(dt, '')})"
        udt = f"coalesce(k.udt_name, {udt})"
        src = (
            f"(SELECT c.* REPLACE ({data_type} "
            "AS data_type, coalesce(k.length, c.character_maximum_length) "
            "AS character_maximum_length, coalesce(k.length * 4, CASE WHEN c.data_type = 'VARCHAR' "
            "THEN 1073741824 END, c.character_octet_length) "
            f"AS character_octet_length, {udt} AS udt_name, "
            f"{HIDDEN}.pg_default_text(c.column_default, {data_type}, {udt}, {dt}) "
            "AS column_default) "
            f"FROM {src} c LEFT JOIN {HIDDEN}.column_types k "
            "ON c.data_type IN ('VARCHAR', 'VARCHAR[]') AND k.schema_name = c.table_schema "
            "AND k.table_name = c.table_name AND k.column_name = c.column_name)"
        )
    if view == "is_schemata":
        # DuckDB lists main once per attached catalog (the file, system, temp): once
        src = (
            f"(SELECT * REPLACE (current_database() AS catalog_name) FROM {src} "
            "WHERE catalog_name = current_database() "
            "OR (catalog_name = 'system' AND schema_name <> 'main'))"
        )
    return (
        f"CREATE OR REPLACE VIEW {HIDDEN}.{view} AS SELECT * REPLACE (CASE WHEN {col} = 'main' "
        f"OR {col} = {BRANCH_SCHEMA} THEN 'public' ELSE {col} END AS {col}) FROM {src} "
        f"WHERE NOT {layout.internal_schema_sql(col)}{own};"
    )


# The foreign keys with actions hati keeps (pg/foreignkeys.py).
FOREIGN_KEYS_SQL = (
    f"CREATE TABLE IF NOT EXISTS {HIDDEN}.foreign_keys (schema_name VARCHAR, table_name VARCHAR, "
    "cols VARCHAR[], ref_schema VARCHAR, ref_table VARCHAR, ref_cols VARCHAR[], "
    "name VARCHAR, on_delete VARCHAR, on_update VARCHAR, set_cols VARCHAR[]);"
)
# The character types columns were declared with (pg/coltypes.py).
COLUMN_TYPES_SQL = (
    f"CREATE TABLE IF NOT EXISTS {HIDDEN}.column_types (schema_name VARCHAR, "
    "table_name VARCHAR, column_name VARCHAR, data_type VARCHAR, udt_name VARCHAR, "
    "length INTEGER);"
)
_FILTERED_VIEWS = "\n".join(_filtered(*v) for v in _SCHEMA_FILTERED)


def _attrdef() -> str:
    """pg_attrdef with each default as PostgreSQL prints it (pg/catalog_defaults.py)."""
    dt = "c.data_type"
    base = f"regexp_replace({dt}, '\\[\\]$', '')"
    udt = f"coalesce(k.udt_name, CASE WHEN {dt} LIKE '%[]' THEN '_' || ({_udt(base)}) ELSE {_udt(dt)} END)"
    data_type = f"coalesce(k.data_type, {_pg_type_columns(dt, '')})"
    return (
        f"CREATE OR REPLACE VIEW {HIDDEN}.pg_attrdef AS SELECT c.column_index AS oid, "
        "c.table_oid AS adrelid, c.column_index AS adnum, "
        f"{HIDDEN}.pg_default_text(c.column_default, {data_type}, {udt}, {dt}) AS adbin "
        f"FROM duckdb_columns() c LEFT JOIN {HIDDEN}.column_types k "
        "ON c.data_type IN ('VARCHAR', 'VARCHAR[]') AND k.schema_name = c.schema_name "
        "AND k.table_name = c.table_name AND k.column_name = c.column_name "
        "WHERE c.column_default IS NOT NULL;"
    )


SETUP_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {HIDDEN};
{COLUMN_TYPES_SQL}
{catalog_defaults.MACROS}
{_attrdef()}
CREATE TABLE IF NOT EXISTS {HIDDEN}.constraint_names (schema_name VARCHAR, table_name VARCHAR,
    duck_name VARCHAR, name VARCHAR);
{_BRANCH_MACRO}
{_CURRENT_SCHEMAS_MACRO}
CREATE OR REPLACE VIEW {HIDDEN}.pg_namespace AS
    SELECT * REPLACE (CASE nspname WHEN 'main' THEN 'public' ELSE nspname END AS nspname)
    FROM pg_catalog.pg_namespace WHERE NOT {_INTERNAL_NS}
    UNION ALL BY NAME
    SELECT {catalog_types.PG_CATALOG_OID}::BIGINT AS oid, 'pg_catalog' AS nspname,
           10 AS nspowner;
-- PostgreSQL's built-in types with their arrays, then the types DuckDB adds (enums...).
CREATE OR REPLACE VIEW {HIDDEN}.pg_type AS
    {catalog_types.values_sql()}
    UNION ALL BY NAME
    SELECT * FROM pg_catalog.pg_type
    WHERE oid IS NOT NULL AND oid NOT IN (SELECT unnest([{", ".join(map(str, catalog_types.OIDS))}]))
      AND typname NOT IN ({", ".join(f"'{n}'" for n in catalog_types.NAMES)});
{FOREIGN_KEYS_SQL}
-- The foreign keys hati keeps (pg/foreignkeys.py) as pg_constraint rows, with their
-- definition in PostgreSQL's words.
CREATE OR REPLACE VIEW {HIDDEN}.kept_foreign_keys AS
    SELECT (c.oid * 1000000 + 900000 + k.n)::BIGINT AS oid, k.name AS conname,
           CASE c.relnamespace WHEN {_BRANCH_NS} THEN {_MAIN_NS} ELSE c.relnamespace END
           AS connamespace, 'f' AS contype, false AS condeferrable, false AS condeferred,
           true AS convalidated, c.oid AS conrelid, 0::BIGINT AS contypid,
           0::BIGINT AS conindid, 0::BIGINT AS conparentid, r.oid AS confrelid,
           k.on_update AS confupdtype, k.on_delete AS confdeltype, 's' AS confmatchtype,
           true AS conislocal, 0 AS coninhcount, false AS connoinherit,
           list_transform(k.cols, lambda x: list_position(cn.names, x)) AS conkey,
           list_transform(k.ref_cols, lambda x: list_position(rn.names, x)) AS confkey,
           'FOREIGN KEY (' || array_to_string(k.cols, ', ') || ') REFERENCES '
           || CASE WHEN k.ref_schema = 'main' THEN '' ELSE k.ref_schema || '.' END
           || k.ref_table || '(' || array_to_string(k.ref_cols, ', ') || ')'
           || CASE k.on_update WHEN 'c' THEN ' ON UPDATE CASCADE' WHEN 'r' THEN ' ON UPDATE RESTRICT'
                  WHEN 'n' THEN ' ON UPDATE SET NULL' WHEN 'd' THEN ' ON UPDATE SET DEFAULT'
                  ELSE '' END
           || CASE k.on_delete WHEN 'c' THEN ' ON DELETE CASCADE' WHEN 'r' THEN ' ON DELETE RESTRICT'
                  WHEN 'n' THEN ' ON DELETE SET NULL' || CASE WHEN len(k.set_cols) > 0
                      THEN ' (' || array_to_string(k.set_cols, ', ') || ')' ELSE '' END
                  WHEN 'd' THEN ' ON DELETE SET DEFAULT' ELSE '' END AS condef
    FROM (SELECT *, row_number() OVER (ORDER BY schema_name, table_name, name) AS n
          FROM {HIDDEN}.foreign_keys) k
    JOIN duckdb_tables() ct ON ct.database_name = current_database()
         AND ct.schema_name = k.schema_name AND ct.table_name = k.table_name
    JOIN pg_catalog.pg_class c ON c.oid = ct.table_oid
    JOIN duckdb_tables() rt ON rt.database_name = current_database()
         AND rt.schema_name = k.ref_schema AND rt.table_name = k.ref_table
    JOIN pg_catalog.pg_class r ON r.oid = rt.table_oid
    JOIN (SELECT attrelid, list(attname ORDER BY attnum) AS names
          FROM pg_catalog.pg_attribute GROUP BY attrelid) cn ON cn.attrelid = c.oid
    JOIN (SELECT attrelid, list(attname ORDER BY attnum) AS names
          FROM pg_catalog.pg_attribute GROUP BY attrelid) rn ON rn.attrelid = r.oid;
-- Columns with the character type they were declared with (column_types): text is
-- text, varchar(n) / char(n) carry their length in atttypmod (n + 4), as PostgreSQL has;
-- a bare numeric (DECIMAL(38,11), hati/wire/numerics.py) has none.
CREATE OR REPLACE VIEW {HIDDEN}.pg_attribute AS
    SELECT a.* REPLACE (
               CASE k.udt_name WHEN 'text' THEN 25 WHEN 'bpchar' THEN 1042
                    ELSE a.atttypid END AS atttypid,
               coalesce(k.length + 4, CASE WHEN a.atttypid = 1700 AND a.atttypmod = 38011
                   THEN -1 WHEN a.atttypid = 1700 AND a.atttypmod > 0
                   THEN ((a.atttypmod // 1000) << 16 | (a.atttypmod % 1000)) + 4 END,
                   a.atttypmod) AS atttypmod)
    FROM pg_catalog.pg_attribute a
    LEFT JOIN duckdb_tables() t ON t.table_oid = a.attrelid
         AND t.database_name = current_database()
    LEFT JOIN {HIDDEN}.column_types k ON a.atttypid = 1043 AND k.data_type <> 'ARRAY'
         AND k.table_name = t.table_name
         AND k.column_name = a.attname
         AND (k.schema_name = t.schema_name
              OR (t.schema_name = {BRANCH_SCHEMA} AND k.schema_name = 'main'));
CREATE OR REPLACE VIEW {HIDDEN}.pg_constraint AS
    -- The names clients gave (hati's record, by DuckDB's name), else PostgreSQL's:
    -- DuckDB's constraint oids are its table's oid * 10^6 + the constraint's index.
    SELECT * EXCLUDE (duck_name, pg_name) REPLACE (
        coalesce((SELECT n.name FROM {HIDDEN}.constraint_names n
                  JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
                  JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
                  WHERE n.duck_name = con.duck_name AND n.table_name = c.relname
                    AND n.schema_name = s.nspname LIMIT 1),
                 CASE contype WHEN 'p' THEN (SELECT relname FROM pg_catalog.pg_class
                                             WHERE oid = conrelid) || '_pkey' END,
                 con.pg_name, conname) AS conname,
        list_transform(conkey, lambda k: k + 1) AS conkey,
        list_transform(confkey, lambda k: k + 1) AS confkey,
        CASE WHEN contype IN ('p', 'u') THEN oid ELSE conindid END AS conindid)
    FROM (SELECT *, (SELECT constraint_name FROM duckdb_constraints() d
                     WHERE d.table_oid = k.conrelid
                       AND d.constraint_index = k.oid - k.conrelid * 1000000) AS duck_name,
                 (SELECT CASE d.constraint_type
                         WHEN 'FOREIGN KEY' THEN d.table_name || '_'
                              || array_to_string(d.constraint_column_names, '_') || '_fkey'
                         WHEN 'CHECK' THEN d.table_name
                              || CASE WHEN len(d.constraint_column_names) = 1
                                      THEN '_' || d.constraint_column_names[1] ELSE '' END
                              || '_check'
                         ELSE d.constraint_name END
                  FROM duckdb_constraints() d
                  WHERE d.table_oid = k.conrelid
                    AND d.constraint_index = k.oid - k.conrelid * 1000000) AS pg_name
          FROM pg_catalog.pg_constraint k) con
    WHERE contype <> 'x' AND (connamespace NOT IN {_HIDDEN_NS_OIDS}
                              OR connamespace = {_BRANCH_NS})
    UNION ALL BY NAME
    SELECT * EXCLUDE (condef) FROM {HIDDEN}.kept_foreign_keys;
CREATE OR REPLACE VIEW {HIDDEN}.pg_class AS
    SELECT * REPLACE (
               relhasindex OR oid IN (SELECT conrelid FROM pg_catalog.pg_constraint
                                      WHERE contype IN ('p', 'u')) AS relhasindex,
               CASE relnamespace WHEN {_BRANCH_NS} THEN {_MAIN_NS} ELSE relnamespace END
               AS relnamespace, NULL::VARCHAR[] AS reloptions),
           false AS relforcerowsecurity
    FROM pg_catalog.pg_class
    WHERE relnamespace NOT IN {_HIDDEN_NS_OIDS}
       OR (relnamespace = {_BRANCH_NS} AND relname NOT IN
           (SELECT relname FROM pg_catalog.pg_class WHERE relnamespace = {_MAIN_NS}))
    UNION ALL BY NAME
    -- The index behind each PRIMARY KEY / UNIQUE constraint (see pg_index below).
    SELECT con.oid AS oid, con.conname AS relname,
           CASE c.relnamespace WHEN {_BRANCH_NS} THEN {_MAIN_NS} ELSE c.relnamespace END
           AS relnamespace, 'i' AS relkind, 0 AS reltablespace,
           false AS relforcerowsecurity
    FROM {HIDDEN}.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
    WHERE con.contype IN ('p', 'u')
      AND (c.relnamespace NOT IN {_HIDDEN_NS_OIDS} OR c.relnamespace = {_BRANCH_NS});
CREATE OR REPLACE VIEW {HIDDEN}.pg_index AS
    -- DuckDB's own indexes: their columns (indkey) from the expressions it lists, 0 for
    -- an expression, as PostgreSQL has them.
    SELECT * EXCLUDE (names, exprs) REPLACE (
               len(exprs) AS indnatts, len(exprs) AS indnkeyatts,
               list_transform(exprs, lambda e: coalesce(list_position(names, trim(e, '"')), 0))
               AS indkey,
               array_to_string(list_transform(exprs, lambda e: '0'), ' ') AS indoption,
               list_transform(exprs, lambda e: 0) AS indclass,
               list_transform(exprs, lambda e: 0) AS indcollation)
    FROM (SELECT i.*, false AS indnullsnotdistinct,
                 string_split(trim(i.indexprs, '[]'), ', ') AS exprs,
                 (SELECT list(attname ORDER BY attnum) FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = i.indrelid) AS names
          FROM pg_catalog.pg_index i
          WHERE i.indrelid IN (SELECT oid FROM {HIDDEN}.pg_class)
            AND i.indexrelid IN (SELECT index_oid FROM duckdb_indexes() WHERE sql IS NOT NULL))
    UNION ALL BY NAME
    -- DuckDB reports no index for PRIMARY KEY / UNIQUE constraints: one per constraint,
    -- with the constraint's oid as indexrelid (pg_constraint.conindid points at it).
    SELECT oid AS indexrelid, conrelid AS indrelid, len(conkey) AS indnatts,
           len(conkey) AS indnkeyatts, true AS indisunique, contype = 'p' AS indisprimary,
           list_transform(conkey, lambda k: k + 1) AS indkey, false AS indnullsnotdistinct,
           array_to_string(list_transform(conkey, lambda k: '0'), ' ') AS indoption,
           list_transform(conkey, lambda k: 0) AS indclass,
           list_transform(conkey, lambda k: 0) AS indcollation,
           true AS indisvalid, true AS indisready, true AS indislive
    FROM pg_catalog.pg_constraint WHERE contype IN ('p', 'u')
      AND oid IN (SELECT oid FROM {HIDDEN}.pg_constraint);
CREATE OR REPLACE VIEW {HIDDEN}.pg_indexes AS
    SELECT n.nspname AS schemaname, t.relname AS tablename, i.relname AS indexname,
           NULL::VARCHAR AS tablespace, main.pg_get_indexdef(x.indexrelid) AS indexdef
    FROM {HIDDEN}.pg_index x JOIN {HIDDEN}.pg_class i ON i.oid = x.indexrelid
    JOIN {HIDDEN}.pg_class t ON t.oid = x.indrelid
    JOIN {HIDDEN}.pg_namespace n ON n.oid = t.relnamespace;
CREATE OR REPLACE VIEW {HIDDEN}.pg_database AS
    SELECT *, 0 AS datdba, 6 AS encoding, 'C' AS datcollate, 'C' AS datctype,
           NULL::VARCHAR AS daticulocale, 'c' AS datlocprovider,
           NULL::VARCHAR[] AS datacl, -1 AS datconnlimit, 0 AS dattablespace
    FROM pg_catalog.pg_database WHERE datname = current_database();
CREATE OR REPLACE VIEW {HIDDEN}.pg_proc AS
    SELECT * FROM pg_catalog.pg_proc
    WHERE pronamespace NOT IN {_HIDDEN_NS_OIDS}
      AND proname NOT IN ({", ".join(f"'{m}'" for m in _SHIM_MACROS)});
{_FILTERED_VIEWS}
CREATE OR REPLACE MACRO main.pg_get_userbyid(id) AS 'hati';
CREATE OR REPLACE MACRO main.pg_encoding_to_char(id) AS 'UTF8';
CREATE OR REPLACE MACRO main.pg_get_expr(e, r) AS e::VARCHAR, (e, r, p) AS e::VARCHAR;
CREATE OR REPLACE MACRO main.array_upper(a, d) AS len(a);
CREATE OR REPLACE MACRO main.pg_table_is_visible(id) AS true;
CREATE OR REPLACE MACRO main.format_type(t, m) AS
    CASE WHEN t = 25 THEN 'text'
         WHEN t = 1043 AND m > 4 THEN 'character varying(' || (m - 4) || ')'
         WHEN t = 1042 THEN 'character(' || CASE WHEN m > 4 THEN m - 4 ELSE 1 END || ')'
         WHEN t = 1700 AND m > 4 THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')'
         WHEN t = 1700 THEN 'numeric'
    ELSE CASE pg_catalog.format_type(t, m)
        WHEN 'int2' THEN 'smallint' WHEN 'int4' THEN 'integer' WHEN 'int8' THEN 'bigint'
        WHEN 'float4' THEN 'real' WHEN 'float8' THEN 'double precision'
        WHEN 'varchar' THEN 'character varying' WHEN 'bool' THEN 'boolean'
        WHEN 'timestamp' THEN 'timestamp without time zone'
        WHEN 'timestamptz' THEN 'timestamp with time zone'
        WHEN 'time' THEN 'time without time zone' WHEN 'blob' THEN 'bytea'
        ELSE pg_catalog.format_type(t, m) END END;
CREATE OR REPLACE MACRO {HIDDEN}.current_setting(x) AS
    coalesce(getvariable('hati_gucs')[lower(x)],
             error('unrecognized configuration parameter "' || x || '"')),
    (x, missing_ok) AS CASE WHEN missing_ok THEN getvariable('hati_gucs')[lower(x)]
             ELSE coalesce(getvariable('hati_gucs')[lower(x)],
                           error('unrecognized configuration parameter "' || x || '"')) END;
CREATE OR REPLACE MACRO {HIDDEN}.hati_regclass(x) AS
    CASE WHEN TRY_CAST(x AS BIGINT) IS NOT NULL THEN TRY_CAST(x AS BIGINT)
         ELSE coalesce((SELECT oid FROM pg_catalog.pg_class
                        WHERE relname = split_part(x::VARCHAR, '.', -1) LIMIT 1),
                       error('relation "' || x || '" does not exist')) END;
-- a regclass as PostgreSQL prints it: the relation's name (its oid when none has it)
CREATE OR REPLACE MACRO main.to_regclass(x) AS
    (SELECT first(oid) FROM {HIDDEN}.pg_class WHERE relname = split_part(x::VARCHAR, '.', -1));
CREATE OR REPLACE MACRO {HIDDEN}.hati_regclass_name(x) AS
    CASE WHEN x IS NULL THEN NULL::VARCHAR
         WHEN TRY_CAST(x AS BIGINT) IS NOT NULL THEN coalesce(
             (SELECT first(relname) FROM {HIDDEN}.pg_class WHERE oid = TRY_CAST(x AS BIGINT)),
             CAST(x AS VARCHAR))
         ELSE coalesce((SELECT relname FROM pg_catalog.pg_class
                        WHERE relname = split_part(x::VARCHAR, '.', -1) LIMIT 1),
                       error('relation "' || x || '" does not exist')) END;
CREATE OR REPLACE MACRO main.hati_current_setting(x) AS
    CASE x WHEN 'default_table_access_method' THEN 'heap' ELSE NULL::VARCHAR END;
CREATE OR REPLACE MACRO main.pg_get_indexdef(id, n := 0, pretty := false) AS coalesce(
    (SELECT 'CREATE UNIQUE INDEX ' || ix.relname || ' ON ' || n.nspname || '.' || t.relname
            || ' USING btree (' || (SELECT string_agg(attname, ', ' ORDER BY attnum)
                        FROM pg_catalog.pg_attribute
                        WHERE attrelid = con.conrelid
                          AND list_contains(con.conkey, attnum - 1)) || ')'
     FROM pg_catalog.pg_constraint con
     JOIN {HIDDEN}.pg_class ix ON ix.oid = con.oid
     JOIN {HIDDEN}.pg_class t ON t.oid = con.conrelid
     JOIN {HIDDEN}.pg_namespace n ON n.oid = t.relnamespace
     WHERE con.oid = id),
    -- An index of its own: DuckDB's definition in PostgreSQL's words.
    (SELECT regexp_replace(rtrim(sql, ';'), '^(CREATE (UNIQUE )?INDEX \\S+ ON )([^(]+)\\((.*)\\)$',
                           '\\1' || CASE WHEN schema_name = 'main' OR schema_name = {BRANCH_SCHEMA}
                                         THEN 'public' ELSE schema_name END
                           || '.\\3 USING btree (\\4)')
     FROM duckdb_indexes() WHERE index_oid = id));
CREATE OR REPLACE MACRO main.pg_get_constraintdef(id) AS coalesce(
    regexp_replace(pg_catalog.pg_get_constraintdef(id),
                   'REFERENCES (main|{layout.BRANCH_SCHEMA_RE.strip("^$")})\\.', 'REFERENCES '),
    (SELECT condef FROM {HIDDEN}.kept_foreign_keys k WHERE k.oid = id)),
    (id, pretty) AS coalesce(
    regexp_replace(pg_catalog.pg_get_constraintdef(id),
                   'REFERENCES (main|{layout.BRANCH_SCHEMA_RE.strip("^$")})\\.', 'REFERENCES '),
    (SELECT condef FROM {HIDDEN}.kept_foreign_keys k WHERE k.oid = id));
CREATE OR REPLACE MACRO main.pg_get_function_result(id) AS NULL::VARCHAR;
CREATE OR REPLACE MACRO main.pg_get_function_arguments(id) AS ''::VARCHAR;
CREATE OR REPLACE MACRO main.pg_collation_is_visible(id) AS true;
CREATE OR REPLACE MACRO main.pg_type_is_visible(id) AS true;
CREATE OR REPLACE MACRO main.pg_function_is_visible(id) AS true;
CREATE OR REPLACE MACRO main.pg_tablespace_location(id) AS '';
CREATE OR REPLACE MACRO main.pg_get_partkeydef(id) AS NULL::VARCHAR;
CREATE OR REPLACE MACRO main.shobj_description(id, cat) AS NULL::VARCHAR;
CREATE OR REPLACE MACRO main.pg_get_serial_sequence(t, c) AS NULL::VARCHAR;
CREATE OR REPLACE MACRO main.pg_total_relation_size(id) AS 0::BIGINT;
CREATE OR REPLACE MACRO main.pg_relation_size(id) AS 0::BIGINT;
CREATE OR REPLACE MACRO main.pg_table_size(id) AS 0::BIGINT;
CREATE OR REPLACE MACRO main.pg_indexes_size(id) AS 0::BIGINT;
CREATE OR REPLACE MACRO main.pg_size_pretty(n) AS CAST(n AS VARCHAR) || ' bytes';
"""

_EMPTY = {
    "pg_policy": "oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, polpermissive BOOLEAN, polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR",
    "pg_statistic_ext": "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, stxowner BIGINT, stxstattarget INTEGER, stxkeys INTEGER[], stxkind VARCHAR[], stxexprs VARCHAR",
    "pg_publication": "oid BIGINT, pubname VARCHAR, puballtables BOOLEAN, pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
    "pg_publication_rel": "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs INTEGER[]",
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_rewrite": "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, ev_enabled VARCHAR, is_instead BOOLEAN",
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_partitioned_table": "partrelid BIGINT, partstrat VARCHAR, partnatts INTEGER",
    "pg_collation": "oid BIGINT, collname VARCHAR, collnamespace BIGINT, collowner BIGINT, collprovider VARCHAR, collisdeterministic BOOLEAN, collencoding INTEGER, collcollate VARCHAR, collctype VARCHAR",
    "pg_opclass": "oid BIGINT, opcmethod BIGINT, opcname VARCHAR, opcnamespace BIGINT, opcowner BIGINT, opcfamily BIGINT, opcintype BIGINT, opcdefault BOOLEAN, opckeytype BIGINT",
    "pg_range": "rngtypid BIGINT, rngsubtype BIGINT, rngmultitypid BIGINT, rngcollation BIGINT, rngsubopc BIGINT, rngcanonical VARCHAR, rngsubdiff VARCHAR",
    "pg_extension": "oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, extrelocatable BOOLEAN, extversion VARCHAR",
}
EMPTY_SQL = "".join(
    f"CREATE OR REPLACE VIEW {HIDDEN}.{name} AS SELECT * FROM (SELECT "
    + ", ".join(f"NULL::{c.split(' ', 1)[1]} AS {c.split(' ', 1)[0]}" for c in cols.split(", "))
    + ") WHERE false;\n"
    for name, cols in _EMPTY.items()
)
# The session's open cursors: Session publishes their names when a statement reads it.
EMPTY_SQL += (
    f"CREATE OR REPLACE VIEW {HIDDEN}.pg_cursors AS SELECT name, NULL::VARCHAR AS statement, "
    "false AS is_holdable, false AS is_binary, false AS is_scrollable, "
    "NULL::TIMESTAMPTZ AS creation_time "
    "FROM (SELECT unnest(coalesce(getvariable('hati_cursors'), []::VARCHAR[])) AS name);\n"
)

_FILTERED = (
    "pg_attrdef",
    "pg_attribute",
    "pg_cursors",
    "pg_namespace",
    "pg_type",
    "pg_class",
    "pg_database",
    "pg_tables",
    "pg_views",
    "pg_indexes",
    "pg_proc",
    "pg_index",
    "pg_constraint",
    "pg_trigger",
    *_EMPTY,
    *catalog_roles.RELATIONS,
    *catalog_comments.RELATIONS,
    *catalog_sequences.RELATIONS,
)
# Catalog relations a client reads -> hati's filtered views in the hidden schema (the
# front end's catalog rule points the parse tree's relations at them).
RELATIONS: dict[str, str] = {name: name for name in _FILTERED}
INFORMATION_SCHEMA: dict[str, str] = {
    name: f"is_{name}"
    for name in (
        "schemata",
        "tables",
        "columns",
        "views",
        "table_constraints",
        "key_column_usage",
        "triggers",
        *catalog_sequences.INFORMATION_SCHEMA,
    )
}


_CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema"})


def reads_catalog(tables: Iterable[Any]) -> bool:
    """Does a statement naming these relations (``TableRef``s) read the catalog?"""
    return any(
        t.schema in _CATALOG_SCHEMAS or (t.schema is None and t.name in RELATIONS) for t in tables
    )


def install(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the filtered catalog views and the missing pg functions (idempotent)."""
    cur.execute(_PG_SHIMS)
    cur.execute(SETUP_SQL)
    cur.execute(EMPTY_SQL)
    cur.execute(catalog_triggers.TABLES_SQL + catalog_triggers.SQL)
    cur.execute(catalog_roles.SQL)
    cur.execute(catalog_comments.TABLE_SQL)
    cur.execute(catalog_comments.SQL)
    cur.execute(catalog_sequences.SQL)
