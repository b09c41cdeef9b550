"""Type mapping and value encodings (text and binary), parameter decoding."""

from __future__ import annotations

import datetime as dt
import decimal
import struct
import uuid

import pytest

from hati.errors import HatiError
from hati.wire import types as t


@pytest.mark.parametrize(
    ("duck", "oid"),
    [
        ("BOOLEAN", t.BOOL),
        ("INTEGER", t.INT4),
        ("BIGINT", t.INT8),
        ("DOUBLE", t.FLOAT8),
        ("VARCHAR", t.TEXT),
        ("DECIMAL(10,2)", t.NUMERIC),
        ("DATE", t.DATE),
        ("TIMESTAMP", t.TIMESTAMP),
        ("TIMESTAMP WITH TIME ZONE", t.TIMESTAMPTZ),
        ("UUID", t.UUID),
        ("BLOB", t.BYTEA),
        ("INTEGER[]", 1007),
        ("VARCHAR[]", 1009),
        ("DECIMAL(2,1)[]", 1231),  # an array, not a numeric
        ("STRUCT(a INTEGER)", t.RECORD),
        ("TUPLE(INTEGER, VARCHAR)", t.RECORD),
        ("STRUCT(a INTEGER)[]", 2287),
        ("MAP(VARCHAR, INTEGER)", t.JSON),
        ("INTEGER[][]", 1007),
        ("INTEGER[3]", 1007),
        ("BIT", t.VARBIT),
        ("TIME WITH TIME ZONE", t.TIMETZ),
        ("UNION(a INTEGER)", t.TEXT),
    ],
)
def test_oid_for(duck, oid):
    assert t.oid_for(duck) == oid


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, b"t"),
        (12, b"12"),
        (1.5, b"1.5"),
        (float("nan"), b"NaN"),
        (float("-inf"), b"-Infinity"),
        (decimal.Decimal("3.25"), b"3.25"),
        (dt.date(2024, 1, 2), b"2024-01-02"),
        (b"\x01\xff", b"\\x01ff"),
        ([1, None, 3], b"{1,NULL,3}"),
        (["a b", 'q"'], b'{"a b","q\\""}'),
    ],
)
def test_text_value(value, text):
    assert t.text_value(value) == text


def test_binary_scalars():
    assert t.binary_encoder(t.INT4)(7) == struct.pack("!i", 7)
    assert t.binary_encoder(t.INT8)(-1) == struct.pack("!q", -1)
    assert t.binary_encoder(t.FLOAT8)(2.5) == struct.pack("!d", 2.5)
    assert t.binary_encoder(t.BOOL)(False) == b"\x00"
    assert t.binary_encoder(t.DATE)(dt.date(2000, 1, 2)) == struct.pack("!i", 1)
    assert t.binary_encoder(t.TIMESTAMP)(dt.datetime(2000, 1, 1, 0, 0, 1)) == struct.pack(
        "!q", 1_000_000
    )
    u = uuid.uuid4()
    assert t.binary_encoder(t.UUID)(u) == u.bytes


@pytest.mark.parametrize("value", ["0", "3.25", "-1234567.000001", "100000000", "0.0001", "NaN"])
def test_numeric_binary_round_trip(value):
    raw = t.binary_encoder(t.NUMERIC)(decimal.Decimal(value))
    back = t.decode_param(raw, t.NUMERIC, 1)
    if value == "NaN":
        assert back.is_nan()
    else:
        assert back == decimal.Decimal(value)


def test_binary_array_round_trip():
    enc = t.binary_encoder(1007)
    raw = enc([1, None, 3])
    ndim, has_null, elem = struct.unpack_from("!iiI", raw)
    assert (ndim, has_null, elem) == (1, 1, t.INT4)
    assert t.decode_param(raw, 1007, 1) == [1, None, 3]


@pytest.mark.parametrize(
    ("raw", "oid", "value"),
    [
        (b"42", t.INT4, 42),
        (b"t", t.BOOL, True),
        (b"2.5", t.FLOAT8, 2.5),
        (b"1.10", t.NUMERIC, decimal.Decimal("1.10")),
        (b"\\x0102", t.BYTEA, b"\x01\x02"),
        (b"plain", t.TEXT, "plain"),
        (b"plain", 0, "plain"),
        (b"{1,2,NULL}", 1007, [1, 2, None]),
        (b'{x,"a,b","c\\"d"}', 1009, ["x", "a,b", 'c"d']),
        (b"{}", 1009, []),
        (None, t.INT4, None),
    ],
)
def test_decode_text_params(raw, oid, value):
    assert t.decode_param(raw, oid, 0) == value


@pytest.mark.parametrize(
    ("raw", "oid", "value"),
    [
        (struct.pack("!i", -5), t.INT4, -5),
        (struct.pack("!q", 2**40), t.INT8, 2**40),
        (struct.pack("!d", 0.25), t.FLOAT8, 0.25),
        (b"\x01", t.BOOL, True),
    ],
)
def test_decode_binary_params(raw, oid, value):
    assert t.decode_param(raw, oid, 1) == value


@pytest.mark.parametrize(("raw", "oid"), [(b"abc", t.INT4), (b"1.x", t.NUMERIC), (b"{1", 1007)])
def test_bad_parameter_values_are_client_errors(raw, oid):
    with pytest.raises(HatiError) as exc:
        t.decode_param(raw, oid, 0)
    assert exc.value.sqlstate.startswith("22")


def test_nested_text_array_param_rejected():
    with pytest.raises(HatiError):
        t.decode_param(b"{{1},{2}}", 1007, 0)
