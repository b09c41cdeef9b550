"""PostgreSQL's regular-expression functions DuckDB lacks, and its SHA-2 digests.

``regexp_instr``, ``regexp_substr``, ``regexp_count`` with a start, ``regexp_replace``
with a start and an occurrence, ``regexp_match`` and ``regexp_matches`` (capture
groups as text[]) take PostgreSQL's arguments and flags (``i`` case-insensitive, ``g``
every match, ``n``/``m`` newline-sensitive, ``s``, ``x`` expanded, ``c``, ``q`` literal).
Registered with DuckDB by :func:`register` (see ``translate/strings.py``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import duckdb
from duckdb.sqltypes import BIGINT, BLOB, VARCHAR

from hati.errors import ArraySubscriptError, InvalidParameter, InvalidTextRepresentation


def _compile(pattern: str, flags: str, fn: str, global_ok: bool = False) -> re.Pattern[str]:
    opts = re.S
    literal = False
    for f in flags:
        if f == "i":
            opts |= re.I
        elif f == "c":
            opts &= ~re.I
        elif f in "nm":
            opts = (opts | re.M) & ~re.S
        elif f == "s":
            opts = (opts | re.S) & ~re.M
        elif f == "x":
            opts |= re.X
        elif f == "q":
            literal = True
        elif f == "g" and global_ok:
            continue
        elif f == "g":
            raise InvalidParameter(f'{fn}() does not support the "global" option')
        else:
            raise InvalidParameter(f'invalid regular expression option: "{f}"')
    try:
        return re.compile(re.escape(pattern) if literal else pattern, opts)
    except re.error as exc:
        raise InvalidParameter(f"invalid regular expression: {exc}") from None


def _positive(name: str, value: int, zero_ok: bool = False) -> None:
    if value < (0 if zero_ok else 1):
        raise InvalidParameter(f'invalid value for parameter "{name}": {value}')


def _nth(s: str, rx: re.Pattern[str], start: int, n: int) -> re.Match[str] | None:
    for i, m in enumerate(rx.finditer(s, start - 1)):
        if i == n - 1:
            return m
    return None


def instr(s: str, p: str, start: int, n: int, endoption: int, flags: str, sub: int) -> int:
    for name, v in (("start", start), ("n", n)):
        _positive(name, v)
    _positive("endoption", endoption, zero_ok=True)
    if endoption > 1:
        raise InvalidParameter(f'invalid value for parameter "endoption": {endoption}')
    _positive("subexpr", sub, zero_ok=True)
    rx = _compile(p, flags, "regexp_instr")
    m = _nth(s, rx, start, n)
    if m is None or sub > rx.groups or m.start(sub) < 0:
        return 0
    return (m.end(sub) if endoption else m.start(sub)) + 1


def substr(s: str, p: str, start: int, n: int, flags: str, sub: int) -> str | None:
    _positive("start", start)
    _positive("n", n)
    _positive("subexpr", sub, zero_ok=True)
    rx = _compile(p, flags, "regexp_substr")
    m = _nth(s, rx, start, n)
    if m is None or sub > rx.groups:
        return None
    return m.group(sub)


def count(s: str, p: str, start: int, flags: str) -> int:
    _positive("start", start)
    rx = _compile(p, flags, "regexp_count")
    return sum(1 for _ in rx.finditer(s, start - 1))


def _replacement(r: str) -> Callable[[re.Match[str]], str]:
    """PostgreSQL's replacement text: ``\\1``..``\\9`` groups, ``\\&`` the match."""

    def expand(m: re.Match[str]) -> str:
        out, i = [], 0
        while i < len(r):
            c = r[i]
            if c == "\\" and i + 1 < len(r):
                nxt = r[i + 1]
                if nxt.isdigit() and nxt != "0":
                    k = int(nxt)
                    out.append((m.group(k) or "") if k <= (m.re.groups or 0) else "")
                elif nxt == "&":
                    out.append(m.group(0))
                else:
                    out.append(nxt)
                i += 2
                continue
            out.append(c)
            i += 1
        return "".join(out)

    return expand


def replace(s: str, p: str, r: str, start: int, n: int, flags: str) -> str:
    """regexp_replace(s, p, r, start, n, flags): n = 0 replaces every match."""
    _positive("start", start)
    _positive("n", n, zero_ok=True)  # an occurrence given wins over the g flag
    rx = _compile(p, flags, "regexp_replace", global_ok=True)
    expand = _replacement(r)
    pos, out, seen = start - 1, [s[: start - 1]], 0
    for m in rx.finditer(s, start - 1):
        seen += 1
        if n and seen != n:
            continue
        out.append(s[pos : m.start()])
        out.append(expand(m))
        pos = m.end()
        if n:
            break
    out.append(s[pos:])
    return "".join(out)


