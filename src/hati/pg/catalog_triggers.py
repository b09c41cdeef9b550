"""The triggers hati keeps (pg/triggerdefs.py) as catalog rows: ``pg_trigger``,
``information_schema.triggers`` and ``pg_get_triggerdef()``.

The tables that keep them live in the hidden schema; ``tgrelid`` is the table's oid as
``pg_class`` shows it, ``tgtype`` PostgreSQL's bits (1 row, 2 before, 4 insert, 8
delete, 16 update), ``tgenabled`` O or D.
"""

from __future__ import annotations

from hati.branching import layout

HIDDEN = layout.PG
MACROS = ("pg_get_triggerdef",)
TABLES_SQL = f"""
CREATE TABLE IF NOT EXISTS {HIDDEN}.triggers (schema_name VARCHAR, table_name VARCHAR,
    name VARCHAR, function_name VARCHAR, timing VARCHAR, events VARCHAR[], row_level BOOLEAN,
    columns VARCHAR[], when_sql VARCHAR, args VARCHAR[], enabled BOOLEAN, seq BIGINT,
    definition VARCHAR);
CREATE TABLE IF NOT EXISTS {HIDDEN}.trigger_functions (schema_name VARCHAR, name VARCHAR,
    source VARCHAR);
"""
_OID_BASE = 1_900_000_000  # trigger oids: seq above this (no relation has such an oid)
SQL = f"""
CREATE OR REPLACE VIEW {HIDDEN}.pg_trigger AS
    SELECT {_OID_BASE} + t.seq AS oid, c.oid AS tgrelid, 0::BIGINT AS tgparentid,
           t.name AS tgname, 0::BIGINT AS tgfoid,
           (CASE WHEN t.row_level THEN 1 ELSE 0 END + CASE WHEN t.timing = 'BEFORE' THEN 2
            ELSE 0 END + CASE WHEN list_contains(t.events, 'INSERT') THEN 4 ELSE 0 END
            + CASE WHEN list_contains(t.events, 'DELETE') THEN 8 ELSE 0 END
            + CASE WHEN list_contains(t.events, 'UPDATE') THEN 16 ELSE 0 END)::INTEGER AS tgtype,
           CASE WHEN t.enabled THEN 'O' ELSE 'D' END AS tgenabled, false AS tgisinternal,
           0::BIGINT AS tgconstrrelid, 0::BIGINT AS tgconstrindid, 0::BIGINT AS tgconstraint,
           false AS tgdeferrable, false AS tginitdeferred, len(t.args)::INTEGER AS tgnargs,
           t.when_sql AS tgqual, NULL::VARCHAR AS tgoldtable, NULL::VARCHAR AS tgnewtable
    FROM {HIDDEN}.triggers t
    JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
    JOIN pg_catalog.pg_class c ON c.relname = t.table_name AND c.relnamespace = n.oid;
CREATE OR REPLACE VIEW {HIDDEN}.is_triggers AS
    SELECT current_database() AS trigger_catalog,
           CASE t.schema_name WHEN 'main' THEN 'public' ELSE t.schema_name END AS trigger_schema,
           t.name AS trigger_name, e.event AS event_manipulation,
           current_database() AS event_object_catalog,
           CASE t.schema_name WHEN 'main' THEN 'public' ELSE t.schema_name END
           AS event_object_schema, t.table_name AS event_object_table,
           (row_number() OVER (PARTITION BY t.schema_name, t.table_name, e.event, t.timing,
                                            t.row_level ORDER BY t.name))::INTEGER
           AS action_order,
           CASE WHEN t.when_sql IS NULL THEN NULL ELSE '(' || t.when_sql || ')' END
           AS action_condition,
           'EXECUTE FUNCTION ' || t.function_name || '(' || array_to_string(
               list_transform(t.args, lambda a: '''' || replace(a, '''', '''''') || ''''), ', ')
           || ')' AS action_statement,
           CASE WHEN t.row_level THEN 'ROW' ELSE 'STATEMENT' END AS action_orientation,
           t.timing AS action_timing, NULL::VARCHAR AS action_reference_old_table,
           NULL::VARCHAR AS action_reference_new_table, NULL::VARCHAR AS action_reference_old_row,
           NULL::VARCHAR AS action_reference_new_row, NULL::TIMESTAMPTZ AS created
    FROM {HIDDEN}.triggers t, (SELECT unnest(t.events) AS event) e;
CREATE OR REPLACE MACRO main.pg_get_triggerdef(id) AS
    (SELECT definition FROM {HIDDEN}.triggers WHERE {_OID_BASE} + seq = id),
    (id, pretty) AS (SELECT CASE WHEN pretty THEN regexp_replace(regexp_replace(definition,
        ' ON public\\.', ' ON '), 'WHEN \\(\\((.*)\\)\\) EXECUTE', 'WHEN (\\1) EXECUTE')
        ELSE definition END FROM {HIDDEN}.triggers WHERE {_OID_BASE} + seq = id);
"""
