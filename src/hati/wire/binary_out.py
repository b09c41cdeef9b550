"""PostgreSQL's binary send format for whole Arrow columns (the format code 1 of Bind).

:func:`column` picks, for a column's Arrow type and the type OID its RowDescription
announces, a function from an Arrow array to its cells: either a (n, w) byte matrix and a
validity mask (fixed-width types) or a binary array with nulls. The layouts are those of
PostgreSQL's ``*send`` functions: big-endian integers and floats, dates as days and
timestamps as microseconds since 2000-01-01, intervals as (microseconds, days, months),
numerics as base-10000 digits, arrays and records with their headers.
"""

from __future__ import annotations

import decimal
import struct
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hati.errors import HatiError
from hati.wire import cells, numerics, text_out
from hati.wire import types as t
from hati.wire.cells import big_endian, concat, valid

Cells: TypeAlias = pa.Array | tuple[np.ndarray, np.ndarray | None]
Column = Callable[[pa.Array], Cells]

_DAYS_1970_2000 = 10957
_US_1970_2000 = _DAYS_1970_2000 * 86_400_000_000
_INT32_MAX = (1 << 31) - 1
_INT64_MAX = (1 << 63) - 1


class ArraySubscriptError(HatiError):
    sqlstate = "2202E"


def as_array(c: Cells) -> pa.Array:
    """Cells as a binary array with nulls."""
    if isinstance(c, tuple):
        return cells.fixed_array(c[0], c[1])
    return c


def prefixed(c: Cells) -> tuple[list[Any], np.ndarray | int]:
    """Length-prefixed cells as pieces (int32 length, -1 for NULL, then the bytes) and the
    bytes each row takes (one number when all rows take the same)."""
    if isinstance(c, tuple) and (c[1] is None or c[1].all()):
        mat = c[0]
        return [struct.pack("!i", mat.shape[1]), mat], 4 + mat.shape[1]
    arr = as_array(c)
    lens = cells.lengths(arr)
    mask = valid(arr)
    prefix = lens if mask is None else np.where(mask, lens, -1)
    return [big_endian(prefix, ">i4"), arr], 4 + lens


def _fixed(dtype: str, source: pa.DataType | None = None) -> Column:
    def encode(arr: pa.Array) -> Cells:
        values = arr if source is None else arr.cast(source)
        return big_endian(cells.values(values), dtype), valid(arr)

    return encode


def _bool(arr: pa.Array) -> Cells:
    return cells.values(arr, False).astype(np.uint8).reshape(-1, 1), valid(arr)


# ------------------------------------------------------------------ numeric


