"""The catalog's sequences: ``pg_sequences`` and ``information_schema.sequences`` as
PostgreSQL shapes them, read from DuckDB's ``duckdb_sequences()``. A sequence's type is its
DuckDB comment where it is smallint or integer (``pg/sequences.py``), else bigint."""

from __future__ import annotations

from hati.branching import layout

HIDDEN = layout.PG

_TYPE = "CASE s.comment WHEN 'int2' THEN 'smallint' WHEN 'int4' THEN 'integer' ELSE 'bigint' END"
_BITS = "CASE s.comment WHEN 'int2' THEN 16 WHEN 'int4' THEN 32 ELSE 64 END"
_SCHEMA = "CASE s.schema_name WHEN 'main' THEN 'public' ELSE s.schema_name END"
_OWN = f"s.database_name = current_database() AND NOT {layout.internal_schema_sql('s.schema_name')}"

SQL = f"""
CREATE OR REPLACE VIEW {HIDDEN}.pg_sequences AS
    SELECT {_SCHEMA} AS schemaname, s.sequence_name AS sequencename,
           'hati' AS sequenceowner, {_TYPE} AS data_type, s.start_value, s.min_value,
           s.max_value, s.increment_by, s.cycle, 1::BIGINT AS cache_size, s.last_value
    FROM duckdb_sequences() s WHERE {_OWN};
CREATE OR REPLACE VIEW {HIDDEN}.is_sequences AS
    SELECT current_database() AS sequence_catalog, {_SCHEMA} AS sequence_schema,
           s.sequence_name AS sequence_name, {_TYPE} AS data_type,
           {_BITS} AS numeric_precision, 2 AS numeric_precision_radix, 0 AS numeric_scale,
           s.start_value::VARCHAR AS start_value, s.min_value::VARCHAR AS minimum_value,
           s.max_value::VARCHAR AS maximum_value, s.increment_by::VARCHAR AS increment,
           CASE WHEN s.cycle THEN 'YES' ELSE 'NO' END AS cycle_option
    FROM duckdb_sequences() s WHERE {_OWN};
"""

RELATIONS = ("pg_sequences",)
INFORMATION_SCHEMA = ("sequences",)
