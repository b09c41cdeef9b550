"""PostgreSQL's text of an array, in DuckDB's spelling of a list's text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

_TOKEN = re.compile(
    r'\s*(?:(?P<open>\{)|(?P<close>\})|(?P<comma>,)|"(?P<quoted>(?:[^"\\]|\\.)*)"'
    r'|(?P<item>[^,{}"\s](?:[^,{}"]*[^,{}"\s])?))\s*'
)
# What may come before each token (None: the start).
_AFTER: dict[str, set[str | None]] = {
    "open": {None, "open", "comma"},
    "close": {"open", "close", "item"},
    "comma": {"close", "item"},
    "item": {"open", "comma"},
}


def _tokens(body: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None or m.end() == pos:
            raise ValueError(body)
        pos = m.end()
        kind = m.lastgroup or ""
        if kind == "quoted":
            yield "item", json.dumps(re.sub(r"\\(.)", r"\1", m.group(kind)), ensure_ascii=False)
        elif kind == "item":
            raw = m.group(kind)
            yield "item", "NULL" if raw.upper() == "NULL" else json.dumps(raw, ensure_ascii=False)
        else:
            yield kind, m.group(kind)


def duck_list(text: str) -> str | None:
    """PostgreSQL's text of an array (``{a,"b c",NULL}``, nested) as DuckDB reads a
    list's text (``["a","b c",NULL]``), or None when it is not one."""
    body = text.strip()
    if not body.startswith("{"):
        return None
    out: list[str] = []
    depth = 0
    prev: str | None = None
    try:
        for kind, value in _tokens(body):
            if prev not in _AFTER[kind] or (depth == 0 and prev is not None):
                return None
            depth += {"open": 1, "close": -1}.get(kind, 0)
            out.append({"open": "[", "close": "]"}.get(kind, value))
            prev = kind
    except ValueError:
        return None
    return "".join(out) if depth == 0 and out else None
