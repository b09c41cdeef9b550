"""SQL regular expressions (``SIMILAR TO``) and substring() by pattern, as PostgreSQL
reads them: ``x SIMILAR TO p ESCAPE e``, ``substring(s SIMILAR p ESCAPE e)`` (the part
between the two escape-double-quote separators, the text before them matching as little
as it can) and ``substring(s FROM posix_pattern)`` (the first parenthesised part, or the
whole match). Registered with DuckDB by :func:`register` (see ``translate/strings.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from duckdb.sqltypes import BOOLEAN, VARCHAR

from hati.errors import InvalidEscapeSequence, InvalidParameter, InvalidRegularExpression


def _escape_char(escape: str) -> str:
    if len(escape) > 1:
        raise InvalidEscapeSequence(
            "invalid escape string", hint="Escape string must be empty or one character."
        )
    return escape


_PLAIN = {"%": ".*", "_": ".", "(": "(?:", "\\": "\\\\", ".": "\\.", "^": "\\^", "$": "\\$"}
_SEPARATORS = "SQL regular expression may not contain more than two escape-double-quote separators"


def _bracket(pattern: str, i: int, out: list[str]) -> int:
    """Copy the bracket expression starting at ``pattern[i] == '['``; the index after it."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    out.append(pattern[i : j + 1].replace("\\", "\\\\"))
    return j + 1


def _parts(pattern: str, escape: str) -> list[str]:
    """The pattern as regular expressions, split at its escape-double-quote separators
    (PostgreSQL's similar_escape)."""
    esc = _escape_char(escape)
    parts: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if esc and ch == esc:
            if i + 1 == len(pattern):
                raise InvalidEscapeSequence(
                    "invalid escape string", hint="Escape string must be empty or one character."
                )
            nxt = pattern[i + 1]
            if nxt == '"':
                parts.append("".join(out))
                out = []
                if len(parts) > 2:
                    raise InvalidRegularExpression(_SEPARATORS)
            else:
                out.append(nxt if nxt.isalnum() else "\\" + nxt)
            i += 2
        elif ch == "[":
            i = _bracket(pattern, i, out)
        else:
            out.append(_PLAIN.get(ch, ch))
            i += 1
    parts.append("".join(out))
    return parts


def _compiled(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text, re.S)
    except re.error as exc:
        raise InvalidRegularExpression(f"invalid regular expression: {exc}") from None


def similar_match(s: str, pattern: str, escape: str) -> bool:
    parts = _parts(pattern, escape)
    return _compiled("(?:" + "".join(parts) + ")").fullmatch(s) is not None


def similar_substring(s: str, pattern: str, escape: str) -> str | None:
    parts = _parts(pattern, escape)
    if len(parts) == 1:
        return s if _compiled("(?:" + parts[0] + ")").fullmatch(s) else None
    first = _compiled("(?:" + parts[0] + ")")
    middle = _compiled("(?:" + parts[1] + ")")
    last = _compiled("(?:" + (parts[2] if len(parts) == 3 else "") + ")")
    n = len(s)
    for i in range(n + 1):  # the text before the separators: as little as it can
        if first.fullmatch(s, 0, i) is None:
            continue
        for j in range(n, i - 1, -1):  # the part between them: as much as it can
            if middle.fullmatch(s, i, j) is not None and last.fullmatch(s, j) is not None:
                return s[i:j]
    return None


def regex_substring(s: str, pattern: str) -> str | None:
    try:
        rx = re.compile(pattern, re.S)
    except re.error as exc:
        raise InvalidParameter(f"invalid regular expression: {exc}") from None
    m = rx.search(s)
    if m is None:
        return None
    return m.group(1) if rx.groups else m.group(0)


MAYBE_NULL = frozenset({"hati_similar_substring", "hati_regex_substring"})
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_similar_match": (similar_match, [VARCHAR, VARCHAR, VARCHAR], BOOLEAN),
    "hati_similar_substring": (similar_substring, [VARCHAR, VARCHAR, VARCHAR], VARCHAR),
    "hati_regex_substring": (regex_substring, [VARCHAR, VARCHAR], VARCHAR),
}
