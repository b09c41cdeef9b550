"""``python -m difftest run [--full] [--file NAME] [--report PATH] [--write-baseline]``."""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from difftest import baseline, regress, report, slt
from difftest.corpus import ScriptFile, read_script
from difftest.pgserver import pg_unavailable
from difftest.runner import FileResult, Runner, run_files, start_pg

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "differential" / "corpus"
BASELINE = REPO / "tests" / "differential" / "baseline.tsv"
RESULTS = REPO / "difftest" / "results"
REPORT = REPO / "docs" / "compatibility.md"


def corpus_scripts(names: tuple[str, ...]) -> list[ScriptFile]:
    paths = sorted(CORPUS.glob("*.sql"))
    if names:
        paths = [p for p in paths if p.stem in names]
    return [read_script(p.read_text(), p.stem, p.stem) for p in paths]


def regress_scripts(regress_dir: Path, names: tuple[str, ...]) -> list[ScriptFile]:
    out = []
    for name, family in regress.REGRESS_FILES.items():
        if names and name not in names:
            continue
        text = (regress_dir / "sql" / f"{name}.sql").read_text()
        script = read_script(
            text, name, family, env=regress.psql_env(regress_dir), data_root=regress_dir
        )
        for stmt in script.statements:
            if stmt.send and not stmt.scope:
                stmt.scope = regress.scope_of(stmt.sql)
        out.append(script)
    return out


def _meta(pg_version: str, seconds: float, command: str, timeout: float) -> dict[str, Any]:
    import duckdb

    def git(*args: str) -> str:
        res = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return res.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "src/hati"):
        commit += " (with uncommitted changes)"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "postgresql": pg_version,
        "duckdb": duckdb.__version__,
        "hati_commit": commit,
        "command": command,
        "seconds": round(seconds, 1),
        "timeout_s": timeout,
    }


def _print_disagreements(files: list[FileResult]) -> None:
    for fr in files:
        for r in fr.results:
            if r.verdict is None or r.cls == "agree":
                continue
            sql = " ".join(r.stmt.sql.split())
            scope = f" [out of scope: {r.stmt.scope}]" if r.stmt.scope else ""
            click.echo(f"{r.cls:15} {fr.script.name}:{r.stmt.line} {sql[:110]}{scope}")
            click.echo(f"    PostgreSQL: {r.pg.summary() if r.pg else '-'}")
            click.echo(f"    hati:       {r.hati.summary() if r.hati else '-'}")


def _summary(label: str, files: list[FileResult]) -> None:
    results = [r for fr in files for r in fr.results if r.verdict is not None and not r.stmt.scope]
    classes = Counter(r.cls for r in results)
    agree = classes.pop("agree", 0)
    pct = 100 * agree / len(results) if results else 0.0
    detail = ", ".join(f"{k} {v}" for k, v in classes.most_common())
    click.echo(f"{label}: {agree}/{len(results)} in-scope statements agree ({pct:.1f} %); {detail}")


@click.group()
def main() -> None:
    """Differential tests: the same SQL on hati and on a real PostgreSQL."""


@main.command()
@click.option("--full", is_flag=True, help="Also PostgreSQL's own regression files.")
@click.option(
    "--file",
    "files",
    multiple=True,
    help="Only this corpus or regression file (repeatable; a regression file implies --full).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Markdown report to write (default {REPORT.relative_to(REPO)} on whole runs).",
)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per statement.")
@click.option("--write-baseline", is_flag=True, help=f"Rewrite {BASELINE.relative_to(REPO)}.")
def run(
    full: bool,
    files: tuple[str, ...],
    report_path: Path | None,
    timeout: float,
    write_baseline: bool,
) -> None:
    """Run the corpus on both servers, compare, and report."""
    why = pg_unavailable()
    if why:
        raise click.ClickException(why)
    command = "python -m difftest " + shlex.join(sys.argv[1:])
    whole = not files
    full = full or any(name in regress.REGRESS_FILES for name in files)
    everyday = corpus_scripts(files)
    with tempfile.TemporaryDirectory(prefix="difftest-") as tmp:
        t0 = time.perf_counter()
        pg = start_pg(Path(tmp))
        runner = Runner(pg, Path(tmp), timeout)
        try:
            click.echo(f"PostgreSQL {pg.version} on port {pg.port}")
            results: dict[str, list[FileResult]] = {}
            seconds: dict[str, float] = {}
            notes: dict[str, list[str]] = {"everyday": [], "full": []}
            if everyday:
                click.echo(f"everyday corpus: {len(everyday)} files")
                t1 = time.perf_counter()
                results["everyday"] = run_files(runner, everyday, report=click.echo)
                seconds["everyday"] = time.perf_counter() - t1 + (t1 - t0)
            if full:
                t1 = time.perf_counter()
                regress_dir = regress.fetch(pg.version, log=click.echo)
                scripts = regress_scripts(regress_dir, files)
                if scripts:
                    click.echo(f"regression files: {len(scripts)}, setup first")
                    tmpl_db, tmpl_dir, notes["full"] = regress.build_setup(
                        runner, regress_dir, click.echo
                    )
                    results["full"] = run_files(
                        runner, scripts, tmpl_db, tmpl_dir, report=click.echo
                    )
                    notes["full"].append(slt.note())
                    seconds["full"] = time.perf_counter() - t1
        finally:
            runner.close()
            pg.stop()
    for mode, fr in results.items():
        if not whole:
            _print_disagreements(fr)
        _summary(mode, fr)
        if whole:
            meta = _meta(pg.version, seconds[mode], command, timeout)
            meta["notes"] = notes[mode]
            report.write_json(RESULTS / f"{mode}.json", report.to_json(mode, meta, fr))
    if write_baseline and "everyday" in results:
        if not whole:
            raise click.ClickException(
                "--write-baseline needs the whole everyday corpus (no --file)"
            )
        baseline.write(BASELINE, results["everyday"])
        click.echo(f"wrote {BASELINE.relative_to(REPO)}")
    if report_path or whole:
        path = report_path or REPORT
        report.write_markdown(
            path,
            report.load_json(RESULTS / "everyday.json"),
            report.load_json(RESULTS / "full.json"),
        )
        click.echo(f"wrote {path}")
