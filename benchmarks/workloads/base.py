"""What a workload gets: the system, the profile, a place to put records."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.core import Record, Results
from benchmarks.profiles import Profile
from benchmarks.systems.base import System

_counter = itertools.count(1)


@dataclass
class Ctx:
    sys: System
    profile: Profile
    results: Results
    workload: str
    tick: Callable[[str], None] = lambda _msg: None
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, param: str = "", *, system: str | None = None, **kw: Any) -> Record:
        return self.results.add(
            Record(workload=self.workload, system=system or self.sys.key, param=param, **kw)
        )

    def name(self) -> str:
        """A fresh branch name, valid for every system."""
        return f"bb{next(_counter)}"


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def mark_dirty(sys: System, table: str) -> None:
    """The table's contents changed in ways later workloads must not see: reload it."""
    if table in sys.tables:
        sys.tables[table] = -1
