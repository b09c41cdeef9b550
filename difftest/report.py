"""Results as JSON (one record per statement, diffable between runs) and as Markdown."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from difftest.compare import AGREE, CLASSES
from difftest.runner import FileResult

CLASS_MEANING = {
    "error-vs-ok": "PostgreSQL raised an error, hati answered",
    "ok-vs-error": "PostgreSQL answered, hati raised an error",
    "sqlstate-class": "both raised errors, of different SQLSTATE classes",
    "rows": "same number of columns, different rows: a different answer without an error",
    "columns": "same rows, different result columns (names, or a result set on one side only)",
    "tag": "same answer, different command tag",
    "timeout": "hati did not answer in time (killed when it ignored the cancel request)",
    "not-run": "hati was gone (killed after a hang) before the statement",
}
EXAMPLES_PER_CLASS = 5


def to_json(mode: str, meta: dict[str, Any], files: Sequence[FileResult]) -> dict[str, Any]:
    out_files, statements = [], []
    for fr in files:
        s = fr.script
        out_files.append(
            {
                "name": s.name,
                "family": s.family,
                "statements": len(s.statements),
                "meta_commands": dict(Counter(k.text.split()[0] for k in s.skipped)),
                "seconds": round(fr.wall_seconds, 2),
                "pg_seconds": round(fr.pg_seconds, 2),
                "hati_seconds": round(fr.hati_seconds, 2),
            }
        )
        for r in fr.results:
            rec: dict[str, Any] = {
                "id": r.stmt.id,
                "file": s.name,
                "family": s.family,
                "line": r.stmt.line,
                "sql": _clip(r.stmt.sql, 300),
                "class": r.cls,
                "scope": r.stmt.scope,
            }
            if r.verdict is not None:
                rec["core_agree"] = r.verdict.core_agree
                assert r.pg is not None and r.hati is not None
                rec["pg"], rec["hati"] = r.pg.digest(), r.hati.digest()
                if r.cls != AGREE:
                    rec["pg_text"], rec["hati_text"] = r.pg.summary(), r.hati.summary()
            statements.append(rec)
    return {"mode": mode, "meta": meta, "files": out_files, "statements": statements}


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Compact JSON with one statement per line, so that runs diff statement by statement."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def dump(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    head = {k: v for k, v in data.items() if k != "statements"}
    lines = [f"{dump(k)}:{dump(v)}" for k, v in head.items()]
    body = ",\n".join(dump(s) for s in data["statements"])
    path.write_text("{" + ",\n".join(lines) + ',\n"statements":[\n' + body + "\n]}\n")


def load_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


# ---------------------------------------------------------------- Markdown


def _counts(stmts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    scoped = [s for s in stmts if "pg" in s]
    in_scope = [s for s in scoped if not s["scope"]]
    classes = Counter(s["class"] for s in in_scope)
    return {
        "sent": len(scoped),
        "in_scope": len(in_scope),
        "agree": classes[AGREE],
        "core_agree": sum(1 for s in in_scope if s["core_agree"]),
        "all_agree": sum(1 for s in scoped if s["class"] == AGREE),
        "classes": classes,
    }


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f} %" if d else "-"


def _table(rows: list[tuple[str, dict[str, Any], int]], label: str) -> list[str]:
    head = f"| {label} | statements | in scope | agree | agree % | without tags % | " + " | ".join(
        CLASSES
    )
    out = [head + " |", "|" + "---|" * (6 + len(CLASSES))]
    for name, c, total in rows:
        cells = " | ".join(str(c["classes"].get(k, 0) or "") for k in CLASSES)
        out.append(
            f"| {name} | {total} | {c['in_scope']} | {c['agree']} | "
            f"{_pct(c['agree'], c['in_scope'])} | {_pct(c['core_agree'], c['in_scope'])} | {cells} |"
        )
    return out


def _md_code(sql: str) -> str:
    return "`" + " ".join(sql.split()).replace("`", "'").replace("|", "\\|") + "`"


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def section(data: dict[str, Any], title: str) -> list[str]:
    stmts = data["statements"]
    meta = data["meta"]
    total = _counts(stmts)
    both_failed = sum(
        1
        for s in stmts
        if "pg" in s and not s["scope"] and s["class"] == AGREE and "error" in s["pg"]
    )
    out = [f"## {title}", ""]
    out.append(
        f"Run {meta['date']} on hati {meta['hati_commit']}, PostgreSQL {meta['postgresql']}, "
        f"DuckDB {meta['duckdb']}; {meta['seconds']:.0f} s (`{meta['command']}`)."
    )
    out.append("")
    out.append(
        f"**{total['agree']} of {total['in_scope']} in-scope statements agree "
        f"({_pct(total['agree'], total['in_scope'])})**; ignoring command tags "
        f"{total['core_agree']} ({_pct(total['core_agree'], total['in_scope'])}). "
        f"Counting every statement sent, out-of-scope ones included: {total['all_agree']} of "
        f"{total['sent']} ({_pct(total['all_agree'], total['sent'])}). Of the agreements, "
        f"{both_failed} are statements that failed on both sides (same SQLSTATE class)."
    )
    out.append("")
    for note in meta.get("notes", []):
        out.append(f"- {note}")
    if meta.get("notes"):
        out.append("")
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in stmts:
        by_family[s["family"]].append(s)
        by_file[s["file"]].append(s)
    families = sorted(by_family)
    if len(families) != len(by_file):
        out.append("### Per family")
        out.append("")
        out += _table([(f, _counts(by_family[f]), len(by_family[f])) for f in families], "family")
        out.append("")
    out.append("### Per file")
    out.append("")
    out += _table(
        [(f["name"], _counts(by_file[f["name"]]), f["statements"]) for f in data["files"]], "file"
    )
    out.append("")
    out.append("### Examples of each disagreement")
    out.append("")
    for cls in CLASSES:
        ex = [s for s in stmts if s["class"] == cls and not s["scope"]]
        if not ex:
            continue
        out.append(f"**{cls}** ({len(ex)}): {CLASS_MEANING[cls]}")
        out.append("")
        out.append("| statement | PostgreSQL | hati |")
        out.append("|---|---|---|")
        for s in _spread(ex, EXAMPLES_PER_CLASS):
            out.append(
                f"| {s['file']}:{s['line']} {_md_code(_clip(s['sql'], 120))} | "
                f"{_md_cell(s['pg_text'])} | {_md_cell(s['hati_text'])} |"
            )
        out.append("")
    scopes = Counter(s["scope"] for s in stmts if s["scope"])
    metas: Counter[str] = Counter()
    for f in data["files"]:
        metas.update(f.get("meta_commands", {}))
    out.append("### Out of scope")
    out.append("")
    listed = ", ".join(f"`{k}` {v}" for k, v in metas.most_common())
    out.append(
        f"- psql meta-commands (lines starting with a backslash; not sent): {sum(metas.values())}"
        + (f" ({listed})" if listed else "")
    )
    for reason, n in scopes.most_common():
        sent = "not sent" if reason == "psql-variable" else "sent to both, not counted"
        examples = "; ".join(
            f"{s['file']}:{s['line']} {_md_code(_clip(s['sql'], 70))}"
            for s in _spread([s for s in stmts if s["scope"] == reason], 3)
        )
        out.append(
            f"- {reason}: {n} ({SCOPE_MEANING.get(reason, reason)}; {sent}), e.g. {examples}"
        )
    out.append("")
    return out


SCOPE_MEANING = {
    "psql-variable": "refers to a psql variable the harness cannot know, e.g. one set by \\gset",
    "server-file": "COPY to or from a file of the server",
    "system-catalogs": "reads PostgreSQL's own catalogs or statistics (pg_class, pg_stats...)",
    "system-columns": "uses system columns (ctid, xmin, tableoid...)",
    "oid-types": "casts to OIDs or reg* types, whose values are server internals",
    "server-functions": "calls server-internal functions (pg_*, txid_*)",
    "planner-settings": "sets or shows planner and server settings (enable_*, work_mem...)",
    "maintenance": "VACUUM, ANALYZE, CLUSTER, CHECKPOINT, REINDEX, DISCARD, LOAD",
    "c-functions": "C functions and operator classes from the regression test library",
    "postgresql-timeout": "PostgreSQL itself did not answer in time",
}


def _spread(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Up to ``n`` examples, taken in turn from each file."""
    queues: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in items:
        queues[s["file"]].append(s)
    out: list[dict[str, Any]] = []
    while len(out) < n and any(queues.values()):
        for q in queues.values():
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def write_markdown(
    path: Path, everyday: dict[str, Any] | None, full: dict[str, Any] | None
) -> None:
    out = [
        "# Compatibility with PostgreSQL, measured",
        "",
        "Generated by `python -m difftest run` (everyday corpus) and "
        "`python -m difftest run --full` (PostgreSQL's own regression files); do not edit by hand.",
        "",
        "The harness sends the same statements, in order, to hati and to a real PostgreSQL "
        "started from the system binaries, each file on a fresh database on both sides, over "
        "psycopg2 in autocommit mode. A statement **agrees** when both succeed with the same "
        "column names, the same rows (as PostgreSQL text; in order when the top-level query has "
        "ORDER BY, ties aside) and the same command tag, or both fail with SQLSTATEs of the same "
        "class. EXPLAIN compares success or failure only. PostgreSQL runs with `--locale=C`, "
        "`timezone=UTC`, `datestyle='ISO, MDY'`. Disagreements, by class "
        "(first that applies):",
        "",
    ]
    out += [f"- `{k}`: {v}" for k, v in CLASS_MEANING.items()]
    out.append("")
    out.append(
        "Reproduce: `python -m difftest run` (about half a minute) and `python -m difftest run "
        "--full` (fetches PostgreSQL's source package with apt into `~/.cache/difftest`). "
        "`--file NAME` runs one file and prints each disagreement. Per-statement results: "
        "`difftest/results/everyday.json`, `difftest/results/full.json`."
    )
    out.append("")
    if everyday:
        out += section(everyday, "Everyday corpus (tests/differential/corpus)")
    if full:
        out += section(full, "PostgreSQL regression files (--full)")
        out += full["meta"].get("appendix", [])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out).rstrip() + "\n")
