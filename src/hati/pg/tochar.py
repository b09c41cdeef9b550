"""to_char: PostgreSQL's formatting of dates, timestamps and numbers as text.

Date and time patterns (``YYYY``, ``MM``, ``Mon``, ``Month``, ``DD``, ``Day``, ``HH24``,
``MI``, ``SS``, ``MS``, ``US``, ``AM``, ``Q``, ``WW``, ``IW``, ``DDD``, ``J``, ``RM``, ...)
with the ``FM`` prefix (no padding), the ``TH`` suffix (ordinal), quoted text and
backslash escapes, as ``formatting.c`` reads them; names are padded to nine characters
unless ``FM``. Numbers: ``9``, ``0``, ``.``/``D``, ``,``/``G``, ``S``, ``MI``, ``PR``,
``FM`` and literal text; other number patterns are refused (0A000), never guessed.
Registered with DuckDB by :func:`register` (``translate/strings.py`` calls it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from duckdb.sqltypes import TIMESTAMP, VARCHAR

from hati.errors import FeatureNotSupported
from hati.pg import todate

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]

# longest first, as formatting.c matches them
_PATTERNS = sorted(
    [
        "HH24", "HH12", "HH", "MI", "SSSSS", "SSSS", "SS", "MS", "US",
        "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "ff1", "ff2", "ff3", "ff4", "ff5", "ff6",
        "AM", "am", "PM", "pm", "A.M.", "a.m.", "P.M.", "p.m.",
        "Y,YYY", "YYYY", "YYY", "YY", "Y", "IYYY", "IYY", "IY", "I",
        "BC", "bc", "AD", "ad", "B.C.", "b.c.", "A.D.", "a.d.",
        "MONTH", "Month", "month", "MON", "Mon", "mon", "MM",
        "DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "IDDD", "DD", "D", "ID",
        "WW", "IW", "W", "CC", "J", "Q", "RM", "rm", "TZ", "tz", "OF",
    ],
    key=len,
    reverse=True,
)  # fmt: skip


def _ordinal(n: int, upper: bool) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return suffix.upper() if upper else suffix


def _cased(name: str, pattern: str) -> str:
    if pattern.isupper():
        return name.upper()
    if pattern.islower():
        return name.lower()
    return name


def _field(p: str, t: dt.datetime, fm: bool, year: int) -> tuple[str, int | None]:  # noqa: C901 - one case per pattern
    """The text of one pattern, and its number when TH may follow. ``year`` is the
    astronomical year (0 is 1 BC); ``t`` a day of the same calendar in the years 2000 to
    2399 where it is BC."""
    shift = year - t.year  # whole 400-year cycles
    shown = year if year > 0 else 1 - year

    def num(v: int, width: int) -> tuple[str, int]:
        return (str(v) if fm else f"{v:0{width + (v < 0)}d}"), v

    iso_year, iso_week, iso_day = t.isocalendar()
    iso_year += shift
    iso_year = iso_year if iso_year > 0 else 1 - iso_year
    hour12 = t.hour % 12 or 12
    if p == "HH24":
        return num(t.hour, 2)
    if p in ("HH12", "HH"):
        return num(hour12, 2)
    if p == "MI":
        return num(t.minute, 2)
    if p == "SS":
        return num(t.second, 2)
    if p in ("SSSS", "SSSSS"):
        return num(t.hour * 3600 + t.minute * 60 + t.second, 0)
    if p == "MS":
        return num(t.microsecond // 1000, 3)
    if p == "US":
        return num(t.microsecond, 6)
    if p.upper().startswith("FF"):
        k = int(p[2])
        return f"{t.microsecond:06d}"[:k], None
    if p.replace(".", "").lower() in ("am", "pm"):
        word = "pm" if t.hour >= 12 else "am"
        if "." in p:
            word = word[0] + "." + word[1] + "."
        return (word.upper() if p[0].isupper() else word), None
    if p.replace(".", "").lower() in ("bc", "ad"):
        word = "ad" if year > 0 else "bc"
        if "." in p:
            word = word[0] + "." + word[1] + "."
        return (word.upper() if p[0].isupper() else word), None
    if p == "Y,YYY":
        return f"{shown // 1000},{shown % 1000:03d}", shown
    if p in ("YYYY", "YYY", "YY", "Y"):
        k = len(p)
        v = shown % (10**k) if k < 4 else shown
        return num(v, k)
    if p in ("IYYY", "IYY", "IY", "I"):
        k = len(p)
        v = iso_year % (10**k) if k < 4 else iso_year
        return num(v, k)
    if p.upper() == "MONTH":
        name = _cased(_MONTHS[t.month - 1], p)
        return (name if fm else name.ljust(9)), None
    if p.upper() == "MON":
        return _cased(_MONTHS[t.month - 1][:3], p), None
    if p == "MM":
        return num(t.month, 2)
    if p.upper() == "DAY":
        name = _cased(_DAYS[t.weekday()], p)
        return (name if fm else name.ljust(9)), None
    if p.upper() == "DY":
        return _cased(_DAYS[t.weekday()][:3], p), None
    if p == "DDD":
        return num(t.timetuple().tm_yday, 3)
    if p == "IDDD":
        return num((iso_week - 1) * 7 + iso_day, 3)
    if p == "DD":
        return num(t.day, 2)
    if p == "D":
        return num(t.isoweekday() % 7 + 1, 1)
    if p == "ID":
        return num(iso_day, 1)
    if p == "WW":
        return num((t.timetuple().tm_yday - 1) // 7 + 1, 2)
    if p == "IW":
        return num(iso_week, 2)
    if p == "W":
        return num((t.day - 1) // 7 + 1, 1)
    if p == "CC":
        return num((year - 1) // 100 + 1 if year > 0 else -(-year // 100) - 1, 2)
    if p == "J":
        return num(t.toordinal() + 1721425 + shift // 400 * 146097, 0)
    if p == "Q":
        return num((t.month - 1) // 3 + 1, 1)
    if p in ("RM", "rm"):
        r = _ROMAN[t.month - 1]
        r = r if p == "RM" else r.lower()
        return (r if fm else r.ljust(4)), None
    return "", None  # TZ, tz, OF: a timestamp without time zone has none


def format_timestamp(t: dt.datetime, fmt: str, year: int | None = None) -> str:
    return _format(fmt, lambda p, fm: _field(p, t, fm, t.year if year is None else year))


@dataclass
class _Span:
    """An interval's fields as PostgreSQL's interval2tm gives them (all of one sign)."""

    year: int = 0
    month: int = 0
    day: int = 0
    hour: int = 0
    minute: int = 0
    second: int = 0
    micro: int = 0


_SPAN_PART = re.compile(r"(-?\d+) (year|month|day)s?")
_SPAN_TIME = re.compile(r"(-?)(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?")


def _span(text: str) -> _Span:
    """The fields of DuckDB's text of an interval (``1 year 2 days -03:04:05.5``)."""
    span = _Span()
    for word in re.finditer(r"-?\d+ \w+|-?\d+:\d\d:\d\d(?:\.\d+)?", text):
        part, clock = _SPAN_PART.fullmatch(word.group()), _SPAN_TIME.fullmatch(word.group())
        if part is not None:
            months = int(part.group(1)) * (12 if part.group(2) == "year" else 1)
            if part.group(2) == "day":
                span.day = int(part.group(1))
            else:
                span.month += months
        elif clock is not None:
            sign = -1 if clock.group(1) else 1
            span.hour, span.minute, span.second = (sign * int(clock.group(k)) for k in (2, 3, 4))
            span.micro = sign * int((clock.group(5) or "").ljust(6, "0"))
    total = span.month
    span.year, span.month = int(total / 12), total - int(total / 12) * 12  # C's division
    return span


