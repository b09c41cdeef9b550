"""SPEC §5 "Numbers to beat", evaluated from one run's records."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.core import Record, Results

HATI = "hati_psycopg2"


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measurable in this run
    reason: str = ""
    verdict: str | None = None  # a qualified verdict ("met after ..."), else from ``met``


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    if v < 1:
        return f"{v:.3f} ms"
    if v < 100:
        return f"{v:.1f} ms"
    return f"{v:,.0f} ms"


def _p50(r: Record | None) -> float | None:
    return r.stats.get("p50_ms") if r is not None and r.status == "ok" else None


def _series(res: Results, workload: str, system: str) -> list[Record]:
    recs = [
        r
        for r in res.find(workload, system)
        if r.status == "ok"
        and r.x is not None
        and r.stats.get("n")
        and not r.param.startswith("discard")
    ]
    return sorted(recs, key=lambda r: r.x or 0)


def _create_target(res: Results, workload: str, what: str) -> Target:
    recs = _series(res, workload, HATI)
    goal = f"p50 ≤ 1 ms and flat from the smallest to the largest {what}"
    if not recs:
        return Target(
            f"branch_create vs {what}", goal, "not measured", None, _why_missing(res, workload)
        )
    p50s = [r.stats["p50_ms"] for r in recs]
    flat = p50s[-1] / p50s[0] if p50s[0] > 0 else float("inf")
    worst = max(p50s)
    measured = (
        f"p50 {fmt_ms(p50s[0])} at {recs[0].param} → {fmt_ms(p50s[-1])} at "
        f"{recs[-1].param} (×{flat:.2f}); worst {fmt_ms(worst)}"
    )
    pg = res.one(workload, "pg_template", recs[-1].param)
    if pg is not None and _p50(pg):
        measured += (
            f"; PostgreSQL TEMPLATE at {recs[-1].param}: {fmt_ms(_p50(pg))} "
            f"= ×{_p50(pg) / p50s[-1]:.1f} hati"
        )  # type: ignore[operator]
    met: bool | None = worst <= 1.0 and flat <= 2.0
    reasons = []
    if worst > 1.0:
        reasons.append(f"p50 above 1 ms ({fmt_ms(worst)})")
    if flat > 2.0:
        reasons.append(f"grows ×{flat:.2f} (flat means ≤ ×2)")
    cut = [
        r.param
        for r in res.find(workload, HATI)
        if r.status in ("skipped", "timeout") and "timed out" in r.note
    ]
    if cut:
        reasons.append(f"not reached within the time budget: {', '.join(cut)}")
        if met:
            met = None
    return Target(f"branch_create vs {what}", goal, measured, met, "; ".join(reasons))


def _why_missing(res: Results, workload: str) -> str:
    recs = res.find(workload, HATI)
    notes = [r.note for r in recs if r.note]
    return notes[0] if notes else "no hati records"


def evaluate(res: Results) -> list[Target]:  # noqa: C901 - one block per target, in order
    out = [
        _create_target(res, "create_vs_rows", "rows in main"),
        _create_target(res, "create_vs_tables", "tables in main"),
        _create_target(res, "create_vs_live", "live branches"),
    ]
    # Read of an untouched table.
    reads = {r.param: r for r in res.find("read_untouched", HATI) if r.status == "ok"}
    goal = "branch read ≤ 1.2× the same read on main"
    if "scan" in reads:
        ratios = {k: reads[k].values.get("ratio") for k in ("scan", "point") if k in reads}
        rows = reads["scan"].values.get("rows")
        measured = ", ".join(f"{k} ×{v:.2f}" for k, v in ratios.items() if v is not None)
        measured += f" (main of {rows:,} rows)"
        bad = [k for k, v in ratios.items() if v is None or v > 1.2]
        out.append(
            Target(
                "Read of an untouched table",
                goal,
                measured,
                not bad,
                f"{', '.join(bad)} above ×1.2" if bad else "",
            )
        )
    else:
        out.append(
            Target(
                "Read of an untouched table",
                goal,
                "not measured",
                None,
                _why_missing(res, "read_untouched"),
            )
        )
    # First write.
    fw = [r for r in res.find("first_write", HATI) if r.status == "ok"]
    goal = "first write to a branch table of 10 M rows ≤ 5× the same write on main"
    if fw:
        r = fw[0]
        ratio = r.values.get("ratio")
        measured = (
            f"×{ratio:.2f}: {fmt_ms(r.stats.get('p50_ms'))} vs "
            f"{fmt_ms(r.values['main'].get('p50_ms'))} on main, "
            f"table of {r.values.get('rows'):,} rows"
        )
        met = ratio is not None and ratio <= 5 and r.correct is not False
        reason = "" if met else f"ratio ×{ratio:.2f}" if ratio else r.note
        if met and r.values.get("rows", 0) < 10_000_000:
            reason = "measured on a smaller table than the target's 10 M rows"
        out.append(Target("First write in a branch", goal, measured, met, reason))
    else:
        out.append(
            Target(
                "First write in a branch",
                goal,
                "not measured",
                None,
                _why_missing(res, "first_write"),
            )
        )
    # Merge.
    mg = _series(res, "merge", HATI)
    goal = "a 10 k-row diff merged into 10 M rows in < 200 ms, cost grows with the diff"
    if mg:
        at10k = [r for r in mg if r.x == 10_000]
        r = at10k[0] if at10k else mg[-1]
        main_rows = r.values.get("main_rows", 0)
        measured = (
            f"{fmt_ms(_p50(r))} for a {r.param.split('=')[1]}-row diff into "
            f"{main_rows:,} rows; " + ", ".join(f"{x.param}: {fmt_ms(_p50(x))}" for x in mg)
        )
        base = {s: res.one("merge", s, r.param) for s in ("duckdb", "pg_schema")}
        for s, b in base.items():
            if b is not None:
                measured += f"; {s} full-scan merge {fmt_ms(_p50(b))}"
        met = (_p50(r) or 1e9) < 200 and all(x.correct is not False for x in mg)
        reason = ""
        if not at10k or main_rows < 10_000_000:
            reason = "measured at a smaller diff or main than the target's (quick run)"
        if (_p50(r) or 0) >= 200:
            reason = f"{fmt_ms(_p50(r))} ≥ 200 ms"
        if any(x.correct is False for x in mg):
            reason += " wrong merge result"
        out.append(Target("Merge cost", goal, measured, met, reason.strip()))
    else:
        out.append(Target("Merge cost", goal, "not measured", None, _why_missing(res, "merge")))
    # Disk.
    dk = [r for r in res.find("disk", HATI) if r.status == "ok"]
    goal = "≥ 95 % of a discarded branch's bytes reclaimed"
    if dk:
        v = dk[0].values
        used, filer = v.get("used_reclaimed"), v.get("file_reclaimed")
        comp = v.get("file_reclaimed_after_compact")
        mib = 2**20
        measured = (
            f"at discard: file {_pct(filer)} of {v.get('branch_file_bytes', 0) / mib:.1f} MiB "
            f"given back; DuckDB blocks: {_pct(used)} of "
            f"{v.get('branch_used_bytes', 0) / mib:.1f} MiB freed; "
            f"a second branch grew the file by "
            f"{v.get('file_growth_second_branch', 0) / mib:.1f} MiB"
        )
        after = v.get("after_compact")
        if after:
            secs = v.get("compact_s")
            measured += (
                f". After `hati compact` (server stopped, both branches discarded): "
                f"{_pct(comp)} of the branch's file bytes given back, file "
                f"{v['after_second_discard']['file_bytes'] / mib:.1f} → "
                f"{after['file_bytes'] / mib:.1f} MiB "
                f"({v['before']['file_bytes'] / mib:.1f} MiB before the branch)"
                + (f", compaction {secs:.2f} s" if secs is not None else "")
            )
        elif v.get("compact_error"):
            measured += f". `hati compact`: {v['compact_error']}"
        at_discard = filer is not None and filer >= 0.95
        compacted = comp is not None and comp >= 0.95
        met: bool | None = at_discard or compacted
        reason, verdict = "", ""
        if v.get("branch_file_bytes", 0) <= 0:
            met = None
            reason = (
                "the branch fit in free blocks the file already had, so file bytes "
                "could not be measured; see the DuckDB block numbers"
            )
        elif not at_discard and compacted:
            verdict = "met after `hati compact`"
            reason = (
                f"met only after `hati compact` (server stopped); at discard the file gave "
                f"back {_pct(filer)}: DuckDB reuses freed blocks but does not shrink the file"
            )
        elif not met:
            reason = (
                "the DuckDB file does not shrink: freed blocks are only reused"
                if used is not None and used >= 0.95
                else "blocks not freed"
            )
            if after:
                reason += f"; `hati compact` gave back {_pct(comp)}"
        out.append(
            Target("Discard gives the disk back", goal, measured, met, reason, verdict or None)
        )
    else:
        out.append(
            Target(
                "Discard gives the disk back", goal, "not measured", None, _why_missing(res, "disk")
            )
        )
    # Round trip.
    goal = "psycopg2 SELECT 1 − in-process DuckDB SELECT 1 ≤ 0.15 ms; ratio to PostgreSQL"
    h, d = res.one("roundtrip", HATI), res.one("roundtrip", "duckdb")
    pg = res.one("roundtrip", "pg_template", "psycopg2") or res.one(
        "roundtrip", "pg_schema", "psycopg2"
    )
    if h and d:
        over = h.stats["p50_ms"] - d.stats["p50_ms"]
        measured = (
            f"hati {fmt_ms(h.stats['p50_ms'])} (p99 {fmt_ms(h.stats['p99_ms'])}) − "
            f"DuckDB {fmt_ms(d.stats['p50_ms'])} = {fmt_ms(over)}"
        )
        if pg:
            measured += (
                f"; PostgreSQL {fmt_ms(pg.stats['p50_ms'])}: hati is "
                f"×{h.stats['p50_ms'] / pg.stats['p50_ms']:.1f}"
            )
        out.append(
            Target(
                "Server overhead",
                goal,
                measured,
                over <= 0.15,
                "" if over <= 0.15 else f"overhead {fmt_ms(over)} > 0.150 ms",
            )
        )
    else:
        out.append(
            Target("Server overhead", goal, "not measured", None, _why_missing(res, "roundtrip"))
        )
    # Concurrency.
    goal = "64 concurrent agents create/write/merge: no lost or duplicated rows, no deadlock"
    cc = {r.x: r for r in res.find("concurrency", HATI) if r.x is not None}
    if cc:
        top = cc[max(cc)]
        v = top.values
        measured = (
            f"{int(max(cc))} agents: {v.get('succeeded')}/{v.get('cycles')} cycles, "
            f"lost {v.get('lost', '?')}, duplicated {v.get('duplicated', '?')}, "
            f"stuck {v.get('stuck_agents')}, "
            f"{(v.get('throughput_per_s') or 0):.1f} merges/s, "
            f"p99 {fmt_ms(top.stats.get('p99_ms'))}"
        )
        met = bool(top.correct) and max(cc) >= 64
        out.append(
            Target(
                "64 concurrent agents",
                goal,
                measured,
                met,
                "" if met else (top.note or "fewer than 64 agents"),
            )
        )
    else:
        out.append(
            Target(
                "64 concurrent agents", goal, "not measured", None, _why_missing(res, "concurrency")
            )
        )
    return out


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f} %"
