"""PostgreSQL type OIDs for DuckDB types, and value encoders/decoders (text and binary).

Encoders are chosen once per result column (``column_encoder``) so the per-value
work on the hot path is one function call.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import struct
import uuid
from collections.abc import Callable
from typing import Any

from hati.errors import InvalidParameter, InvalidTextRepresentation

Encoder = Callable[[Any], bytes]

BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
JSON, FLOAT4, FLOAT8, UNKNOWN, VARCHAR = 114, 700, 701, 705, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ = 1082, 1083, 1114, 1184, 1186, 1266
NUMERIC, UUID, JSONB = 1700, 2950, 3802
VARBIT, RECORD = 1562, 2249

ARRAY_OF = {
    BOOL: 1000,
    BYTEA: 1001,
    INT2: 1005,
    INT4: 1007,
    INT8: 1016,
    TEXT: 1009,
    VARCHAR: 1015,
    FLOAT4: 1021,
    FLOAT8: 1022,
    NUMERIC: 1231,
    DATE: 1182,
    TIMESTAMP: 1115,
    TIMESTAMPTZ: 1185,
    UUID: 2951,
    JSON: 199,
    INTERVAL: 1187,
    TIME: 1183,
    TIMETZ: 1270,
    CHAR: 1002,
    NAME: 1003,
    OID: 1028,
    VARBIT: 1563,
    RECORD: 2287,
    JSONB: 3807,
}
ELEMENT_OF = {v: k for k, v in ARRAY_OF.items()}

TYPE_SIZE = {
    BOOL: 1,
    INT2: 2,
    INT4: 4,
    INT8: 8,
    FLOAT4: 4,
    FLOAT8: 8,
    DATE: 4,
    TIMESTAMP: 8,
    TIMESTAMPTZ: 8,
    TIME: 8,
    UUID: 16,
    OID: 4,
    INTERVAL: 16,
    TIMETZ: 12,
}

_SCALAR_OIDS = {
    "BOOLEAN": BOOL,
    "TINYINT": INT2,
    "SMALLINT": INT2,
    "INTEGER": INT4,
    "BIGINT": INT8,
    "UTINYINT": INT2,
    "USMALLINT": INT4,
    "UINTEGER": INT8,
    "UBIGINT": NUMERIC,
    "HUGEINT": NUMERIC,
    "UHUGEINT": NUMERIC,
    "FLOAT": FLOAT4,
    "DOUBLE": FLOAT8,
    "VARCHAR": TEXT,
    "BLOB": BYTEA,
    "DATE": DATE,
    "TIME": TIME,
    "TIMESTAMP": TIMESTAMP,
    "TIMESTAMP_NS": TIMESTAMP,
    "TIMESTAMP_MS": TIMESTAMP,
    "TIMESTAMP_S": TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": TIMESTAMPTZ,
    "TIME WITH TIME ZONE": TIMETZ,
    "INTERVAL": INTERVAL,
    "UUID": UUID,
    "JSON": JSON,
    "BIT": VARBIT,
    "NULL": TEXT,
    '"NULL"': TEXT,
    "BIGNUM": NUMERIC,
    "VARINT": NUMERIC,
}


_ARRAY_SUFFIX = re.compile(r"\[\d*\]$")


def oid_for(duck_type: object) -> int:
    """The PostgreSQL OID that best represents a DuckDB column type.

    A STRUCT is a record (its text is a row constructor's, ``(1,abc)``); a MAP is json (the
    text of a JSON object); lists and fixed-size arrays are arrays of their element's type,
    nested ones too (PostgreSQL has one array type per element type, whatever the depth).
    """
    name = str(duck_type).upper()
    if name in _SCALAR_OIDS:
        return _SCALAR_OIDS[name]
    m = _ARRAY_SUFFIX.search(name)
    if m is not None:  # before DECIMAL: "DECIMAL(2,1)[]" is an array
        inner = oid_for(name[: m.start()])
        return inner if inner in ELEMENT_OF else ARRAY_OF.get(inner, ARRAY_OF[TEXT])
    if name.startswith("DECIMAL"):
        return NUMERIC
    if name.startswith(("STRUCT", "TUPLE")):  # TUPLE: an unnamed struct, row(1, 'a')
        return RECORD
    if name.startswith("MAP"):
        return JSON
    return TEXT  # ENUM, UNION: rendered as text


def type_name(oid: int) -> str:
    return _NAMES.get(oid, "text")


def oid_of_name(name: str) -> int:
    """The OID of a PostgreSQL type by its own name (``int4``, ``bpchar``); 0 when unknown."""
    return _OIDS_BY_NAME.get(name.lower(), 0)


_NAMES = {
    BOOL: "bool",
    BYTEA: "bytea",
    INT2: "int2",
    INT4: "int4",
    INT8: "int8",
    TEXT: "text",
    OID: "oid",
    JSON: "json",
    FLOAT4: "float4",
    FLOAT8: "float8",
    VARCHAR: "varchar",
    DATE: "date",
    TIME: "time",
    TIMESTAMP: "timestamp",
    TIMESTAMPTZ: "timestamptz",
    INTERVAL: "interval",
    NUMERIC: "numeric",
    UUID: "uuid",
    JSONB: "jsonb",
    NAME: "name",
    CHAR: "char",
    TIMETZ: "timetz",
    VARBIT: "varbit",
    RECORD: "record",
}
_OIDS_BY_NAME = {name: oid for oid, name in _NAMES.items()} | {"bpchar": 1042}

# ------------------------------------------------------------------ text encoding


def _text_float(v: float) -> bytes:
    if math.isnan(v):
        return b"NaN"
    if math.isinf(v):
        return b"Infinity" if v > 0 else b"-Infinity"
    return repr(v).encode()


def _text_interval(v: dt.timedelta | Any) -> bytes:
    if not isinstance(v, dt.timedelta):
        return str(v).encode()
    total_us = v.days * 86_400_000_000 + v.seconds * 1_000_000 + v.microseconds
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    days, rem = divmod(total_us, 86_400_000_000)
    secs, us = divmod(rem, 1_000_000)
    h, rem_s = divmod(secs, 3600)
    mi, s = divmod(rem_s, 60)
    clock = f"{h:02d}:{mi:02d}:{s:02d}" + (f".{us:06d}".rstrip("0") if us else "")
    if days:
        return f"{sign}{days} day{'s' if days != 1 else ''} {sign}{clock}".encode()
    return f"{sign}{clock}".encode()


def _text_datetime(v: Any) -> bytes:
    if isinstance(v, dt.datetime):
        s = v.isoformat(sep=" ")
        if v.tzinfo is not None and s.endswith(":00") and s[-6] in "+-":
            s = s[:-3]  # PostgreSQL prints +00, not +00:00
        return s.encode()
    return str(v).encode()


def _array_item(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (list, tuple)):
        return "{" + ",".join(_array_item(x) for x in v) + "}"
    s = text_value(v).decode()
    if s == "" or any(c in s for c in ' ,{}"\\') or s.upper() == "NULL":
        s = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def text_value(v: Any) -> bytes:
    """Text format of any Python value DuckDB can return."""
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, bool):
        return b"t" if v else b"f"
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, float):
        return _text_float(v)
    if isinstance(v, decimal.Decimal):
        return str(v).encode()
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return _text_datetime(v)
    if isinstance(v, dt.timedelta):
        return _text_interval(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return b"\\x" + bytes(v).hex().encode()
    if isinstance(v, (list, tuple)):
        return _array_item(list(v)).encode()
    if isinstance(v, dict):
        return json.dumps(v, default=str, separators=(", ", ": ")).encode()
    return str(v).encode()


def _text_encoder_for(oid: int) -> Encoder:
    if oid in (TEXT, VARCHAR, JSON, NAME):
        return lambda v: v.encode() if isinstance(v, str) else text_value(v)
    if oid in (INT2, INT4, INT8):
        return lambda v: str(v).encode()
    return text_value


# ------------------------------------------------------------------ binary encoding

_EPOCH_DATE = dt.date(2000, 1, 1)
_EPOCH_DT = dt.datetime(2000, 1, 1)
_EPOCH_DTZ = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _bin_numeric(v: Any) -> bytes:
    d = decimal.Decimal(v)
    if d.is_nan():
        return struct.pack("!hhhh", 0, 0, 0xC000 - 0x10000, 0)
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    dscale = max(0, -exp)
    # Integer and fractional digit strings, padded to groups of 4 around the point.
    s = "".join(map(str, digits))
    if exp > 0:
        s += "0" * exp
        int_part, frac_part = s, ""
    else:
        cut = len(s) + exp
        int_part, frac_part = (s[:cut] if cut > 0 else ""), (s[cut:] if cut > 0 else "0" * -cut + s)
    int_part = int_part.lstrip("0")
    int_part = "0" * (-len(int_part) % 4) + int_part
    frac_part = frac_part + "0" * (-len(frac_part) % 4)
    groups = [int(int_part[i : i + 4]) for i in range(0, len(int_part), 4)]
    weight = len(groups) - 1
    groups += [int(frac_part[i : i + 4]) for i in range(0, len(frac_part), 4)]
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    return struct.pack(
        f"!hhhh{len(groups)}h", len(groups), weight, 0x4000 if sign else 0, dscale, *groups
    )


def _bin_interval(v: dt.timedelta) -> bytes:
    us = v.seconds * 1_000_000 + v.microseconds
    return struct.pack("!qii", us, v.days, 0)


def _bin_timestamp(v: dt.datetime) -> bytes:
    delta = v - _EPOCH_DTZ if v.tzinfo is not None else v - _EPOCH_DT
    return struct.pack("!q", (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _bin_time(v: dt.time) -> bytes:
    return struct.pack("!q", ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond)


def _bin_array(elem_oid: int) -> Encoder:
    enc = binary_encoder(elem_oid)

    def encode(v: Any) -> bytes:
        items = list(v)
        has_null = any(x is None for x in items)
        out = [struct.pack("!iiIii", 1, int(has_null), elem_oid, len(items), 1)]
        for x in items:
            if x is None:
                out.append(b"\xff\xff\xff\xff")
            else:
                b = enc(x)
                out.append(struct.pack("!i", len(b)) + b)
        return b"".join(out)

    return encode


_BINARY: dict[int, Encoder] = {
    BOOL: lambda v: b"\x01" if v else b"\x00",
    INT2: lambda v: struct.pack("!h", v),
    INT4: lambda v: struct.pack("!i", v),
    INT8: lambda v: struct.pack("!q", v),
    OID: lambda v: struct.pack("!I", v),
    FLOAT4: lambda v: struct.pack("!f", v),
    FLOAT8: lambda v: struct.pack("!d", v),
    TEXT: lambda v: v.encode() if isinstance(v, str) else text_value(v),
    VARCHAR: lambda v: v.encode() if isinstance(v, str) else text_value(v),
    NAME: lambda v: v.encode(),
    JSON: lambda v: v.encode() if isinstance(v, str) else text_value(v),
    JSONB: lambda v: b"\x01" + (v.encode() if isinstance(v, str) else text_value(v)),
    BYTEA: lambda v: bytes(v),
    DATE: lambda v: struct.pack("!i", (v - _EPOCH_DATE).days),
    TIMESTAMP: _bin_timestamp,
    TIMESTAMPTZ: _bin_timestamp,
    TIME: _bin_time,
    INTERVAL: _bin_interval,
    NUMERIC: _bin_numeric,
    UUID: lambda v: (v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))).bytes,
}


def binary_encoder(oid: int) -> Encoder:
    if oid in _BINARY:
        return _BINARY[oid]
    if oid in ELEMENT_OF:
        return _bin_array(ELEMENT_OF[oid])
    return _BINARY[TEXT]


def column_encoder(oid: int, fmt: int) -> Encoder:
    """The encoder for one result column in text (0) or binary (1) format."""
    return binary_encoder(oid) if fmt == 1 else _text_encoder_for(oid)


# ------------------------------------------------------------------ parameter decoding


def _parse_bool(s: str) -> bool:
    """PostgreSQL's boolean input: true/yes/on/1 and false/no/off/0, any unique prefix."""
    v = s.strip().lower()
    if v in ("1", "0"):
        return v == "1"
    for word, value in (("true", True), ("yes", True), ("false", False), ("no", False)):
        if v and word.startswith(v):
            return value
    if v in ("on", "off", "of"):
        return v == "on"
    raise ValueError(f"invalid boolean {s!r}")