def _numeric_from_ints(
    magnitude: np.ndarray, negative: np.ndarray, scale: int, mask: np.ndarray | None
) -> pa.Array:
    """numeric_send of magnitude * 10**-scale: (ndigits, weight, sign, dscale) and the
    base-10000 digits without leading or trailing zero groups (magnitude: uint64)."""
    n = len(magnitude)
    pad = -scale % 4  # the fraction is padded to whole groups of four digits
    frac_groups = (scale + pad) // 4
    cut = 10 ** (4 - pad)
    largest = int(magnitude.max()) if n else 0
    ngroups = 1 + max(1, (len(str(largest // cut)) + 3) // 4)
    if largest < (1 << 63):
        magnitude = magnitude.astype(np.int64)  # int64 arithmetic is faster than uint64
    groups = np.empty((n, ngroups), np.int64)  # most significant first
    groups[:, -1] = (magnitude % cut) * 10**pad
    q = magnitude // cut
    for k in range(ngroups - 2, -1, -1):
        groups[:, k] = q % 10000
        q = q // 10000
    nonzero = groups != 0
    any_digit = nonzero.any(axis=1)
    first = np.argmax(nonzero, axis=1)
    last = ngroups - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    ndigits = np.where(any_digit, last - first + 1, 0)
    weight = np.where(any_digit, ngroups - 1 - first - frac_groups, 0)
    sign = np.where(negative & any_digit, 0x4000, 0)
    head = np.stack([ndigits, weight, sign, np.full(n, scale)], axis=1).reshape(-1)
    matrix = np.hstack(
        [
            big_endian(head, ">i2").reshape(n, 8),
            big_endian(groups.reshape(-1), ">i2").reshape(n, 2 * ngroups),
        ]
    )
    col = np.arange(8 + 2 * ngroups)[None, :]
    begin = 8 + 2 * first[:, None]
    keep = (col < 8) | ((col >= begin) & (col < begin + 2 * ndigits[:, None]))
    offs = np.zeros(n + 1, np.int64)
    np.cumsum(8 + 2 * ndigits, out=offs[1:])
    return cells.from_buffers(matrix[keep], offs, mask)


def _numeric_py(values: list[Any]) -> pa.Array:
    return pa.array(
        [None if v is None else t._bin_numeric(decimal.Decimal(v)) for v in values], pa.binary()
    )


# numeric's NaN and ±Infinity in the binary format: no digits, the sign word says which
_SPECIAL_SIGNS = {"NaN": 0xC000, "Infinity": 0xD000, "-Infinity": 0xF000}


def _with_specials(inner: Column) -> Column:
    def encode(arr: pa.Array) -> Cells:
        out = inner(arr)
        mask = numerics.special_mask(arr)
        if mask is None:
            return out
        scale, values = arr.type.scale, arr.to_pylist()

        def special(v: Any) -> bytes:
            kind = numerics.special_of(v, scale)
            if kind is None:
                return t._bin_numeric(decimal.Decimal(v))
            return struct.pack("!hhHh", 0, 0, _SPECIAL_SIGNS[kind], 0)

        fixes = pa.array([special(values[i]) for i in np.flatnonzero(mask)], pa.binary())
        return pc.replace_with_mask(out, pa.array(mask), fixes)

    return encode


def _numeric_wide(scale: int, signed: bool, python: Callable[[pa.Array], list[Any]]) -> Column:
    def encode(arr: pa.Array) -> Cells:
        _, lo_s, small = cells.int128(arr, signed)
        lo = lo_s.view(np.uint64)
        negative = (lo_s < 0) if signed else np.zeros(len(lo), bool)
        mag = np.where(negative, (~lo) + np.uint64(1), lo)
        mask = valid(cells.storage(arr))
        out = _numeric_from_ints(mag, negative, scale, mask)
        wide = ~small if mask is None else (~small & mask)
        if wide.any():
            where = np.flatnonzero(wide)
            values = python(arr)
            fixes = _numeric_py([values[i] for i in where])
            out = pc.replace_with_mask(out, pa.array(wide), fixes)
        return out

    return encode


def _hugeint_values(signed: bool) -> Callable[[pa.Array], list[Any]]:
    def values(arr: pa.Array) -> list[Any]:
        return [
            None if b is None else int.from_bytes(b, "little", signed=signed)
            for b in cells.storage(arr).to_pylist()
        ]

    return values


def _numeric_column(typ: pa.DataType) -> Column:
    if pa.types.is_decimal(typ):
        if typ.bit_width != 128:
            return lambda arr: _numeric_py(arr.to_pylist())
        wide = _numeric_wide(typ.scale, True, lambda arr: arr.to_pylist())
        return _with_specials(wide) if typ.precision == numerics.WIDE else wide
    if isinstance(typ, pa.BaseExtensionType) and getattr(typ, "type_name", "") in (
        "hugeint",
        "uhugeint",
    ):
        signed = typ.type_name == "hugeint"
        return _numeric_wide(0, signed, _hugeint_values(signed))
    if isinstance(typ, pa.BaseExtensionType):  # bignum
        return lambda arr: _numeric_py(
            [None if b is None else text_out.bignum_int(b) for b in arr.storage.to_pylist()]
        )
    if pa.types.is_integer(typ):

        def encode(arr: pa.Array) -> Cells:
            v = cells.values(arr)
            negative = v < 0 if pa.types.is_signed_integer(typ) else np.zeros(len(v), bool)
            mag = (
                np.abs(v.astype(np.int64)).astype(np.uint64)
                if negative.any()
                else v.astype(np.uint64)
            )
            return _numeric_from_ints(mag, negative, 0, valid(arr))

        return encode
    return lambda arr: _numeric_py(arr.to_pylist())


# ------------------------------------------------------------------ dates and times


def _infinities(raw: np.ndarray, end: int, value: np.ndarray) -> np.ndarray:
    """``value`` with DuckDB's +-infinity (+-end) as PostgreSQL's (end and -end - 1)."""
    return np.where(raw == end, end, np.where(raw == -end, -end - 1, value))


def _date(arr: pa.Array) -> Cells:
    days = cells.values(arr.cast(pa.int32())).astype(np.int64)
    return big_endian(_infinities(days, _INT32_MAX, days - _DAYS_1970_2000), ">i4"), valid(arr)


def _time(arr: pa.Array) -> Cells:
    return big_endian(cells.values(arr.cast(pa.int64())), ">i8"), valid(arr)


def _timetz(arr: pa.Array) -> Cells:
    if not isinstance(arr, pa.ExtensionArray):
        micros, offset = cells.values(arr.cast(pa.int64())), np.zeros(len(arr), np.int64)
        mask = valid(arr)
    else:
        micros, offset = text_out.timetz_parts(arr)
        mask = valid(arr.storage)
    return np.hstack([big_endian(micros, ">i8"), big_endian(-offset, ">i4")]), mask


def _timestamp(arr: pa.Array) -> Cells:
    us, inf = text_out.micros(arr)
    out = np.where(inf, np.where(us > 0, _INT64_MAX, -_INT64_MAX - 1), us - _US_1970_2000)
    return big_endian(out, ">i8"), valid(arr)


def _interval(arr: pa.Array) -> Cells:
    months, days, us = text_out.interval_parts(arr)
    mat = np.hstack([big_endian(us, ">i8"), big_endian(days, ">i4"), big_endian(months, ">i4")])
    return mat, valid(arr)


def _uuid(arr: pa.Array) -> Cells:
    if isinstance(arr, pa.ExtensionArray):
        return cells.fixed_data(arr, 16), valid(arr.storage)
    import uuid

    return pa.array(
        [None if v is None else uuid.UUID(v).bytes for v in arr.to_pylist()], pa.binary()
    )


def _varbit(arr: pa.Array) -> Cells:
    out: list[bytes | None] = []
    for raw in cells.storage(arr).to_pylist():
        if raw is None:
            out.append(None)
            continue
        bits = text_out.bit_string(raw)
        nbytes = (len(bits) + 7) // 8
        value = int(bits.ljust(nbytes * 8, "0"), 2) if bits else 0
        out.append(struct.pack("!i", len(bits)) + value.to_bytes(nbytes, "big"))
    return pa.array(out, pa.binary())


def _text(typ: pa.DataType) -> Column:
    encode = text_out.column(typ)
    return lambda arr: cells.as_binary(encode(arr))


def _jsonb(typ: pa.DataType) -> Column:
    encode = _text(typ)

    def jsonb(arr: pa.Array) -> Cells:
        out = encode(arr)
        return cells.with_validity(concat([b"\x01", out], len(arr)), valid(out))

    return jsonb


# ------------------------------------------------------------------ arrays and records


def _array(element: Column, elem_oid: int, depth: int) -> Column:
    """array_send: ndim, has-null flag, element OID, (size, lower bound 1) per dim, elements."""

    def encode(arr: pa.Array) -> Cells:
        n = len(arr)
        mask = valid(arr)
        offs = cells.list_offsets(arr)  # rows -> their range in ``level``
        level = arr.values
        dims = [np.diff(offs)]
        for _ in range(depth - 1):
            sub = level.slice(int(offs[0]), int(offs[-1] - offs[0]))
            rel = offs - offs[0]
            if sub.null_count:
                raise ArraySubscriptError(
                    "a multidimensional array cannot have NULL sub-arrays",
                    hint="Request this column in text format, or replace the NULL sub-arrays.",
                )
            sub_offs = cells.list_offsets(sub)
            sub_len = np.diff(sub_offs)
            count = np.diff(rel)
            first = np.zeros(n, np.int64)
            has = count > 0
            first[has] = sub_len[rel[:-1][has]]
            if (sub_len != np.repeat(first, count)).any():
                raise ArraySubscriptError(
                    "multidimensional arrays must have sub-arrays with matching dimensions",
                    hint="Request this column in text format, or make the sub-arrays equal in length.",
                )
            dims.append(first)
            offs = sub_offs[rel]
            level = sub.values
        leaf = level.slice(int(offs[0]), int(offs[-1] - offs[0]))
        leaf_offs = offs - offs[0]
        items = element(leaf)
        m = len(leaf)
        item_cells = concat(prefixed(items)[0], m)
        body = cells.from_buffers(cells.data(item_cells), cells.offsets(item_cells)[leaf_offs])
        item_mask = valid(as_array(items))
        nulls = np.zeros(m + 1, np.int64)
        if item_mask is not None:
            np.cumsum(~item_mask, out=nulls[1:])
        has_null = (nulls[leaf_offs[1:]] - nulls[leaf_offs[:-1]]) > 0
        total = np.diff(leaf_offs)
        ndim = np.where(total > 0, depth, 0)
        head = [
            big_endian(ndim, ">i4"),
            big_endian(has_null.astype(np.int32), ">i4"),
            big_endian(np.full(n, elem_oid), ">u4"),
        ]
        for size in dims:
            head += [big_endian(size, ">i4"), big_endian(np.ones(n), ">i4")]
        header = cells.ragged(np.hstack(head), 12 + ndim * 8, None)
        return cells.with_validity(concat([header, body], n), mask)

    return encode


def _record(fields: list[tuple[Column, int]]) -> Column:
    """record_send: field count, then (OID, length, bytes) per field."""

    def encode(arr: pa.Array) -> Cells:
        n = len(arr)
        pieces: list[Any] = [struct.pack("!i", len(fields))]
        for child, (enc, oid) in zip(arr.flatten(), fields, strict=True):
            pieces.append(struct.pack("!I", oid))
            pieces += prefixed(enc(child))[0]
        return cells.with_validity(concat(pieces, n), valid(arr))

    return encode


def arrow_oid(typ: pa.DataType) -> int:  # noqa: C901 - one case per Arrow type, read as a table
    """The PostgreSQL type OID of an Arrow type as DuckDB produces it (see types.oid_for)."""
    if isinstance(typ, pa.BaseExtensionType):
        name = getattr(typ, "type_name", None) or typ.extension_name
        return {
            "hugeint": t.NUMERIC,
            "uhugeint": t.NUMERIC,
            "bignum": t.NUMERIC,
            "varint": t.NUMERIC,
            "time_tz": t.TIMETZ,
            "bit": t.VARBIT,
            "arrow.uuid": t.UUID,
            "arrow.json": t.JSON,
            "arrow.bool8": t.BOOL,
        }.get(name, arrow_oid(typ.storage_type))
    if pa.types.is_boolean(typ):
        return t.BOOL
    if pa.types.is_integer(typ):
        # an unsigned type needs the next wider signed one: UTINYINT int2, UBIGINT numeric
        width = typ.bit_width * (1 if pa.types.is_signed_integer(typ) else 2)
        return {8: t.INT2, 16: t.INT2, 32: t.INT4, 64: t.INT8}.get(width, t.NUMERIC)
    if pa.types.is_float32(typ):
        return t.FLOAT4
    if pa.types.is_floating(typ):
        return t.FLOAT8
    if pa.types.is_decimal(typ):
        return t.NUMERIC
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_binary_view(typ):
        return t.BYTEA
    if pa.types.is_date32(typ):
        return t.DATE
    if pa.types.is_time(typ):
        return t.TIME
    if pa.types.is_timestamp(typ):
        return t.TIMESTAMPTZ if typ.tz is not None else t.TIMESTAMP
    if typ == pa.month_day_nano_interval():
        return t.INTERVAL
    if pa.types.is_dictionary(typ):
        return arrow_oid(typ.value_type)
    if pa.types.is_map(typ):
        return t.JSON
    if cells.is_list(typ):
        inner = arrow_oid(typ.value_type)
        return inner if inner in t.ELEMENT_OF else t.ARRAY_OF.get(inner, t.ARRAY_OF[t.TEXT])
    if pa.types.is_struct(typ):
        return t.RECORD
    return t.TEXT


def column(typ: pa.DataType, oid: int) -> Column:  # noqa: C901 - one case per Arrow type
    """The binary encoder for a column of Arrow type ``typ`` announced as ``oid``."""
    if isinstance(typ, pa.BaseExtensionType) and typ.extension_name == "arrow.bool8":
        return lambda arr: _bool(text_out.bool8(arr))
    if isinstance(typ, pa.BaseExtensionType) and typ.extension_name == "arrow.json":
        inner = column(typ.storage_type, oid)
        return lambda arr: inner(arr.storage)
    if oid == t.BOOL and pa.types.is_boolean(typ):
        return _bool
    if oid in (t.INT2, t.INT4, t.INT8, t.OID) and pa.types.is_integer(typ):
        dtype, source = {
            t.INT2: (">i2", pa.int16()),
            t.INT4: (">i4", pa.int32()),
            t.INT8: (">i8", pa.int64()),
            t.OID: (">u4", pa.uint32()),
        }[oid]
        return _fixed(dtype, None if typ == source else source)
    if oid in (t.FLOAT4, t.FLOAT8) and pa.types.is_floating(typ):
        return _fixed(
            ">f4" if oid == t.FLOAT4 else ">f8", pa.float32() if oid == t.FLOAT4 else pa.float64()
        )
    if oid == t.NUMERIC:
        return _numeric_column(typ)
    if oid == t.BYTEA and (pa.types.is_binary(typ) or pa.types.is_large_binary(typ)):
        return cells.as_binary
    if oid == t.DATE and pa.types.is_date32(typ):
        return _date
    if oid == t.TIME and pa.types.is_time(typ):
        return _time
    if oid == t.TIMETZ:
        return _timetz
    if oid in (t.TIMESTAMP, t.TIMESTAMPTZ) and pa.types.is_timestamp(typ):
        return _timestamp
    if oid == t.INTERVAL and typ == pa.month_day_nano_interval():
        return _interval
    if oid == t.UUID:
        return _uuid
    if oid == t.VARBIT:
        return _varbit
    if oid == t.JSONB:
        return _jsonb(typ)
    if oid in t.ELEMENT_OF and cells.is_list(typ):
        depth, leaf = 0, typ
        while cells.is_list(leaf):
            depth, leaf = depth + 1, leaf.value_type
        elem_oid = arrow_oid(leaf)
        return _array(column(leaf, elem_oid), elem_oid, depth)
    if oid == t.RECORD and pa.types.is_struct(typ):
        subs = [typ.field(i).type for i in range(typ.num_fields)]
        return _record([(column(s, arrow_oid(s)), arrow_oid(s)) for s in subs])
    if pa.types.is_dictionary(typ):
        inner = column(typ.value_type, oid)
        return lambda arr: inner(arr.dictionary_decode())
    return _text(typ)  # text-like types (text, varchar, json, enum, map as json): the text