_ROMAN_REVERSED = list(reversed(_ROMAN))  # XII first, as formatting.c keeps them


def _span_field(p: str, s: _Span, fm: bool) -> tuple[str, int | None]:  # noqa: C901 - one case per pattern
    """One pattern of an interval's to_char (formatting.c with is_interval)."""

    def num(v: int, width: int) -> tuple[str, int]:
        return (str(v) if fm else f"{v:0{width + (v < 0)}d}"), v

    if p == "HH24":
        return num(s.hour, 2)
    if p in ("HH12", "HH"):
        return num(s.hour % 12 or 12, 2)
    if p == "MI":
        return num(s.minute, 2)
    if p == "SS":
        return num(s.second, 2)
    if p == "MS":
        return num(int(s.micro / 1000), 3)
    if p == "US":
        return num(s.micro, 6)
    if p in ("YYYY", "YYY", "YY", "Y"):
        k = len(p)
        return num(s.year % (10**k) if k < 4 else s.year, k)
    if p == "MM":
        return num(s.month, 2)
    if p == "DD":  # its width counts the sign
        return (str(s.day) if fm else f"{s.day:02d}"), s.day
    if p in ("RM", "rm"):
        if not s.month and not s.year:
            return "", None
        if s.month == 0:
            at = 0 if s.year >= 0 else 11
        else:
            at = -(s.month + 1) if s.month < 0 else 12 - s.month
        r = _ROMAN_REVERSED[at] if p == "RM" else _ROMAN_REVERSED[at].lower()
        return (r if fm else r.ljust(4)), None
    raise FeatureNotSupported(f'to_char pattern "{p}" of an interval is not supported')


