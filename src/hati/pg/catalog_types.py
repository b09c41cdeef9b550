"""PostgreSQL 15's built-in types as its ``pg_type`` rows (read off PostgreSQL 15.18).

Drivers look types up by OID (asyncpg introspects every array type it meets); DuckDB's
own ``pg_type`` has no array types, no ``typelem`` and no ``pg_catalog`` namespace.
"""

from __future__ import annotations

PG_CATALOG_OID = 11

COLUMNS = (
    "oid",
    "typname",
    "typlen",
    "typbyval",
    "typtype",
    "typcategory",
    "typispreferred",
    "typdelim",
    "typelem",
    "typarray",
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typalign",
    "typstorage",
    "typnotnull",
    "typbasetype",
    "typtypmod",
    "typndims",
    "typcollation",
)
_BOOLEANS = frozenset({"typbyval", "typispreferred", "typnotnull"})
_INTEGERS = frozenset(
    {"oid", "typlen", "typelem", "typarray", "typbasetype", "typtypmod", "typndims", "typcollation"}
)

# One row per line, the columns above in order; t/f are booleans.
_TABLE = """
16 bool 1 t b B t , 0 1000 boolin boolout boolrecv boolsend c p f 0 -1 0 0
17 bytea -1 f b U f , 0 1001 byteain byteaout bytearecv byteasend i x f 0 -1 0 0
18 char 1 t b Z f , 0 1002 charin charout charrecv charsend c p f 0 -1 0 0
19 name 64 f b S f , 18 1003 namein nameout namerecv namesend c p f 0 -1 0 950
20 int8 8 t b N f , 0 1016 int8in int8out int8recv int8send d p f 0 -1 0 0
21 int2 2 t b N f , 0 1005 int2in int2out int2recv int2send s p f 0 -1 0 0
23 int4 4 t b N f , 0 1007 int4in int4out int4recv int4send i p f 0 -1 0 0
25 text -1 f b S t , 0 1009 textin textout textrecv textsend i x f 0 -1 0 100
26 oid 4 t b N t , 0 1028 oidin oidout oidrecv oidsend i p f 0 -1 0 0
114 json -1 f b U f , 0 199 json_in json_out json_recv json_send i x f 0 -1 0 0
199 _json -1 f b A f , 114 0 array_in array_out array_recv array_send i x f 0 -1 0 0
700 float4 4 t b N f , 0 1021 float4in float4out float4recv float4send i p f 0 -1 0 0
701 float8 8 t b N t , 0 1022 float8in float8out float8recv float8send d p f 0 -1 0 0
705 unknown -2 f p X f , 0 0 unknownin unknownout unknownrecv unknownsend c p f 0 -1 0 0
1000 _bool -1 f b A f , 16 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1001 _bytea -1 f b A f , 17 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1002 _char -1 f b A f , 18 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1003 _name -1 f b A f , 19 0 array_in array_out array_recv array_send i x f 0 -1 0 950
1005 _int2 -1 f b A f , 21 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1007 _int4 -1 f b A f , 23 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1009 _text -1 f b A f , 25 0 array_in array_out array_recv array_send i x f 0 -1 0 100
1014 _bpchar -1 f b A f , 1042 0 array_in array_out array_recv array_send i x f 0 -1 0 100
1015 _varchar -1 f b A f , 1043 0 array_in array_out array_recv array_send i x f 0 -1 0 100
1016 _int8 -1 f b A f , 20 0 array_in array_out array_recv array_send d x f 0 -1 0 0
1021 _float4 -1 f b A f , 700 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1022 _float8 -1 f b A f , 701 0 array_in array_out array_recv array_send d x f 0 -1 0 0
1028 _oid -1 f b A f , 26 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1042 bpchar -1 f b S f , 0 1014 bpcharin bpcharout bpcharrecv bpcharsend i x f 0 -1 0 100
1043 varchar -1 f b S f , 0 1015 varcharin varcharout varcharrecv varcharsend i x f 0 -1 0 100
1082 date 4 t b D f , 0 1182 date_in date_out date_recv date_send i p f 0 -1 0 0
1083 time 8 t b D f , 0 1183 time_in time_out time_recv time_send d p f 0 -1 0 0
1114 timestamp 8 t b D f , 0 1115 timestamp_in timestamp_out timestamp_recv timestamp_send d p f 0 -1 0 0
1115 _timestamp -1 f b A f , 1114 0 array_in array_out array_recv array_send d x f 0 -1 0 0
1182 _date -1 f b A f , 1082 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1183 _time -1 f b A f , 1083 0 array_in array_out array_recv array_send d x f 0 -1 0 0
1184 timestamptz 8 t b D t , 0 1185 timestamptz_in timestamptz_out timestamptz_recv timestamptz_send d p f 0 -1 0 0
1185 _timestamptz -1 f b A f , 1184 0 array_in array_out array_recv array_send d x f 0 -1 0 0
1186 interval 16 f b T t , 0 1187 interval_in interval_out interval_recv interval_send d p f 0 -1 0 0
1187 _interval -1 f b A f , 1186 0 array_in array_out array_recv array_send d x f 0 -1 0 0
1231 _numeric -1 f b A f , 1700 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1266 timetz 12 f b D f , 0 1270 timetz_in timetz_out timetz_recv timetz_send d p f 0 -1 0 0
1270 _timetz -1 f b A f , 1266 0 array_in array_out array_recv array_send d x f 0 -1 0 0
1562 varbit -1 f b V t , 0 1563 varbit_in varbit_out varbit_recv varbit_send i x f 0 -1 0 0
1563 _varbit -1 f b A f , 1562 0 array_in array_out array_recv array_send i x f 0 -1 0 0
1700 numeric -1 f b N f , 0 1231 numeric_in numeric_out numeric_recv numeric_send i m f 0 -1 0 0
2249 record -1 f p P f , 0 2287 record_in record_out record_recv record_send d x f 0 -1 0 0
2278 void 4 t p P f , 0 0 void_in void_out void_recv void_send i p f 0 -1 0 0
2287 _record -1 f p P f , 2249 0 array_in array_out array_recv array_send d x f 0 -1 0 0
2950 uuid 16 f b U f , 0 2951 uuid_in uuid_out uuid_recv uuid_send c p f 0 -1 0 0
2951 _uuid -1 f b A f , 2950 0 array_in array_out array_recv array_send i x f 0 -1 0 0
3802 jsonb -1 f b U f , 0 3807 jsonb_in jsonb_out jsonb_recv jsonb_send i x f 0 -1 0 0
3807 _jsonb -1 f b A f , 3802 0 array_in array_out array_recv array_send i x f 0 -1 0 0
"""


def _value(column: str, text: str) -> object:
    if column in _BOOLEANS:
        return text == "t"
    if column in _INTEGERS:
        return int(text)
    return text


ROWS: tuple[tuple[object, ...], ...] = tuple(
    tuple(_value(c, v) for c, v in zip(COLUMNS, line.split(), strict=True))
    for line in _TABLE.strip().splitlines()
)
OIDS: tuple[int, ...] = tuple(int(str(row[0])) for row in ROWS)
NAMES: tuple[str, ...] = tuple(str(row[1]) for row in ROWS)


def _literal(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def values_sql() -> str:
    """The rows as a SELECT with PostgreSQL's column names (pg_catalog's namespace)."""
    body = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in ROWS)
    return (
        f"SELECT *, {PG_CATALOG_OID}::BIGINT AS typnamespace, 10 AS typowner, "
        "true AS typisdefined, 0::BIGINT AS typrelid, NULL::VARCHAR AS typdefault "
        "FROM (VALUES " + body + ") AS t(" + ", ".join(COLUMNS) + ")"
    )