_TEXT_PARAM: dict[int, Callable[[str], Any]] = {
    BOOL: _parse_bool,
    INT2: int,
    INT4: int,
    INT8: int,
    OID: int,
    FLOAT4: float,
    FLOAT8: float,
    NUMERIC: decimal.Decimal,
    BYTEA: lambda s: bytes.fromhex(s[2:]) if s.startswith("\\x") else s.encode(),
}


def _bin_param_numeric(b: bytes) -> decimal.Decimal:
    n, weight, sign, dscale = struct.unpack_from("!hhhh", b)
    if sign == -16384:
        return decimal.Decimal("NaN")
    digits = struct.unpack_from(f"!{n}h", b, 8)
    value = decimal.Decimal(0)
    for i, d in enumerate(digits):
        value += decimal.Decimal(d).scaleb(4 * (weight - i))
    if sign == 0x4000:
        value = -value
    return value.quantize(decimal.Decimal(1).scaleb(-dscale)) if dscale else value


_BIN_PARAM: dict[int, Callable[[bytes], Any]] = {
    BOOL: lambda b: b != b"\x00",
    INT2: lambda b: struct.unpack("!h", b)[0],
    INT4: lambda b: struct.unpack("!i", b)[0],
    INT8: lambda b: struct.unpack("!q", b)[0],
    OID: lambda b: struct.unpack("!I", b)[0],
    FLOAT4: lambda b: struct.unpack("!f", b)[0],
    FLOAT8: lambda b: struct.unpack("!d", b)[0],
    TEXT: lambda b: b.decode(),
    VARCHAR: lambda b: b.decode(),
    NAME: lambda b: b.decode(),
    UNKNOWN: lambda b: b.decode(),
    JSON: lambda b: b.decode(),
    JSONB: lambda b: b[1:].decode(),
    BYTEA: bytes,
    DATE: lambda b: _EPOCH_DATE + dt.timedelta(days=struct.unpack("!i", b)[0]),
    TIMESTAMP: lambda b: _EPOCH_DT + dt.timedelta(microseconds=struct.unpack("!q", b)[0]),
    TIMESTAMPTZ: lambda b: _EPOCH_DTZ + dt.timedelta(microseconds=struct.unpack("!q", b)[0]),
    TIME: lambda b: (dt.datetime.min + dt.timedelta(microseconds=struct.unpack("!q", b)[0])).time(),
    UUID: lambda b: str(uuid.UUID(bytes=b)),
    NUMERIC: _bin_param_numeric,
    INTERVAL: lambda b: "{2} months {1} days {0} microseconds".format(*struct.unpack("!qii", b)),
}


