"""The time budget of a workload: points past it are reported as timed out, not run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.core import Results  # noqa: E402
from benchmarks.profiles import FULL, QUICK  # noqa: E402
from benchmarks.systems import ALL_SYSTEMS  # noqa: E402
from benchmarks.workloads import ALL_WORKLOADS  # noqa: E402
from benchmarks.workloads.base import Ctx  # noqa: E402


class _Sys:
    key = "fake"


def _ctx(budget: float) -> Ctx:
    return Ctx(_Sys(), QUICK, Results(), "w", budget_s=budget)  # type: ignore[arg-type]


def test_points_past_the_budget_are_recorded_as_timed_out() -> None:
    ctx = _ctx(0.05)
    ran = []
    for x in ctx.points([1, 2, 3], lambda x: (f"x={x}", x)):
        ran.append(x)
        time.sleep(0.06)
    assert ran == [1]
    skipped = [r for r in ctx.results.records if r.status == "skipped"]
    assert [r.param for r in skipped] == ["x=2", "x=3"]
    assert all("timed out" in r.note for r in skipped)
    assert ctx.cut == ["x=2", "x=3"]


def test_repeat_runs_at_least_once_and_stops_at_the_budget() -> None:
    assert list(_ctx(0.0).repeat(5)) == [0]
    assert list(_ctx(60.0).repeat(4)) == [0, 1, 2, 3]
    ctx = _ctx(0.1)
    n = 0
    for _ in ctx.repeat(100):
        time.sleep(0.03)
        n += 1
    assert 1 <= n <= 4


def test_full_budgets_fit_in_half_an_hour() -> None:
    total = sum(FULL.system_budget(cls.key) for cls in ALL_SYSTEMS)
    assert total <= 30 * 60, total
    for cls in ALL_SYSTEMS:
        for w in ALL_WORKLOADS:
            assert FULL.workload_budget(cls.key, w.KEY) > 0
