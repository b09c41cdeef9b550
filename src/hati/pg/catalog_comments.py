"""Comments (``COMMENT ON``) as PostgreSQL's catalog shows them: ``obj_description``,
``col_description`` and ``pg_description``.

DuckDB keeps the comments of tables, views, columns, indexes, sequences, types and
macros itself; ``COMMENTS`` keeps the ones it has no place for: a constraint's, and the
index behind a PRIMARY KEY / UNIQUE constraint (which DuckDB does not list as an index),
under the oids hati's catalog gives them (pg/catalog.py).
"""

from __future__ import annotations

from hati.branching import layout

HIDDEN = layout.PG
COMMENTS = f"{HIDDEN}.comments"
# PostgreSQL's oids of the catalogs a comment's object lives in (pg_description.classoid).
PG_CLASS, PG_CONSTRAINT, PG_TYPE, PG_PROC = 1259, 2606, 1247, 1255

TABLE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {COMMENTS} (objoid BIGINT, classoid BIGINT, description VARCHAR);"
)

SQL = f"""
CREATE OR REPLACE VIEW {HIDDEN}.pg_description AS
    SELECT objoid::BIGINT AS objoid, classoid::BIGINT AS classoid,
           objsubid::INTEGER AS objsubid, description
    FROM (SELECT table_oid AS objoid, {PG_CLASS} AS classoid, 0 AS objsubid,
                 comment AS description FROM duckdb_tables() WHERE NOT internal
          UNION ALL
          SELECT table_oid, {PG_CLASS}, column_index, comment
          FROM duckdb_columns() WHERE NOT internal
          UNION ALL
          SELECT view_oid, {PG_CLASS}, 0, comment FROM duckdb_views() WHERE NOT internal
          UNION ALL
          SELECT index_oid, {PG_CLASS}, 0, comment FROM duckdb_indexes()
          UNION ALL
          SELECT sequence_oid, {PG_CLASS}, 0, comment FROM duckdb_sequences()
          UNION ALL
          SELECT type_oid, {PG_TYPE}, 0, comment FROM duckdb_types() WHERE NOT internal
          UNION ALL
          SELECT function_oid, {PG_PROC}, 0, comment FROM duckdb_functions()
          WHERE NOT internal
          UNION ALL
          SELECT objoid, classoid, 0, description FROM {COMMENTS})
    WHERE description IS NOT NULL AND description <> '';
CREATE OR REPLACE MACRO main.obj_description(id) AS
    (SELECT first(description) FROM {HIDDEN}.pg_description
     WHERE objoid = id AND objsubid = 0),
    (id, cat) AS
    (SELECT first(description) FROM {HIDDEN}.pg_description
     WHERE objoid = id AND objsubid = 0
       AND classoid = CASE cat WHEN 'pg_class' THEN {PG_CLASS}
                               WHEN 'pg_constraint' THEN {PG_CONSTRAINT}
                               WHEN 'pg_type' THEN {PG_TYPE}
                               WHEN 'pg_proc' THEN {PG_PROC} END);
CREATE OR REPLACE MACRO main.col_description(id, n) AS
    (SELECT first(comment) FROM duckdb_columns()
     WHERE table_oid = id AND column_index = n AND comment <> '');
"""

RELATIONS = ("pg_description",)
