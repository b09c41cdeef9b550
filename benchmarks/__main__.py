"""``python -m benchmarks run --quick|--medium|--full [--out DIR] [--systems …] [--workloads …]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from benchmarks.profiles import PROFILES
from benchmarks.report import load, update_readme, write_all
from benchmarks.systems import ALL_SYSTEMS, BY_KEY
from benchmarks.workloads import ALL_WORKLOADS
from benchmarks.workloads import BY_KEY as WORKLOADS

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the benchmarks")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, < 3 minutes")
    mode.add_argument("--medium", action="store_true", help="1 M-row tables, ≈ 15 min")
    mode.add_argument("--full", action="store_true", help="sizes up to 10 M rows")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output dir (default benchmarks/results, quick/medium: results/quick, results/medium)",
    )
    run.add_argument("--systems", nargs="*", choices=list(BY_KEY), default=None)
    run.add_argument("--workloads", nargs="*", choices=list(WORKLOADS), default=None)
    rep = sub.add_parser("report", help="rebuild RESULTS.md and plots from a JSON file")
    rep.add_argument("json", type=Path)
    rep.add_argument("--out", type=Path, default=None)
    rep.add_argument(
        "--readme",
        action="store_true",
        help="also put the tables and plots into benchmarks/README.md",
    )
    args = ap.parse_args(argv)
    console = Console(stderr=True)

    if args.cmd == "report":
        res, meta = load(args.json)
        out = args.out or args.json.parent
        paths = write_all(res, meta, out)
        if args.readme:
            update_readme(HERE / "README.md", res, meta, out)
        console.print(f"wrote {paths['markdown']}")
        return 0

    from benchmarks.runner import run as run_all

    name = "full" if args.full else "medium" if args.medium else "quick"
    profile = PROFILES[name]
    out = args.out or (HERE / "results" if args.full else HERE / "results" / name)
    systems = [BY_KEY[k] for k in args.systems] if args.systems else ALL_SYSTEMS
    workloads = [WORKLOADS[k] for k in args.workloads] if args.workloads else ALL_WORKLOADS

    def save(res_: object, meta_: dict) -> None:  # after each system: a partial report
        write_all(res_, meta_, out)  # type: ignore[arg-type]

    # --full and --medium save a partial report after each system (a long run is never lost)
    res, meta = run_all(
        profile, systems, workloads, console, on_system_done=None if name == "quick" else save
    )
    paths = write_all(res, meta, out)
    if args.full and args.out is None and not args.systems and not args.workloads:
        update_readme(HERE / "README.md", res, meta, out)
    failed = [r for r in res.records if r.status == "failed"]
    console.print(
        f"wrote {paths['json']} and {paths['markdown']} "
        f"({meta['durations_s']['total']:.0f} s, {len(failed)} failed records)"
    )
    for e in meta["errors"]:
        console.print(f"[red]{e['system']} / {e['workload']}[/]\n{e['traceback']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
