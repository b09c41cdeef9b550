"""PNG plots of one run (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.core import Results

# Where a workload runs its own clients (pgbench, the fetch drivers) it is the server
# that is compared, not the system's driver or way to branch.
SERVER_LABELS = {"hati_psycopg2": "hati", "pg_template": "PostgreSQL"}


def server_label(system: str, labels: dict[str, str]) -> str:
    return SERVER_LABELS.get(system) or labels.get(system, system)


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
            _depth(res, labels, out),
            _pgbench(res, labels, out),
            _fetch(res, labels, out),
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
    for r in res.find("first_write") + res.find("first_write_nokey"):
        if r.status == "ok" and r.values.get("ratio"):
            what = "first write" + ("" if r.values.get("primary_key", True) else ", no key")
            rows.append((f"{labels.get(r.system, r.system)}: {what}", r.values["ratio"], 5.0))
    for r in res.find("depth"):
        if r.status == "ok" and r.values.get("in_branch") and r.x in (1, 32):
            d, lab = int(r.x), labels.get(r.system, r.system)
            rows.append((f"{lab}: point read, depth {d}", r.values["read_ratio"], 1.5))
            limit = 1.5 if d == 1 else 2.0
            rows.append((f"{lab}: point update, depth {d}", r.values["update_ratio"], limit))
    for r in res.find("main_live"):
        if r.status == "ok" and r.values.get("ratio"):
            lab = f"{labels.get(r.system, r.system)}: main {r.param}, {int(r.x or 0)} live"
            rows.append((lab, r.values["ratio"], 1.2))
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
    ax.set_xlabel("÷ the same on main with no branch (p50); black tick = SPEC limit")
    ax.set_title("Cost in a branch (and on main with live branches) relative to main")
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


def _depth(res: Results, labels: dict[str, str], out: Path) -> Path | None:
    systems = _systems(res, "depth")
    if not systems:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for s in systems:
        recs = sorted(
            (r for r in res.find("depth", s) if r.status == "ok" and r.x), key=lambda r: r.x or 0
        )
        branch = bool(recs and recs[0].values.get("in_branch"))
        lab = labels.get(s, s) + ("" if branch else " (main, same writes)")
        xs = [r.x for r in recs]
        for ax, get, main_key in (
            (axes[0], lambda r: r.stats["p50_ms"], "main_read"),
            (axes[1], lambda r: r.values["update"]["p50_ms"], "main_update"),
        ):
            line = ax.plot(xs, [get(r) for r in recs], marker="o", label=lab)
            if branch:  # the same statement on main, before the chain
                ax.axhline(
                    recs[0].values[main_key]["p50_ms"],
                    color=line[0].get_color(),
                    ls=":",
                    lw=1,
                    label=f"{labels.get(s, s)} on main",
                )
    for ax, what in ((axes[0], "point read"), (axes[1], "point update")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("branch depth (each level wrote 8 rows)")
        ax.set_ylabel("ms (p50)")
        ax.set_title(f"{what} vs depth")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=6)
    return _save(fig, out / "depth.png")


def _bars(
    path: Path,
    names: list[str],
    values: list[float],
    xlabel: str,
    title: str,
    groups: list[str],
    log: bool = True,
) -> Path:
    """A plot of horizontal bars, one colour per group (system), values written."""
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1.5))
    y = list(range(len(names)))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    order = list(dict.fromkeys(groups))
    ax.barh(y, values, color=[palette[order.index(g) % len(palette)] for g in groups])
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def _pgbench(res: Results, labels: dict[str, str], out: Path) -> Path | None:
    recs = [r for r in res.find("pgbench") if r.status == "ok" and r.values.get("tps")]
    if not recs:
        return None
    recs.sort(key=lambda r: (r.values["mode"], r.values["clients"], r.system, r.values["where"]))
    return _bars(
        out / "pgbench.png",
        [
            f"{r.values['mode']} c={r.values['clients']}: {server_label(r.system, labels)} "
            f"[{r.values['where']}]"
            for r in recs
        ],
        [r.values["tps"] for r in recs],
        "transactions per second",
        "pgbench TPS",
        [f"{r.system} {r.values['where']}" for r in recs],
    )


def _fetch(res: Results, labels: dict[str, str], out: Path) -> Path | None:
    recs = [r for r in res.find("fetch") if r.status == "ok" and r.values.get("rows_per_s")]
    if not recs:
        return None
    return _bars(
        out / "fetch.png",
        [f"{server_label(r.system, labels)}: {r.param}" for r in recs],
        [r.values["rows_per_s"] for r in recs],
        "rows per second (p50 of the fetches)",
        f"fetch of {recs[0].values.get('rows', 0):,} rows into Python",
        [r.system for r in recs],
        log=False,
    )
