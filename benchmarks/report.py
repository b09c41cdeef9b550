"""JSON, Markdown table and plots of one run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from benchmarks.core import Record, Results
from benchmarks.plots import plot_all, server_label
from benchmarks.targets import NO_RECORDS, Target, evaluate, fetch_base, fmt_ms, pgbench_base

EXTRA_LABELS = {"pg_template_file_copy": "PostgreSQL, TEMPLATE … STRATEGY FILE_COPY"}
CHECK = {True: "✅", False: "❌", None: "n/a"}


def labels_of(meta: dict[str, Any]) -> dict[str, str]:
    out = {k: v["label"] for k, v in meta.get("systems", {}).items()}
    out.update(EXTRA_LABELS)
    return out


def _ms(r: Record | None, key: str = "p50_ms") -> str:
    if r is None:
        return "—"
    if r.status != "ok":
        return "timed out" if "timed out" in r.note else r.status
    return fmt_ms(r.stats.get(key))


def _mark(r: Record | None) -> str:
    return " ❌" if r is not None and r.correct is False else ""


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def _systems_with(res: Results, workload: str, ok_only: bool = True) -> list[str]:
    seen: list[str] = []
    for r in res.find(workload):
        if r.system not in seen and (r.status == "ok" or not ok_only):
            seen.append(r.system)
    return seen


def _series_table(res: Results, workload: str, labels: dict[str, str]) -> str:
    systems = _systems_with(res, workload)
    params: list[str] = []
    for r in sorted(res.find(workload), key=lambda r: (r.x is None, r.x or 0, r.param)):
        if r.param and r.param not in params and r.status in ("ok", "skipped"):
            params.append(r.param)
    rows = []
    for p in params:
        row = [p]
        for s in systems:
            hits = res.find(workload, s, p)
            rec = hits[0] if hits else None
            row.append(_ms(rec) + _mark(rec))
        rows.append(row)
    return _table([""] + [labels.get(s, s) for s in systems], rows)


def _roundtrip_table(res: Results, labels: dict[str, str]) -> str:
    duck = res.one("roundtrip", "duckdb")
    pg = res.one("roundtrip", "pg_template", "psycopg2") or res.one(
        "roundtrip", "pg_schema", "psycopg2"
    )
    rows = []
    for r in res.find("roundtrip"):
        if r.status != "ok":
            continue
        p50 = r.stats["p50_ms"]
        rows.append(
            [
                labels.get(r.system, r.system) + (f" [{r.param}]" if r.param else ""),
                fmt_ms(p50),
                fmt_ms(r.stats["p99_ms"]),
                str(r.stats["n"]),
                fmt_ms(p50 - duck.stats["p50_ms"]) if duck else "—",
                f"×{p50 / pg.stats['p50_ms']:.1f}" if pg else "—",
            ]
        )
    return _table(
        ["client", "p50", "p99", "runs", "− DuckDB in-process p50", "÷ PostgreSQL psycopg2 p50"],
        rows,
    )


def _read_table(res: Results, labels: dict[str, str]) -> str:
    rows = []
    for r in res.find("read_untouched"):
        if r.status not in ("ok", "failed"):
            continue
        main = r.values.get("main", {})
        ratio = r.values.get("ratio")
        rows.append(
            [
                labels.get(r.system, r.system),
                r.param,
                fmt_ms(main.get("p50_ms")),
                _ms(r),
                f"×{ratio:.2f}" if ratio else "—",
                CHECK[r.correct],
                r.note,
            ]
        )
    return _table(
        ["system", "query", "main p50", "branch p50", "branch ÷ main", "same answer", "note"], rows
    )


def _write_table(res: Results, labels: dict[str, str]) -> str:
    rows = []
    for r in res.find("first_write") + res.find("first_write_nokey"):
        if r.status not in ("ok", "failed"):
            continue
        ratio = r.values.get("ratio")
        rows.append(
            [
                labels.get(r.system, r.system),
                r.param,
                fmt_ms(r.values.get("main", {}).get("p50_ms")),
                _ms(r),
                f"×{ratio:.2f}" if ratio else "—",
                fmt_ms(r.values.get("second_write", {}).get("p50_ms")),
                fmt_ms(r.values.get("main_after_fork", {}).get("p50_ms")),
                CHECK[r.correct],
                r.note,
            ]
        )
    return _table(
        [
            "system",
            "table",
            "write on main p50",
            "first write in branch p50",
            "÷ main",
            "second write in branch p50",
            "first write on main with a live branch p50",
            "works",
            "note",
        ],
        rows,
    )


def _ratio(v: float | None, digits: int = 2) -> str:
    return f"×{v:.{digits}f}" if v else "—"


def _depth_table(res: Results, labels: dict[str, str]) -> str:
    rows = []
    shown: set[str] = set()
    for r in res.find("depth"):
        if r.status != "ok":
            continue
        v = r.values
        if r.system not in shown:  # the main row first: what every ratio divides by
            shown.add(r.system)
            rows.append(
                [
                    labels.get(r.system, r.system),
                    "main" + (" (no branch live)" if v.get("in_branch") else ", before the writes"),
                    fmt_ms(v["main_read"].get("p50_ms")),
                    "",
                    fmt_ms(v["main_update"].get("p50_ms")),
                    "",
                    "",
                    "",
                    "",
                ]
            )
        rows.append(
            [
                labels.get(r.system, r.system),
                f"{int(r.x or 0)}" + ("" if v.get("in_branch") else " (levels written on main)"),
                _ms(r),
                _ratio(v.get("read_ratio")),
                fmt_ms(v["update"].get("p50_ms")),
                _ratio(v.get("update_ratio")),
                fmt_ms(v.get("level_writes_ms")),
                CHECK[r.correct],
                r.note,
            ]
        )
    return _table(
        [
            "system",
            "depth",
            "point read p50",
            "÷ main",
            "point update p50",
            "÷ main",
            "the level's 8 writes",
            "sees every level",
            "note",
        ],
        rows,
    )


def _main_live_table(res: Results, labels: dict[str, str]) -> str:
    rows = []
    for r in res.find("main_live"):
        if r.status != "ok":
            continue
        v = r.values
        rows.append(
            [
                labels.get(r.system, r.system),
                r.param,
                fmt_ms(v["alone"].get("p50_ms")),
                _ms(r),
                _ratio(v.get("ratio")),
                fmt_ms(v.get("first_live_ms")),
                fmt_ms(v["after_discard"].get("p50_ms")),
                f"{v.get('rows', 0):,}",
            ]
        )
    live = next((int(r.x) for r in res.find("main_live") if r.x), 32)
    return _table(
        [
            "system",
            "write on main",
            "no branch p50",
            f"{live} branches live p50",
            "÷ no branch",
            "first of its kind, live",
            "after discarding them p50",
            "rows",
        ],
        rows,
    )


def _pgbench_table(res: Results, labels: dict[str, str]) -> tuple[str, list[str]]:  # noqa: C901 - one row per script/client with its notes
    """One row per script and client count; PostgreSQL's TPS first, then each hati
    column with its ratio to it. Notes: how the tables were loaded, failed runs."""
    runs = [r for r in res.find("pgbench") if r.status == "ok" and r.param != "init"]
    cols: list[tuple[str, str]] = []  # (system, where), PostgreSQL first
    points: list[tuple[str, int]] = []  # (mode, clients)
    for r in sorted(runs, key=lambda r: not r.system.startswith("pg_")):
        col = (r.system, str(r.values.get("where")))
        pt = (str(r.values.get("mode")), int(r.values.get("clients") or 0))
        if col not in cols:
            cols.append(col)
        if pt not in points:
            points.append(pt)
    by_point = {
        (r.system, r.values.get("where"), r.values.get("mode"), r.values.get("clients")): r
        for r in runs
    }
    rows = []
    for mode, clients in points:
        base = pgbench_base(res, mode, clients)
        row = [mode, str(clients)]
        for system, where in cols:
            is_base = system.startswith("pg_")
            hit = by_point.get((system, where, mode, clients))
            if hit is None:
                row += ["—"] * (2 if is_base else 3)
                continue
            tps, pct = hit.values.get("tps"), hit.values.get("failed_pct")
            cell = f"{tps:,.0f}" if tps is not None else "failed"
            if hit.correct is False and tps is not None:
                cell += " ❌"
            failed = "—" if pct is None else f"{pct:.1f} %"
            if is_base:
                row += [cell, failed]
            else:
                ratio = tps / base.values["tps"] if tps and base else None
                row += [cell, _ratio(ratio), failed]
        rows.append(row)
    header = ["script", "clients"]
    for system, where in cols:
        name = f"{server_label(system, labels)} [{where}]"
        header += [f"{name} TPS"] + ([] if system.startswith("pg_") else ["÷ PostgreSQL"])
        header.append("failed")
    notes = []
    for r in res.find("pgbench"):
        if r.param == "init" and r.status == "ok":
            secs = (r.stats.get("p50_ms") or 0) / 1000
            how = r.values.get("loaded_by") or "nothing"
            state = r.values.get("pgbench_init", "?")
            notes.append(
                f"{server_label(r.system, labels)}: `pgbench -i` {state}; tables loaded by "
                f"{how} ({secs:.1f} s)"
            )
        elif r.status == "ok" and r.correct is False and r.note:
            notes.append(f"{server_label(r.system, labels)} {r.param}: {r.note}")
    return _table(header, rows), notes


def _fetch_table(res: Results, labels: dict[str, str]) -> str:
    rows = []
    for r in res.find("fetch"):
        if r.status != "ok":
            continue
        rps = r.values.get("rows_per_s")
        base = fetch_base(res, r.param)
        rows.append(
            [
                server_label(r.system, labels),
                r.param,
                f"{r.values.get('rows', 0):,}",
                _ms(r),
                f"{rps:,.0f}" if rps else "—",
                "—"
                if base is None or base is r or not rps
                else _ratio(rps / base.values["rows_per_s"]),
                CHECK[r.correct],
                r.note,
            ]
        )
    return _table(
        [
            "system",
            "driver",
            "rows",
            "fetch p50",
            "rows/s",
            "÷ PostgreSQL (same driver)",
            "all rows",
            "note",
        ],
        rows,
    )


def _disk_online_table(res: Results, labels: dict[str, str]) -> str:
    from benchmarks.workloads import disk_online

    return _table(disk_online.HEADER, disk_online.table_rows(res.find("disk_online"), labels))


def _disk_table(res: Results, labels: dict[str, str]) -> str:
    rows = []
    mib = 2**20
    for r in res.find("disk"):
        if r.status != "ok":
            continue
        v = r.values

        def pct(x: float | None) -> str:
            return "—" if x is None else f"{x * 100:.0f} %"

        rows.append(
            [
                labels.get(r.system, r.system),
                f"{v['before']['file_bytes'] / mib:.1f}",
                f"{v['branch_used_bytes'] / mib:.1f}",
                pct(v["used_reclaimed"]),
                f"{v['branch_file_bytes'] / mib:.1f}",
                pct(v["file_reclaimed"]),
                f"{v['file_growth_second_branch'] / mib:.1f}",
                pct(v.get("file_reclaimed_after_compact")),
                "—" if v.get("compact_s") is None else f"{v['compact_s']:.2f}",
                r.note,
            ]
        )
    return _table(
        [
            "system",
            "file before (MiB)",
            "branch used (MiB)",
            "used reclaimed",
            "branch file growth (MiB)",
            "file reclaimed",
            "2nd branch file growth (MiB)",
            "file reclaimed after `hati compact`",
            "compact (s)",
            "note",
        ],
        rows,
    )


def _concurrency_table(res: Results, labels: dict[str, str]) -> str:
    rows = []
    for r in res.find("concurrency"):
        if r.status == "unsupported":
            continue
        v = r.values
        tp = v.get("throughput_per_s")
        rows.append(
            [
                labels.get(r.system, r.system),
                str(int(r.x)) if r.x else "—",
                f"{v.get('succeeded', '—')}/{v.get('cycles', '—')}",
                f"{tp:.1f}" if tp else "—",
                _ms(r),
                _ms(r, "p99_ms"),
                str(v.get("lost", "—")),
                str(v.get("duplicated", "—")),
                str(v.get("errors", "—")),
                CHECK[r.correct],
                r.note,
            ]
        )
    return _table(
        [
            "system",
            "agents",
            "ok cycles",
            "merges/s",
            "p50",
            "p99",
            "lost",
            "duplicated",
            "errors",
            "correct",
            "note",
        ],
        rows,
    )


def _correctness_table(res: Results, labels: dict[str, str]) -> tuple[str, list[str]]:
    systems = _systems_with(res, "correctness", ok_only=False)
    checks: list[str] = []
    for r in res.find("correctness"):
        if r.param and r.param not in checks:
            checks.append(r.param)
    notes: list[str] = []
    rows = []
    for c in checks:
        row = [c]
        for s in systems:
            hits = res.find("correctness", s, c)
            r = hits[0] if hits else None
            if r is None or r.status == "skipped":
                row.append("skipped")
                continue
            cell = CHECK[r.correct]
            if r.note:
                notes.append(f"{labels.get(s, s)} / {c}: {r.note}")
                cell += f" [{len(notes)}]"
            row.append(cell)
        rows.append(row)
    return _table(["check"] + [labels.get(s, s) for s in systems], rows), notes


def _targets_table(targets: list[Target]) -> str:
    rows = [
        [
            t.name,
            t.goal,
            t.measured,
            f"**{t.verdict}**"
            if t.verdict
            else {True: "**met**", False: "**missed**", None: "not measured"}[t.met],
            t.reason,
        ]
        for t in targets
    ]
    return _table(["SPEC §5 target", "goal", "measured (this run)", "verdict", "why"], rows)


def markdown(
    res: Results, meta: dict[str, Any], plots: list[Path], md_dir: Path, title: bool = True
) -> str:
    labels = labels_of(meta)
    m = meta.get("machine", {})
    lines = [
        f"# hati benchmark results ({meta['profile']} run)" if title else "",
        "",
        f"Run {meta.get('started', '?')} on {m.get('cpus')} CPUs, {m.get('mem_gb')} GB RAM, "
        f"Python {m.get('python')}, DuckDB {m.get('duckdb')}; took "
        f"{meta.get('durations_s', {}).get('total', 0):.0f} s. All numbers come from this one "
        "run on this one machine; compare ratios, not absolute values.",
        "",
        "## SPEC §5 targets",
        "",
        _targets_table([t for t in evaluate(res) if t.reason != NO_RECORDS]),
        "",
        "## Systems",
        "",
    ]
    sysrows = []
    for key, s in meta.get("systems", {}).items():
        status = (
            "skipped: " + s["skipped"]
            if "skipped" in s
            else ("failed: " + s["failed"] if "failed" in s else "ran")
        )
        if "timed_out" in s:
            status = "ran; " + s["timed_out"]
        info = ", ".join(
            f"{k} {v}" for k, v in s.get("info", {}).items() if k not in ("settings", "src")
        )
        sysrows.append([f"`{key}`", s["label"], s["description"], info, status])
    lines += [_table(["key", "system", "how it branches", "version", "status"], sysrows), ""]
    ctable, cnotes = _correctness_table(res, labels)
    if res.find("correctness"):
        lines += [
            "## Correctness",
            "",
            "Main has 1000 rows. After the fork main changes row 1; the branch changes "
            "row 2, inserts one row and deletes row 3; then it merges.",
            "",
            ctable,
            "",
        ]
        lines += [f"{i}. {n}" for i, n in enumerate(cnotes, 1)] + [""]
    pgb_table, pgb_notes = _pgbench_table(res, labels)
    if pgb_notes:
        pgb_table += "\n\n" + "\n".join(f"- {n}" for n in pgb_notes)
    sections = [
        ("Round trip: SELECT 1", _roundtrip_table(res, labels), "roundtrip.png"),
        (
            "branch_create vs rows in main (p50)",
            _series_table(res, "create_vs_rows", labels),
            "create_vs_rows.png",
        ),
        (
            "branch_create vs tables in main (p50)",
            _series_table(res, "create_vs_tables", labels),
            "create_vs_tables.png",
        ),
        (
            "branch_create vs live branches (p50; last row: discarding them all, per branch)",
            _series_table(res, "create_vs_live", labels),
            "create_vs_live.png",
        ),
        (
            "Read of an untouched table: branch vs main",
            _read_table(res, labels),
            "branch_vs_main.png",
        ),
        ("First write in a branch vs on main", _write_table(res, labels), None),
        (
            "Branch depth: point read and update at depth d (each level wrote a little)",
            _depth_table(res, labels),
            "depth.png",
        ),
        ("Writes on main with live branches", _main_live_table(res, labels), None),
        ("Merge time vs diff size (p50)", _series_table(res, "merge", labels), "merge.png"),
        ("Disk bytes after discard", _disk_table(res, labels), None),
        ("Disk given back while serving", _disk_online_table(res, labels), None),
        (
            "Concurrent agents: create → insert → merge cycles",
            _concurrency_table(res, labels),
            "concurrency.png",
        ),
        ("pgbench TPS", pgb_table, "pgbench.png"),
        ("Fetch of a whole table: rows/s per driver", _fetch_table(res, labels), "fetch.png"),
    ]
    names = {p.name for p in plots}
    for title, table, png in sections:
        if table.split("\n\n")[0].count("\n") < 2:
            continue  # no rows: the workload did not run
        lines += [f"## {title}", "", table, ""]
        if png and png in names:
            rel = next(p for p in plots if p.name == png)
            link = Path(os.path.relpath(rel, md_dir)).as_posix()
            lines += [f"![{title}]({link})", ""]
    lines += ["## Time per system and workload", "", _budget_table(meta), ""]
    unsup = [
        r
        for r in res.records
        if r.status in ("unsupported", "failed", "skipped", "timeout")
        and r.workload != "correctness"
    ]
    if unsup:
        lines += ["## Not measured", ""]
        seen = set()
        for r in unsup:
            key = (r.workload, r.system, r.note)
            if key in seen:
                continue
            seen.add(key)
            lines.append(
                f"- {r.workload} / {labels.get(r.system, r.system)} "
                f"{r.param}: {r.status} — {r.note}"
            )
        lines.append("")
    lines += ["❌ after a number marks a wrong result; `—` means not applicable.", ""]
    return "\n".join(lines)


def _budget_table(meta: dict[str, Any]) -> str:
    """Seconds each system spent per workload, against its budget; what budgets cut."""
    durations = meta.get("durations_s", {})
    cuts: dict[tuple[str, str], list[str]] = {}
    for c in meta.get("budget_cuts", []):
        cuts[(c["system"], c["workload"])] = c["cut"]
    rows = []
    for key, d in durations.items():
        if key == "total" or not isinstance(d, dict):
            continue
        label = meta.get("systems", {}).get(key, {}).get("label", key)
        budget = meta.get("systems", {}).get(key, {}).get("budget_s")
        parts = []
        for w, sec in d.items():
            cut = cuts.get((key, w))
            parts.append(f"{w} {sec:.0f}" + (f" (cut: {', '.join(cut)})" if cut else ""))
        total = sum(d.values())
        rows.append([label, f"{total:.0f}", f"{budget:.0f}" if budget else "—", "; ".join(parts)])
    return _table(["system", "seconds", "budget (s)", "seconds per step"], rows)


def write_all(res: Results, meta: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    labels = labels_of(meta)
    plots = plot_all(res, labels, out / "plots")
    meta = dict(meta)
    meta["targets"] = [t.__dict__ for t in evaluate(res)]
    js = out / f"{meta['profile']}.json"
    js.write_text(
        json.dumps(
            {"meta": meta, "records": [r.to_json() for r in res.records]}, indent=1, default=str
        )
    )
    md = out / "RESULTS.md"
    md.write_text(markdown(res, meta, plots, out))
    return {"json": js, "markdown": md}


README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def update_readme(readme: Path, res: Results, meta: dict[str, Any], out: Path) -> None:
    """Replace the results block of benchmarks/README.md with this run's tables and plots."""
    plots = sorted((out / "plots").glob("*.png"))
    body = markdown(res, meta, plots, readme.parent, title=False)
    body = "\n".join("#" + line if line.startswith("## ") else line for line in body.splitlines())
    text = readme.read_text() if readme.exists() else f"{README_START}\n{README_END}\n"
    if README_START not in text:
        text += f"\n{README_START}\n{README_END}\n"
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1] if README_END in rest else ""
    readme.write_text(f"{head}{README_START}\n{body.strip()}\n{README_END}{tail}")


def load(path: Path) -> tuple[Results, dict[str, Any]]:
    data = json.loads(path.read_text())
    res = Results()
    for r in data["records"]:
        res.add(Record(**r))
    return res, data["meta"]
