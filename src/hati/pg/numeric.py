"""PostgreSQL's numeric division, where DuckDB's answers a double.

DuckDB divides DECIMALs in floating point (``10::numeric / 3`` is 3.3333333333333335);
PostgreSQL divides exactly and rounds at a scale it chooses from the operands
(``select_div_scale`` in numeric.c: at least 16 significant digits, at least either
operand's scale). Numbers in DuckDB have one scale per column, so the quotients are
stored as ``DECIMAL(38,20)`` rounded where PostgreSQL rounds them, and the text output
prints that type with the scale PostgreSQL would show (hati/wire/numerics.py).
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from typing import Any

import duckdb
from duckdb.sqltypes import BIGINT, BOOLEAN, INTEGER, VARCHAR

from hati.errors import (
    DivisionByZero,
    InvalidArgumentForLogarithm,
    InvalidArgumentForPower,
    NumericValueOutOfRange,
)
from hati.wire.numerics import (
    CONTEXT,
    MIN_SIG_DIGITS,
    QUOTIENT,
    STDDEV,
    VARIANCE,
    display_scale,
    dscale,
    weight_first,
)


def div_scale(a: decimal.Decimal, b: decimal.Decimal) -> int:
    """select_div_scale: the scale PostgreSQL rounds ``a / b`` at."""
    w1, f1 = weight_first(a)
    w2, f2 = weight_first(b)
    qweight = w1 - w2 - (1 if f1 <= f2 else 0)
    return min(max(MIN_SIG_DIGITS - 4 * qweight, dscale(a), dscale(b), 0), 1000)


def divide(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    """``a / b`` as PostgreSQL's numeric answers it (rounded half away from zero)."""
    if not b:
        raise DivisionByZero("division by zero")
    q = CONTEXT.divide(a, b)
    rscale = min(div_scale(a, b), QUOTIENT[1])
    return q.quantize(decimal.Decimal(1).scaleb(-rscale), context=CONTEXT)


_WIDE = decimal.Context(prec=120, rounding=decimal.ROUND_HALF_UP, Emax=999999, Emin=-999999)


def _rounded(v: decimal.Decimal, rscale: int) -> decimal.Decimal:
    """``v`` rounded at ``rscale`` (as far as DuckDB's DECIMAL(38,20) keeps digits)."""
    if v.adjusted() >= QUOTIENT[0] - QUOTIENT[1]:
        raise NumericValueOutOfRange("value overflows numeric format")
    return v.quantize(decimal.Decimal(1).scaleb(-min(rscale, QUOTIENT[1])), context=_WIDE)


def _ln_dweight(v: decimal.Decimal) -> int:
    """estimate_ln_dweight: the decimal weight of ln(v)."""
    if v <= 0:
        return 0
    if decimal.Decimal("0.9") <= v <= decimal.Decimal("1.1"):
        x = v - 1
        return x.adjusted() if x else 0
    w, _ = weight_first(v)
    # the first two base-10000 digits as an integer, and the decimal weight they start at
    top = int(v.scaleb(-4 * (w - 1), _WIDE).to_integral_value(decimal.ROUND_FLOOR))
    ln_v = math.log(top) + 4 * (w - 1) * math.log(10)
    return int(math.log10(abs(ln_v))) if ln_v else 0


def _min(rscale: int, *args: decimal.Decimal) -> int:
    """At least every argument's own scale, within numeric's display limits."""
    return min(max(rscale, *(dscale(a) for a in args), 0), 1000)


def _log_arg(v: decimal.Decimal) -> None:
    if v == 0:
        raise InvalidArgumentForLogarithm("cannot take logarithm of zero")
    if v < 0:
        raise InvalidArgumentForLogarithm("cannot take logarithm of a negative number")


def log(base: decimal.Decimal, num: decimal.Decimal) -> decimal.Decimal:
    """log(numeric, numeric): the logarithm of ``num`` to ``base`` (numeric.c log_var)."""
    _log_arg(base)
    _log_arg(num)
    if base == 1:
        raise DivisionByZero("division by zero")
    rscale = _min(MIN_SIG_DIGITS - (_ln_dweight(num) - _ln_dweight(base)), base, num)
    return _rounded(_WIDE.divide(num.ln(_WIDE), base.ln(_WIDE)), rscale)


