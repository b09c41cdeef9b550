"""Running PostgreSQL's ``pgbench`` against a server and reading what it prints.

pgbench is a client: it connects with the libpq parameters a system's ``wire()``
gives (``PGOPTIONS`` selects a hati branch). Its summary is parsed line by line; a
line that is missing (older pgbench versions print fewer) leaves its value ``None``,
and a run that printed no TPS is a failed step with the first error pgbench printed.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.core import perf
from difftest.pgserver import find_bin

MODES = {"select-only": ["-S"], "TPC-B": []}  # pgbench's built-in scripts
TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers")
FLOATS = {"tps", "failed_pct", "latency_ms"}

_INT = r"(\d+)"
_NUM = r"([0-9]+(?:\.[0-9]+)?)"
PATTERNS = {
    "processed": rf"number of transactions actually processed: {_INT}",
    "failed": rf"number of failed transactions: {_INT}",
    "failed_pct": rf"number of failed transactions: \d+ \({_NUM}%\)",
    "serialization_failures": rf"number of serialization failures: {_INT}",
    "deadlock_failures": rf"number of deadlock failures: {_INT}",
    "latency_ms": rf"latency average = {_NUM} ms",
    "tps": rf"tps = {_NUM} \((?:without initial connection time|excluding connections)",
}


@dataclass
class Outcome:
    """What one pgbench invocation did."""

    rc: int | None
    seconds: float
    tps: float | None = None
    processed: int | None = None
    failed: int | None = None
    failed_pct: float | None = None
    serialization_failures: int | None = None
    deadlock_failures: int | None = None
    latency_ms: float | None = None
    aborted: bool = False
    error: str = ""
    args: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def first_error(text: str) -> str:
    """The first error pgbench printed, without its ``pgbench: error:`` prefix, with
    the failed query (``detail: Query was: …``) shortened after it."""
    lines = [ln.strip() for ln in text.splitlines()]
    for i, ln in enumerate(lines):
        low = ln.lower()
        if "error:" in low or "fatal:" in low or "aborted" in low:
            msg = re.sub(r"^pgbench:\s*(error|fatal):\s*(query failed:\s*)?", "", ln, flags=re.I)
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            q = re.match(r"^pgbench:\s*detail:\s*Query was:\s*(.*)", nxt, flags=re.I)
            if q:
                query = q.group(1)
                msg += f" (query: {query[:80]}{'…' if len(query) > 80 else ''})"
            return re.sub(r"\s+", " ", msg)[:300]
    return ""


def parse(stdout: str, stderr: str, rc: int | None, seconds: float) -> Outcome:
    """Read a pgbench run's summary (stdout) and errors (stderr)."""
    text = stdout + "\n" + stderr
    out = Outcome(rc=rc, seconds=seconds)
    for name, pat in PATTERNS.items():
        m = re.search(pat, text)
        if m is None and name == "tps":
            m = re.search(rf"^tps = {_NUM}", text, re.M)  # any other wording
        if m is not None:
            setattr(out, name, (float if name in FLOATS else int)(m.group(1)))
    out.aborted = "Run was aborted" in text or rc == 2
    err = first_error(stderr)
    if out.tps is None:
        out.error = err or (f"pgbench exited with {rc} and printed no TPS" if rc else "no TPS")
    elif out.aborted:
        out.error = "run aborted: " + (err or "see pgbench's output")
    return out


def pgbench_path() -> str | None:
    return find_bin("pgbench")


def major_version(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(m.group(1)) if m else None


def env_for(wire: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PGHOST=wire["host"],
        PGPORT=wire["port"],
        PGUSER=wire["user"],
        PGDATABASE=wire["dbname"],
        PGCONNECT_TIMEOUT="10",
    )
    if wire.get("options"):
        env["PGOPTIONS"] = wire["options"]
    else:
        env.pop("PGOPTIONS", None)
    return env


def invoke(path: str, args: list[str], wire: dict[str, str], timeout: float) -> Outcome:
    """Run ``pgbench ARGS`` against ``wire``; a run past ``timeout`` is killed."""
    t0 = perf()
    try:
        proc = subprocess.run(
            [path, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env_for(wire),
        )
    except subprocess.TimeoutExpired as exc:
        o = parse(_text(exc.stdout), _text(exc.stderr), None, perf() - t0)
        o.error = f"pgbench did not finish within {timeout:.0f} s (killed)"
        o.args = args
        return o
    o = parse(proc.stdout, proc.stderr, proc.returncode, perf() - t0)
    o.args = args
    return o


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode(errors="replace")


def run_args(mode: str, clients: int, seconds: float, major: int | None) -> list[str]:
    """``-n`` (no vacuum first: the tables are freshly loaded or vacuumed by ``-i``)."""
    threads = max(1, min(clients, os.cpu_count() or 1))
    args = ["-n", *MODES[mode], "-c", str(clients), "-j", str(threads), "-T", f"{seconds:g}"]
    if major is not None and major >= 15:
        args.append("--failures-detailed")
    return args


def load_sql(scale: int) -> list[str]:
    """What ``pgbench -i -s SCALE`` makes, in statements a server without multi-table
    ``DROP``/``TRUNCATE`` or storage parameters runs: the same tables, keys and rows."""
    n_acc = 100_000 * scale
    return [
        *(f"DROP TABLE IF EXISTS {t}" for t in TABLES),
        "CREATE TABLE pgbench_history(tid int, bid int, aid int, delta int, "
        "mtime timestamp, filler char(22))",
        "CREATE TABLE pgbench_tellers(tid int NOT NULL PRIMARY KEY, bid int, tbalance int, "
        "filler char(84))",
        "CREATE TABLE pgbench_accounts(aid int NOT NULL PRIMARY KEY, bid int, abalance int, "
        "filler char(84))",
        "CREATE TABLE pgbench_branches(bid int NOT NULL PRIMARY KEY, bbalance int, "
        "filler char(88))",
        f"INSERT INTO pgbench_branches(bid, bbalance) SELECT g, 0 FROM generate_series(1, {scale}) AS s(g)",
        "INSERT INTO pgbench_tellers(tid, bid, tbalance) SELECT g, (g - 1) / 10 + 1, 0 "
        f"FROM generate_series(1, {10 * scale}) AS s(g)",
        "INSERT INTO pgbench_accounts(aid, bid, abalance, filler) "
        f"SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, {n_acc}) AS s(g)",
    ]
