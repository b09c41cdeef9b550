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
from collections.abc import Callable
from typing import Any

import duckdb
from duckdb.sqltypes import INTEGER

from hati.errors import DivisionByZero
from hati.wire.numerics import (
    CONTEXT,
    MIN_SIG_DIGITS,
    QUOTIENT,
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


_QUOTIENT_TYPE = duckdb.decimal_type(*QUOTIENT)

MAYBE_NULL: frozenset[str] = frozenset()
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_numeric_div": (divide, [_QUOTIENT_TYPE, _QUOTIENT_TYPE], _QUOTIENT_TYPE),
    "hati_numeric_shown_scale": (display_scale, [_QUOTIENT_TYPE], INTEGER),
}
