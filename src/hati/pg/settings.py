"""Run-time parameters: SET / RESET / SHOW as PostgreSQL answers them, and startup options.

DuckDB knows few of PostgreSQL's parameters, so a session keeps its own: the ones a
client sets (accepted and remembered even when DuckDB has no such setting), hati's
``hatidata_*`` tags, and the values a PostgreSQL 15 server reports by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SERVER_VERSION = "15.0 (hati 0.1.0)"
BRANCH_SETTING = "hatidata_branch"
AGENT_SETTING = "hatidata_agent_id"
AGENT_SETTINGS = (
    AGENT_SETTING,
    "hatidata_framework",
    "hatidata_priority",
    "hatidata_request_id",
    "hatidata_reasoning_step",
    "hatidata_parent_request_id",
    BRANCH_SETTING,
)
DEFAULTS = {
    "server_version": SERVER_VERSION,
    "server_version_num": "150000",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "datestyle": "ISO, MDY",
    "timezone": "UTC",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "transaction_isolation": "repeatable read",
    "default_transaction_isolation": "repeatable read",
    "transaction_read_only": "off",
    "is_superuser": "on",
    "max_identifier_length": "63",
    "intervalstyle": "postgres",
    "lc_collate": "C",
    "lc_ctype": "C",
}
# What a new connection is told in ParameterStatus messages.
STARTUP_STATUS = {
    "server_version": SERVER_VERSION,
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "TimeZone": "UTC",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "IntervalStyle": "postgres",
    "is_superuser": "on",
}

_SET = re.compile(
    r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?([A-Za-z_][\w.]*)\s*(?:=|\bTO\b)\s*(.+?)\s*;?\s*$",
    re.I | re.S,
)
_SET_TZ = re.compile(r"^\s*SET\s+(?:SESSION\s+)?TIME\s+ZONE\s+(.+?)\s*;?\s*$", re.I | re.S)
_RESET = re.compile(r"^\s*RESET\s+([A-Za-z_][\w.]*|ALL)\s*;?\s*$", re.I)
_SHOW = re.compile(r"^\s*SHOW\s+([A-Za-z_][\w. ]*?)\s*;?\s*$", re.I)


@dataclass(frozen=True)
class SettingStatement:
    """A SET, RESET or SHOW, parsed: ``name`` lower-cased, ``value`` unquoted."""

    verb: str
    name: str
    value: str = ""


def parse(word: str, sql: str) -> SettingStatement | None:
    """The SET/RESET/SHOW statement ``sql`` is, or None when the session does not answer
    it itself (DuckDB then runs it as it is)."""
    if word == "SET":
        m = _SET.match(sql)
        if m is not None:
            return SettingStatement("SET", m.group(1).lower(), _unquote(m.group(2)))
        m = _SET_TZ.match(sql)
        return None if m is None else SettingStatement("SET", "timezone", _unquote(m.group(1)))
    if word == "RESET":
        m = _RESET.match(sql)
        return None if m is None else SettingStatement("RESET", m.group(1).lower())
    m = _SHOW.match(sql) if word == "SHOW" else None
    if m is None:
        return None
    name = re.sub(r"\s+", " ", m.group(1).strip().lower())
    if name == "transaction isolation level":
        name = "transaction_isolation"
    return SettingStatement("SHOW", name)


class Settings:
    """One session's parameters."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def reset(self, name: str) -> None:
        """RESET one parameter; RESET ALL forgets hati's tags but the agent id."""
        if name != "all":
            self.values.pop(name, None)
            return
        for k in [k for k in self.values if k.startswith("hatidata_") and k != AGENT_SETTING]:
            del self.values[k]

    def show(self, name: str) -> str | None:
        """SHOW's answer; None when DuckDB should answer (a setting hati does not keep)."""
        if name in self.values:
            return self.values[name]
        if name in DEFAULTS:
            return DEFAULTS[name]
        if name.startswith("hatidata_"):
            return ""
        return None


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1].replace(v[0] * 2, v[0])
    return v


def parse_options(options: str) -> dict[str, str]:
    """``-c key=value`` pairs from the startup ``options`` parameter (spaces escaped with \\)."""
    out: dict[str, str] = {}
    tokens = re.findall(r"(?:\\.|[^\s])+", options or "")
    i = 0
    while i < len(tokens):
        tok = tokens[i].replace("\\ ", " ")
        if tok == "-c" and i + 1 < len(tokens):
            tok, i = tokens[i + 1].replace("\\ ", " "), i + 1
        elif tok.startswith("-c") or tok.startswith("--"):
            tok = tok[2:]
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k.strip()] = v.strip()
        i += 1
    return out
