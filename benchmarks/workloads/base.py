"""What a workload gets: the system, the profile, a place to put records, a time budget."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from benchmarks.core import Record, Results, human_rows, perf
from benchmarks.profiles import Profile
from benchmarks.systems.base import Session, System, Unsupported

_counter = itertools.count(1)
T = TypeVar("T")


@dataclass
class Ctx:
    sys: System
    profile: Profile
    results: Results
    workload: str
    tick: Callable[[str], None] = lambda _msg: None
    extra: dict[str, Any] = field(default_factory=dict)
    budget_s: float = math.inf  # soft: no new point or repetition starts after it
    started: float = field(default_factory=perf)
    cut: list[str] = field(default_factory=list)  # what the budget left out

    def add(self, param: str = "", *, system: str | None = None, **kw: Any) -> Record:
        return self.results.add(
            Record(workload=self.workload, system=system or self.sys.key, param=param, **kw)
        )

    def name(self) -> str:
        """A fresh branch name, valid for every system."""
        return f"bb{next(_counter)}"

    # -- time budget ---------------------------------------------------------
    def elapsed(self) -> float:
        return perf() - self.started

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def over(self) -> bool:
        return self.left() <= 0

    def budget_note(self) -> str:
        return (
            f"timed out: the {self.budget_s:.0f} s budget of this workload was spent "
            f"(at {self.elapsed():.0f} s)"
        )

    def points(
        self, items: Iterable[T], label: Callable[[T], tuple[str, float | None]]
    ) -> Iterator[T]:
        """The parameter points of a series; once the budget is spent, the rest are
        recorded as skipped ("timed out") instead of run."""
        for item in items:
            if self.over():
                param, x = label(item)
                self.add(param, x=x, status="skipped", note=self.budget_note())
                self.cut.append(param)
                continue
            yield item

    def repeat(self, n: int, share: float = 1.0, at_least: int = 1) -> Iterator[int]:
        """Up to ``n`` repetitions of one point. After ``at_least`` of them, stop when
        the next one would likely overrun ``share`` of what is left of the budget."""
        t0 = perf()
        allowed = max(0.0, self.left()) * share
        for i in range(n):
            if i >= at_least:
                spent = perf() - t0
                if spent + spent / i > allowed or self.over():
                    return
            yield i


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def mark_dirty(sys: System, table: str) -> None:
    """The table's contents changed in ways later workloads must not see: reload it."""
    if table in sys.tables:
        sys.tables[table] = -1


def write_or_workaround(sys: System, s: Session, table: str, sql: str) -> str:
    """Run a write in a branch session; where the system cannot write in a branch,
    copy the table by hand (if it has a way) and write again. Returns the error, or ''."""
    try:
        s.execute(sql)
        return ""
    except Exception as exc:  # noqa: BLE001 - the error is the finding
        err = short_error(exc)
        try:
            sys.materialize_workaround(s, table)
        except Unsupported:
            raise exc from None
        s.execute(sql)
        return err


def cannot_merge(ctx: Ctx) -> bool:
    """True (and recorded as unsupported) where the system has no merge."""
    if ctx.sys.supports_merge:
        return False
    ctx.add(status="unsupported", note=ctx.sys.merge_note)
    return True


def big_main(ctx: Ctx, rows: int) -> int:
    """Main holds only ``t`` with ``rows`` rows (kept from the workload before if it
    has them); returns ``rows``."""
    ctx.tick(f"load {human_rows(rows)} rows")
    ctx.sys.ensure_main({"t": rows})
    return rows


def fork(ctx: Ctx) -> str:
    """Create a fresh branch (untimed preparation included); returns its name."""
    b = ctx.name()
    ctx.sys.before_create()
    ctx.sys.branch_create(b)
    return b
