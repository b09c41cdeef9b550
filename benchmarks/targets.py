"""SPEC §5 "Numbers to beat", evaluated from one run's records."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.core import Record, Results

HATI = "hati_psycopg2"
NO_RECORDS = "no hati records"  # the workload was not part of the run


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
    return notes[0] if notes else NO_RECORDS


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
    out.append(_first_write_target(res, "first_write", "First write in a branch", ""))
    out.append(
        _first_write_target(
            res, "first_write_nokey", "First write in a branch, no primary key", " without a key"
        )
    )
    out += _depth_targets(res)
    out.append(_main_live_target(res))
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
    goal = (
        "64 concurrent agents create/write/merge: no lost or duplicated rows, no deadlock, "
        "p99 per cycle ≤ 1 s"
    )
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
        p99 = top.stats.get("p99_ms")
        slow = p99 is None or p99 > 1000
        met = bool(top.correct) and max(cc) >= 64 and not slow
        reasons = [top.note] if top.note else []
        if max(cc) < 64:
            reasons.append("fewer than 64 agents")
        if slow:
            reasons.append(f"p99 {fmt_ms(p99)} > 1 s")
        out.append(Target("64 concurrent agents", goal, measured, met, "; ".join(reasons)))
    else:
        out.append(
            Target(
                "64 concurrent agents", goal, "not measured", None, _why_missing(res, "concurrency")
            )
        )
    out.append(_pgbench_target(res))
    out.append(_fetch_target(res))
    return out


def pgbench_base(res: Results, mode: str, clients: int) -> Record | None:
    """PostgreSQL's run of ``mode`` at ``clients``: what hati's TPS is divided by."""
    for r in res.find("pgbench"):
        v = r.values
        if (
            r.system.startswith("pg_")
            and r.status == "ok"
            and v.get("where") == "main"
            and v.get("mode") == mode
            and v.get("clients") == clients
            and v.get("tps")
        ):
            return r
    return None


def fetch_base(res: Results, driver: str) -> Record | None:
    """PostgreSQL's fetch with ``driver`` (psycopg2 for an in-process fetch)."""
    want = "psycopg2" if driver == "fetchall" else driver
    for r in res.find("fetch"):
        if r.system.startswith("pg_") and r.param == want and r.values.get("rows_per_s"):
            return r
    return None


def _first_write_target(res: Results, workload: str, name: str, what: str) -> Target:
    fw = [r for r in res.find(workload, HATI) if r.status == "ok"]
    goal = f"first write to a branch table of 10 M rows{what} ≤ 5× the same write on main"
    if not fw:
        return Target(name, goal, "not measured", None, _why_missing(res, workload))
    r = fw[0]
    ratio = r.values.get("ratio")
    measured = (
        f"×{ratio:.2f}: {fmt_ms(r.stats.get('p50_ms'))} vs "
        f"{fmt_ms(r.values['main'].get('p50_ms'))} on main, "
        f"table of {r.values.get('rows'):,} rows"
    )
    met = ratio is not None and ratio <= 5 and r.correct is not False
    reasons = [] if met else [f"ratio ×{ratio:.2f}" if ratio else r.note]
    if r.values.get("rows", 0) < 10_000_000:
        reasons.append("measured on a smaller table than the target's 10 M rows")
    return Target(name, goal, measured, met, "; ".join(reasons))


def _depth_targets(res: Results) -> list[Target]:
    recs = {int(r.x): r for r in res.find("depth", HATI) if r.status == "ok" and r.x}
    goals = {
        "read": ("Point read in a branch at depth 1 and 32", "≤ 1.5× main at depth 1 and at 32"),
        "update": (
            "Point write in a branch at depth 1 and 32",
            "≤ 1.5× main at depth 1, ≤ 2× at depth 32",
        ),
    }
    if not recs:
        why = _why_missing(res, "depth")
        return [
            Target(n, f"point {k} {g}", "not measured", None, why) for k, (n, g) in goals.items()
        ]
    out = []
    deepest = max(recs)
    points = [recs[d] for d in sorted({min(recs), deepest})]
    for kind, (name, goal) in goals.items():
        key = "read_ratio" if kind == "read" else "update_ratio"
        stat = (lambda r: r.stats) if kind == "read" else (lambda r: r.values["update"])
        parts, bad = [], []
        for r in points:
            ratio, d = r.values.get(key), int(r.x or 0)
            limit = 1.5 if kind == "read" or d < 32 else 2.0
            main = r.values["main_read" if kind == "read" else "main_update"]
            parts.append(
                f"depth {d}: ×{ratio:.2f} ({fmt_ms(stat(r).get('p50_ms'))} vs "
                f"{fmt_ms(main.get('p50_ms'))})"
            )
            if ratio is None or ratio > limit:
                bad.append(f"depth {d} ×{ratio:.2f} > ×{limit:g}")
        rows = points[0].values.get("rows", 0)
        measured = "; ".join(parts) + f" (table of {rows:,} rows)"
        wrong = [r.param for r in recs.values() if r.correct is False]
        reasons = list(bad)
        if wrong:
            reasons.append("wrong answers at " + ", ".join(wrong))
        if deepest < 32:
            reasons.append(f"measured to depth {deepest} only")
        met = not bad and not wrong
        out.append(Target(name, f"point {kind} {goal}", measured, met, "; ".join(reasons)))
    return out


