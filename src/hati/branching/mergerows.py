"""The values a table merge works with: sides, counts, conflicts, names, row JSON.

Shared by ``tablemerge`` (diffs, multisets) and ``cellmerge`` (keyed tables).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hati.storage.duckdb_backend import Column, qident


def _cols(cols: list[str], alias: str) -> str:
    return ", ".join(f"{alias}.{qident(c)}" for c in cols)


def _proj(cols: list[str], available: set[str], alias: str, types: dict[str, str]) -> str:
    """Project ``cols`` from ``alias``; columns it lacks become typed NULLs."""
    parts = []
    for c in cols:
        if c in available:
            parts.append(f"{alias}.{qident(c)} AS {qident(c)}")
        else:
            parts.append(f"NULL::{types[c]} AS {qident(c)}")
    return ", ".join(parts)


def struct_json(pairs: list[tuple[str, str]]) -> str:
    """A JSON object of (field name, SQL expression) pairs."""
    if not pairs:
        return "NULL"
    return "to_json(struct_pack(" + ", ".join(f"{qident(n)} := {e}" for n, e in pairs) + "))"


def _struct(cols: list[str], alias: str) -> str:
    return struct_json([(c, f"{alias}.{qident(c)}") for c in cols])


def _same(cols: list[str], a: str, b: str) -> str:
    return (
        " AND ".join(f"{a}.{qident(c)} IS NOT DISTINCT FROM {b}.{qident(c)}" for c in cols)
        or "true"
    )


def canonical_key(key: Any) -> str:
    """One spelling for a row key, so resolutions match conflicts however they were typed."""
    if isinstance(key, str):
        try:
            key = json.loads(key)
        except json.JSONDecodeError:
            return key
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


class Names:
    """Quoted names for the merge's own columns and aliases: a prefix that no user
    column starts with (DuckDB compares names without regard to case), then the name."""

    def __init__(self, columns: list[str]) -> None:
        lower = [c.lower() for c in columns]
        prefix = "$m_"
        while any(c.startswith(prefix) for c in lower):
            prefix += "$"
        self.prefix = prefix

    def __call__(self, name: str) -> str:
        return qident(self.prefix + name)


@dataclass
class Side:
    """One of the three relations: a SQL relation name (or None: absent) and its columns."""

    rel: str | None
    columns: list[Column] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


# What a conflict is about (branch_conflicts' ``kind``): main's change / the branch's.
ROW_KINDS = ("update/update", "update/delete", "delete/update", "insert/insert")
CONSTRAINT_KINDS = ("unique", "foreign_key", "not_null", "check")


@dataclass
class Conflict:
    table: str
    key: str
    base: str | None
    ours: str | None
    theirs: str | None
    kind: str = "update/update"
    columns: list[str] = field(default_factory=list)
