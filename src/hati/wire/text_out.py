"""PostgreSQL's text output for whole Arrow columns, as PostgreSQL 15 prints each type.

:func:`column` picks, once per result column, the function that turns an Arrow array (a
column of a DuckDB result) into a binary array holding each value's text exactly as
PostgreSQL's output function writes it, nulls kept. The work is done column-wise with
pyarrow.compute and numpy; only values outside the common range (BC dates, infinities,
floats whose notation differs, 128-bit integers) take a per-value Python path.

Settings assumed are PostgreSQL's defaults: DateStyle ``ISO, MDY``, IntervalStyle
``postgres``, bytea_output ``hex`` (or ``escape``, when given); floats are shortest exact (``extra_float_digits``
1, the default, or more) or ``%.{15 + n}g`` for a setting ``n <= 0``.
Timestamps with time zone are printed in the given zone (the session's TimeZone), UTC by
default; the zone DuckDB writes into the Arrow type is not used (it is DuckDB's setting,
shared by every session of the database).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hati.wire import cells, numerics
from hati.wire.cells import concat, valid, with_validity

Column = Callable[[pa.Array], pa.Array]

_US_PER_DAY = 86_400_000_000
_DAY0 = -719162  # 0001-01-01 as days since 1970-01-01: earlier dates are BC
_DAY10K = 2932897  # 10000-01-01: later dates take the per-value path
_INT64_MAX = (1 << 63) - 1
# DuckDB's time zone offsets in a TIMETZ, as it stores them (see duckdb dtime_tz_t)
_TZ_MAX_OFFSET = 16 * 60 * 60 - 1


# ------------------------------------------------------------------ helpers


def _strings(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.string())


def _replace(arr: pa.Array, mask: np.ndarray, fix: Callable[[int], str | None]) -> pa.Array:
    """``arr`` with the values at ``mask`` replaced by ``fix(i)`` (None keeps a null)."""
    where = np.flatnonzero(mask)
    if not len(where):
        return arr
    return pc.replace_with_mask(
        cells.as_binary(arr).cast(pa.string()),
        pa.array(mask),
        _strings([fix(int(i)) for i in where]),
    )


def _ints(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _trim_fraction(arr: pa.Array, us: np.ndarray) -> pa.Array:
    """'12:00:00.500000' -> '12:00:00.5', '12:00:00.000000' -> '12:00:00'.

    ``arr`` is Arrow's text of microsecond times (six fraction digits, no nulls), ``us``
    the microseconds. When every text has the same width (years 1000 to 9999) the
    fraction is cut with numpy; otherwise with a regular expression.
    """
    offs = cells.offsets(arr)
    n = len(arr)
    width = int(offs[1] - offs[0]) if n else 0
    if n == 0 or int(offs[-1] - offs[0]) != n * width or (np.diff(offs) != width).any():
        return pc.replace_substring_regex(arr, r"\.?0+$", "")
    frac = us % 1_000_000
    zeros = sum((frac % 10**k == 0).astype(np.int64) for k in range(1, 6))
    widths = np.where(frac != 0, width - zeros, width - 7)
    matrix = cells.data(arr)[offs[0] : offs[-1]].reshape(n, width)
    return cells.ragged(matrix, widths)


def _fraction(us: int) -> str:
    """'.5' for 500000 microseconds, '' for none."""
    return f".{us:06d}".rstrip("0") if us else ""


def civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01 (proleptic Gregorian, year 0 = 1 BC)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def _date_py(days: int) -> tuple[str, bool]:
    """The date part of a day count and whether it is BC."""
    y, m, d = civil(days)
    bc = y <= 0
    return f"{(1 - y) if bc else y:04d}-{m:02d}-{d:02d}", bc


def _clock(us: int) -> str:
    secs, frac = divmod(us, 1_000_000)
    h, rem = divmod(secs, 3600)
    return f"{h:02d}:{rem // 60:02d}:{rem % 60:02d}{_fraction(frac)}"


def _timestamp_py(us: int, offset: str = "") -> str:
    days, rest = divmod(us, _US_PER_DAY)
    date, bc = _date_py(days)
    return f"{date} {_clock(rest)}{offset}" + (" BC" if bc else "")


def offset_text(seconds: int) -> str:
    """A UTC offset as PostgreSQL prints it: +00, -08, +05:30, +00:19:32."""
    sign = "-" if seconds < 0 else "+"
    h, rem = divmod(abs(seconds), 3600)
    m, s = divmod(rem, 60)
    out = f"{sign}{h:02d}"
    if m or s:
        out += f":{m:02d}"
    if s:
        out += f":{s:02d}"
    return out


def _offsets(seconds: np.ndarray) -> pa.Array | bytes:
    """Offset texts for an array of offsets in seconds (few distinct values: one text each)."""
    if not len(seconds) or seconds.min() == seconds.max():
        return offset_text(int(seconds[0]) if len(seconds) else 0).encode()
    uniq, inverse = np.unique(seconds, return_inverse=True)
    return _strings([offset_text(int(s)) for s in uniq]).take(pa.array(inverse.reshape(-1)))


# ------------------------------------------------------------------ scalars


def bool8(arr: pa.Array) -> pa.Array:
    """An arrow.bool8 column (int8 storage) as booleans."""
    return pc.not_equal(arr.storage, 0)


def _bool(arr: pa.Array) -> pa.Array:
    return pc.if_else(arr, "t", "f")


def _int(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.string())


_FLOAT_RANGE = {  # PostgreSQL prints |x| in [low, high) in fixed notation, else 1.5e+20
    pa.float64(): (np.float64(1e-4), np.float64(1e15)),
    pa.float32(): (np.float32(1e-4), np.float32(1e6)),
}


def _render(shortest: str, high_exp: int) -> str:
    d = decimal.Decimal(shortest)
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    e10 = len(digits) + exp - 1
    digs = "".join(map(str, digits)).rstrip("0") or "0"
    neg = "-" if sign else ""
    if -4 <= e10 < high_exp:
        if e10 >= 0:
            whole = digs[: e10 + 1].ljust(e10 + 1, "0")
            frac = digs[e10 + 1 :]
            return neg + whole + ("." + frac if frac else "")
        return neg + "0." + "0" * (-e10 - 1) + digs
    mant = digs[0] + ("." + digs[1:] if len(digs) > 1 else "")
    return f"{neg}{mant}e{'-' if e10 < 0 else '+'}{abs(e10):02d}"


def _open_interval_digits(x: float, single: bool, shortest: str) -> str:
    """PostgreSQL's digits for a float whose neighbours are 2 or more apart.

    PostgreSQL's Ryu is built without accepting the rounding interval's bounds: when the
    shortest decimal (what Arrow and Python print) is exactly halfway to a neighbouring
    float, PostgreSQL takes the shortest decimal strictly inside the interval instead
    (5.6597848e+07, not 5.659785e+07). Exact arithmetic on this rare path.
    """
    with np.errstate(over="ignore"):
        if single:
            f = np.float32(x)
            up, down = np.nextafter(f, np.float32("inf")), np.nextafter(f, np.float32("-inf"))
        else:
            up, down = np.nextafter(x, float("inf")), np.nextafter(x, float("-inf"))
    fx, fdown = Fraction(float(x)), Fraction(float(down))
    fup = Fraction(float(up)) if np.isfinite(up) else 2 * fx - fdown  # past the largest float
    lo, hi = (fx + fdown) / 2, (fx + fup) / 2
    candidate = Fraction(decimal.Decimal(shortest))
    if lo < candidate < hi:
        return shortest
    neg = fx < 0
    a, lo, hi = (abs(fx), -hi, -lo) if neg else (fx, lo, hi)
    e10 = len(str(int(a))) - 1  # |x| >= 2**24 here
    for k in range(1, 18):
        unit = Fraction(10) ** (e10 - k + 1)
        low = (a // unit) * unit
        inside = [c for c in (low, low + unit) if lo < c < hi]
        if inside:
            best = min(inside, key=lambda c: (abs(c - a), (c / unit) % 2))
            digits = int(best / unit)
            return f"{'-' if neg else ''}{digits}e{e10 - k + 1}"
    return shortest


def _float(arr: pa.Array) -> pa.Array:
    single = arr.type == pa.float32()
    low, high = _FLOAT_RANGE[arr.type]
    high_exp = 6 if single else 15
    x = cells.values(arr, 0.0)
    out = pc.cast(arr, pa.string())
    finite = np.isfinite(x)
    ax = np.abs(x)
    with np.errstate(invalid="ignore"):
        pg_exp = finite & (x != 0) & ((ax >= high) | (ax < low))
        spaced = finite & (ax >= (2.0**24 if single else 2.0**53))
    arrow_exp = np.asarray(pc.fill_null(pc.match_substring(out, "e"), False))
    if (pg_exp & arrow_exp).any():
        out = pc.replace_substring_regex(out, r"e([+-])(\d)$", r"e\10\2")  # 1e-05, not 1e-5
    fix_mask = (pg_exp != arrow_exp) | ~finite | spaced
    mask = valid(arr)
    if mask is not None:
        fix_mask &= mask
    texts = out.to_pylist() if fix_mask.any() else []

    def fix(i: int) -> str:
        v = float(x[i])
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        digits = texts[i]
        if spaced[i]:
            digits = _open_interval_digits(v, single, digits)
        return _render(digits, high_exp)

    return _replace(out, fix_mask, fix)


def _fixed_digits(single: bool, extra: int) -> Column:
    """Floats as PostgreSQL prints them with extra_float_digits <= 0: ``%.{n}g`` with
    n = 6 (float4) or 15 (float8) plus the setting."""
    digits = max(1, (6 if single else 15) + extra)

    def encode(arr: pa.Array) -> pa.Array:
        out: list[str | None] = []
        for v in arr.to_pylist():
            if v is None:
                out.append(None)
            elif v != v:
                out.append("NaN")
            elif v in (float("inf"), float("-inf")):
                out.append("Infinity" if v > 0 else "-Infinity")
            else:
                out.append(format(float(np.float32(v)) if single else v, f".{digits}g"))
        return _strings(out)

    return encode


def _decimal(arr: pa.Array) -> pa.Array:
    out = pc.cast(arr, pa.string())
    sci = np.asarray(pc.fill_null(pc.match_substring(out, "E"), False))
    if not sci.any():
        return out
    values = arr.to_pylist()
    return _replace(out, sci, lambda i: format(values[i], "f"))


_SHOWN = {
    numerics.BARE: numerics.bare_text,
    numerics.QUOTIENT: numerics.quotient_text,
    numerics.VARIANCE: numerics.variance_text,
    numerics.STDDEV: numerics.stddev_text,
}


def _numeric_shown(text: Callable[[decimal.Decimal], str]) -> Column:
    """A bare numeric or a quotient, printed with the scale PostgreSQL shows it with."""
    return lambda arr: _strings([None if v is None else text(v) for v in arr.to_pylist()])


def _int128(arr: pa.Array, signed: bool) -> pa.Array:
    """DuckDB HUGEINT / UHUGEINT (16 little-endian bytes each) as decimal text."""
    raw, lo, small = cells.int128(arr, signed)
    out = _ints(lo)
    mask = valid(cells.storage(arr))
    big = ~small if mask is None else (~small & mask)

    def fix(i: int) -> str:
        return str(int.from_bytes(raw[i].tobytes(), "little", signed=signed))

    return with_validity(cells.as_binary(_replace(out, big, fix)), mask)


def _bignum(arr: pa.Array) -> pa.Array:
    values = cells.storage(arr).to_pylist()
    return _strings([None if b is None else str(bignum_int(b)) for b in values])


def bignum_int(raw: bytes) -> int:
    """DuckDB's BIGNUM (VARINT) encoding: a 3-byte header with sign and length, then bytes."""
    positive = raw[0] & 0x80
    body = raw[3:]
    if not positive:
        body = bytes(b ^ 0xFF for b in body)
    v = int.from_bytes(body, "big")
    return v if positive else -v


