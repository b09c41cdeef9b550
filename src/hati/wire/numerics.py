"""How PostgreSQL prints the numerics hati keeps in DuckDB's fixed-scale DECIMALs.

A bare ``numeric`` is ``DECIMAL(38,11)`` (``BARE``) and prints without trailing zeros;
a numeric quotient or average is ``DECIMAL(38,20)`` (``QUOTIENT``), rounded where
PostgreSQL rounds it, and prints with the scale PostgreSQL's division gives it (see
hati/pg/numeric.py). A variance (``VARIANCE``) and a standard deviation (``STDDEV``) of
integers or numerics print with the scale of the quotient they come from.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BARE = (38, 11)  # the DuckDB DECIMAL a bare numeric is (a scale few declare)
QUOTIENT = (38, 20)  # the DuckDB DECIMAL numeric quotients (and averages) are
VARIANCE = (37, 20)  # variance / var_samp / var_pop of integers and numerics
STDDEV = (36, 20)  # stddev / stddev_samp / stddev_pop of integers and numerics

MIN_SIG_DIGITS = 16  # NUMERIC_MIN_SIG_DIGITS
CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP)


def weight_first(v: decimal.Decimal) -> tuple[int, int]:
    """(weight, first digit) of ``v`` in numeric's base-10000 digits; (0, 0) for zero."""
    if not v:
        return 0, 0
    v = abs(v)
    exp = v.adjusted()  # 10 ** exp <= v < 10 ** (exp + 1)
    weight = exp // 4
    first = int(v.scaleb(-4 * weight, CONTEXT).to_integral_value(decimal.ROUND_FLOOR))
    return weight, first


def dscale(v: decimal.Decimal) -> int:
    """The scale ``v`` shows (its digits after the point without trailing zeros)."""
    exp = v.normalize(CONTEXT).as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def display_scale(v: decimal.Decimal) -> int:
    """The scale PostgreSQL shows a quotient ``v`` with: what select_div_scale gives
    the quotient of ``v`` by 1 (its own digits, or 16 significant ones at least)."""
    return _quotient_scale(v, own=True)


def _quotient_scale(v: decimal.Decimal, own: bool) -> int:
    w, first = weight_first(v)
    shown = MIN_SIG_DIGITS - 4 * w if v else MIN_SIG_DIGITS + 4
    if first == 1 and abs(v) == decimal.Decimal(1).scaleb(4 * w):
        # a quotient exactly 1 (x 10000^w) came from operands with equal first digits,
        # where select_div_scale counts one base-10000 digit more
        shown += 4
    return min(max(shown, dscale(v) if own else 0, 0), QUOTIENT[1])


def quotient_text(v: decimal.Decimal) -> str:
    scale = display_scale(v)
    return format(v.quantize(decimal.Decimal(1).scaleb(-scale), context=CONTEXT), "f")


def variance_text(v: decimal.Decimal) -> str:
    """A variance shows the scale of its quotient; a zero numerator is a plain 0."""
    return "0" if not v else quotient_text(v)


def stddev_text(v: decimal.Decimal) -> str:
    """A standard deviation shows the scale of the variance it is the root of."""
    if not v:
        return "0"
    scale = _quotient_scale(CONTEXT.multiply(v, v), own=False)
    return format(v.quantize(decimal.Decimal(1).scaleb(-scale), context=CONTEXT), "f")


def bare_text(v: decimal.Decimal) -> str:
    """A bare numeric's value without its trailing zeros (2.5000000000 is 2.5)."""
    return format(v.quantize(decimal.Decimal(1).scaleb(-dscale(v)), context=CONTEXT), "f")


