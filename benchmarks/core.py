"""Shared helpers: timing statistics, result records, ports and sizes."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

perf = time.perf_counter


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return math.nan
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summarize(samples_s: list[float]) -> dict[str, float]:
    """Statistics in milliseconds of samples given in seconds."""
    ms = [s * 1000.0 for s in samples_s]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "mean_ms": sum(ms) / len(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` and return (seconds, result)."""
    t0 = perf()
    out = fn()
    return perf() - t0, out


@dataclass
class Record:
    """One measured (or skipped) point: a workload on a system at one parameter."""

    workload: str
    system: str
    param: str = ""
    x: float | None = None
    stats: dict[str, float] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | skipped | unsupported | failed
    note: str = ""
    correct: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Results:
    """Collects records of one run."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, rec: Record) -> Record:
        self.records.append(rec)
        return rec

    def find(
        self, workload: str, system: str | None = None, param: str | None = None
    ) -> list[Record]:
        return [
            r
            for r in self.records
            if r.workload == workload
            and (system is None or r.system == system)
            and (param is None or r.param == param)
        ]

    def one(self, workload: str, system: str, param: str = "") -> Record | None:
        hits = [r for r in self.find(workload, system, param) if r.status == "ok"]
        return hits[0] if hits else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total


def file_bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@contextlib.contextmanager
def deadline_loop(seconds: float, what: str) -> Iterator[Callable[[], bool]]:
    """Bounded polling helper: yields a function that says whether time is left."""
    end = perf() + seconds

    def left() -> bool:
        return perf() < end

    yield left
    if not left():
        raise TimeoutError(f"timed out after {seconds:.0f}s waiting for {what}")


def human_rows(n: int) -> str:
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)