def bit_string(raw: bytes) -> str:
    """DuckDB's BIT encoding (first byte: padding bits) as '0101'."""
    pad = raw[0]
    bits = "".join(f"{b:08b}" for b in raw[1:])
    return bits[pad:]


def _bit(arr: pa.Array) -> pa.Array:
    values = cells.storage(arr).to_pylist()
    return _strings([None if b is None else bit_string(b) for b in values])


def _bytea(arr: pa.Array) -> pa.Array:
    mask = valid(arr)
    return with_validity(concat([b"\\x", cells.hex_bytes(arr)], len(arr)), mask)


def _uuid(arr: pa.Array) -> pa.Array:
    raw = cells.fixed_data(arr, 16)
    hexed = cells.HEX[raw].reshape(len(raw), 32)
    dash = np.full((len(raw), 1), ord("-"), np.uint8)
    mat = np.hstack(
        [
            hexed[:, :8],
            dash,
            hexed[:, 8:12],
            dash,
            hexed[:, 12:16],
            dash,
            hexed[:, 16:20],
            dash,
            hexed[:, 20:],
        ]
    )
    return cells.fixed_array(mat, valid(cells.storage(arr)))


def _date(arr: pa.Array) -> pa.Array:
    days = cells.values(arr.cast(pa.int32()), 0).astype(np.int64)
    out = pc.cast(arr, pa.string())
    odd = (days < _DAY0) | (days >= _DAY10K)
    mask = valid(arr)
    if mask is not None:
        odd &= mask

    def fix(i: int) -> str:
        d = int(days[i])
        if d == (1 << 31) - 1:
            return "infinity"
        if d == -((1 << 31) - 1):
            return "-infinity"
        date, bc = _date_py(d)
        return date + (" BC" if bc else "")

    return _replace(out, odd, fix)