def _groups(m: re.Match[str]) -> list[str | None]:
    return list(m.groups()) if m.re.groups else [m.group(0)]


def match(s: str, p: str, flags: str) -> list[str | None] | None:
    rx = _compile(p, flags, "regexp_match")
    m = rx.search(s)
    return None if m is None else _groups(m)


def matches(s: str, p: str, flags: str) -> list[list[str | None]]:
    rx = _compile(p, flags, "regexp_matches", global_ok=True)
    if "g" in flags:
        return [_groups(m) for m in rx.finditer(s)]
    m = rx.search(s)
    return [] if m is None else [_groups(m)]


def encode_escape(data: bytes) -> str:
    """encode(bytea, 'escape'): NUL, bytes past 0x7f and backslash escaped."""
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0 or b >= 0x80:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return "".join(out)


def decode_escape(text: str) -> bytes:
    """decode(text, 'escape'): bytea's escape input."""
    return bytea_input(text)


_HEX = re.compile(r"[0-9a-fA-F]")


def bytea_input(text: str) -> bytes:
    """bytea's input function: ``\\x`` and hex digit pairs (spaces between), or the
    escape form (``\\\\``, ``\\ooo`` octal, other characters as themselves)."""
    if text.startswith("\\x"):
        digits = []
        for c in text[2:]:
            if c.isspace():
                continue
            if not _HEX.fullmatch(c):
                raise InvalidParameter(f'invalid hexadecimal digit: "{c}"')
            digits.append(c)
        if len(digits) % 2:
            raise InvalidParameter("invalid hexadecimal data: odd number of digits")
        return bytes.fromhex("".join(digits))
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif text[i + 1 : i + 2] == "\\":
            out.append(0x5C)
            i += 2
        elif re.fullmatch(r"[0-3][0-7]{2}", text[i + 1 : i + 4]):
            out.append(int(text[i + 1 : i + 4], 8))
            i += 4
        else:
            raise InvalidTextRepresentation("invalid input syntax for type bytea")
    return bytes(out)


def bytea_trim(data: bytes, chars: bytes, mode: str) -> bytes:
    """btrim / ltrim / rtrim of bytea: strip the bytes of ``chars`` from the ends."""
    if mode in ("both", "leading"):
        data = data.lstrip(chars)
    if mode in ("both", "trailing"):
        data = data.rstrip(chars)
    return data


def _byte_index(data: bytes, n: int) -> int:
    if not 0 <= n < len(data):
        raise ArraySubscriptError(f"index {n} out of valid range, 0..{len(data) - 1}")
    return n


def get_byte(data: bytes, n: int) -> int:
    return data[_byte_index(data, n)]


def set_byte(data: bytes, n: int, value: int) -> bytes:
    out = bytearray(data)
    out[_byte_index(data, n)] = value & 0xFF
    return bytes(out)


def _digest(name: str) -> Callable[[bytes], bytes]:
    return lambda data: hashlib.new(name, data).digest()


_TEXTS = duckdb.list_type(VARCHAR)
MAYBE_NULL = frozenset({"hati_regexp_substr", "hati_regexp_match"})
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_regexp_instr": (
        instr,
        [VARCHAR, VARCHAR, BIGINT, BIGINT, BIGINT, VARCHAR, BIGINT],
        BIGINT,
    ),
    "hati_regexp_substr": (substr, [VARCHAR, VARCHAR, BIGINT, BIGINT, VARCHAR, BIGINT], VARCHAR),
    "hati_regexp_count": (count, [VARCHAR, VARCHAR, BIGINT, VARCHAR], BIGINT),
    "hati_regexp_replace": (replace, [VARCHAR, VARCHAR, VARCHAR, BIGINT, BIGINT, VARCHAR], VARCHAR),
    "hati_regexp_match": (match, [VARCHAR, VARCHAR, VARCHAR], _TEXTS),
    "hati_regexp_matches": (matches, [VARCHAR, VARCHAR, VARCHAR], duckdb.list_type(_TEXTS)),
    "hati_encode_escape": (encode_escape, [BLOB], VARCHAR),
    "hati_bytea_trim": (bytea_trim, [BLOB, BLOB, VARCHAR], BLOB),
    "hati_get_byte": (get_byte, [BLOB, BIGINT], BIGINT),
    "hati_set_byte": (set_byte, [BLOB, BIGINT, BIGINT], BLOB),
    "hati_decode_escape": (decode_escape, [VARCHAR], BLOB),
    "hati_sha224": (_digest("sha224"), [BLOB], BLOB),
    "hati_sha256": (_digest("sha256"), [BLOB], BLOB),
    "hati_sha384": (_digest("sha384"), [BLOB], BLOB),
    "hati_sha512": (_digest("sha512"), [BLOB], BLOB),
}