def _format(fmt: str, field: Callable[[str, bool], tuple[str, int | None]]) -> str:
    """formatting.c's walk over a pattern: quoted text, escapes, FM, TH suffixes."""
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        fm = False
        if fmt.startswith("FM", i):
            fm, i = True, i + 2
        if fmt.startswith("FX", i):
            i += 2
            continue
        if i < n and fmt[i] == '"':
            j = i + 1
            while j < n and fmt[j] != '"':
                if fmt[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(fmt[j])
                j += 1
            i = j + 1
            continue
        if i < n and fmt[i] == "\\" and i + 1 < n:
            out.append(fmt[i + 1])
            i += 2
            continue
        pattern = next((p for p in _PATTERNS if fmt.startswith(p, i)), None)
        if pattern is None:
            if i < n:
                out.append(fmt[i])
            i += 1
            continue
        i += len(pattern)
        text, value = field(pattern, fm)
        for suffix in ("TH", "th"):
            if fmt.startswith(suffix, i) and value is not None:
                text += _ordinal(value, suffix == "TH")
                i += 2
                break
        out.append(text)
    return "".join(out)


def _number_pattern(fmt: str) -> tuple[bool, str]:
    """FM and the pattern without it; refuses what this module does not implement."""
    fm = fmt.startswith("FM")
    body = fmt[2:] if fm else fmt
    for ch in body:
        if ch not in "90.,DGS" and not ch.isspace():
            if body.endswith(("MI", "PR")) and ch in "MIPR":
                continue
            raise FeatureNotSupported(
                f'to_char number pattern "{fmt}" is not supported',
                hint="Use the patterns 9, 0, ., D, ',', G, S, MI, PR and FM, or format "
                "the number with round() and ||.",
            )
    return fm, body


def format_number(x: float | Decimal, fmt: str) -> str:  # noqa: C901 - NUM_processor's cases
    """to_char(number, '9,999.99') and its kin."""
    fm, body = _number_pattern(fmt)
    suffix = ""
    if body.endswith(("MI", "PR")):
        suffix, body = body[-2:], body[:-2]
    sign_lead = body.startswith("S")
    if sign_lead:
        body = body[1:]
    point = next((k for k, c in enumerate(body) if c in ".D"), len(body))
    int_fmt, frac_fmt = body[:point], body[point + 1 :]
    frac_digits = sum(c in "90" for c in frac_fmt)
    value = Decimal(str(x)) if isinstance(x, float) else Decimal(x)
    neg = value < 0
    q = abs(value).quantize(Decimal(1).scaleb(-frac_digits), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{q:f}".partition(".")
    slots = sum(c in "90" for c in int_fmt)
    if whole == "0" and "0" not in int_fmt:
        whole = ""
    if len(whole) > slots:
        text = "".join("#" if c in "90" else c for c in int_fmt)
        if point < len(body):
            text += "." + "".join("#" if c in "90" else c for c in frac_fmt)
        return (" " if not sign_lead and not suffix else "") + text
    digits = whole.rjust(slots, " ")
    first_zero = int_fmt.find("0")
    zero_from = slots - sum(c in "90" for c in int_fmt[first_zero:]) if first_zero >= 0 else slots
    out, d, started = [], 0, False
    for c in int_fmt:
        if c in "90":
            ch = digits[d]
            if ch == " " and d >= zero_from:
                ch = "0"
            started = started or ch != " "
            out.append(ch)
            d += 1
        elif c in ",G":
            out.append("," if started else " ")
        else:
            out.append(c)
    text = "".join(out)
    if point < len(body):
        fd = iter(frac.ljust(frac_digits, "0"))
        text += "." + "".join(next(fd) if c in "90" else c for c in frac_fmt)
    if fm:
        text = text.lstrip()
        if "." in text:
            text = text.rstrip("0") if "0" not in frac_fmt else text
    sign = "-" if neg else ("+" if sign_lead else " ")
    if suffix == "MI":
        return text + ("-" if neg else ("" if fm else " "))
    if suffix == "PR":
        return f"<{text}>" if neg else (text if fm else f" {text} ")
    stripped = text.lstrip()
    pad = text[: len(text) - len(stripped)]
    if fm:
        return sign.strip() + stripped if neg or sign_lead else stripped
    return pad + sign + stripped


def to_char(text: str | None, type_name: str | None, fmt: str | None) -> str | None:
    """to_char of a value DuckDB printed as ``text``, its type ``type_name``."""
    if text is None or type_name is None or fmt is None:
        return None
    kind = type_name.upper()
    if kind.startswith(("TIMESTAMP", "DATE")):
        if text in ("infinity", "-infinity"):
            return None  # PostgreSQL formats no infinite timestamp
        bc = " (BC)" in text  # DuckDB's '0097-02-16 (BC) 17:32:01'
        try:
            t = dt.datetime.fromisoformat(text.replace(" (BC)", ""))
        except ValueError:
            raise FeatureNotSupported(f"to_char of {text} is not supported") from None
        if not bc:
            return format_timestamp(t, fmt)
        year = 1 - t.year
        return format_timestamp(t.replace(year=year % 400 + 2000), fmt, year)
    if kind == "INTERVAL":
        return _format(fmt, lambda p, fm: _span_field(p, _span(text), fm))
    if kind.startswith("DECIMAL") or kind in _INTEGERS or kind in ("DOUBLE", "FLOAT"):
        return format_number(Decimal(text), fmt)
    raise FeatureNotSupported(
        f"to_char of a {type_name.lower()} is not supported",
        hint="to_char formats dates, timestamps and numbers.",
    )


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER"}
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_to_char": (to_char, [VARCHAR, VARCHAR, VARCHAR], VARCHAR),
    "hati_to_timestamp": (todate.parse, [VARCHAR, VARCHAR], TIMESTAMP),
}