def round_ns(ns: np.ndarray) -> np.ndarray:
    """Nanoseconds to microseconds, rounding half to even as PostgreSQL's input does."""
    q, r = np.divmod(ns, 1000)
    return q + ((r > 500) | ((r == 500) & (q % 2 == 1)))


def micros(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (any unit) as int64 microseconds, floored, and a mask of +-infinity."""
    unit = arr.type.unit
    raw = cells.values(arr.cast(pa.int64()), 0)
    inf = np.abs(raw) == _INT64_MAX
    if unit == "s":
        us = raw * 1_000_000
    elif unit == "ms":
        us = raw * 1_000
    elif unit == "ns":
        us = round_ns(raw)
    else:
        us = raw
    return np.where(inf, raw, us), inf


def _timestamp_text(
    us: np.ndarray, inf: np.ndarray, mask: np.ndarray | None, off: np.ndarray | None = None
) -> pa.Array:
    """Text of microsecond timestamps; with ``off`` (a zone's offsets in seconds) the local
    time and the offset. BC, years past 9999 and infinities are fixed in Python."""
    safe = np.where(inf, 0, us)
    local = safe if off is None else safe + off * 1_000_000
    out = _trim_fraction(pc.cast(pa.array(local, pa.timestamp("us")), pa.string()), local)
    if off is not None:
        out = concat([out, _offsets(off)], len(us))
    odd = inf | (local < _DAY0 * _US_PER_DAY) | (local >= _DAY10K * _US_PER_DAY)
    if mask is not None:
        odd &= mask

    def fix(i: int) -> str:
        if inf[i]:
            return "infinity" if us[i] > 0 else "-infinity"
        return _timestamp_py(int(local[i]), "" if off is None else offset_text(int(off[i])))

    return with_validity(cells.as_binary(_replace(out, odd, fix)), mask)


def _timestamp(arr: pa.Array) -> pa.Array:
    us, inf = micros(arr)
    return _timestamp_text(us, inf, valid(arr))


_UTC = {"UTC", "ETC/UTC", "Z", "GMT", "ETC/GMT", "UCT", "ZULU", "+00", "+00:00", "00:00"}


def usable_zone(zone: str) -> str:
    """``zone`` if Arrow knows it (IANA names, +05:30 offsets); else UTC."""
    if zone.upper() in _UTC:
        return "UTC"
    try:
        pc.local_timestamp(pa.array([0], pa.timestamp("us", tz=zone)))
    except (pa.ArrowException, ValueError):
        return "UTC"
    return zone


def _timestamptz(tz: str) -> Column:
    def encode(arr: pa.Array) -> pa.Array:
        us, inf = micros(arr)
        if tz == "UTC":
            off = np.zeros(len(us), np.int64)
        else:
            safe = np.where(inf, 0, us)
            local = pc.local_timestamp(pa.array(safe, pa.timestamp("us", tz=tz)))
            off = (cells.values(local.cast(pa.int64()), 0) - safe) // 1_000_000
        return _timestamp_text(us, inf, valid(arr), off)

    return encode


def _time(arr: pa.Array) -> pa.Array:
    us = cells.values(arr.cast(pa.int64()), 0)
    day = us >= _US_PER_DAY
    safe = np.where(day, 0, us)
    out = _trim_fraction(pc.cast(pa.array(safe, pa.time64("us")), pa.string()), safe)
    out = _replace(out, day, lambda i: _clock(int(us[i])))
    return with_validity(cells.as_binary(out), valid(arr))


def timetz_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """DuckDB TIMETZ (8 little-endian bytes: micros << 24 | encoded offset): micros, offset s."""
    bits = cells.fixed_data(arr, 8).view("<u8").reshape(-1)
    micros = (bits >> np.uint64(24)).astype(np.int64)
    offset = _TZ_MAX_OFFSET - (bits & np.uint64(0xFFFFFF)).astype(np.int64)
    return micros, offset


def _timetz(arr: pa.Array) -> pa.Array:
    if not isinstance(arr, pa.ExtensionArray):  # without lossless Arrow output: no offset
        return _time(arr)
    micros, offset = timetz_parts(arr)
    mask = valid(arr.storage)
    clock = _time(pa.array(micros, pa.time64("us")))
    return with_validity(concat([clock, _offsets(offset)], len(micros)), mask)


_MONTH_DAY_NANO = np.dtype([("m", "<i4"), ("d", "<i4"), ("ns", "<i8")])


def interval_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Months, days and microseconds (int64) of a month_day_nano interval array."""
    rec = np.frombuffer(arr.buffers()[1], _MONTH_DAY_NANO)[arr.offset : arr.offset + len(arr)]
    ns = rec["ns"]
    return rec["m"].astype(np.int64), rec["d"].astype(np.int64), np.sign(ns) * (np.abs(ns) // 1000)


def _interval(arr: pa.Array) -> pa.Array:
    """IntervalStyle postgres: '1 year 2 mons -3 days +04:05:06.5', '00:00:00'."""
    n = len(arr)
    mask = valid(arr)
    months, days, time = interval_parts(arr)
    year = np.sign(months) * (np.abs(months) // 12)
    fields = [(year, "year"), (months - year * 12, "mon"), (days, "day")]
    is_zero = np.ones(n, bool)
    is_before = np.zeros(n, bool)
    pieces: list[Any] = []
    for value, unit in fields:
        nz = value != 0
        if not nz.any():
            continue
        sep = np.where(nz & ~is_zero, " ", "")
        plus = np.where(nz & is_before & (value > 0), "+", "")
        number = pc.if_else(pa.array(nz), _ints(value), "")
        suffix = np.where(nz, np.where(value != 1, f" {unit}s", f" {unit}"), "")
        pieces += [pa.array(sep), pa.array(plus), number, pa.array(suffix)]
        is_before = np.where(nz, value < 0, is_before)
        is_zero &= ~nz
    show = is_zero | (time != 0)
    a = np.abs(time)
    hours = a // 3_600_000_000
    minutes = a // 60_000_000 % 60
    seconds = a // 1_000_000 % 60
    frac = a % 1_000_000
    sign = np.where(time < 0, "-", np.where(is_before, "+", ""))
    lead = np.where(is_zero, "", " ")
    two = lambda v: pc.utf8_lpad(_ints(v), width=2, padding="0")  # noqa: E731
    clock = concat(
        [pa.array(lead), pa.array(sign), two(hours), b":", two(minutes), b":", two(seconds)], n
    )
    clock = pc.if_else(pa.array(show), clock.cast(pa.string()), "")
    pieces.append(clock)
    if frac.any():
        pieces.append(_strings([_fraction(u) for u in frac.tolist()]))
    return with_validity(concat(pieces, n), mask)


# ------------------------------------------------------------------ nested


_ARRAY_QUOTE = r'[{}",\\ \t\n\r\x0b\x0c]|^$|^[Nn][Uu][Ll][Ll]$'
_RECORD_QUOTE = r'[(),"\\ \t\n\r\x0b\x0c]|^$'


def _quoted(arr: pa.Array, pattern: str, double: bool) -> pa.Array:
    """Values needing quotes (``pattern``) in double quotes, with backslash or doubled escapes."""
    s = cells.as_binary(arr).cast(pa.string())
    need = pc.match_substring_regex(s, pattern)
    if not np.asarray(pc.fill_null(need, False)).any():
        return s
    if double:
        esc = pc.replace_substring_regex(s, r'(["\\])', r"\1\1")
    else:
        esc = pc.replace_substring_regex(s, r'(["\\])', r"\\\1")
    wrapped = pc.binary_join_element_wise('"', esc, '"', "")
    return pc.if_else(need, wrapped, s)


def _list(element: Column, nested: bool) -> Column:
    def encode(arr: pa.Array) -> pa.Array:
        n = len(arr)
        mask = valid(arr)
        offs = cells.list_offsets(arr)
        values = arr.values.slice(int(offs[0]), int(offs[-1] - offs[0]))
        items = element(values)
        if not nested:
            items = _quoted(items, _ARRAY_QUOTE, double=False)
        items = pc.fill_null(items.cast(pa.string()), "NULL")
        lists = pa.ListArray.from_arrays(pa.array(offs - offs[0], pa.int32()), items)
        body = pc.binary_join(lists, ",")
        return with_validity(concat([b"{", body, b"}"], n), mask)

    return encode


def _record(fields: list[Column]) -> Column:
    def encode(arr: pa.Array) -> pa.Array:
        n = len(arr)
        mask = valid(arr)
        pieces: list[Any] = [b"("]
        for i, (child, enc) in enumerate(zip(arr.flatten(), fields, strict=True)):
            if i:
                pieces.append(b",")
            pieces.append(_quoted(enc(child), _RECORD_QUOTE, double=True))
        pieces.append(b")")
        return with_validity(concat(pieces, n), mask)

    return encode


def _json_value(v: Any) -> Any:
    if isinstance(v, list):
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return {_json_key(k): _json_value(x) for k, x in v}  # a nested MAP
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, decimal.Decimal):
        return float(v) if v != v.to_integral_value() else int(v)
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    return str(v)


def _json_key(k: Any) -> str:
    return k if isinstance(k, str) else json.dumps(_json_value(k))


def _map(arr: pa.Array) -> pa.Array:
    """MAP as the text of a JSON object (keys as text), like DuckDB's CAST(m AS JSON)."""
    out: list[str | None] = []
    for entries in arr.to_pylist():
        if entries is None:
            out.append(None)
            continue
        obj = {_json_key(k): _json_value(v) for k, v in entries}
        out.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    return _strings(out)


def _python(arr: pa.Array) -> pa.Array:
    """Per value through the tuple-path encoder (UNION and anything unforeseen)."""
    from hati.wire.types import text_value

    return pa.array([None if v is None else text_value(v) for v in arr.to_pylist()], pa.binary())


def _dictionary(value: Column) -> Column:
    return lambda arr: value(arr.dictionary_decode())


def _storage(value: Column) -> Column:
    return lambda arr: value(cells.storage(arr))


def _null(arr: pa.Array) -> pa.Array:
    return pa.nulls(len(arr), pa.binary())


def _same(arr: pa.Array) -> pa.Array:
    return arr


def column(  # noqa: C901 - one case per Arrow type
    t: pa.DataType, zone: str | None = None, float_digits: int = 1, escape: bool = False
) -> Column:
    """The text encoder for an Arrow column type (chosen once per result column);
    ``float_digits``: the session's extra_float_digits; ``escape``: bytea_output escape."""
    if isinstance(t, pa.BaseExtensionType):
        name = getattr(t, "type_name", None) or t.extension_name
        if name in ("hugeint", "uhugeint"):
            signed = name == "hugeint"
            return lambda arr: _int128(arr, signed)
        if name == "time_tz":
            return _timetz
        if name == "bit":
            return _bit
        if name in ("bignum", "varint"):
            return _bignum
        if name == "arrow.uuid":
            return _uuid
        if name == "arrow.bool8":
            return lambda arr: _bool(bool8(arr))
        return _storage(column(t.storage_type, zone))  # arrow.json and the like: the text
    if pa.types.is_null(t):
        return _null
    if pa.types.is_boolean(t):
        return _bool
    if pa.types.is_integer(t):
        return _int
    if pa.types.is_floating(t):
        return _float if float_digits > 0 else _fixed_digits(t == pa.float32(), float_digits)
    if pa.types.is_decimal(t):
        shown = _SHOWN.get((t.precision, t.scale))
        printed = _decimal if shown is None else _numeric_shown(shown)
        return numerics.with_specials(printed) if t.precision == numerics.WIDE else printed
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return _same
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return cells.escape_bytes if escape else _bytea
    if pa.types.is_date32(t):
        return _date
    if pa.types.is_time(t):
        return _time
    if pa.types.is_timestamp(t):
        if t.tz is None:
            return _timestamp
        return _timestamptz(usable_zone(zone or "UTC"))
    if t == pa.month_day_nano_interval():
        return _interval
    if pa.types.is_dictionary(t):
        return _dictionary(column(t.value_type, zone))
    if pa.types.is_map(t):
        return _map
    if cells.is_list(t):
        return _list(column(t.value_type, zone, escape=escape), cells.is_list(t.value_type))
    if pa.types.is_struct(t):
        return _record([column(t.field(i).type, zone) for i in range(t.num_fields)])
    return _python
