"""to_date / to_timestamp(text, format): PostgreSQL's reading of text by a pattern.

The patterns ``to_char`` writes (``YYYY``, ``YY``, ``MM``, ``Mon``, ``Month``, ``DD``,
``DDD``, ``Dy``/``Day``, ``HH``/``HH12``/``HH24``, ``MI``, ``SS``, ``MS``, ``US``,
``AM``/``PM``, ``FM``, quoted text) are read as ``formatting.c`` reads them: a space in
the pattern skips spaces of the input, any other character of the pattern skips one
character, numbers may have fewer digits than the pattern. An input that does not fit
is 22007 and a field out of range 22008, with PostgreSQL's messages; patterns not
listed are refused (0A000), never guessed.
"""

from __future__ import annotations

import datetime as dt

from hati.errors import FeatureNotSupported, lookup

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]  # fmt: skip
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# pattern -> (field, most digits); names and AM/PM are read apart
_NUMBERS = {
    "YYYY": ("year", 4), "YYY": ("year3", 3), "YY": ("year2", 2), "Y": ("year1", 1),
    "MM": ("month", 2), "DDD": ("yday", 3), "DD": ("day", 2), "HH24": ("hour", 2),
    "HH12": ("hour12", 2), "HH": ("hour12", 2), "MI": ("minute", 2), "SS": ("second", 2),
    "MS": ("ms", 3), "US": ("us", 6),
}  # fmt: skip
_NAMES = ["MONTH", "MON", "DAY", "DY"]
_MERIDIAN = ["A.M.", "P.M.", "AM", "PM"]
_ALL = sorted([*_NUMBERS, *_NAMES, *_MERIDIAN], key=len, reverse=True)


def _bad(message: str, detail: str | None = None) -> Exception:
    return lookup("22007")(message, detail=detail)


def _fields(text: str, fmt: str) -> dict[str, int]:  # noqa: C901 - one case per pattern
    out: dict[str, int] = {}
    i = j = 0
    while j < len(fmt):
        if fmt.startswith(("FM", "fm"), j):
            j += 2
            continue
        if fmt[j] == '"':  # quoted text: skipped in the input, character for character
            end = fmt.find('"', j + 1)
            end = len(fmt) if end < 0 else end
            i += end - j - 1
            j = end + 1
            continue
        pattern = next((p for p in _ALL if fmt[j : j + len(p)].upper() == p), None)
        if pattern is None:
            if fmt[j].isspace():
                while i < len(text) and text[i].isspace():
                    i += 1
            elif fmt[j].isalpha():
                raise FeatureNotSupported(
                    f'pattern "{fmt[j:]}" of to_date/to_timestamp is not supported',
                    hint="Use YYYY, MM, DD, HH24, MI, SS, MS, US, Mon, Month, Dy, AM.",
                )
            elif i < len(text):
                i += 1
            j += 1
            continue
        j += len(pattern)
        while i < len(text) and text[i].isspace() and pattern in _NUMBERS:
            i += 1
        if pattern in _NUMBERS:
            field, width = _NUMBERS[pattern]
            start = i
            while i < len(text) and i - start < width and text[i].isdigit():
                i += 1
            if i == start:
                value = text[start : start + width] or text[start:]
                raise _bad(
                    f'invalid value "{value}" for "{pattern}"',
                    "Value must be an integer.",
                )
            out[field] = int(text[start:i])
        elif pattern in _MERIDIAN:
            word = text[i : i + len(pattern)].upper()
            if word not in ("AM", "PM", "A.M.", "P.M."):
                raise _bad(f'invalid value "{text[i:i + len(pattern)]}" for "{pattern}"',
                           "The given value did not match any of the allowed values for this field.")  # fmt: skip
            out["pm"] = int(word.startswith("P"))
            i += len(pattern)
        else:
            names = _MONTHS if pattern.startswith("MON") else _DAYS
            rest = text[i:].lower()
            found = next(
                (n for n in names if rest.startswith(n if len(pattern) > 3 else n[:3])), None
            )
            if found is None:
                raise _bad(
                    f'invalid value "{text[i : i + 9].split()[0] if text[i:].strip() else ""}" '
                    f'for "{pattern}"',
                    "The given value did not match any of the allowed values for this field.",
                )
            i += len(found) if len(pattern) > 3 else 3
            if names is _MONTHS:
                out["month"] = names.index(found) + 1
    return out


def parse(text: str | None, fmt: str | None) -> dt.datetime | None:
    """The timestamp ``text`` stands for under ``fmt`` (to_timestamp; to_date its date);
    NULL for a NULL argument."""
    if text is None or fmt is None:
        return None
    f = _fields(text, fmt)
    year = f.get("year", 1)
    if "year2" in f:  # the nearest year to 2020 with those digits
        year = f["year2"] + (2000 if f["year2"] < 70 else 1900)
    elif "year3" in f:
        year = f["year3"] + (2000 if f["year3"] < 520 else 1000)
    elif "year1" in f:
        year = 2020 + f["year1"]
    hour = f.get("hour", 0)
    if "hour12" in f:
        if not 1 <= f["hour12"] <= 12:
            raise lookup("22008")(
                f'hour "{f["hour12"]}" is invalid for the 12-hour clock',
                hint="Use the 24-hour clock, or give an hour between 1 and 12.",
            )
        hour = f["hour12"] % 12 + 12 * f.get("pm", 0)
    micro = f.get("us", f.get("ms", 0) * 1000)
    try:
        if "yday" in f and "month" not in f:
            base = dt.datetime(year, 1, 1) + dt.timedelta(days=f["yday"] - 1)
            return base.replace(hour=hour, minute=f.get("minute", 0),
                                second=f.get("second", 0), microsecond=micro)  # fmt: skip
        return dt.datetime(year, f.get("month", 1), f.get("day", 1), hour,
                           f.get("minute", 0), f.get("second", 0), micro)  # fmt: skip
    except ValueError:
        raise lookup("22008")(f'date/time field value out of range: "{text}"') from None
