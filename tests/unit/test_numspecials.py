"""numeric's NaN and ±Infinity kept as a 38-digit DECIMAL's outermost values."""

from __future__ import annotations

import decimal
import struct

import pyarrow as pa
import pytest
from pglast import parser

from hati.pg import numspecials, render
from hati.wire import binary_out, numerics, text_out
from hati.wire import types as t


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("NaN", "NaN"),
        ("        nan", "NaN"),
        (" inf ", "Infinity"),
        (" +inFinity ", "Infinity"),
        (" -INFINITY ", "-Infinity"),
        ("-inf", "-Infinity"),
        ("+ infinity", None),
        ("nan1", None),
        ("1.5", None),
    ],
)
def test_spellings(text, kind):
    assert numspecials.kind(text) == kind


@pytest.mark.parametrize("scale", [0, 10, 11, 38])
def test_stand_ins_sort_as_postgresql_orders_them(scale):
    nan, inf, ninf = (numerics.special_value(k, scale) for k in numerics.SPECIALS)
    biggest = decimal.Decimal(10**38 - 3).scaleb(-scale, numerics.CONTEXT)
    assert ninf < biggest.copy_negate() < biggest < inf < nan
    assert [numerics.special_of(v, scale) for v in (nan, inf, ninf, biggest)] == [
        "NaN",
        "Infinity",
        "-Infinity",
        None,
    ]
    assert len(numerics.special_digits("NaN", scale).replace(".", "").lstrip("0")) == 38


def _column(scale: int) -> pa.Array:
    values = [numerics.special_value(k, scale) for k in numerics.SPECIALS]
    return pa.array([*values, decimal.Decimal("2.5"), None], pa.decimal128(38, scale))


@pytest.fixture
def stored_scales():
    saved = set(numerics.STORED_SCALES)
    numerics.STORED_SCALES.update({10, 11})
    yield
    numerics.STORED_SCALES.clear()
    numerics.STORED_SCALES.update(saved)


def test_the_values_are_numbers_where_no_special_value_was_stored():
    saved = set(numerics.STORED_SCALES)
    numerics.STORED_SCALES.discard(11)
    try:
        out = text_out.column(pa.decimal128(38, 11))(_column(11)).to_pylist()
        assert out[0] == "999999999999999999999999999.99999999999"
    finally:
        numerics.STORED_SCALES.update(saved)


@pytest.mark.usefixtures("stored_scales")
def test_text_shows_the_special_values():
    out = text_out.column(pa.decimal128(38, 11))(_column(11)).to_pylist()
    assert out == ["NaN", "Infinity", "-Infinity", "2.5", None]
    ten = text_out.column(pa.decimal128(38, 10))(_column(10)).to_pylist()
    assert ten == ["NaN", "Infinity", "-Infinity", "2.5000000000", None]


@pytest.mark.usefixtures("stored_scales")
def test_binary_shows_the_special_values():
    cells = binary_out.as_array(binary_out.column(pa.decimal128(38, 11), t.NUMERIC)(_column(11)))
    got = cells.to_pylist()
    signs = [struct.unpack("!hhHh", b)[2] for b in got[:3]]
    assert signs == [0xC000, 0xD000, 0xF000]
    assert struct.unpack("!hhHh", got[3][:8]) == (2, 0, 0, 11)  # 2.5: digits 2 and 5000, scale 11
    assert got[4] is None


def test_narrow_decimals_are_not_checked():
    arr = pa.array([decimal.Decimal("99.99")], pa.decimal128(4, 2))
    assert numerics.special_mask(arr) is None


def _guarded(sql: str) -> list[str]:
    node = parser.parse_sql(sql)[0].stmt
    render.prepare(node)
    found = numspecials.guards(node)
    return sorted(text for text in found.values())


def test_reads_as_they_are_and_guarded_reads():
    saved = dict(numspecials._recorded)
    numspecials._recorded.clear()
    try:
        assert _guarded("SELECT val + 1 FROM t") == []  # nothing recorded: no work
        numspecials._recorded["val"] = {10}
        for plain in [
            "SELECT val, id FROM t ORDER BY val",
            "SELECT id FROM t WHERE val = 1 AND val <> t.other",
            "SELECT max(val), min(val), count(val) FROM t GROUP BY val",
            "SELECT DISTINCT val FROM t WHERE val IS NULL",
            "INSERT INTO t VALUES (1) RETURNING val",
            "SELECT a.id FROM t a JOIN t b ON a.val = b.val",
        ]:
            assert _guarded(plain) == [], plain
        for computed in [
            "SELECT val + 1 FROM t",
            "SELECT round(val, 2) FROM t",
            "SELECT id FROM t WHERE val + 1 > 2",
            "SELECT x FROM (SELECT val AS x FROM t) s",
            "SELECT val::float8 FROM t",
            "SELECT sum(val) FROM t",
        ]:
            (guard,) = _guarded(computed)
            assert "DECIMAL(38,10)" in guard and "HATI-0A000" in guard, computed
    finally:
        numspecials._recorded.clear()
        numspecials._recorded.update(saved)
