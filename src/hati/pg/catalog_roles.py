"""Catalog relations about the server rather than the tables: roles and users, sessions,
keywords, sizes (psql's ``\\du``, tools' ``pg_user`` / ``pg_stat_activity`` checks).

hati has one role a client acts as (its agents are told apart by their tags, not by
PostgreSQL roles): it is ``hati``, a superuser, as ``pg_get_userbyid`` already answers.
"""

from __future__ import annotations

from pglast import keywords

from hati.branching import layout

HIDDEN = layout.PG
ROLE = "hati"
ROLE_OID = 10

_CATEGORIES = (
    ("U", "unreserved", keywords.UNRESERVED_KEYWORDS),
    ("C", "unreserved (cannot be function or type name)", keywords.COL_NAME_KEYWORDS),
    ("T", "reserved (can be function or type name)", keywords.TYPE_FUNC_NAME_KEYWORDS),
    ("R", "reserved", keywords.RESERVED_KEYWORDS),
)
_KEYWORDS = ", ".join(
    f"('{word}', '{code}', '{desc}')" for code, desc, words in _CATEGORIES for word in sorted(words)
)

SQL = f"""
CREATE OR REPLACE VIEW {HIDDEN}.pg_roles AS
    SELECT {ROLE_OID}::BIGINT AS oid, '{ROLE}' AS rolname, true AS rolsuper,
           true AS rolinherit, true AS rolcreaterole, true AS rolcreatedb,
           true AS rolcanlogin, false AS rolreplication, -1 AS rolconnlimit,
           NULL::TIMESTAMP AS rolvaliduntil, true AS rolbypassrls,
           NULL::VARCHAR[] AS rolconfig, '********' AS rolpassword;
CREATE OR REPLACE VIEW {HIDDEN}.pg_user AS
    SELECT '{ROLE}' AS usename, {ROLE_OID}::BIGINT AS usesysid, true AS usecreatedb,
           true AS usesuper, false AS userepl, true AS usebypassrls,
           '********' AS passwd, NULL::TIMESTAMP AS valuntil, NULL::VARCHAR[] AS useconfig;
CREATE OR REPLACE VIEW {HIDDEN}.pg_auth_members AS
    SELECT * FROM (SELECT NULL::BIGINT AS roleid, NULL::BIGINT AS member,
                          NULL::BIGINT AS grantor, NULL::BOOLEAN AS admin_option) WHERE false;
CREATE OR REPLACE VIEW {HIDDEN}.pg_stat_activity AS
    SELECT 0::BIGINT AS datid, current_database() AS datname, 0 AS pid,
           {ROLE_OID}::BIGINT AS usesysid, '{ROLE}' AS usename,
           getvariable('hati_gucs')['application_name'] AS application_name,
           NULL::VARCHAR AS client_addr, NULL::INTEGER AS client_port,
           NULL::TIMESTAMPTZ AS backend_start, NULL::TIMESTAMPTZ AS xact_start,
           now() AS query_start, NULL::TIMESTAMPTZ AS state_change,
           NULL::VARCHAR AS wait_event_type, NULL::VARCHAR AS wait_event,
           'active' AS state, NULL::BIGINT AS backend_xid, NULL::BIGINT AS backend_xmin,
           NULL::BIGINT AS query_id, '' AS query, 'client backend' AS backend_type;
CREATE OR REPLACE MACRO main.pg_get_keywords() AS TABLE
    SELECT word, catcode, catdesc FROM (VALUES {_KEYWORDS}) k(word, catcode, catdesc);
CREATE OR REPLACE MACRO main.pg_database_size(name) AS
    (SELECT greatest(total_blocks * block_size, block_size)::BIGINT
     FROM pragma_database_size() LIMIT 1);
"""

RELATIONS = ("pg_roles", "pg_user", "pg_auth_members", "pg_stat_activity")
MACROS = ("pg_get_keywords", "pg_database_size")
