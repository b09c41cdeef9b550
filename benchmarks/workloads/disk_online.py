"""Disk given back while the server runs: a discarded branch's bytes, with a client
querying main throughout.

Main: t with N rows. A branch rewrites every row's text (256 bytes each: its own
copy of the table, 25 MB per 100 k rows), the file is checkpointed, then one client
starts reading main in a loop and the branch is discarded. The file's bytes (file +
WAL, read from the file system, the server running) are sampled for up to a minute
(10 s for systems without online compaction: their files give bytes back at once,
or never): ``given_back`` is the share of
the branch's file growth gone again, ``to_95_s`` when 95 % was reached. The client
reports every error it saw and its slowest round trip (``worst_ms``, p99); hati's
server logs the pause of each online compaction (``pause_ms``: how long new
statements waited at its gate). Systems whose files never shrink show 0 %.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.core import human_rows, perf
from benchmarks.systems.base import System
from benchmarks.workloads.base import Ctx, fork, mark_dirty, write_or_workaround

KEY = "disk_online"
TITLE = "Disk given back while serving"
WINDOW_S = 60.0  # the promise: within a minute (systems that compact online)
OTHERS_S = 10.0  # a file that gives bytes back at once, or never
SAMPLE_S = 0.25


class _Reader(threading.Thread):
    """One client reading main in a loop; every error and round trip recorded."""

    def __init__(self, sys: System) -> None:
        super().__init__(daemon=True)
        self.session = sys.session(None)
        self.table = self.session.table("t")
        self.stop = threading.Event()
        self.started = threading.Event()
        self.errors: list[str] = []
        self.ms: list[float] = []

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                t0 = perf()
                try:
                    self.session.query(f"SELECT count(*), sum(v) FROM {self.table}")
                except Exception as exc:  # noqa: BLE001 - counted, the loop goes on
                    self.errors.append(str(exc)[:200])
                self.ms.append((perf() - t0) * 1000)
                self.started.set()
        finally:
            self.session.close()


def _bytes(sys: System) -> int:
    live = getattr(sys, "live_disk", None)
    return int((live() if callable(live) else sys.disk())["file_bytes"])


def _pauses(sys: System, since: int) -> list[float]:
    """hati: the pauses its server logged for online compactions (after ``since``)."""
    log = getattr(getattr(sys, "server", None), "log", None)
    if not isinstance(log, Path) or not log.exists():
        return []
    text = log.read_text(errors="replace")[since:]
    return [float(m) for m in re.findall(r"clients waited ([0-9.]+) ms", text)]


def _log_size(sys: System) -> int:
    log = getattr(getattr(sys, "server", None), "log", None)
    return log.stat().st_size if isinstance(log, Path) and log.exists() else 0


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    rows = ctx.profile.disk_rows
    ctx.tick(f"load {human_rows(rows)} rows")
    sys.ensure_main({"t": rows})
    sys.checkpoint()
    d0 = _bytes(sys)
    b = fork(ctx)
    s = sys.session(b)
    try:
        t = s.table("t")
        note = write_or_workaround(sys, s, "t", f"UPDATE {t} SET s = repeat(md5(s), 8)")
    finally:
        s.close()
    sys.checkpoint()
    d1 = _bytes(sys)
    grown = d1 - d0
    reader = None if sys.one_connection else _Reader(sys)  # a second client, if it can
    if reader is not None:
        reader.start()
        reader.started.wait(30)
    log_at = _log_size(sys)
    ctx.tick("discard the branch; sample the file for a minute")
    sys.branch_discard(b)
    t0 = perf()
    samples: list[tuple[float, int]] = []
    to_95: float | None = None
    window = WINDOW_S if callable(getattr(sys, "live_disk", None)) else OTHERS_S
    while perf() - t0 < window:
        size = _bytes(sys)
        samples.append((round(perf() - t0, 2), size))
        if to_95 is None and grown > 0 and d1 - size >= 0.95 * grown:
            to_95 = perf() - t0
            break
        time.sleep(SAMPLE_S)  # the sampling rate of a measurement, not synchronisation
    if reader is not None:
        reader.stop.set()
        reader.join(timeout=60)
    errors, ms = ([], [0.0]) if reader is None else (reader.errors, sorted(reader.ms) or [0.0])
    after = samples[-1][1] if samples else d1
    pauses = _pauses(sys, log_at)
    mark_dirty(sys, "t")
    ctx.add(
        f"rows={human_rows(rows)}",
        x=rows,
        values={
            "before_bytes": d0,
            "with_branch_bytes": d1,
            "branch_bytes": grown,
            "after_bytes": after,
            "given_back": (d1 - after) / grown if grown > 0 else None,
            "to_95_s": to_95,
            "client_queries": 0 if reader is None else len(reader.ms),
            "client_errors": len(errors),
            "first_error": errors[0] if errors else "",
            "worst_ms": ms[-1],
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
            "p50_ms": ms[len(ms) // 2],
            "pause_ms": max(pauses) if pauses else None,
            "compactions": len(pauses),
            "samples": samples[:: max(1, len(samples) // 40)],
        },
        note="; ".join(
            n for n in (note, "one connection: no client ran beside it" * (reader is None)) if n
        ),
        correct=not errors,
    )


def table_rows(records: list[Any], labels: dict[str, str]) -> list[list[str]]:
    """Rows of the report's table (see benchmarks.report)."""
    mib = 2**20
    out = []
    for r in records:
        if r.status != "ok":
            continue
        v = r.values
        gb = v.get("given_back")
        out.append(
            [
                labels.get(r.system, r.system),
                f"{v['branch_bytes'] / mib:.1f}",
                f"{v['with_branch_bytes'] / mib:.1f} → {v['after_bytes'] / mib:.1f}",
                "—" if gb is None else f"{gb * 100:.0f} %",
                "—" if v.get("to_95_s") is None else f"{v['to_95_s']:.1f}",
                str(v["client_errors"]),
                f"{v['p50_ms']:.1f} / {v['p99_ms']:.1f} / {v['worst_ms']:.0f}",
                "—" if v.get("pause_ms") is None else f"{v['pause_ms']:.0f}",
                r.note,
            ]
        )
    return out


HEADER = [
    "system",
    "branch file growth (MiB)",
    "file with branch → after (MiB)",
    "given back",
    "to 95 % (s)",
    "client errors",
    "client p50 / p99 / worst (ms)",
    "online compaction pause (ms)",
    "note",
]