def literal(text: str) -> tuple[str, int, int] | None:
    """A numeric constant written with an exponent (``1.0e-2``) as PostgreSQL reads it:
    (its digits, precision, scale) — 0.010, the scale its digits give — or None when it
    needs more than DuckDB's 38 digits."""
    try:
        d = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    exp = d.as_tuple().exponent
    if not isinstance(exp, int) or not d.is_finite():
        return None
    scale = max(0, -exp)
    if max(d.adjusted() + 1, 0) + scale > 38:
        return None
    digits = format(d.quantize(decimal.Decimal(1).scaleb(-scale), context=CONTEXT), "f")
    whole = len(digits.lstrip("-").split(".")[0].lstrip("0"))
    if whole + scale > 38:
        return None
    return digits, max(whole + scale, 1), scale


def literal_sql(text: str) -> str | None:
    """``literal`` as a DuckDB cast (DuckDB reads ``1.0e-2`` as a double)."""
    got = literal(text)
    return None if got is None else f"CAST('{got[0]}' AS DECIMAL({got[1]},{got[2]}))"


# numeric's NaN and ±Infinity, which DuckDB's DECIMAL has not: a 38-digit DECIMAL keeps
# them as its outermost values (hati/pg/numspecials.py), which sort and compare as
# PostgreSQL's do: -Infinity below every number, Infinity above, NaN above Infinity and
# equal to itself.
# Only where a column of that scale stored one: elsewhere those values are numbers.
WIDE = 38
SPECIALS = ("NaN", "Infinity", "-Infinity")
STORED_SCALES: set[int] = set()  # scales of the DECIMAL(38, s) columns that stored one
_UNSCALED = {"NaN": 10**WIDE - 1, "Infinity": 10**WIDE - 2, "-Infinity": -(10**WIDE - 2)}


_SPELLED = {
    "nan": "NaN",
    "inf": "Infinity",
    "+inf": "Infinity",
    "infinity": "Infinity",
    "+infinity": "Infinity",
    "-inf": "-Infinity",
    "-infinity": "-Infinity",
}


def special_kind(text: str) -> str | None:
    """Which special value ``text`` spells as numeric input (None: a number or junk)."""
    return _SPELLED.get(text.strip().lower()) if len(text) < 40 else None


def special_value(kind: str, scale: int) -> decimal.Decimal:
    """The DECIMAL(38, scale) value that stands for ``kind`` (one of SPECIALS)."""
    return decimal.Decimal(_UNSCALED[kind]).scaleb(-scale, CONTEXT)


def special_digits(kind: str, scale: int) -> str:
    """``special_value`` as DuckDB prints a DECIMAL(38, scale)."""
    return format(special_value(kind, scale), "f")


def special_of(v: decimal.Decimal, scale: int) -> str | None:
    """Which special value ``v`` (a DECIMAL(38, scale)) stands for, if any."""
    if special_value("-Infinity", scale) < v < special_value("Infinity", scale):
        return None
    unscaled = int(v.scaleb(scale, CONTEXT))
    return next((k for k, u in _UNSCALED.items() if u == unscaled), None)


def special_mask(arr: pa.Array) -> np.ndarray | None:
    """Where a DECIMAL(38, s) column holds a special value; None when it holds none (or
    is narrower, or no column of its scale stored one)."""
    t = arr.type
    if t.precision != WIDE or t.scale not in STORED_SCALES:
        return None
    low = pa.scalar(special_value("-Infinity", t.scale), t)
    high = pa.scalar(special_value("Infinity", t.scale), t)
    hit = pc.fill_null(pc.or_(pc.less_equal(arr, low), pc.greater_equal(arr, high)), False)
    mask = np.asarray(hit)
    return mask if mask.any() else None


def with_specials(text: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    """The text encoder ``text`` of a DECIMAL(38, s) column, showing the special values."""

    def column(arr: pa.Array) -> pa.Array:
        out = text(arr)
        mask = special_mask(arr)
        if mask is None:
            return out
        scale, values = arr.type.scale, arr.to_pylist()
        shown = [special_of(values[i], scale) or str(values[i]) for i in np.flatnonzero(mask)]
        return pc.replace_with_mask(out, pa.array(mask), pa.array(shown, pa.string()))

    return column
