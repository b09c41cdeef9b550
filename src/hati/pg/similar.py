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


def _parts(pattern: str, escape: str) -> list[str]:
    """The pattern as regular expressions, split at its escape-double-quote separators
    (PostgreSQL's similar_escape)."""
    esc = _escape_char(escape)
    parts: list[str] = []
    out: list[str] = []
    after_escape = False
    brackets = 0  # inside [...]
    bracket_start = False
    for ch in pattern:
        if after_escape:
            after_escape = False
            if ch == '"' and brackets == 0:
                parts.append("".join(out))
                out = []
                if len(parts) > 2:
                    raise InvalidRegularExpression(
                        "SQL regular expression may not contain more than two"
                        " escape-double-quote separators"
                    )
            else:
                out.append("\\" + ch if not ch.isalnum() else ch)
            continue
        if esc and ch == esc:
            after_escape = True
            continue
        if brackets:
            if ch == "\\":
                out.append("\\\\")
            elif ch == "]" and not bracket_start:
                brackets = 0
                out.append(ch)
            elif ch == "^" and bracket_start and out[-1] == "[":
                out.append(ch)
                continue
            else:
                out.append(ch)
            bracket_start = False
            continue
        if ch == "[":
            brackets, bracket_start = 1, True
            out.append(ch)
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == "(":
            out.append("(?:")
        elif ch in "\\.^$":
            out.append("\\" + ch)
        else:
            out.append(ch)
    if after_escape:
        raise InvalidEscapeSequence(
            "invalid escape string", hint="Escape string must be empty or one character."
        )
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
