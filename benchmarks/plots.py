"""PNG plots of one run (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.core import Results

SERIES = ("create_vs_rows", "create_vs_tables", "create_vs_live", "merge")
XLABEL = {
    "create_vs_rows": "rows in main",
    "create_vs_tables": "tables in main",
    "create_vs_live": "live branches",
    "merge": "rows in the diff",
}
TITLE = {
    "create_vs_rows": "branch_create vs size of main (p50)",
    "create_vs_tables": "branch_create vs number of tables (p50)",
    "create_vs_live": "branch_create vs live branches (p50)",
    "merge": "merge time vs diff size (p50)",
}


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _systems(res: Results, workload: str) -> list[str]:
    seen: list[str] = []
    for r in res.find(workload):
        if r.system not in seen and r.status == "ok" and r.stats.get("n"):
            seen.append(r.system)
    return seen


def plot_all(res: Results, labels: dict[str, str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for wl in SERIES:
        systems = _systems(res, wl)
        if not systems:
            continue
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        for s in systems:
            pts = sorted(
                (r.x, r.stats["p50_ms"])
                for r in res.find(wl, s)
                if r.status == "ok"
                and r.x is not None
                and r.stats.get("n")
                and not r.param.startswith("discard")
            )
            if not pts:
                continue
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=labels.get(s, s))
        if wl.startswith("create"):
            ax.axhline(1.0, color="grey", ls="--", lw=0.8, label="SPEC: 1 ms")
        if wl == "merge":
            ax.axhline(200.0, color="grey", ls="--", lw=0.8, label="SPEC: 200 ms at 10 k")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(XLABEL[wl])
        ax.set_ylabel("ms")
        ax.set_title(TITLE[wl])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        files.append(_save(fig, out / f"{wl}.png"))
    files += [
        p
        for p in (
            _roundtrip(res, labels, out),
            _ratios(res, labels, out),
            _concurrency(res, labels, out),
        )
        if p
    ]
    return files


def _roundtrip(res: Results, labels: dict[str, str], out: Path) -> Path | None:
    recs = [r for r in res.find("roundtrip") if r.status == "ok" and r.stats.get("n")]
    if not recs:
        return None
    names = [labels.get(r.system, r.system) + (f" [{r.param}]" if r.param else "") for r in recs]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(recs) + 1.5))
    y = range(len(recs))
    ax.barh(
        [i + 0.2 for i in y],
        [r.stats["p99_ms"] for r in recs],
        height=0.4,
        label="p99",
        color="#f4a582",
    )
    ax.barh(
        [i - 0.2 for i in y],
        [r.stats["p50_ms"] for r in recs],
        height=0.4,
        label="p50",
        color="#2166ac",
    )
    ax.set_yticks(list(y), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("ms per SELECT 1")
    ax.set_title("Round trip of SELECT 1")
    ax.legend(fontsize=7)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, out / "roundtrip.png")


def _ratios(res: Results, labels: dict[str, str], out: Path) -> Path | None:
    rows: list[tuple[str, float, float]] = []  # (label, value, target)
    for r in res.find("read_untouched"):
        if r.status == "ok" and r.values.get("ratio") and " via " not in r.param:
            rows.append(
                (f"{labels.get(r.system, r.system)}: read {r.param}", r.values["ratio"], 1.2)
            )
    for r in res.find("first_write"):
        if r.status == "ok" and r.values.get("ratio"):
            rows.append((f"{labels.get(r.system, r.system)}: first write", r.values["ratio"], 5.0))
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.5))
    y = list(range(len(rows)))
    colors = ["#1a9641" if v <= t else "#d7191c" for _, v, t in rows]
    ax.barh(y, [v for _, v, _ in rows], color=colors)
    for i, (_, v, t) in enumerate(rows):
        ax.plot([t, t], [i - 0.4, i + 0.4], color="black", lw=1)
        ax.text(v, i, f" ×{v:.2f}", va="center", fontsize=7)
    ax.set_yticks(y, [n for n, _, _ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("branch / main (p50); black tick = SPEC limit")
    ax.set_title("Cost in a branch relative to main")
    return _save(fig, out / "branch_vs_main.png")


def _concurrency(res: Results, labels: dict[str, str], out: Path) -> Path | None:
    systems = [s for s in _systems(res, "concurrency")]
    if not systems:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
    for s in systems:
        pts = sorted(
            (r.x, r.values.get("throughput_per_s") or 0, r.stats.get("p99_ms", 0))
            for r in res.find("concurrency", s)
            if r.status == "ok" and r.x
        )
        lab = labels.get(s, s)
        a1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=lab)
        a2.plot([p[0] for p in pts], [p[2] for p in pts], marker="o", label=lab)
    for ax, t, yl in (
        (a1, "successful cycles per second", "cycles/s"),
        (a2, "cycle latency p99", "ms"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent agents")
        ax.set_ylabel(yl)
        ax.set_title(t)
        ax.grid(True, alpha=0.3)
    a2.set_yscale("log")
    a1.legend(fontsize=6)
    return _save(fig, out / "concurrency.png")
