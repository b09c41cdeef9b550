"""The SQL front end's cost per statement, beside what the statement costs to run.

    python -m benchmarks.frontend_cost [--out DIR] [--repeat N]

Every statement of the everyday corpus (tests/differential/corpus) is compiled by
hati's front end (parse with PostgreSQL's grammar, analyze, guard, translate, print)
three ways, and the times are set beside PostgreSQL's parser alone and DuckDB's own
work on the printed statement, in one run:

* ``parse``: ``pglast.parse_sql`` alone (the floor any PostgreSQL front end pays);
* ``cold``: a fresh front end (no cached shape): everything, as the first time;
* ``warm``: the same statement again (its shape is cached: a lookup and a splice);
* ``duckdb``: DuckDB parsing the printed statement (``extract_statements``), the
  step of DuckDB's own that the front end sits in front of.

Writes ``frontend_cost.md`` (median and p90 per way, and the ratios warm/duckdb and
cold/duckdb) and ``frontend_cost.png`` (the distributions) to ``--out``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pglast

from difftest.cli import corpus_scripts
from hati.errors import HatiError
from hati.pg.frontend import FrontEnd
from hati.pg.guard import Policy

HERE = Path(__file__).resolve().parent


def _frontend() -> FrontEnd:
    return FrontEnd(Policy(reserved_schema=lambda s: s.startswith("_hati")))


def _time(fn: Callable[[], object], repeat: int) -> float:
    """The best of ``repeat`` runs, in microseconds (a statement is far below the timer's
    noise floor once, so each run is the mean of a small batch)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(10):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / 10_000)
    return best


def _compiles(sql: str) -> str | None:
    try:
        return _frontend().compile(sql).sql()
    except (HatiError, pglast.parser.ParseError):
        return None


def measure(repeat: int) -> dict[str, list[float]]:
    con = duckdb.connect()
    times: dict[str, list[float]] = {"parse": [], "cold": [], "warm": [], "duckdb": []}
    warm = _frontend()
    for script in corpus_scripts(()):
        for stmt in script.statements:
            printed = _compiles(stmt.sql)
            if printed is None:
                continue  # refused or not PostgreSQL: nothing to compare
            try:
                con.extract_statements(printed)
            except duckdb.Error:
                continue
            times["parse"].append(_time(lambda s=stmt.sql: pglast.parse_sql(s), repeat))
            times["cold"].append(_time(lambda s=stmt.sql: _frontend().compile(s).sql(), repeat))
            warm.compile(stmt.sql).sql()
            times["warm"].append(_time(lambda s=stmt.sql: warm.compile(s).sql(), repeat))
            times["duckdb"].append(_time(lambda p=printed: con.extract_statements(p), repeat))
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(times: dict[str, list[float]], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    duck = statistics.median(times["duckdb"])
    lines = [
        "# The front end's cost per statement",
        "",
        f"{len(times['cold'])} statements of the everyday corpus, µs per statement "
        "(best of the repeats), one run; DuckDB = its own parse of the printed statement.",
        "",
        "| way | median µs | p90 µs | median ÷ DuckDB's parse |",
        "|---|---|---|---|",
    ]
    for way, values in times.items():
        med = statistics.median(values)
        lines.append(f"| {way} | {med:.1f} | {_p(values, 0.9):.1f} | ×{med / duck:.2f} |")
    path = out / "frontend_cost.md"
    path.write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return path
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot(list(times.values()), tick_labels=list(times), showfliers=False)
    ax.set_yscale("log")
    ax.set_ylabel("µs per statement")
    ax.set_title("hati's SQL front end per statement (everyday corpus)")
    fig.tight_layout()
    fig.savefig(out / "frontend_cost.png", dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.frontend_cost")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "frontend")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    path = report(measure(args.repeat), args.out)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
