"""PostgreSQL's TimeZone setting: the values it accepts, how SHOW spells them, and the
zone DuckDB computes in for them.

PostgreSQL reads a TimeZone value three ways (``check_timezone``):

- ``INTERVAL '...'`` (``SET TIME ZONE INTERVAL '+05:30' HOUR TO MINUTE``) and a number of
  hours (``SET TIME ZONE 10.5``, ``SET TimeZone = '-3'``) are offsets EAST of Greenwich;
  SHOW spells them as the POSIX zone PostgreSQL makes of them: ``<+10:30>-10:30``;
- a zone name (``Europe/Paris``, any case) is shown as the tz database spells it;
- anything else is a POSIX zone (``UTC+3``, ``<+10:30>-10:30``, ``+05:30``): its offset
  is WEST of Greenwich, and it is shown upper-cased.

The session's zone drives DuckDB's own TimeZone (ICU), so timestamptz input, casts,
extract, date_trunc and arithmetic across DST compute as PostgreSQL does. ICU knows the
tz database's names and fixed offsets ``GMT+hh:mm`` (east); POSIX zones with DST rules
(``EST5EDT,M3.2.0,M11.1.0``), offsets of a day or more and offsets in seconds have no
such zone, and are refused rather than computed in another zone.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import duckdb

from hati.errors import FeatureNotSupported, InvalidParameter


@dataclass(frozen=True)
class Zone:
    shown: str  # SHOW TimeZone
    icu: str  # DuckDB's TimeZone
    arrow: str  # the zone timestamptz text is printed in (hati.wire.text_out)


UTC = Zone("UTC", "UTC", "UTC")
_MAX_POSIX_HOURS = 24 * 7 - 1  # tzparse's getsecs
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTERVAL = re.compile(r"(?i)interval\s+'(.*)'")


def _invalid(value: str) -> InvalidParameter:
    return InvalidParameter(f'invalid value for parameter "TimeZone": "{value}"')


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    return {n.upper(): n for n in zoneinfo.available_timezones()}


def _clock(seconds: int) -> str:
    """``05``, ``10:30``, ``03:15:20`` (pg_tzset_offset's spelling)."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}" + (f":{m:02d}" + (f":{s:02d}" if s else "") if m or s else "")


def _fixed(shown: str, east: int) -> Zone:
    """A zone ``east`` seconds ahead of UTC, named ``shown``."""
    if east == 0:
        return Zone(shown, "UTC", "UTC")
    a = abs(east)
    if a >= 86400 or a % 60:
        raise FeatureNotSupported(
            f'time zone "{shown}" is not supported',
            hint="Use a zone name or an offset of whole minutes under 24 hours.",
        )
    sign = "+" if east > 0 else "-"
    hm = f"{a // 3600:02d}:{a // 60 % 60:02d}"
    return Zone(shown, f"GMT{sign}{hm}", f"{sign}{hm}")


def _offset_zone(west: int, value: str) -> Zone:
    """pg_tzset_offset: the POSIX zone for an offset (seconds WEST of Greenwich)."""
    a = abs(west)
    if a > _MAX_POSIX_HOURS * 3600 + 3599:
        raise _invalid(value)
    c = _clock(a)
    shown = f"<-{c}>+{c}" if west > 0 else f"<+{c}>-{c}"
    return _fixed(shown, -west)


def _posix_offset(text: str, pos: int) -> tuple[int, int] | None:
    """tzparse's getoffset at ``pos``: (seconds west, end) or None."""
    m = re.compile(r"([+-]?)(\d{1,3})(?::(\d{1,2})(?::(\d{1,2}))?)?").match(text, pos)
    if m is None:
        return None
    h, mi, s = int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or 0)
    if h > _MAX_POSIX_HOURS or mi > 59 or s > 60:
        return None
    secs = h * 3600 + mi * 60 + s
    return (-secs if m.group(1) == "-" else secs), m.end()


def _posix(value: str) -> Zone:
    upper = value.upper()
    if upper.startswith("<"):
        end = upper.find(">")
        if end < 0:
            raise _invalid(value)
        pos = end + 1
    else:
        m = re.compile(r"[^\d,+-]*").match(upper)
        pos = m.end() if m else 0
    if pos >= len(upper):
        raise _invalid(value)
    got = _posix_offset(upper, pos)
    if got is None:
        raise _invalid(value)
    west, end = got
    if end != len(upper):
        raise FeatureNotSupported(
            f'time zone "{upper}" has daylight-saving rules hati does not follow',
            hint="Use the tz database's name for the zone (America/New_York).",
        )
    if west % 60:
        raise InvalidParameter(f'time zone "{value}" appears to use leap seconds')
    return _fixed(upper, -west)