def decode_param(raw: bytes | None, oid: int, fmt: int) -> Any:
    """A bound parameter as the Python value DuckDB should receive."""
    if raw is None:
        return None
    try:
        if fmt == 1:
            if oid in _BIN_PARAM:
                return _BIN_PARAM[oid](raw)
            if oid in ELEMENT_OF:
                return _decode_bin_array(raw)
            return raw.decode()
        text = raw.decode()
    except (ValueError, struct.error, decimal.InvalidOperation) as exc:  # UnicodeDecodeError too
        raise InvalidParameter(f"invalid value for parameter of type {type_name(oid)}") from exc
    try:
        if oid in ELEMENT_OF:
            return parse_text_array(text, ELEMENT_OF[oid])
        parse = _TEXT_PARAM.get(oid)
        return parse(text) if parse else text
    except (ValueError, decimal.InvalidOperation) as exc:
        raise InvalidTextRepresentation(
            f'invalid input syntax for type {_SQL_NAMES.get(oid, type_name(oid))}: "{text}"'
        ) from exc


def parses_text(oid: int) -> bool:
    """A text parameter of this type is turned into a Python value here (not left a
    string for DuckDB to cast): numbers, booleans, bytea, arrays."""
    return oid in _TEXT_PARAM or oid in ELEMENT_OF


