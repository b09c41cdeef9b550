"""PostgreSQL's input rules for date and timestamp literals (``date 'January 8, 1999'``).

DuckDB reads ISO dates only, and reads ``'99-01-08'`` as the year 99. PostgreSQL's
``ParseDateTime`` / ``DecodeDateTime`` take month names, BC, two-digit years, ``1/8/1999``
(fields ordered by DateStyle: MDY, DMY or YMD), ``19990108``, ``1999.008`` (day of
year) and the special words. :func:`parse` follows them (the parts hati needs: dates,
times of day, zones named or numbered, which a timestamp without time zone ignores) and
answers the fields, or raises PostgreSQL's error. Anything it does not know (Julian
days, ISO week dates, zone names with slashes) it leaves to DuckDB (:class:`Unknown`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

from hati.errors import DataException, InvalidParameter

ORDERS = ("MDY", "DMY", "YMD")

MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
DAYS = {
    "sun", "sunday", "mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday",
    "thu", "thur", "thurs", "thursday", "fri", "friday", "sat", "saturday",
}  # fmt: skip
SPECIAL = {"epoch", "infinity", "-infinity", "now", "today", "tomorrow", "yesterday"}
# zone abbreviations PostgreSQL knows by default (a timestamp without time zone ignores them)
ZONES = {
    "z", "zulu", "utc", "gmt", "ut", "pst", "pdt", "mst", "mdt", "cst", "cdt", "est",
    "edt", "ast", "adt", "hst", "akst", "akdt", "cet", "cest", "eet", "eest", "wet",
    "west", "bst", "msk", "jst", "kst", "ist", "nzst", "nzdt", "aest", "aedt",
}  # fmt: skip


class DateTimeFieldOverflow(DataException, code="22008"):
    pass


class InvalidDatetimeFormat(DataException, code="22007"):
    pass


class Unknown(Exception):
    """Input these rules do not cover: DuckDB reads it as it does."""


@dataclass
class Fields:
    """What a literal says: a date (year astronomical: 0 is 1 BC), a time, or a word."""

    year: int = 0
    month: int = 0
    day: int = 0
    hour: int = 0
    minute: int = 0
    second: int = 0
    micro: int = 0
    special: str | None = None


_TIME = re.compile(r"(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?$")
_NUMERIC_ZONE = re.compile(r"[+-]\d{1,2}(?::?\d{2})?$")


def _tokens(text: str) -> list[tuple[str, str]]:  # noqa: C901 - ParseDateTime's cases
    """(kind, text) fields as ParseDateTime cuts them: number, date, time, string, tz."""
    out: list[tuple[str, str]] = []
    s = text.lower()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace() or c == ",":
            i += 1
            continue
        start = i
        if c.isdigit():
            while i < n and s[i].isdigit():
                i += 1
            if i < n and s[i] == ":":
                while i < n and (s[i].isdigit() or s[i] in ":."):
                    i += 1
                out.append(("time", s[start:i]))
                continue
            if i < n and s[i] in "-/.":
                delim = s[i]
                i += 1
                if i < n and s[i].isdigit():
                    kind = "number" if delim == "." else "date"
                    while i < n and s[i].isdigit():
                        i += 1
                    if i < n and s[i] == delim:
                        kind = "date"
                        while i < n and (s[i].isdigit() or s[i] == delim):
                            i += 1
                else:
                    kind = "date"
                    while i < n and (s[i].isalnum() or s[i] == delim):
                        i += 1
                out.append((kind, s[start:i]))
                continue
            out.append(("number", s[start:i]))
            continue
        if c.isalpha():
            while i < n and s[i].isalpha():
                i += 1
            word = s[start:i]
            if i < n and s[i] in "-/.":  # feb-10-1997, or a zone's name (america/new_york)
                while i < n and (s[i].isalnum() or s[i] in "-/._+:"):
                    i += 1
                out.append(("date", s[start:i]))
            else:
                out.append(("string", word))
            continue
        if c in "+-":
            i += 1
            while i < n and (s[i].isalnum() or s[i] in ":."):
                i += 1
            out.append(("tz", s[start:i]))
            continue
        if c == ".":
            raise Unknown(text)
        i += 1  # other punctuation separates fields
    return out


@dataclass
class _State:
    order: str
    year: int | None = None
    month: int | None = None
    day: int | None = None
    doy: int | None = None
    two_digit_year: bool = False
    text_month: bool = False
    bc: bool = False


def _number(st: _State, digits: str, text: str) -> None:  # noqa: C901 - DecodeNumber's cases
    """DecodeNumber: one numeric field of a date, placed by what is already known."""
    flen, val = len(digits), int(digits)
    have = (st.year is not None, st.month is not None, st.day is not None)
    if flen == 3 and have == (True, False, False) and 1 <= val <= 366:
        st.doy = val
        st.month = st.day = 0
        return
    ymd = st.order == "YMD"
    if have == (False, False, False):
        if flen >= 3 or ymd:
            _year(st, val, flen)
        elif st.order == "DMY":
            st.day = val
        else:
            st.month = val
    elif have == (True, False, False):
        st.month = val
    elif have == (False, True, False):
        if st.text_month and (flen >= 3 or ymd):
            _year(st, val, flen)
        else:
            st.day = val
    elif have == (True, True, False):
        if st.text_month and flen >= 3 and st.two_digit_year:
            assert st.year is not None
            st.day, st.year, st.two_digit_year = st.year, val, False
        else:
            st.day = val
    elif have == (False, False, True):
        st.month = val
    elif have in ((False, True, True),):
        _year(st, val, flen)
    elif have == (True, False, True):
        st.month = val
    else:
        raise InvalidDatetimeFormat(f'invalid input syntax for type date: "{text}"')


def _year(st: _State, val: int, flen: int) -> None:
    st.year = val
    st.two_digit_year = flen <= 2


def _concatenated(st: _State, digits: str, text: str) -> None:
    """DecodeNumberField: YYYYMMDD or YYMMDD."""
    if len(digits) == 8:
        st.year, st.month, st.day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
    elif len(digits) == 6:
        st.year, st.month, st.day = int(digits[:2]), int(digits[2:4]), int(digits[4:])
        st.two_digit_year = True
    else:
        raise Unknown(text)


def _date_field(st: _State, field: str, text: str) -> None:
    """DecodeDate: '1999-01-08', '99-jan-08', '1/8/1999', '1999.008'."""
    if not field[-1].isalnum():
        raise InvalidDatetimeFormat(f'invalid input syntax for type date: "{text}"')
    parts = [p for p in re.split(r"[^a-z0-9]+", field) if p]
    numbers = []
    for p in parts:
        if p[0].isalpha():
            if p not in MONTHS or st.month is not None:
                raise InvalidDatetimeFormat(f'invalid input syntax for type date: "{text}"')
            st.month = MONTHS[p]
            st.text_month = True
        elif p.isdigit():
            numbers.append(p)
        else:
            raise InvalidDatetimeFormat(f'invalid input syntax for type date: "{text}"')
    for p in numbers:
        _number(st, p, text)


def _time(f: Fields, field: str, text: str) -> None:
    m = _TIME.match(field)
    if m is None:
        raise InvalidDatetimeFormat(f'invalid input syntax for type timestamp: "{text}"')
    f.hour, f.minute = int(m.group(1)), int(m.group(2))
    f.second = int(m.group(3) or 0)
    frac = m.group(4) or ""
    f.micro = round(int((frac + "000000")[:7]) / 10) if frac else 0
    if f.micro == 1_000_000:
        f.second, f.micro = f.second + 1, 0
    if f.hour > 24 or f.minute > 59 or f.second > 60:
        raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')


def _is_zone(kind: str, tok: str) -> bool:
    """A time zone, by abbreviation (``PST``), offset (``-08``), POSIX rule (``GMT-1``,
    ``MST+7:00``) or name (``America/New_York``)."""
    if kind == "tz":
        return bool(_NUMERIC_ZONE.match(tok))
    if kind == "string":
        return tok in ZONES
    if kind != "date":
        return False
    if "/" in tok:
        return tok in _zone_names()
    m = re.fullmatch(r"([a-z]+)[+-]\d{1,2}(?::\d{2})?", tok)
    return m is not None and m.group(1) in ZONES


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(z.lower() for z in zoneinfo.available_timezones())


def parse(text: str, order: str, type_name: str = "date") -> Fields:  # noqa: C901 - one branch per field kind
    """The fields of a date or timestamp literal, read with the DateStyle field order."""
    st = _State(order)
    f = Fields()
    has_time = False
    tokens = _tokens(text)
    if not tokens:
        raise InvalidDatetimeFormat(f'invalid input syntax for type {type_name}: "{text}"')
    special = [t for k, t in tokens if k == "string" and t in SPECIAL]
    if special and all(t in special or _is_zone(k, t) for k, t in tokens):
        f.special = special[0]  # 'tomorrow EST': a zone a timestamp ignores
        return f
    for kind, tok in tokens:
        if kind == "date" and tok[0].isalpha() and st.month is not None and st.day is not None:
            if "/" in tok and not _is_zone(kind, tok):
                raise InvalidParameter(f'time zone "{tok}" not recognized')
            if not _is_zone(kind, tok):  # with a date: a zone name (America/New_York)
                raise Unknown(text)
        elif kind == "date":
            if st.year is not None or (st.month is not None and not st.text_month):
                raise InvalidDatetimeFormat(f'invalid input syntax for type {type_name}: "{text}"')
            _date_field(st, tok, text)
        elif kind == "time":
            _time(f, tok, text)
            has_time = True
        elif kind == "number":
            if "." in tok:
                if st.year is None and st.month is None and st.day is None:
                    _date_field(st, tok, text)
                    continue
                raise Unknown(text)
            done = None not in (st.year, st.month, st.day)
            if len(tok) >= 6 and st.year is None and st.month is None and st.day is None:
                _concatenated(st, tok, text)
            elif done and len(tok) in (4, 6) and not has_time:
                _time(f, f"{tok[:2]}:{tok[2:4]}:{tok[4:] or '00'}", text)  # hhmmss
                has_time = True
            elif done:
                raise Unknown(text)
            else:
                _number(st, tok, text)
        elif kind == "string":
            if tok in MONTHS:
                if st.month is not None:
                    # a numeric "month" before a month's name was the day (99 08 Jan)
                    if st.text_month or st.day is not None or not 1 <= st.month <= 31:
                        raise InvalidDatetimeFormat(
                            f'invalid input syntax for type {type_name}: "{text}"'
                        )
                    st.day = st.month
                st.month, st.text_month = MONTHS[tok], True
            elif tok == "bc":
                st.bc = True
            elif tok == "ad" or tok in DAYS or tok in ZONES:
                continue
            elif tok in ("am", "pm"):
                if f.hour > 12:
                    raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
                if tok == "pm" and f.hour < 12:
                    f.hour += 12
                elif tok == "am" and f.hour == 12:
                    f.hour = 0
            else:
                raise Unknown(text)
        elif kind == "tz" and not _NUMERIC_ZONE.match(tok):
            raise Unknown(text)
    if st.year is None or st.month is None or st.day is None:
        raise InvalidDatetimeFormat(f'invalid input syntax for type {type_name}: "{text}"')
    year = st.year
    if st.bc:
        if year <= 0:
            raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
        year = 1 - year
    elif st.two_digit_year:
        year += 2000 if year < 70 else 1900 if year < 100 else 0
    elif year == 0:
        raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
    if st.doy is not None:
        # the proleptic Gregorian calendar repeats every 400 years
        start = dt.date(year % 400 + 2000, 1, 1)
        if st.doy > (366 if calendar.isleap(start.year) else 365):
            raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
        got = start + dt.timedelta(days=st.doy - 1)
        st.month, st.day = got.month, got.day
    if not 1 <= st.month <= 12:
        raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
    days_in = calendar.monthrange(year % 400 + 2000, st.month)[1]
    if not 1 <= st.day <= days_in:
        raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
    f.year, f.month, f.day = year, st.month, st.day
    last = (5874897, 12, 31) if type_name == "date" else (294276, 12, 31)
    if (year, st.month, st.day) < (-4713, 11, 24) or (year, st.month, st.day) > last:
        raise DateTimeFieldOverflow(f'{type_name} out of range: "{text}"')
    if f.hour == 24 and (f.minute or f.second or f.micro):
        raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
    return f


# the offsets (hours east of UTC) of the abbreviations above, from PostgreSQL's Default set
_OFFSETS = {
    "z": 0, "zulu": 0, "utc": 0, "gmt": 0, "ut": 0, "pst": -8, "pdt": -7, "mst": -7,
    "mdt": -6, "cst": -6, "cdt": -5, "est": -5, "edt": -4, "ast": -4, "adt": -3, "hst": -10,
    "akst": -9, "akdt": -8, "cet": 1, "cest": 2, "eet": 2, "eest": 3, "wet": 0, "west": 1,
    "bst": 1, "msk": 3, "jst": 9, "kst": 9, "ist": 2, "nzst": 12, "nzdt": 13, "aest": 10,
    "aedt": 11,
}  # fmt: skip
_TIMETZ = re.compile(
    r"\s*(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(am|pm)?\s*"
    r"(?:([+-])(\d{1,2})(?::?(\d{2}))?|([a-z]+))?\s*"
)


def timetz(text: str) -> str | None:
    """A ``time with time zone`` literal (``11:00 BST``, ``11:00+01``) in the ISO form
    DuckDB reads, or None where DuckDB's own reading stands (no zone, or one not known)."""
    m = _TIMETZ.fullmatch(text.lower())
    if m is None or (m.group(6) is None and m.group(9) is None):
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if m.group(5):
        if hour > 12:
            raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
        hour = hour % 12 + (12 if m.group(5) == "pm" else 0)
    if hour > 24 or minute > 59 or second > 60:
        raise DateTimeFieldOverflow(f'date/time field value out of range: "{text}"')
    if m.group(9) is not None:
        if m.group(9) not in _OFFSETS:
            return None
        sign, zh, zm = ("-" if _OFFSETS[m.group(9)] < 0 else "+"), abs(_OFFSETS[m.group(9)]), 0
    else:
        sign, zh, zm = m.group(6), int(m.group(7)), int(m.group(8) or 0)
    if zh > 15 or zm > 59:
        raise InvalidDatetimeFormat(f'invalid input syntax for type time with time zone: "{text}"')
    return f"{hour:02d}:{minute:02d}:{second:02d}{m.group(4) or ''}{sign}{zh:02d}:{zm:02d}"