def _main_live_target(res: Results) -> Target:
    recs = [r for r in res.find("main_live", HATI) if r.status == "ok"]
    name = "Write on main while 32 branches are live"
    goal = "≤ 1.2× the same write on main with no branch (point update, insert, delete)"
    if not recs:
        return Target(name, goal, "not measured", None, _why_missing(res, "main_live"))
    live = int(recs[0].x or 0)
    parts = [
        f"{r.param} ×{r.values['ratio']:.2f} ({fmt_ms(_p50(r))} vs "
        f"{fmt_ms(r.values['alone'].get('p50_ms'))})"
        for r in recs
    ]
    bad = [f"{r.param} ×{r.values['ratio']:.2f}" for r in recs if r.values["ratio"] > 1.2]
    reasons = [f"above ×1.2: {', '.join(bad)}"] if bad else []
    if live < 32:
        reasons.append(f"{live} live branches, not 32")
    measured = f"{live} live: " + ", ".join(parts)
    return Target(name, goal, measured, not bad, "; ".join(reasons))


def _pgbench_target(res: Results) -> Target:
    name = "pgbench (as a PostgreSQL server)"
    goal = "at 4 clients: select-only ≥ 0.5× PostgreSQL's TPS, TPC-B ≥ 0.3× with 0 % failed"
    runs = [r for r in res.find("pgbench", HATI) if r.status == "ok" and r.param != "init"]
    if not runs:
        return Target(name, goal, "not measured", None, _why_missing(res, "pgbench"))
    parts, bad = [], []
    for mode, need in (("select-only", 0.5), ("TPC-B", 0.3)):
        base = pgbench_base(res, mode, 4)
        for r in runs:
            v = r.values
            if v.get("mode") != mode or v.get("clients") != 4:
                continue
            where, tps, pct = v.get("where"), v.get("tps"), v.get("failed_pct")
            if tps is None or base is None:
                parts.append(f"{mode} {where}: {r.note or 'no PostgreSQL run to compare'}")
                bad.append(f"{mode} {where} not measured")
                continue
            ratio = tps / base.values["tps"]
            fail = f", {pct:.1f} % failed" if pct is not None else ""
            parts.append(
                f"{mode} {where} ×{ratio:.2f} ({tps:,.0f} vs {base.values['tps']:,.0f} TPS{fail})"
            )
            if ratio < need:
                bad.append(f"{mode} {where} ×{ratio:.2f} < ×{need:g}")
            if mode == "TPC-B" and (pct is None or pct > 0):
                bad.append(f"TPC-B {where} {pct if pct is not None else '?'} % failed")
            if r.correct is False:
                bad.append(f"{mode} {where}: {r.note}")
    init = next((r for r in res.find("pgbench", HATI) if r.param == "init"), None)
    if init is not None and init.correct is False:
        bad.append("`pgbench -i` " + str(init.values.get("pgbench_init", "failed")))
    if not parts:
        return Target(name, goal, "not measured at 4 clients", None, "no run at 4 clients")
    return Target(name, goal, "; ".join(parts), not bad, "; ".join(bad))


def _fetch_target(res: Results) -> Target:
    name = "Fetch of 1 M rows"
    goal = "rows/s per driver ≥ 0.5× PostgreSQL's with the same driver"
    recs = [r for r in res.find("fetch", HATI) if r.status == "ok"]
    if not recs:
        return Target(name, goal, "not measured", None, _why_missing(res, "fetch"))
    parts, bad = [], []
    for r in recs:
        base, rps = fetch_base(res, r.param), r.values.get("rows_per_s")
        if not rps or base is None:
            parts.append(f"{r.param}: {r.note or 'no PostgreSQL fetch to compare'}")
            bad.append(f"{r.param} not measured")
            continue
        ratio = rps / base.values["rows_per_s"]
        parts.append(
            f"{r.param} ×{ratio:.2f} ({rps:,.0f} vs {base.values['rows_per_s']:,.0f} rows/s)"
        )
        if ratio < 0.5:
            bad.append(f"{r.param} ×{ratio:.2f}")
        if r.correct is False:
            bad.append(f"{r.param}: {r.note}")
    rows = recs[0].values.get("rows", 0)
    reasons = list(bad)
    if rows < 1_000_000:
        reasons.append(f"measured on {rows:,} rows, not 1 M")
    return Target(name, goal, "; ".join(parts), not bad, "; ".join(reasons))


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f} %"
