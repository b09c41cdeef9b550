"""What a statement produced: columns, rows (possibly streamed) and a command tag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hati.wire import types as pgtypes

_COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE")
ALL_ROWS = 1 << 62


@dataclass
class Result:
    """A result set or a command outcome.

    ``columns`` is None for statements that return no rows (RowDescription is then
    NoData). ``fetch`` pulls up to n more rows; ``rows`` holds rows computed in Python.
    """

    tag: str
    columns: list[tuple[str, int]] | None = None
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    fetch_more: Callable[[int], list[tuple[Any, ...]]] | None = None
    rowcount: int = 0
    _pos: int = 0

    def fetch(self, n: int) -> list[tuple[Any, ...]]:
        """Up to ``n`` rows; [] when exhausted."""
        if self._pos < len(self.rows):
            out = self.rows[self._pos : self._pos + n]
            self._pos += len(out)
            return out
        if self.fetch_more is None:
            return []
        out = self.fetch_more(n)
        if not out:
            self.fetch_more = None
        return out

    def final_tag(self, sent: int) -> str:
        """The tag with the number of rows sent ("SELECT n"; "INSERT 0 n" for RETURNING)."""
        if self.columns is not None and self.tag.split(" ", 1)[0] in _COUNTED:
            return f"{self.tag.rsplit(' ', 1)[0] if ' ' in self.tag else self.tag} {sent}"
        return self.tag

    def buffer(self) -> Result:
        """Fetch every remaining row now, before its cursor runs anything else."""
        if self.fetch_more is not None:
            self.rows = self.fetch(ALL_ROWS)
            self.fetch_more = None
            self._pos = 0
        return self

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self.rows) and self.fetch_more is None


def rows_result(columns: list[tuple[str, int]], rows: list[tuple[Any, ...]]) -> Result:
    return Result(f"SELECT {len(rows)}", columns, list(rows), rowcount=len(rows))


def text_columns(*names: str) -> list[tuple[str, int]]:
    return [(n, pgtypes.TEXT) for n in names]


def command(tag: str, rowcount: int = 0) -> Result:
    return Result(tag, None, rowcount=rowcount)