def power(base: decimal.Decimal, exp: decimal.Decimal) -> decimal.Decimal:
    """numeric ^ numeric (numeric.c power_var)."""
    if base == 0 and exp < 0:
        raise InvalidArgumentForPower("zero raised to a negative power is undefined")
    integral = exp == exp.to_integral_value()
    if base < 0 and not integral:
        raise InvalidArgumentForPower(
            "a negative number raised to a non-integer power yields a complex result"
        )
    if integral and abs(exp) <= 2**31 - 1:
        rscale = _min(MIN_SIG_DIGITS, base)
        if abs(exp) * max(abs(base).adjusted() + 1, 1) > 40:
            raise NumericValueOutOfRange("value overflows numeric format")
        return _rounded(_WIDE.power(base, int(exp)), rscale)
    if base == 0:
        return decimal.Decimal(0).scaleb(-MIN_SIG_DIGITS)
    ln_num = _WIDE.multiply(base.ln(_WIDE), exp)
    val = float(ln_num) * 0.434294481903252
    if val > 40:
        raise NumericValueOutOfRange("value overflows numeric format")
    rscale = _min(MIN_SIG_DIGITS - int(val), base, exp)
    return _rounded(ln_num.exp(_WIDE), rscale)


def _variance(n: int, s: str, s2: str, sample: bool) -> tuple[decimal.Decimal, int]:
    """numeric_stddev_internal: the variance of ``n`` values whose sum is ``s`` and sum
    of squares ``s2``, rounded at the scale it has, and that scale."""
    total, squares = decimal.Decimal(s), decimal.Decimal(s2)
    num = _WIDE.subtract(_WIDE.multiply(n, squares), _WIDE.multiply(total, total))
    if num <= 0:  # a zero (or round-off negative) numerator is a plain 0
        return decimal.Decimal(0), 0
    den = decimal.Decimal(n * (n - 1) if sample else n * n)
    rscale = div_scale(num, den)
    q = _WIDE.divide(num, den).quantize(decimal.Decimal(1).scaleb(-rscale), context=_WIDE)
    return q, rscale


def _fits(v: decimal.Decimal, kind: tuple[int, int]) -> decimal.Decimal:
    if v and v.adjusted() >= kind[0] - kind[1]:
        raise NumericValueOutOfRange("value overflows numeric format")
    return v.quantize(decimal.Decimal(1).scaleb(-kind[1]), context=_WIDE)


def variance(n: int, s: str, s2: str, sample: bool) -> decimal.Decimal:
    """variance / var_samp (``sample``) / var_pop of integers or numerics."""
    return _fits(_variance(n, s, s2, sample)[0], VARIANCE)


def stddev(n: int, s: str, s2: str, sample: bool) -> decimal.Decimal:
    """stddev / stddev_samp (``sample``) / stddev_pop: the root of the rounded variance,
    rounded at the variance's scale (sqrt_var)."""
    q, rscale = _variance(n, s, s2, sample)
    root = q.sqrt(_WIDE).quantize(decimal.Decimal(1).scaleb(-rscale), context=_WIDE)
    return _fits(root, STDDEV)


_QUOTIENT_TYPE = duckdb.decimal_type(*QUOTIENT)

MAYBE_NULL: frozenset[str] = frozenset()
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_numeric_div": (divide, [_QUOTIENT_TYPE, _QUOTIENT_TYPE], _QUOTIENT_TYPE),
    "hati_numeric_log": (log, [_QUOTIENT_TYPE, _QUOTIENT_TYPE], _QUOTIENT_TYPE),
    "hati_numeric_power": (power, [_QUOTIENT_TYPE, _QUOTIENT_TYPE], _QUOTIENT_TYPE),
    "hati_numeric_shown_scale": (display_scale, [_QUOTIENT_TYPE], INTEGER),
    "hati_numeric_variance": (
        variance,
        [BIGINT, VARCHAR, VARCHAR, BOOLEAN],
        duckdb.decimal_type(*VARIANCE),
    ),
    "hati_numeric_stddev": (
        stddev,
        [BIGINT, VARCHAR, VARCHAR, BOOLEAN],
        duckdb.decimal_type(*STDDEV),
    ),
}
