"""sqllogictest files on hati and on a real PostgreSQL, value by value.

``python -m difftest.slt [--limit N] [FILE...]`` runs the files vendored in
tests/differential/sqllogictest (SQLite's sqllogictest: select1-5 and the first file of
random/expr, random/aggregates, random/groupby and random/select; public domain) on
both servers, each file on a fresh database on both sides, and compares every value of
every query as the sqllogictest format prints it (integers, reals to three decimals,
text; ``rowsort`` / ``valuesort`` sort as the record says). Records for other engines
(``onlyif mysql``, ``skipif postgresql``) are left out, as PostgreSQL's runs do.
It writes difftest/results/sqllogictest.json; ``python -m difftest run --full`` puts
the numbers in docs/compatibility.md.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from difftest.client import Client
from difftest.compare import Outcome
from difftest.hatiserver import HatiServer
from difftest.runner import Runner, start_pg

REPO = Path(__file__).resolve().parents[1]
FILES = REPO / "tests" / "differential" / "sqllogictest"
RESULTS = REPO / "difftest" / "results" / "sqllogictest.json"
ENGINE = "postgresql"


@dataclass
class Record:
    kind: str  # "statement" | "query"
    sql: str
    types: str = ""
    sort: str = "nosort"
    expect_error: bool = False


def parse(text: str) -> list[Record]:
    """The records of a .test file that apply to PostgreSQL."""
    out: list[Record] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith("#")]
        skip = False
        while lines and lines[0].split()[0] in ("skipif", "onlyif"):
            word, engine = lines[0].split()[:2]
            skip = skip or (word == "skipif") == (engine == ENGINE)
            lines = lines[1:]
        if not lines or skip:
            continue
        head = lines[0].split()
        body = lines[1:]
        if "----" in body:
            body = body[: body.index("----")]
        sql = "\n".join(body)
        if head[0] == "statement":
            out.append(Record("statement", sql, expect_error=head[1:2] == ["error"]))
        elif head[0] == "query" and len(head) >= 2:
            out.append(Record("query", sql, head[1], head[2] if len(head) > 2 else "nosort"))
        elif head[0] == "halt":
            break
    return out


def _value(v: str | None, t: str) -> str:
    if v is None:
        return "NULL"
    if t == "I":
        try:
            return str(int(Decimal(v)))
        except InvalidOperation:
            return v
    if t == "R":
        try:
            return f"{Decimal(v):.3f}"
        except InvalidOperation:
            return v
    return v if v != "" else "(empty)"


def values(rec: Record, res: Outcome, formatted: bool = False) -> list[str]:
    """The result one value per cell, in the record's order: as PostgreSQL's text, or
    (``formatted``) as sqllogictest prints it (integers truncated, reals to 3 places)."""
    rows = [
        [
            _value(v, rec.types[i] if i < len(rec.types) else "T")
            if formatted
            else ("NULL" if v is None else str(v))
            for i, v in enumerate(r)
        ]
        for r in res.rows or ()
    ]
    if rec.sort == "rowsort":
        rows.sort()
    flat = [v for r in rows for v in r]
    if rec.sort == "valuesort":
        flat.sort()
    return flat


@dataclass
class FileTally:
    name: str
    queries: int = 0
    queries_agree: int = 0
    values: int = 0
    values_agree: int = 0
    formatted_agree: int = 0  # values equal once printed as sqllogictest prints them
    names_agree: int = 0  # queries with the same answer and the same column names
    statements: int = 0
    statements_agree: int = 0
    examples: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def run_file(runner: Runner, name: str, records: list[Record]) -> FileTally:
    tally = FileTally(name)
    t0 = time.perf_counter()
    db = runner.new_database()
    hati_dir = runner.new_hati_dir()
    server = HatiServer(hati_dir).start()
    pg = Client(runner.pg.dsn(db), runner.timeout_s, lambda: None)
    hati = Client(server.dsn(), runner.timeout_s, server.kill)
    try:
        for rec in records:
            a, b = pg.run(rec.sql), hati.run(rec.sql)
            if rec.kind == "statement":
                tally.statements += 1
                tally.statements_agree += a.ok == b.ok
                continue
            tally.queries += 1
            want = values(rec, a) if a.ok else []
            got = values(rec, b) if b.ok else []
            n = max(len(want), 1)
            same = a.ok == b.ok and want == got
            tally.values += n
            if same:
                tally.values_agree += n
                tally.queries_agree += 1
                tally.names_agree += a.columns == b.columns
            elif len(want) == len(got) and a.ok and b.ok:
                tally.values_agree += sum(x == y for x, y in zip(want, got, strict=True))
            if a.ok and b.ok:
                fw, fg = values(rec, a, True), values(rec, b, True)
                if len(fw) == len(fg):
                    tally.formatted_agree += (
                        max(len(fw), 1)
                        if fw == fg
                        else sum(x == y for x, y in zip(fw, fg, strict=True))
                    )
            elif same:
                tally.formatted_agree += n
            if not same and len(tally.examples) < 5:
                tally.examples.append(
                    {
                        "sql": rec.sql[:200],
                        "postgresql": " ".join(want[:8]) if a.ok else f"ERROR {a.sqlstate}",
                        "hati": " ".join(got[:8]) if b.ok else f"ERROR {b.sqlstate}",
                    }
                )
    finally:
        pg.close()
        hati.close()
        server.stop()
        runner.drop_database(db)
    tally.seconds = round(time.perf_counter() - t0, 1)
    return tally


def main(argv: list[str]) -> None:
    limit = None
    if argv[:1] == ["--limit"]:
        limit, argv = int(argv[1]), argv[2:]
    paths = sorted(FILES.glob("*.test.gz"))
    if argv:
        paths = [p for p in paths if p.name.split(".")[0] in argv]
    with tempfile.TemporaryDirectory(prefix="difftest-") as tmp:
        Path(tmp).chmod(0o777)  # the PostgreSQL server runs as postgres
        pg = start_pg(Path(tmp))
        runner = Runner(pg, Path(tmp), timeout_s=10)
        tallies = []
        try:
            for path in paths:
                records = parse(gzip.decompress(path.read_bytes()).decode())
                if limit is not None:
                    records = records[:limit]
                t = run_file(runner, path.name.split(".")[0], records)
                tallies.append(t)
                print(
                    f"  {t.name}: {t.values_agree}/{t.values} values, "
                    f"{t.queries_agree}/{t.queries} queries agree, "
                    f"{t.names_agree} with the same column names ({t.seconds} s)",
                    flush=True,
                )
        finally:
            runner.close()
            pg.stop()
    total = sum(t.values for t in tallies)
    agree = sum(t.values_agree for t in tallies)
    queries = sum(t.queries for t in tallies)
    q_agree = sum(t.queries_agree for t in tallies)
    print(
        f"sqllogictest: {agree}/{total} values agree ({100 * agree / max(total, 1):.2f} %), "
        f"{q_agree}/{queries} queries ({100 * q_agree / max(queries, 1):.2f} %), "
        f"{sum(t.names_agree for t in tallies)} with the same column names"
    )
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "hati_commit": commit,
        "postgresql": pg.version,
        "limit": limit,
    }
    RESULTS.write_text(
        json.dumps({**meta, "files": [t.__dict__ for t in tallies]}, indent=1) + "\n"
    )


def note() -> str:
    """What the report says of sqllogictest: the last run's numbers."""
    if not RESULTS.exists():
        return "sqllogictest: not run yet (`python -m difftest.slt`)."
    got = json.loads(RESULTS.read_text())
    files = got["files"]
    v, va = sum(f["values"] for f in files), sum(f["values_agree"] for f in files)
    q, qa = sum(f["queries"] for f in files), sum(f["queries_agree"] for f in files)
    names = sum(f["names_agree"] for f in files)
    cut = f", first {got['limit']} records per file" if got.get("limit") else ""
    misses = [e for f in files for e in f["examples"]][:3]
    shown = "; ".join(
        f"`{e['sql'][:70]}` PostgreSQL {e['postgresql'][:30]}, hati {e['hati'][:30]}"
        for e in misses
    )
    per_file = ", ".join(f"{f['name']} {f['queries_agree']}/{f['queries']}" for f in files)
    return (
        f"sqllogictest ({len(files)} files vendored in tests/differential/sqllogictest: "
        f"select1-5 and the first file of random/expr, aggregates, groupby, select{cut}; "
        f"`python -m difftest.slt`, {got.get('date', '?')}, hati {got.get('hati_commit', '?')}): "
        f"**{va} of {v} values agree ({100 * va / max(v, 1):.4f} %)**, {qa} of {q} queries "
        f"({100 * qa / max(q, 1):.2f} %), {names} of them with the same column names. "
        f"Queries per file: {per_file}." + (f" Disagreements, e.g.: {shown}." if shown else "")
    )


if __name__ == "__main__":
    main(sys.argv[1:])
