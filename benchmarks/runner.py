"""Runs every workload on every system, one system at a time, with a progress bar."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.core import Record, Results, perf
from benchmarks.profiles import Profile
from benchmarks.systems import ALL_SYSTEMS
from benchmarks.systems.base import System
from benchmarks.workloads import ALL_WORKLOADS
from benchmarks.workloads.base import Ctx, short_error


def machine_info() -> dict[str, Any]:
    import duckdb

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "duckdb": duckdb.__version__,
    }
    try:
        with open("/proc/meminfo") as f:
            info["mem_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def run(
    profile: Profile,
    systems: list[type[System]] | None = None,
    workloads: list[ModuleType] | None = None,
    console: Console | None = None,
    on_system_done: Callable[[Results, dict[str, Any]], None] | None = None,
) -> tuple[Results, dict[str, Any]]:
    systems = systems or ALL_SYSTEMS
    workloads = workloads or ALL_WORKLOADS
    console = console or Console(stderr=True)
    results = Results()
    meta: dict[str, Any] = {
        "profile": profile.name,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "systems": {},
        "errors": [],
        "durations_s": {},
    }
    t_run = perf()
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as prog:
        task = prog.add_task("starting", total=len(systems) * len(workloads))
        for cls in systems:
            meta["systems"][cls.key] = {
                "label": cls.label,
                "family": cls.family,
                "description": cls.description,
            }
            prog.update(task, description=f"{cls.label}: checking")
            reason = cls.unavailable()
            if reason:
                meta["systems"][cls.key]["skipped"] = reason
                for w in workloads:
                    results.add(Record(w.KEY, cls.key, status="skipped", note=reason))
                prog.advance(task, len(workloads))
                continue
            mine = workloads
            if cls.key in profile.only:
                keep = profile.only[cls.key]
                mine = [w for w in workloads if w.KEY in keep]
                for w in workloads:
                    if w.KEY not in keep:
                        results.add(
                            Record(
                                w.KEY,
                                cls.key,
                                status="skipped",
                                note=f"not run by --{profile.name} for this system "
                                "(see the profile: what it would show is "
                                "measured on another system)",
                            )
                        )
                prog.advance(task, len(workloads) - len(mine))
            elsewhere = [w for w in mine if cls.key not in getattr(w, "SYSTEMS", (cls.key,))]
            for w in elsewhere:
                results.add(
                    Record(
                        w.KEY,
                        cls.key,
                        status="skipped",
                        note=f"not run for this system: {w.ELSEWHERE}",
                    )
                )
            mine = [w for w in mine if w not in elsewhere]
            prog.advance(task, len(elsewhere))
            if not mine:
                meta["systems"][cls.key]["skipped"] = "none of this run's workloads is for it"
                continue
            _run_system(cls, profile, mine, results, meta, prog, task)
            if on_system_done is not None:
                meta["durations_s"]["total"] = perf() - t_run
                on_system_done(results, meta)
    meta["durations_s"]["total"] = perf() - t_run
    return results, meta


def _run_system(
    cls: type[System],
    profile: Profile,
    workloads: list[ModuleType],
    results: Results,
    meta: dict[str, Any],
    prog: Progress,
    task: Any,
) -> None:
    sysmeta = meta["systems"][cls.key]
    workdir = Path(tempfile.mkdtemp(prefix=f"hati-bench-{cls.key}-"))
    os.chmod(workdir, 0o755)
    system = cls()
    durations: dict[str, float] = {}
    meta["durations_s"][cls.key] = durations
    try:
        prog.update(task, description=f"{cls.label}: starting")
        t0 = perf()
        try:
            system.start(workdir)
            sysmeta["info"] = system.info()
        except Exception as exc:  # noqa: BLE001 - a system that fails to start is reported
            sysmeta["failed"] = short_error(exc)
            meta["errors"].append(
                {"system": cls.key, "workload": "start", "traceback": traceback.format_exc()}
            )
            for w in workloads:
                results.add(
                    Record(
                        w.KEY,
                        cls.key,
                        status="failed",
                        note=f"system did not start: {short_error(exc)}",
                    )
                )
            prog.advance(task, len(workloads))
            return
        durations["start"] = perf() - t0
        sys_budget = profile.system_budget(cls.key)
        sysmeta["budget_s"] = sys_budget
        t_sys = perf()
        broken = ""
        for w in workloads:
            sys_left = sys_budget - (perf() - t_sys)
            if not broken and sys_left <= 1:
                broken = (
                    f"timed out: the {sys_budget:.0f} s budget of this system was "
                    f"spent (at {perf() - t_sys:.0f} s)"
                )
                sysmeta["timed_out"] = broken
            if broken:
                status = "skipped" if broken.startswith("timed out") else "failed"
                results.add(Record(w.KEY, cls.key, status=status, note=broken))
                prog.advance(task)
                continue
            budget = min(profile.workload_budget(cls.key, w.KEY), sys_left)
            durations[w.KEY], raised = _run_workload(
                system, w, profile, budget, results, meta, prog, task
            )
            if raised:
                broken = _recover(system)
            if not prog.console.is_terminal:
                prog.console.log(
                    f"{cls.key}: {w.KEY} done in {durations[w.KEY]:.1f}s (budget {budget:.0f}s)"
                )
            stuck = [r for r in results.find(w.KEY, cls.key) if r.values.get("stuck_agents")]
            if stuck:
                broken = "skipped: agents of an earlier workload are stuck"
            prog.advance(task)
    finally:
        prog.update(task, description=f"{cls.label}: stopping")
        try:
            system.stop()
        except Exception:  # noqa: BLE001 - report and go on
            meta["errors"].append(
                {"system": cls.key, "workload": "stop", "traceback": traceback.format_exc()}
            )
        shutil.rmtree(workdir, ignore_errors=True)


def _run_workload(
    system: System,
    w: ModuleType,
    profile: Profile,
    budget: float,
    results: Results,
    meta: dict[str, Any],
    prog: Progress,
    task: Any,
) -> tuple[float, bool]:
    """One workload under its budget; a watchdog cancels it ``hard_grace_s`` after the
    budget. Returns its wall time and whether it raised (cancelled or crashed)."""
    label = type(system).label
    ctx = Ctx(system, profile, results, w.KEY, budget_s=budget)

    def tick(msg: str) -> None:
        prog.update(
            task, description=f"{label}: {w.TITLE}: {msg} [{ctx.elapsed():.0f}/{budget:.0f} s]"
        )

    ctx.tick = tick
    tick("")
    fired, done = threading.Event(), threading.Event()
    hard = budget + profile.hard_grace_s

    def watchdog() -> None:
        fired.set()
        with contextlib.suppress(Exception):
            system.interrupt()
        if not done.wait(profile.hard_grace_s):  # the cancel did not get through
            with contextlib.suppress(Exception):
                system.abort()

    timer = threading.Timer(hard, watchdog)
    timer.daemon = True
    timer.start()
    raised = False
    try:
        w.run(ctx)
    except Exception as exc:  # noqa: BLE001 - a failing workload is reported, the run goes on
        raised = True
        if fired.is_set():
            results.add(
                Record(
                    w.KEY,
                    system.key,
                    status="timeout",
                    note=f"timed out at {ctx.elapsed():.0f} s (budget {budget:.0f} s"
                    f" + {profile.hard_grace_s:.0f} s grace): cancelled during "
                    f"{_last_tick(prog, task)}",
                )
            )
        else:
            results.add(Record(w.KEY, system.key, status="failed", note=short_error(exc)))
        meta["errors"].append(
            {"system": system.key, "workload": w.KEY, "traceback": traceback.format_exc()}
        )
    finally:
        done.set()
        timer.cancel()
    if ctx.cut:
        meta.setdefault("budget_cuts", []).append(
            {"system": system.key, "workload": w.KEY, "budget_s": budget, "cut": ctx.cut}
        )
    return ctx.elapsed(), raised


def _last_tick(prog: Progress, task: Any) -> str:
    for t in prog.tasks:
        if t.id == task:
            return str(t.description)
    return "?"


def _recover(system: System) -> str:
    """After a failed workload: forget state so the next workload reloads; '' if usable."""
    try:
        system.reconnect()
        for b in sorted(system.branches):
            try:
                system.branch_discard(b)
            except Exception:  # noqa: BLE001 - best effort
                system.branches.discard(b)
        for t in list(system.tables):
            system.tables[t] = -1
        system.reconnect()
        system.main().query("SELECT 1")
        return ""
    except Exception as exc:  # noqa: BLE001
        return f"system unusable after an earlier failure: {short_error(exc)}"