_UNITS = {
    "h": 3600, "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}  # fmt: skip
_CALENDAR = {"d": "day", "day": "day", "days": "day", "mon": "mon", "mons": "mon",
             "month": "mon", "months": "mon", "y": "year", "year": "year", "years": "year"}  # fmt: skip
_PART = re.compile(
    r"\s*(?:([+-]?)(\d+):(\d+)(?::(\d+(?:\.\d*)?))?|([+-]?\d+(?:\.\d*)?)\s*([a-z]*))", re.I
)
# The interval fields of a typmod (HOUR, HOUR TO MINUTE): the unit of a bare number.
_FIELD_SECONDS = ((1 << 12, 1), (1 << 11, 60), (1 << 10, 3600))


def interval_setting(text: str, typmods: tuple[Any, ...] | None) -> str:
    """``INTERVAL '...'`` as PostgreSQL writes a SET's interval constant into the setting
    (``INTERVAL '+05:30' HOUR TO MINUTE`` -> ``INTERVAL '05:30:00'``)."""
    unit = 1
    mask = typmods[0] if typmods else None
    if isinstance(mask, int):
        unit = next((u for bit, u in _FIELD_SECONDS if mask & bit), 3600 if mask else 1)
    seconds, calendar, pos = 0.0, {"day": 0, "mon": 0, "year": 0}, 0
    while pos < len(text.rstrip()):
        m = _PART.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidParameter(f'invalid input syntax for type interval: "{text}"')
        pos = m.end()
        if m.group(2) is not None:
            s = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4) or 0)
            seconds += -s if m.group(1) == "-" else s
        elif not m.group(6):
            seconds += float(m.group(5)) * unit
        elif m.group(6).lower() in _UNITS:
            seconds += float(m.group(5)) * _UNITS[m.group(6).lower()]
        elif m.group(6).lower() in _CALENDAR:
            calendar[_CALENDAR[m.group(6).lower()]] += int(float(m.group(5)))
        else:
            raise InvalidParameter(f'invalid input syntax for type interval: "{text}"')
    parts = [
        f"{n} {name}{'' if n == 1 else 's'}"
        for name, n in (("year", calendar["year"]), ("mon", calendar["mon"]),
                        ("day", calendar["day"]))
        if n
    ]  # fmt: skip
    if seconds or not parts:
        whole = int(abs(seconds))
        frac = abs(seconds) - whole
        clock = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
        if frac:
            clock += f"{frac:.6f}"[1:].rstrip("0")
        parts.append(("-" if seconds < 0 else "") + clock)
    return f"INTERVAL '{' '.join(parts)}'"


def _from_interval(inner: str, value: str) -> Zone:
    if re.search(r"\d+ (?:year|mon|day)", inner):
        raise _invalid(value)
    m = re.fullmatch(r"(-?)(\d+):(\d\d):(\d\d)(?:\.\d+)?", inner)
    if m is None:
        raise _invalid(value)
    secs = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4))
    return _offset_zone(secs if m.group(1) else -secs, value)


@lru_cache(maxsize=256)
def parse(value: str) -> Zone:
    """The zone a TimeZone value names, or PostgreSQL's error for it."""
    m = _INTERVAL.fullmatch(value)
    if m:
        return _from_interval(m.group(1), value)
    if _NUMBER.fullmatch(value):
        return _offset_zone(int(-float(value) * 3600), value)
    upper = value.upper()
    if upper == "GMT":
        return Zone("GMT", "GMT", "UTC")
    name = _names().get(upper)
    if name == "localtime":
        raise FeatureNotSupported(
            'time zone "localtime" is not supported', hint="Name the zone (Europe/Paris)."
        )
    if name is not None:
        return Zone(name, name, name)
    return _posix(value)


def shown(value: str) -> str:
    return parse(value).shown


def arrow_zone(value: str | None) -> str | None:
    """The zone timestamptz text is printed in for a TimeZone value (None: UTC)."""
    return None if value is None else parse(value).arrow


def follow(cur: duckdb.DuckDBPyConnection, value: str, current: str) -> str:
    """Set DuckDB's TimeZone on ``cur`` to the session's ``value`` when it is not
    ``current`` (the ICU zone the cursor has); answers the cursor's zone. A SET of
    TimeZone starts no DuckDB transaction, and it is sent only when the zone changes."""
    icu = parse(value).icu
    if icu != current:
        cur.execute(f"SET TimeZone = '{icu}'")
    return icu
