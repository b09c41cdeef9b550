"""Column defaults as PostgreSQL prints them (information_schema.columns, pg_attrdef).

DuckDB keeps a default as the text it was given (``'2024-01-01'``, ``-1``,
``nextval('main."t_id_seq"')``). PostgreSQL stores the default coerced to the column's
type and prints it back from that: a string constant with its value as the type prints
it and the type named (``'2024-01-01 00:00:00'::timestamp without time zone``), a
negative number as a typed string (``'-1'::integer``), a sequence by its regclass.
Schema tools (Alembic's autogenerate, GUI tools) compare these texts.
"""

from __future__ import annotations

from hati.branching import layout

HIDDEN = layout.PG

# A DuckDB type -> how its value prints (the string's value given as that type).
_NORMALIZED = (
    ("TIMESTAMP", "TIMESTAMP"),
    ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"),
    ("DATE", "DATE"),
    ("TIME", "TIME"),
    ("INTERVAL", "INTERVAL"),
)
# udt_name of an array's element -> the type's name in a cast
_ELEMENTS = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "varchar": "character varying",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
}


def _normalized(value: str, duck_type: str) -> str:
    cases = " ".join(
        f"WHEN '{d}' THEN TRY_CAST(TRY_CAST({value} AS {t}) AS VARCHAR)" for d, t in _NORMALIZED
    )
    return f"coalesce(CASE {duck_type} {cases} END, {value})"


def _cast_name(data_type: str, udt_name: str) -> str:
    elements = " ".join(f"WHEN '{u}' THEN '{n}'" for u, n in _ELEMENTS.items())
    return (
        f"CASE {data_type} WHEN 'ARRAY' THEN "
        f"(CASE substr({udt_name}, 2) {elements} ELSE substr({udt_name}, 2) END) || '[]' "
        f"WHEN 'character' THEN 'bpchar' WHEN 'USER-DEFINED' THEN {udt_name} "
        f"ELSE {data_type} END"
    )


_SEQUENCE = r"""nextval\('(?:[^."']*\.)?"?([^."']*)"?'\)"""

MACROS = f"""
CREATE OR REPLACE MACRO {HIDDEN}.pg_default_text(expr, data_type, udt_name, duck_type) AS
    CASE WHEN expr IS NULL THEN NULL::VARCHAR
         WHEN regexp_full_match(expr, '-[0-9]+') THEN '''' || expr || '''::integer'
         WHEN regexp_full_match(expr, '-[0-9]*\\.[0-9]+') THEN '''' || expr || '''::numeric'
         WHEN expr = 'current_date()' THEN 'CURRENT_DATE'
         WHEN expr IN ('get_current_timestamp()', 'current_timestamp()') THEN 'CURRENT_TIMESTAMP'
         WHEN regexp_full_match(expr, '{_SEQUENCE.replace("'", "''")}')
             THEN 'nextval(''' || regexp_extract(expr, '{_SEQUENCE.replace("'", "''")}', 1)
                  || '''::regclass)'
         WHEN regexp_full_match(expr, '''(?:[^'']|'''')*''') THEN
             '''' || replace({_normalized("replace(expr[2:-2], '''''', '''')", "duck_type")},
                             '''', '''''')
             || '''::' || ({_cast_name("data_type", "udt_name")})
         ELSE expr END;
"""