# The names PostgreSQL's input errors use.
_SQL_NAMES = {
    BOOL: "boolean",
    INT2: "smallint",
    INT4: "integer",
    INT8: "bigint",
    FLOAT4: "real",
    FLOAT8: "double precision",
    NUMERIC: "numeric",
}


def parse_text_array(text: str, elem_oid: int) -> list[Any]:
    """A one-dimensional PostgreSQL array literal (``{1,"a b",NULL}``) as a list."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"malformed array literal: {text!r}")
    body, i = text[1:-1], 0
    items: list[Any] = []
    parse = _TEXT_PARAM.get(elem_oid)
    if not body.strip():
        return []
    while i <= len(body):
        if i < len(body) and body[i] == "{":
            raise InvalidParameter("only one-dimensional array parameters are supported")
        if i < len(body) and body[i] == '"':
            j, buf = i + 1, []
            while j < len(body) and body[j] != '"':
                if body[j] == "\\" and j + 1 < len(body):
                    j += 1
                buf.append(body[j])
                j += 1
            value: Any = "".join(buf)
            i = j + 1
            quoted = True
        else:
            j = body.find(",", i)
            j = len(body) if j == -1 else j
            value, i, quoted = body[i:j].strip(), j, False
        if not quoted and value.upper() == "NULL":
            items.append(None)
        else:
            items.append(parse(value) if parse else value)
        i += 1  # the comma
    return items


def _decode_bin_array(raw: bytes) -> list[Any]:
    ndim, _flags, elem = struct.unpack_from("!iiI", raw)
    if ndim == 0:
        return []
    if ndim != 1:
        raise InvalidParameter("only one-dimensional array parameters are supported")
    (n, _lb) = struct.unpack_from("!ii", raw, 12)
    pos = 20
    out: list[Any] = []
    for _ in range(n):
        (ln,) = struct.unpack_from("!i", raw, pos)
        pos += 4
        if ln == -1:
            out.append(None)
        else:
            out.append(decode_param(raw[pos : pos + ln], elem, 1))
            pos += ln
    return out
